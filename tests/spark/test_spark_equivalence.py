"""The dbt project built on Apache Spark (dbt-spark, session method) from the raw tables of a DuckDB warehouse
gives the same marts as DuckDB, value for value.

The small demo is loaded by the real pipeline into DuckDB (`full_run`); its raw tables go to a local Spark metastore
(scale_out.spark_raw) and `dbt build --target spark` (seeds, models, data and unit tests) runs on them in a
subprocess, as `NPS_DBT_TARGET=spark` would. Every model under models/marts is then read back through Spark and
compared with DuckDB's (tests/spark/marts_compare.py). Run by `make test-spark`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR, REPO_ROOT
from tests.spark.marts_compare import differences, duckdb_columns, duckdb_rows, spark_rows

pytestmark = pytest.mark.spark

DBT = Path(sys.executable).parent / "dbt"


def run(command: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"


@pytest.fixture(scope="module")
def spark_build(full_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(Spark folder, dbt target folder) after the raw tables were registered and `dbt build` passed on Spark."""
    work = tmp_path_factory.mktemp("spark")
    folder, target = work / "spark", work / "target"
    env = dict(os.environ, NPS_DBT_TARGET="spark", NPS_SPARK_DIR=str(folder), NPS_DUCKDB_PATH=str(full_run))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    run([sys.executable, "-m", "scale_out.spark_raw", "--duckdb", str(full_run), "--fresh"], env, REPO_ROOT)
    dbt_args = ["--profiles-dir", ".", "--target-path", str(target), "--log-path", str(work / "logs")]
    run([str(DBT), "build", *dbt_args], env, DBT_PROJECT_DIR)
    yield folder, target


@pytest.fixture(scope="module")
def spark(spark_build: tuple[Path, Path]) -> Iterator[object]:
    from scale_out.spark_raw import spark_session

    session = spark_session(spark_build[0])
    yield session
    session.stop()


def mart_models(target: Path) -> list[str]:
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts" and node["config"]["enabled"]
    )


def test_every_dbt_mart_is_the_same_on_spark_and_duckdb(full_run: Path, spark_build: tuple[Path, Path], spark):
    marts = mart_models(spark_build[1])
    assert len(marts) >= 15, marts
    report = {}
    with duckdb.connect(str(full_run), read_only=True) as con:
        for mart in marts:
            columns = duckdb_columns(con, f"marts.{mart}")
            duckdb_data = duckdb_rows(con, f"marts.{mart}", columns)
            assert duckdb_data, f"marts.{mart} is empty in DuckDB: nothing would be compared"
            found = differences(duckdb_data, spark_rows(spark, f"marts.{mart}", columns), columns)
            if found:
                report[mart] = found
    assert not report, "marts that differ between DuckDB and Spark:\n" + json.dumps(report, indent=2, default=str)
