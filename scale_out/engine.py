"""The engine the Python marts and serving read from and write to: the DuckDB warehouse, or Spark.

`settings.engine()` is `spark` when `NPS_DBT_TARGET` is a Spark target. The Python marts keep their SQL and
pandas code (DuckDB in this process); only where the tables come from and go to changes:

- DuckDB: the warehouse connection itself.
- Spark: an in-memory DuckDB connection holding the step's input tables read from Spark (Spark writes them as
  Parquet under `$NPS_SPARK_DIR/staging_io`, DuckDB reads them); the tables the step writes go back the same way
  and become Parquet data source tables (`saveAsTable`, overwrite) when the step ends without error. Nothing is
  written back when it fails. (Parquet rather than Arrow in memory: pyarrow is not a dependency, and the files
  keep every type exactly; on a cluster the Spark folder is storage every node reads.)

`spark_step` opens the session of dbt's `spark` target (scale_out/spark_raw.py), kept for the next Spark step of
the process; `stop_spark` ends it and its JVM before dbt runs: the local metastore (Derby) admits one process at a
time, and dbt's own session runs in another.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb

import settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STAGING = "staging_io"


class _Live:
    """The Spark session this process keeps between steps, and the folder whose metastore it opened."""

    session: SparkSession | None = None
    folder: Path | None = None


@contextmanager
def spark_step(folder: Path | None = None) -> Iterator[SparkSession]:
    """A Spark session on the metastore of `folder` (default NPS_SPARK_DIR). The session stays open for the next
    step of this process (a JVM start is the slow part of a Spark step) until `stop_spark()`, which the dbt steps
    call before dbt opens the same metastore from its own process."""
    from scale_out.spark_raw import spark_session

    folder = (folder or settings.spark_dir()).resolve()
    if _Live.session is not None and _Live.folder != folder:
        stop_spark()
    if _Live.session is None:
        spark = spark_session(folder)
        # Parquet timestamps without a time zone (DuckDB's TIMESTAMP) read as Spark `timestamp`, as dbt's have.
        spark.conf.set("spark.sql.parquet.inferTimestampNTZ.enabled", "false")
        _Live.session, _Live.folder = spark, folder
    yield _Live.session


def stop_spark() -> None:
    """End this process's Spark session and its JVM: the local metastore (Derby) admits one process at a time,
    and the lock goes with the JVM. Nothing to do without a session."""
    from pyspark import SparkContext

    if _Live.session is None:
        return
    _Live.session.stop()
    _Live.session, _Live.folder = None, None
    gateway = SparkContext._gateway
    if gateway is not None:
        process = getattr(gateway, "proc", None)
        gateway.shutdown()
        if process is not None:
            # pyspark's JVM exits when its stdin closes.
            process.stdin.close()
            process.wait(timeout=120)
        SparkContext._gateway = None
        SparkContext._jvm = None


def spark_tables(spark: SparkSession, schema: str) -> list[str]:
    if not spark.catalog.databaseExists(schema):
        return []
    return sorted(table.name for table in spark.catalog.listTables(schema) if not table.isTemporary)


def copy_to_duckdb(spark: SparkSession, con: duckdb.DuckDBPyConnection, table: str, staging: Path) -> int:
    """Create `table` (schema.name) in the DuckDB connection with the rows of the Spark table of that name, through
    Parquet files Spark writes under `staging` (an empty table keeps its columns)."""
    schema, name = table.split(".", 1)
    folder = staging / f"{schema}.{name}-{uuid.uuid4().hex[:8]}"
    try:
        spark.table(table).write.parquet(str(folder))
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create or replace table {schema}.{name} as select * from read_parquet('{folder}/*.parquet')")
        [(rows,)] = con.execute(f"select count(*) from {schema}.{name}").fetchall()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def copy_to_spark(con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str, staging: Path) -> int:
    """Replace the Spark table `table` with DuckDB's table of that name, through a Parquet file under `staging`
    (a folder every Spark executor reads: the Spark folder)."""
    schema, name = table.split(".", 1)
    folder = staging / f"{schema}.{name}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        con.execute(f"copy {schema}.{name} to '{folder / 'data.parquet'}' (format parquet)")
        [(rows,)] = con.execute(f"select count(*) from {schema}.{name}").fetchall()
        spark.sql(f"create database if not exists {schema}")
        frame = spark.read.parquet(str(folder))
        frame.write.format("parquet").mode("overwrite").saveAsTable(table)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


class Warehouse(Protocol):
    """What the engine needs of the Dagster warehouse resource: its connection and its writer lock."""

    def write_connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def writer_lock(self) -> AbstractContextManager[None]: ...


@contextmanager
def mart_connection(
    warehouse: Warehouse, inputs: Iterable[str], outputs: Iterable[str], engine: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection a Python mart computes in. DuckDB: the warehouse's. Spark: an in-memory DuckDB connection
    with `inputs` (and those of `outputs` that exist already, which a step may read) copied from Spark; `outputs`
    are written back to Spark when the block ends without error. Under the warehouse's writer lock either way:
    the local metastore admits one process at a time."""
    if (engine or settings.engine()) != "spark":
        with warehouse.write_connection() as con:
            yield con
        return
    outputs = list(outputs)
    staging = settings.spark_dir() / STAGING
    with warehouse.writer_lock(), spark_step() as spark, duckdb.connect() as con:
        schemas = {table.split(".")[0] for table in outputs}
        present = {f"{schema}.{name}" for schema in schemas for name in spark_tables(spark, schema)}
        for table in [*inputs, *(t for t in outputs if t in present)]:
            copy_to_duckdb(spark, con, table, staging)
        yield con
        for table in outputs:
            copy_to_spark(con, spark, table, staging)


@contextmanager
def warehouse_with_marts(
    warehouse: Warehouse, inputs: Iterable[str], outputs: Iterable[str] = (), engine: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse connection of a step that keeps state in DuckDB whatever the engine (the delivery ledger
    `ops.*`, the report's history). Spark: the marts it reads (`inputs`) are first copied from Spark into the
    warehouse's schemas of the same names, replacing an earlier copy, and its `outputs` go back to Spark after."""
    if (engine or settings.engine()) != "spark":
        with warehouse.write_connection() as con:
            yield con
        return
    staging = settings.spark_dir() / STAGING
    with warehouse.write_connection() as con, spark_step() as spark:
        for table in inputs:
            copy_to_duckdb(spark, con, table, staging)
        yield con
        for table in outputs:
            copy_to_spark(con, spark, table, staging)


def spark_schema_to_duckdb_file(schema: str, path: Path) -> dict[str, int]:
    """Every table of the Spark database `schema` into a new DuckDB file at `path` (replaced): serving publishes
    the marts from it. Returns {table: rows}."""
    path.unlink(missing_ok=True)
    counts = {}
    with spark_step() as spark, duckdb.connect(str(path)) as con:
        for name in spark_tables(spark, schema):
            counts[name] = copy_to_duckdb(spark, con, f"{schema}.{name}", settings.spark_dir() / STAGING)
    return counts
