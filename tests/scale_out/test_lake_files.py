"""The lake files of Spark mode (scale_out/lake.py), without Spark: each day of a raw table as one Parquet folder,
replaced whole when the day is written again, removed when the day has no rows left; the column types Spark gets."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from scale_out import lake

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("create schema raw_x")
        connection.execute(
            "create table raw_x.t (record_id varchar not null, payload json not null, amount decimal(12, 2), "
            "_partition_date date not null, _source_file varchar not null, _line_number bigint not null, "
            "_batch_id varchar not null, _loaded_at timestamp not null)"
        )
        connection.execute(
            """insert into raw_x.t values
            ('a', '{"k": 1}', 1.50, '2026-03-01', 'f1', 1, 'b1', '2026-03-01 10:00:00'),
            ('b', '{"k": 2}', 2.25, '2026-03-01', 'f1', 2, 'b1', '2026-03-01 10:00:00'),
            ('c', '{"k": 3}', null, '2026-03-02', 'f2', 1, 'b1', '2026-03-02 11:30:00')"""
        )
        yield connection


def lake_rows(folder: Path) -> list[tuple]:
    """What a reader of the lake sees: every day folder's rows with the day taken from the folder name."""
    return (
        duckdb.connect()
        .execute(
            f"select record_id, payload, amount, _partition_date::date, _line_number, _loaded_at "
            f"from read_parquet('{folder}/*/*.parquet', hive_partitioning = true) order by record_id"
        )
        .fetchall()
    )


def test_each_day_is_one_folder_and_a_day_without_rows_has_none(con, tmp_path):
    written = lake.write_days(con, "raw_x", "t", [D1, D2, D3], tmp_path / "lake")
    assert written == {"2026-03-01": 2, "2026-03-02": 1, "2026-03-03": 0}
    folder = tmp_path / "lake" / "raw" / "raw_x" / "t"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        "_partition_date=2026-03-01",
        "_partition_date=2026-03-02",
    ]
    rows = lake_rows(folder)
    assert [row[:5] for row in rows] == [
        ("a", '{"k": 1}', Decimal("1.50"), D1, 1),
        ("b", '{"k": 2}', Decimal("2.25"), D1, 2),
        ("c", '{"k": 3}', None, D2, 1),
    ]
    # Timestamps are UTC instants (Spark's `timestamp`): 10:00 stays 10:00 in UTC.
    assert rows[0][5] == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    # The partition column is the folder, not a column of the files.
    files = duckdb.connect().execute(
        f"describe select * from read_parquet('{folder}/_partition_date=2026-03-01/data.parquet', hive_partitioning = false)"
    )
    assert "_partition_date" not in [row[0] for row in files.fetchall()]
    assert json.loads((folder / "_columns.json").read_text()) == [
        ["record_id", "string"],
        ["payload", "string"],
        ["amount", "decimal(12,2)"],
        ["_source_file", "string"],
        ["_line_number", "bigint"],
        ["_batch_id", "string"],
        ["_loaded_at", "timestamp"],
    ]


def test_writing_a_day_again_replaces_it_and_an_emptied_day_goes(con, tmp_path):
    lake_dir = tmp_path / "lake"
    lake.write_days(con, "raw_x", "t", [D1, D2], lake_dir)
    con.execute("update raw_x.t set payload = '{\"k\": 9}' where record_id = 'a'")
    con.execute("delete from raw_x.t where _partition_date = '2026-03-02'")
    assert lake.write_days(con, "raw_x", "t", [D1, D2], lake_dir) == {"2026-03-01": 2, "2026-03-02": 0}
    folder = lake_dir / "raw" / "raw_x" / "t"
    assert [row[:2] for row in lake_rows(folder)] == [("a", '{"k": 9}'), ("b", '{"k": 2}')]
    assert sorted(p.name for p in folder.iterdir()) == ["_columns.json", "_partition_date=2026-03-01"]
    # Writing the same days once more changes nothing a reader sees.
    before = lake_rows(folder)
    lake.write_days(con, "raw_x", "t", [D1, D2], lake_dir)
    assert lake_rows(folder) == before


def test_a_write_asks_for_a_registration(con, tmp_path):
    lake_dir = tmp_path / "lake"
    assert not lake.needs_registration(lake_dir)
    lake.write_days(con, "raw_x", "t", [D1], lake_dir)
    assert lake.needs_registration(lake_dir)
    assert lake.lake_tables(lake_dir) == [("raw_x", "t")]


def test_a_column_type_spark_has_no_name_for_is_refused():
    with pytest.raises(TypeError, match="no Spark type for the DuckDB type STRUCT"):
        lake.spark_type("STRUCT(a INTEGER)")
