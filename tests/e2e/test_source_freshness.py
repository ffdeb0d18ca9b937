"""dbt source freshness on every raw source: fresh after a run, an error once loads are more than 50 hours old."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.registry import ENTITIES
from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


def source_freshness(warehouse: Path, target: Path) -> dict[str, str]:
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "source",
            "freshness",
            "--profiles-dir",
            ".",
            "--output",
            str(target),
            # Its own target folder: the project's target/ holds the parse the Dagster definitions read.
            "--target-path",
            str(target.parent / "dbt_target"),
        ],
        cwd=DBT_PROJECT_DIR,
        env=dict(os.environ, NPS_DUCKDB_PATH=str(warehouse)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(target.read_text())["results"]
    return {result["unique_id"].split(".", 2)[2]: result["status"] for result in results}


def test_every_source_is_fresh_after_a_run_and_errors_when_stale(full_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    expected = {f"{spec.source}.{spec.entity}" for spec in ENTITIES}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        delivered = {
            f"{spec.source}.{spec.entity}"
            for spec in ENTITIES
            if con.execute(f"select count(*) from {spec.table}").fetchone()[0] > 0
        }
    fresh = source_freshness(warehouse, tmp_path / "fresh.json")
    assert set(fresh) == expected
    # The demo delivers every source but SimpleSAT, Delighted, Zendesk satisfaction ratings and CSAT survey
    # responses (its help desk has CSAT off) and Stripe coupons (it gives no discounts); dbt calls a source that
    # never loaded a row an error.
    undelivered = {
        "simplesat.responses",
        "delighted.survey_responses",
        "delighted.unsubscribes",
        "delighted.bounces",
        "zendesk.satisfaction_ratings",
        "zendesk.csat_survey_responses",
        "stripe.coupons",
    }
    assert expected - delivered == undelivered
    assert {name: status for name, status in fresh.items() if name in delivered} == dict.fromkeys(delivered, "pass")
    assert {name: status for name, status in fresh.items() if name not in delivered} == dict.fromkeys(
        undelivered, "error"
    )

    with duckdb.connect(str(warehouse)) as con:
        for spec in ENTITIES:
            con.execute(f"update {spec.table} set _loaded_at = _loaded_at - interval 3 days")
    stale = source_freshness(warehouse, tmp_path / "stale.json")
    assert set(stale.values()) == {"error"}
