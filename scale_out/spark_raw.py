"""The raw DuckDB tables that dbt's sources read, exported to Parquet and registered as Spark tables.

python -m scale_out.spark_raw [--duckdb PATH] [--spark-dir DIR]

Each table of the `sources:` of dbt_project/models becomes `<spark-dir>/raw/<schema>/<table>.parquet` (DuckDB's
COPY) and the table `<schema>.<table>` of a local Hive metastore in `<spark-dir>` (Derby), so that `source()`
resolves to the same names on both engines. dbt's `spark` target (method session) opens the same metastore
and warehouse folder, both derived from `NPS_SPARK_DIR` by `spark_settings`, as in dbt_project/profiles.yml.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

import settings
from settings import DBT_PROJECT_DIR, duckdb_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_dir() -> Path:
    """`NPS_SPARK_DIR` (default data/spark), made absolute against the repository root."""
    return settings.spark_dir()


def spark_settings(folder: Path) -> dict[str, str]:
    """The session settings of the dbt `spark` target (dbt_project/profiles.yml) for a Spark folder."""
    return {
        "spark.master": settings.value("NPS_SPARK_MASTER"),
        "spark.sql.warehouse.dir": f"{folder}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder} -Duser.timezone=UTC",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
    }


def spark_session(folder: Path) -> SparkSession:
    """A session on the local metastore of `folder`, configured like dbt-spark's session method."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_settings(folder).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def source_tables(project_dir: Path = DBT_PROJECT_DIR) -> list[tuple[str, str]]:
    """(schema, table) of every table declared under `sources:` in the dbt project's models."""
    tables = set()
    for path in sorted((project_dir / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            schema = source.get("schema", source["name"])
            tables.update((schema, table.get("identifier", table["name"])) for table in source.get("tables", []))
    return sorted(tables)


def export_raw(warehouse: Path, folder: Path) -> dict[tuple[str, str], Path]:
    """Every source table of the DuckDB warehouse as one Parquet file; JSON columns become text."""
    exported = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table in source_tables():
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            if not columns:
                raise LookupError(f"{schema}.{table} (a dbt source) is not in {warehouse}")
            select = ", ".join(
                f'cast("{name}" as varchar) as "{name}"' if data_type == "JSON" else f'"{name}"'
                for name, data_type in columns
            )
            target = folder / "raw" / schema / f"{table}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f'copy (select {select} from "{schema}"."{table}") to \'{target}\' (format parquet)')
            exported[(schema, table)] = target
    return exported


def register_raw(spark: SparkSession, exported: dict[tuple[str, str], Path]) -> None:
    """One Spark database per raw schema, one table per exported file (replacing an earlier registration)."""
    for (schema, table), path in sorted(exported.items()):
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(f"create table {schema}.{table} using parquet location '{path}'")


def load_raw_into_spark(warehouse: Path, folder: Path, *, fresh: bool = False) -> list[str]:
    """Export and register every raw source table; `fresh` first removes the metastore and warehouse."""
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    exported = export_raw(warehouse, folder)
    spark = spark_session(folder)
    try:
        register_raw(spark, exported)
    finally:
        spark.stop()
    return [f"{schema}.{table}" for schema, table in sorted(exported)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scale_out.spark_raw", description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", type=Path, help="the DuckDB warehouse (default NPS_DUCKDB_PATH)")
    parser.add_argument("--spark-dir", type=Path, help="metastore, warehouse and Parquet folder (NPS_SPARK_DIR)")
    parser.add_argument("--fresh", action="store_true", help="start from an empty metastore and warehouse")
    args = parser.parse_args(argv)
    folder = (args.spark_dir or spark_dir()).resolve()
    tables = load_raw_into_spark((args.duckdb or duckdb_path()).resolve(), folder, fresh=args.fresh)
    print(f"Registered {len(tables)} raw tables in the Spark metastore under {folder}: {', '.join(tables)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
