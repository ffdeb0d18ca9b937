"""The GX suite's second look: a record that reached the raw table without the loader's rules (a connector writing
straight into it) is reported with its reason, file and line; as a record-level problem it never stops the run, and
the marts refresh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import dates_present
from ingestion.registry import ENTITIES
from orchestration.defs.checks.freshness import marts_asset_keys

pytestmark = pytest.mark.e2e


def test_a_record_that_skipped_the_loader_is_reported_and_the_marts_still_refresh(
    pipeline, small_landing: Path, full_run: Path, tmp_path: Path
):
    warehouse = tmp_path / "gated.duckdb"
    shutil.copy(full_run, warehouse)
    last_day = dates_present(small_landing, ENTITIES)[-1]
    # An NPS answer of "eleven", in the partition the run is about to re-check.
    bad = {
        "response_id": "injected_11",
        "submitted_at": f"{last_day.isoformat()}T12:00:00Z",
        "hidden": {"account_id": "acc_00001"},
        "answers": [{"field": {"ref": "nps_score", "type": "nps"}, "type": "number", "number": "eleven"}],
    }
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw_typeform.responses values (?, ?, ?, 'typeform/responses/injected.jsonl', 7, 'test', now())",
            ["injected_11", json.dumps(bad), last_day],
        )

    result = pipeline.run(warehouse, small_landing, last_day, last_day)

    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    flagged = evaluations[("raw_typeform/responses", "gx_contract")]
    assert not flagged.passed and flagged.severity.value == "WARN"
    metadata = flagged.metadata
    assert metadata["unexpected_count"].value == 1
    assert metadata["expectation"].value["type"] == "expect_column_values_to_be_null"
    assert metadata["sample_unexpected"].value == [
        {
            "contract_violation": 'answers[field.ref=nps_score].number "eleven" is not a whole number',
            "_source_file": "typeform/responses/injected.jsonl",
            "_line_number": "7",
        }
    ]
    # Every other check passed; record-level checks are warnings, none blocks.
    failed = [key for key, e in evaluations.items() if not e.passed]
    assert failed == [("raw_typeform/responses", "gx_contract")]
    assert all(e.severity.value == "WARN" for key, e in evaluations.items() if key[1].startswith("gx_"))
    # The run went on: every mart was rebuilt.
    assert set(marts_asset_keys()) <= {event.asset_key for event in result.get_asset_materialization_events()}
