"""Spark mode on a tiny warehouse: lake days registered as a partitioned Spark table read back as written, and a
Python mart computed from Spark inputs (scale_out/engine.py) written back to Spark. Run by `make test-spark`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from scale_out import lake
from scale_out.engine import mart_connection, spark_step, stop_spark

pytestmark = pytest.mark.spark


class TinyWarehouse:
    """The two things the engine needs of the Dagster warehouse resource."""

    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def write_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with duckdb.connect(str(self.path)) as con:
            yield con

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        yield


@pytest.fixture
def no_spark_left() -> Iterator[None]:
    """The session the engine keeps between steps ends with the test (the next test opens another metastore)."""
    yield
    stop_spark()


def test_lake_days_and_a_python_mart_round_trip_through_spark(tmp_path, monkeypatch, no_spark_left):
    spark_dir, lake_dir = tmp_path / "spark", tmp_path / "lake"
    monkeypatch.setenv("NPS_SPARK_DIR", str(spark_dir))
    monkeypatch.setenv("NPS_DBT_TARGET", "spark")
    warehouse = TinyWarehouse(tmp_path / "warehouse.duckdb")
    with warehouse.write_connection() as con:
        con.execute("create schema raw_x")
        con.execute(
            "create table raw_x.t (account_id varchar, amount decimal(12, 2), _partition_date date not null, "
            "_loaded_at timestamp)"
        )
        con.execute(
            "insert into raw_x.t values ('acc1', 1.50, '2026-03-01', '2026-03-01 10:00:00'), "
            "('acc1', 2.00, '2026-03-02', '2026-03-02 10:00:00'), ('acc2', 4.25, '2026-03-02', '2026-03-02 10:00:00')"
        )
        con.execute("create table raw_x.never (id varchar, _partition_date date not null)")
        lake.write_days(con, "raw_x", "t", [date(2026, 3, 1), date(2026, 3, 2)], lake_dir)
        lake.write_days(con, "raw_x", "never", [date(2026, 3, 1)], lake_dir)

    with spark_step(spark_dir) as spark:
        assert lake.register(spark, lake_dir) == ["raw_x.never", "raw_x.t"]
        rows = spark.sql("select account_id, amount, cast(_partition_date as string) from raw_x.t").collect()
        assert sorted(tuple(row) for row in rows) == [
            ("acc1", Decimal("1.50"), "2026-03-01"),
            ("acc1", Decimal("2.00"), "2026-03-02"),
            ("acc2", Decimal("4.25"), "2026-03-02"),
        ]
        # Partition pruning reads one day; the table with no rows yet has its columns.
        assert spark.sql("select count(*) from raw_x.t where _partition_date = '2026-03-02'").collect()[0][0] == 2
        assert spark.table("raw_x.never").columns == ["id", "_partition_date"]
        assert spark.sql("select hour(_loaded_at) from raw_x.t limit 1").collect()[0][0] == 10
    assert not lake.needs_registration(lake_dir)

    # A Python mart step: its input read from Spark, its output written back; the warehouse file is not touched.
    with mart_connection(warehouse, ["raw_x.t"], ["marts.tiny_totals"]) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create table marts.tiny_totals as select account_id, sum(amount) as total, count(*) as days "
            "from raw_x.t group by account_id"
        )
    with spark_step(spark_dir) as spark:
        totals = sorted(tuple(row) for row in spark.table("marts.tiny_totals").collect())
    assert totals == [("acc1", Decimal("3.50"), 2), ("acc2", Decimal("4.25"), 1)]
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        assert (
            con.execute("select count(*) from information_schema.schemata where schema_name = 'marts'").fetchone()[0]
            == 0
        )
