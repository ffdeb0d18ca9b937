"""A detractor answering through the Typeform webhook reaches Slack within a minute: the receiver lands the
response, the sensor sees today's file change, and the realtime job loads the day and alerts. Against the demo
warehouse and a local HTTP server playing Slack."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.webhooks.typeform import TypeformLanding, parse_event
from outbound import ledger
from tests.e2e.sensor_ticks import ticker
from tests.outbound import RecordingServer

pytestmark = pytest.mark.e2e


def detractor_webhook(account_id: str, now: datetime) -> dict:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event_id": "01JREALTIME0000000000000001",
        "event_type": "form_response",
        "form_response": {
            "form_id": "Ab12Cd",
            "token": "rt0000000000000000000000000001",
            "landed_at": stamp,
            "submitted_at": stamp,
            "hidden": {"account_id": account_id, "email": "ops@example.com", "touchpoint": "relationship",
                       "survey_kind": "relational"},
            "definition": {"id": "Ab12Cd", "title": "How likely are you to recommend us?", "fields": []},
            "answers": [
                {"type": "number", "number": 2, "field": {"id": "Hk3sP0qWa", "type": "nps", "ref": "nps_score"}},
                {"type": "text", "text": "Exports broke again & nobody answered.",
                 "field": {"id": "Qz8LmN2xR", "type": "long_text", "ref": "nps_reason"}},
            ],
        },
    }  # fmt: skip


@pytest.mark.serial
def test_a_webhook_detractor_reaches_slack_within_a_minute(full_run: Path, small_landing: Path, tmp_path, monkeypatch):
    from orchestration.definitions import defs
    from orchestration.defs.sensors.webhook_responses import SENSOR_INTERVAL_SECONDS

    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    slack = RecordingServer()
    monkeypatch.setenv("NPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("NPS_DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", f"{slack.base_url}/services/T0/B0/token")
    definitions = defs()
    job = definitions.resolve_job_def("realtime_survey_responses")
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            tick = ticker(definitions, "webhook_responses_sensor", instance, landing)

            requests, cursor = tick(None)  # the first tick only takes note of the files
            assert requests == []
            now = datetime.now(UTC)
            receiver = TypeformLanding(landing, tmp_path / "webhook-state")
            body = json.dumps(detractor_webhook("acc_00003", now)).encode()
            assert receiver.land(parse_event(body))
            receiver.close()
            arrived = time.monotonic()

            requests, cursor = tick(cursor)
            assert [r.partition_key for r in requests] == [now.date().isoformat()]
            result = job.execute_in_process(instance=instance, partition_key=requests[0].partition_key)
            assert result.success
            elapsed = time.monotonic() - arrived
            alerts = [r.json for r in slack.requests if r.json["text"].startswith("New detractor")]
            assert len(alerts) == 1
            assert "score 2/10" in alerts[0]["text"] and "acc_00003" in alerts[0]["text"]
            assert "Exports broke again &amp; nobody answered." in alerts[0]["text"]
            # The same run opened its follow-up case (a dry run: NPS_FOLLOWUP_CASES_LIVE is not set).
            assert followup_cases_recorded(warehouse) == [
                ("followup_case:rt0000000000000000000000000001", "zendesk_dry_run")
            ]
            # Worst case: the response lands just after a tick, so it waits one interval, then the run.
            assert elapsed + SENSOR_INTERVAL_SECONDS < 60, elapsed
            print(f"webhook to Slack: run {elapsed:.1f} s + sensor interval {SENSOR_INTERVAL_SECONDS} s")

            # Nothing new: no run requested; the same run again sends nothing.
            assert tick(cursor)[0] == []
            assert job.execute_in_process(instance=instance, partition_key=requests[0].partition_key).success
            assert len([r for r in slack.requests if r.json["text"].startswith("New detractor")]) == 1
            assert len(followup_cases_recorded(warehouse)) == 1
    finally:
        slack.close()


def followup_cases_recorded(warehouse: Path) -> list[tuple[str, str]]:
    """(ledger key, channel) of the follow-up cases of today's webhook responses (the demo's own are older)."""
    with duckdb.connect(str(warehouse)) as con:  # the run is over: no other writer
        return [
            (row.message_key, row.channel)
            for row in ledger.rows(con, "followup_case:")
            if row.message_key.startswith("followup_case:rt0")
        ]


@pytest.mark.serial
def test_a_delighted_webhook_detractor_reaches_slack_within_a_minute(
    full_run: Path, small_landing: Path, tmp_path, monkeypatch
):
    """The same path for Delighted: the receiver lands the survey response (person and properties as Delighted
    sends them), the sensor sees the day's Delighted file grow, and the realtime run alerts."""
    from ingestion.webhooks.delighted import DelightedLanding
    from ingestion.webhooks.delighted import parse_event as parse_delighted
    from orchestration.definitions import defs
    from orchestration.defs.sensors.webhook_responses import SENSOR_INTERVAL_SECONDS

    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    slack = RecordingServer()
    monkeypatch.setenv("NPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("NPS_DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", f"{slack.base_url}/services/T0/B0/token")
    definitions = defs()
    job = definitions.resolve_job_def("realtime_survey_responses")
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            tick = ticker(definitions, "webhook_responses_sensor", instance, landing)

            requests, cursor = tick(None)
            assert requests == []
            now = datetime.now(UTC).replace(microsecond=0)
            event = {
                "event_type": "survey_response.created",
                "event_id": "dl-evt-0001",
                "event_data": {
                    "id": "dl-rt-0001",
                    "person": {"id": "77001", "email": "ops@example.com", "name": "Ops", "created_at": 1_700_000_000},
                    "survey_type": "nps",
                    "score": 1,
                    "comment": "Billing is a mess & nobody calls back.",
                    "permalink": "https://delighted.com/r/dl-rt-0001",
                    "created_at": int(now.timestamp()),
                    "updated_at": None,
                    "person_properties": {"Account ID": "acc_00004", "Plan": "Growth"},
                    "notes": [],
                    "tags": [],
                    "additional_answers": [],
                },
            }
            receiver = DelightedLanding(landing, tmp_path / "webhook-state")
            assert receiver.land(parse_delighted(json.dumps(event).encode()))
            receiver.close()
            arrived = time.monotonic()

            requests, cursor = tick(cursor)
            assert [r.partition_key for r in requests] == [now.date().isoformat()]
            result = job.execute_in_process(instance=instance, partition_key=requests[0].partition_key)
            assert result.success
            elapsed = time.monotonic() - arrived
            alerts = [r.json for r in slack.requests if r.json["text"].startswith("New detractor")]
            assert len(alerts) == 1, alerts
            assert "score 1/10" in alerts[0]["text"] and "acc_00004" in alerts[0]["text"]
            assert "Billing is a mess &amp; nobody calls back." in alerts[0]["text"]
            assert elapsed + SENSOR_INTERVAL_SECONDS < 60, elapsed
            print(f"Delighted webhook to Slack: run {elapsed:.1f} s + sensor interval {SENSOR_INTERVAL_SECONDS} s")
            assert tick(cursor)[0] == []
    finally:
        slack.close()
