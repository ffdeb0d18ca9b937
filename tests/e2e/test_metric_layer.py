"""The semantic layer (dbt_project/models/marts/_semantic_layer.yml) queried as an analyst does, with MetricFlow's
CLI (`mf query`), on the demo warehouse: its metrics give the numbers of the marts, which are computed by other SQL
(nps_by_period, ces_by_period)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


def mf_query(warehouse: Path, out: Path, metrics: str, group_by: str) -> list[dict]:
    """`mf query` as an analyst runs it: in the dbt project, after a `dbt parse` against the same warehouse (the
    semantic manifest names its tables by the warehouse's database name). In a copy of the project, so that the
    project's own target/ (which the Dagster definitions read) is left alone."""
    project = out.parent / "dbt_project"
    if not project.exists():
        shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    bin_dir = Path(sys.executable).parent
    parse = [str(bin_dir / "dbt"), "parse", "-q", "--profiles-dir", "."]
    subprocess.run(parse, cwd=project, env=env, check=True, timeout=300)
    command = [str(bin_dir / "mf"), "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out)]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    with out.open() as handle:
        return list(csv.DictReader(handle))


def month(value: str) -> date:
    return date.fromisoformat(value[:10])


def test_nps_by_month_and_plan_equals_nps_by_period(full_run: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    rows = mf_query(warehouse, tmp_path / "nps.csv", "nps,nps_responses", "metric_time__month,response__plan")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, segment_value, responses, nps from marts.nps_by_period "
            "where period_grain = 'month' and segment_type = 'plan' and responses > 0"
        ).fetchall()
    expected = {(period, plan): (responses, nps) for period, plan, responses, nps in mart}
    got = {
        (month(r["metric_time__month"]), r["response__plan"]): (int(float(r["nps_responses"])), float(r["nps"]))
        for r in rows
        if r["nps_responses"] and float(r["nps_responses"]) > 0
    }
    assert got.keys() == expected.keys()
    for key, (responses, nps) in expected.items():
        assert got[key][0] == responses, key
        assert got[key][1] == pytest.approx(nps, abs=1e-9), key


def test_ces_by_month_equals_ces_by_period(full_run: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    rows = mf_query(warehouse, tmp_path / "ces.csv", "ces,ces_easy_share,ces_responses", "metric_time__month")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            "select period_start, responses, ces_mean, ces_easy_share from marts.ces_by_period "
            "where period_grain = 'month' and segment_type = 'overall' and responses > 0"
        ).fetchall()
    got = {month(r["metric_time__month"]): r for r in rows if r["ces_responses"] and float(r["ces_responses"]) > 0}
    assert set(got) == {row[0] for row in mart}
    for period, responses, ces_mean, easy_share in mart:
        assert int(float(got[period]["ces_responses"])) == responses
        assert float(got[period]["ces"]) == pytest.approx(ces_mean, abs=1e-9)
        assert float(got[period]["ces_easy_share"]) == pytest.approx(easy_share, abs=1e-9)
