"""A SimpleSAT detractor reaches Slack within the poll interval plus one run: SimpleSAT has no public webhook
specification, so the polling sensor asks its search API for responses modified since its last look and runs
realtime_simplesat_responses for their day (fetch through the connector, load, rebuild fct_survey_responses,
alert). Against the demo warehouse, a local server playing SimpleSAT's API and one playing Slack."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.resources import LandingZoneResource
from tests.api.conftest import FAST
from tests.api.fake_simplesat import SEARCH, SimpleSat
from tests.api.fake_vendors import FakeVendorServer
from tests.e2e.sensor_ticks import ticker
from tests.outbound import RecordingServer

pytestmark = pytest.mark.e2e

POLL_SECONDS = 30


def email_of_an_account(landing: Path) -> tuple[str, str]:
    """A person's email and their account, read from the landing files: a Zendesk user's organization carries
    the account id as `external_id` (the documented tie, docs/sources.md)."""
    accounts = {}
    for path in sorted((landing / "zendesk" / "organizations").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            org = json.loads(line)
            if org.get("external_id"):
                accounts[org["id"]] = org["external_id"]
    for path in sorted((landing / "zendesk" / "users").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            user = json.loads(line)
            if user.get("email") and user.get("organization_id") in accounts:
                return user["email"], accounts[user["organization_id"]]
    raise AssertionError("the demo has no Zendesk user of an organization with an account id")


@pytest.mark.serial
def test_a_simplesat_detractor_reaches_slack_within_the_poll_interval(
    full_run: Path, small_landing: Path, tmp_path, monkeypatch
):
    from orchestration.definitions import defs

    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    email, account_id = email_of_an_account(landing)
    vendor = SimpleSat()
    slack = RecordingServer()
    now = datetime.now(UTC).replace(microsecond=0)
    for name, value in {
        **FAST,
        "NPS_LANDING_DIR": str(landing),
        "NPS_DUCKDB_PATH": str(warehouse),
        "NPS_SLACK_WEBHOOK_URL": f"{slack.base_url}/services/T0/B0/token",
        "NPS_SOURCE_MODE_SIMPLESAT": "api",
        "NPS_SIMPLESAT_API_KEY": vendor.key,
        "NPS_SIMPLESAT_REQUESTS_PER_MINUTE": "0",
        "NPS_SIMPLESAT_START": (now - timedelta(days=1)).isoformat(),
        "NPS_SIMPLESAT_POLL_SECONDS": str(POLL_SECONDS),
        "NPS_API_STATE_DIR": str(tmp_path / "api-state"),
    }.items():
        monkeypatch.setenv(name, value)
    try:
        with FakeVendorServer(vendor) as server, dg.DagsterInstance.ephemeral() as instance:
            monkeypatch.setenv("NPS_SIMPLESAT_API_URL", server.url)
            definitions = defs()
            sensor = definitions.resolve_sensor_def("simplesat_poll_sensor")
            job = definitions.resolve_job_def("realtime_simplesat_responses")
            assert sensor.minimum_interval_seconds == POLL_SECONDS

            tick = ticker(definitions, "simplesat_poll_sensor", instance, landing)

            requests, cursor = tick(None)  # the first tick only takes note of the time
            assert requests == [] and not server.requests
            # A promoter answered earlier (before the first tick): the daily run's job, not the sensor's.
            promoter = vendor.add_response(now - timedelta(hours=3), "nps", "10", email="early@example.com")

            answered = datetime.now(UTC).replace(microsecond=0)
            detractor = vendor.add_response(answered, "nps", "2", email=email.upper())
            detractor["answers"][0]["comment"] = "Exports broke again & nobody answered."
            arrived = time.monotonic()

            requests, cursor = tick(cursor)
            probe = server.requests[-1]
            assert probe.path.startswith(SEARCH) and probe.body["date_type"] == "modified"
            assert [r.partition_key for r in requests] == [answered.date().isoformat()]
            result = job.execute_in_process(instance=instance, partition_key=requests[0].partition_key)
            assert result.success
            elapsed = time.monotonic() - arrived
            alerts = [r.json for r in slack.requests if r.json["text"].startswith("New detractor")]
            assert len(alerts) == 1, alerts
            assert "score 2/10" in alerts[0]["text"] and account_id in alerts[0]["text"]
            assert "Exports broke again &amp; nobody answered." in alerts[0]["text"]
            # The run fetched through the connector: the detractor landed in its modified day's file (the
            # promoter too, since the connector's first sync starts at NPS_SIMPLESAT_START).
            landed = landing / "simplesat" / "responses" / f"{answered.date().isoformat()}.jsonl"
            ids = {json.loads(line)["id"] for line in landed.read_text().splitlines()}
            assert detractor["id"] in ids
            assert promoter["id"] in {
                json.loads(line)["id"]
                for path in (landing / "simplesat" / "responses").glob("*.jsonl")
                for line in path.read_text().splitlines()
            }
            # Worst case: the response changes just after a poll, so it waits one interval, then the run.
            assert elapsed + POLL_SECONDS < 120, elapsed
            print(f"SimpleSAT to Slack: run {elapsed:.1f} s + poll interval {POLL_SECONDS} s")

            # The same response seen again (the poll's overlap) makes the same run key: no second run, no alert.
            again, cursor = tick(cursor)
            assert [r.run_key for r in again] in ([], [requests[0].run_key])
            # A later edit of the detractor (score raised after a follow-up) is a change: a new run key.
            vendor.modify(detractor["id"], datetime.now(UTC), "7")
            time.sleep(1)  # the edit is in the past of the next poll (times are whole seconds)
            edited, _ = tick(cursor)
            assert [r.partition_key for r in edited] == [answered.date().isoformat()]
            assert edited[0].run_key != requests[0].run_key
            assert len([r for r in slack.requests if r.json["text"].startswith("New detractor")]) == 1
    finally:
        slack.close()


def test_the_sensor_skips_without_a_request_when_simplesat_is_in_file_mode(tmp_path, monkeypatch):
    from orchestration.definitions import defs

    monkeypatch.setenv("NPS_LANDING_DIR", str(tmp_path))
    monkeypatch.delenv("NPS_SOURCE_MODE_SIMPLESAT", raising=False)
    definitions = defs()
    sensor = definitions.resolve_sensor_def("simplesat_poll_sensor")
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_sensor_context(
            instance=instance,
            repository_def=definitions.get_repository_def(),
            resources={"landing": LandingZoneResource(landing_dir=str(tmp_path))},
        ) as context,
    ):
        result = sensor.evaluate_tick(context)
    assert not result.run_requests
    assert "not in API mode" in result.skip_message
