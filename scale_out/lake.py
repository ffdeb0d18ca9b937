"""Spark mode's raw layer: each day of a raw table as Parquet in a lake folder, registered as a partitioned table.

The loader validates and quarantines into DuckDB as always (the raw assets' checks and reconciliation are the
same on both engines); in Spark mode each raw asset then writes the accepted rows of its run's days to

    <lake>/raw/<schema>/<table>/_partition_date=<YYYY-MM-DD>/data.parquet

(one folder per day, replaced whole: re-running a day rewrites it, a day left without rows loses its folder) and
`<lake>/raw/<schema>/<table>/_columns.json` (the columns with their Spark types, so that a table with no rows yet
is registered too). Before dbt runs, `register` makes each folder the external Spark table `<schema>.<table>`,
partitioned by `_partition_date`, so `source()` resolves to the same names as on DuckDB. The lake is `NPS_LAKE_DIR`
(default `$NPS_SPARK_DIR/lake`). Files whose names start with `_` or `.` are not data to Spark.

python -m scale_out.lake [--lake DIR] [--spark-dir DIR]    # register every lake table in the Spark metastore
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import settings

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

PARTITION = "_partition_date"
COLUMNS_FILE = "_columns.json"
# A new token on every write; `register` records the token it registered, and skips when nothing changed since.
CHANGED_FILE = "_changed"
REGISTERED_FILE = "_registered"

# DuckDB types of the raw tables (ingestion/loader/tables.py) and their Spark types. JSON is written as text.
SPARK_TYPES = {
    "VARCHAR": "string",
    "JSON": "string",
    "BOOLEAN": "boolean",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
}


def spark_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.lower()
    if duckdb_type not in SPARK_TYPES:
        raise TypeError(f"no Spark type for the DuckDB type {duckdb_type} of a raw table")
    return SPARK_TYPES[duckdb_type]


def table_dir(lake: Path, schema: str, table: str) -> Path:
    return lake / "raw" / schema / table


def day_dir(lake: Path, schema: str, table: str, day: date) -> Path:
    return table_dir(lake, schema, table) / f"{PARTITION}={day.isoformat()}"


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    if not columns:
        raise LookupError(f"{schema}.{table} is not in the DuckDB warehouse")
    return [(name, str(data_type)) for name, data_type in columns]


def _select(columns: list[tuple[str, str]]) -> str:
    """The data columns as written: JSON as text, timestamps as UTC instants (Spark's `timestamp`)."""
    out = []
    for name, data_type in columns:
        if name == PARTITION:
            continue
        if data_type == "JSON":
            out.append(f'cast("{name}" as varchar) as "{name}"')
        elif data_type == "TIMESTAMP":
            out.append(f'timezone(\'UTC\', "{name}") as "{name}"')
        else:
            out.append(f'"{name}"')
    return ", ".join(out)


def write_days(con: duckdb.DuckDBPyConnection, schema: str, table: str, days: Iterable[date], lake: Path) -> dict:
    """Write each day's rows of the DuckDB table `schema.table` to its day folder of the lake (replacing it);
    returns {day: rows written}. Each day is written beside its folder and renamed in, so a reader sees the old
    day or the new one, never half of it."""
    columns = _columns(con, schema, table)
    folder = table_dir(lake, schema, table)
    folder.mkdir(parents=True, exist_ok=True)
    spark_columns = [[name, spark_type(data_type)] for name, data_type in columns if name != PARTITION]
    (folder / COLUMNS_FILE).write_text(json.dumps(spark_columns, indent=1) + "\n")
    select = _select(columns)
    # The loader's order (file, line), so the same day always writes the same file.
    order = ", ".join(name for name in ("_source_file", "_line_number") if name in dict(columns)) or "all"
    written = {}
    for day in sorted(set(days)):
        target = day_dir(lake, schema, table, day)
        staged, old = folder / f".new-{target.name}", folder / f".old-{target.name}"
        for leftover in (staged, old):
            shutil.rmtree(leftover, ignore_errors=True)
        where = f"where {PARTITION} = date '{day.isoformat()}'"
        [(rows,)] = con.execute(f'select count(*) from "{schema}"."{table}" {where}').fetchall()
        if rows:
            staged.mkdir()
            con.execute(
                f'copy (select {select} from "{schema}"."{table}" {where} order by {order}) '
                f"to '{staged / 'data.parquet'}' (format parquet)"
            )
        if target.exists():
            target.rename(old)
        if rows:
            staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        written[day.isoformat()] = rows
    mark_changed(lake)
    return written


def mark_changed(lake: Path) -> None:
    (lake / "raw").mkdir(parents=True, exist_ok=True)
    (lake / "raw" / CHANGED_FILE).write_text(uuid.uuid4().hex)


def _token(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def needs_registration(lake: Path) -> bool:
    """Whether a raw asset wrote to the lake since the last registration."""
    raw = lake / "raw"
    return _token(raw / CHANGED_FILE) is not None and _token(raw / CHANGED_FILE) != _token(raw / REGISTERED_FILE)


def lake_tables(lake: Path) -> list[tuple[str, str]]:
    return sorted((path.parent.parent.name, path.parent.name) for path in (lake / "raw").glob(f"*/*/{COLUMNS_FILE}"))


def register(spark: SparkSession, lake: Path) -> list[str]:
    """Every lake table as the external Spark table `<schema>.<table>` partitioned by `_partition_date`, with
    the day folders present now as its partitions (re-created each time: a new column or a removed day is seen;
    dropping an external table leaves its files)."""
    token = _token(lake / "raw" / CHANGED_FILE)
    registered = []
    for schema, table in lake_tables(lake):
        folder = table_dir(lake, schema, table)
        columns: list[Any] = json.loads((folder / COLUMNS_FILE).read_text())
        ddl = ", ".join(f"`{name}` {data_type}" for name, data_type in columns)
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(
            f"create table {schema}.{table} ({ddl}, `{PARTITION}` date) using parquet "
            f"partitioned by ({PARTITION}) location '{folder}'"
        )
        spark.sql(f"alter table {schema}.{table} recover partitions")
        registered.append(f"{schema}.{table}")
    if token is not None:
        (lake / "raw" / REGISTERED_FILE).write_text(token)
    return registered


def main(argv: list[str] | None = None) -> int:
    from scale_out.engine import spark_step, stop_spark

    parser = argparse.ArgumentParser(prog="python -m scale_out.lake", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="the lake folder (default NPS_LAKE_DIR)")
    parser.add_argument("--spark-dir", type=Path, help="the Spark metastore and warehouse folder (NPS_SPARK_DIR)")
    args = parser.parse_args(argv)
    lake = (args.lake or settings.lake_dir()).resolve()
    with spark_step((args.spark_dir or settings.spark_dir()).resolve()) as spark:
        tables = register(spark, lake)
    stop_spark()
    print(f"Registered {len(tables)} lake tables from {lake}: {', '.join(tables)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
