"""Run dbt tests (singular, unit) against a test's warehouse, as a user would from dbt_project/, and read their
results from run_results.json: a warn-severity test shows its status and failure count there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from settings import DBT_PROJECT_DIR


def dbt_test_results(warehouse: Path, select: str, target: Path) -> list[dict]:
    """`dbt test --select <select>` on `warehouse` (its artifacts under `target`): the results of run_results.json."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "test",
            "--profiles-dir",
            ".",
            "--select",
            select,
            "--target-path",
            str(target),
        ],
        cwd=DBT_PROJECT_DIR,
        env=dict(os.environ, NPS_DUCKDB_PATH=str(warehouse)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads((target / "run_results.json").read_text())["results"]
