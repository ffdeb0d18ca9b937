"""A failed critical expectation on a load stops the dbt models: the marts keep their last good state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import dates_present
from ingestion.registry import ENTITIES
from tests.e2e.test_backfill_and_reruns import table_hashes

pytestmark = pytest.mark.e2e


def test_a_critical_gx_failure_blocks_the_dbt_models(pipeline, small_landing: Path, full_run: Path, tmp_path: Path):
    warehouse = tmp_path / "gated.duckdb"
    shutil.copy(full_run, warehouse)
    last_day = dates_present(small_landing, ENTITIES)[-1]
    # A record that skipped the row rules (as a connector writing straight into the raw table could):
    # an NPS answer of 11, in the partition the run is about to re-check.
    bad = {
        "response_id": "injected_11",
        "submitted_at": f"{last_day.isoformat()}T12:00:00Z",
        "hidden": {"account_id": "acc_00001"},
        "answers": [{"field": {"ref": "nps_score", "type": "nps"}, "type": "number", "number": 11}],
    }
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw_typeform.responses values (?, ?, ?, 'typeform/responses/injected.jsonl', 7, 'test', now())",
            ["injected_11", json.dumps(bad), last_day],
        )
    marts_before = table_hashes(warehouse, "marts")

    result = pipeline.run(warehouse, small_landing, last_day, last_day, expect_success=False)

    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    failed = evaluations[("raw_typeform/responses", "gx_nps_score_0_to_10")]
    assert not failed.passed and failed.severity.value == "ERROR"
    metadata = failed.metadata
    assert metadata["unexpected_count"].value == 1
    assert metadata["expectation"].value["type"] == "expect_column_values_to_be_in_set"
    assert metadata["sample_unexpected"].value == [
        {"nps_score": "11.0", "_source_file": "typeform/responses/injected.jsonl", "_line_number": "7"}
    ]
    # Every other critical expectation passed; the other sources still loaded and were checked.
    other_failures = [key for key, e in evaluations.items() if not e.passed and e.severity.value == "ERROR"]
    assert other_failures == [("raw_typeform/responses", "gx_nps_score_0_to_10")]
    assert ("raw_stripe/invoices", "gx_currency_in_set") in evaluations
    # dbt did not run: no model materialised, and the marts are exactly as before.
    materialized = {event.asset_key.path[0] for event in result.get_asset_materialization_events()}
    assert materialized and all(layer.startswith("raw_") for layer in materialized)
    assert table_hashes(warehouse, "marts") == marts_before
