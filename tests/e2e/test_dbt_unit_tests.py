"""The dbt unit tests (the `unit_tests:` of dbt_project/models), which the pipeline's runs leave out: their inputs
are fixed, so they belong to development and CI. Run here on the demo warehouse, whose tables give the column types
of the models the fixtures stand in for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


def test_every_dbt_unit_test_passes(full_run: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    target = tmp_path / "target"
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "test", "--profiles-dir", ".", "--target-path", str(target), "--select", "test_type:unit"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    # Every unit test of the project ran, and passed.
    assert {r["unique_id"] for r in results} == set(manifest["unit_tests"])
    assert len(results) >= 20
    assert {r["status"] for r in results} == {"pass"}
