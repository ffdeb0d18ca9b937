"""Freshness checks cover every raw table and the marts; a failed run alerts through Slack, or the log without it."""

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from ingestion.registry import ENTITIES
from settings import DBT_PROJECT_DIR

ERROR = "landing file stripe/customers/2026-03-04.jsonl line 3: not JSON"


@dg.op
def load_day() -> None:
    raise ValueError(f"{ERROR}\nthe traceback follows")


@dg.job
def nightly_load() -> None:
    load_day()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def failed_run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = nightly_load.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return result


@pytest.fixture
def slack_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[dict]]]:
    """Starts a local server that plays a Slack incoming webhook and points NPS_SLACK_WEBHOOK_URL at it."""
    servers: list[HTTPServer] = []

    def start(status: int = 200, answer: str = "ok") -> list[dict]:
        received: list[dict] = []

        class Webhook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "content_type": self.headers["Content-Type"], "body": body})
                payload = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # keep the test output to what the code logs
                pass

        server = HTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv(
            "NPS_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/services/T0001/B0001/secret-token"
        )
        return received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def alert_for(instance: dg.DagsterInstance, run: dg.DagsterRun, failure_event: dg.DagsterEvent) -> None:
    from orchestration.defs.sensors.run_failure import run_failure_alert

    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_instance=instance, dagster_run=run, dagster_event=failure_event
    )
    assert run_failure_alert(context) is None


@pytest.fixture(autouse=True)
def default_ui_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPS_DAGSTER_URL", raising=False)


def test_the_run_link_uses_the_configured_ui_url(instance, failed_run, monkeypatch, caplog):
    monkeypatch.delenv("NPS_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("NPS_DAGSTER_URL", "https://dagster.acme.internal/prod/")
    with caplog.at_level(logging.INFO, logger="nps_platform.alerts"):
        alert_for(instance, failed_run.dagster_run, failed_run.get_run_failure_event())
    [alert] = [r.getMessage() for r in caplog.records if r.name == "nps_platform.alerts"]
    assert alert.endswith(f"(https://dagster.acme.internal/prod/runs/{failed_run.dagster_run.run_id})")


def expected_text(run_id: str) -> str:
    return (
        f"Run failed: job nightly_load, run {run_id}, failed step(s): load_day. "
        f"Error: ValueError: {ERROR} (http://127.0.0.1:3000/runs/{run_id})"
    )


def test_a_failed_run_is_posted_to_the_slack_webhook(instance, failed_run, slack_webhook, caplog):
    received = slack_webhook()
    with caplog.at_level(logging.DEBUG):
        alert_for(instance, failed_run.dagster_run, failed_run.get_run_failure_event())

    assert len(received) == 1
    assert received[0]["path"] == "/services/T0001/B0001/secret-token"
    assert received[0]["content_type"].startswith("application/json")
    assert json.loads(received[0]["body"]) == {"text": expected_text(failed_run.run_id)}
    assert [r for r in caplog.records if r.name.startswith("nps_platform.alerts")] == []
    assert "secret-token" not in caplog.text  # the webhook URL is a secret, at any log level


def test_without_a_webhook_the_alert_is_one_log_line(instance, failed_run, monkeypatch, caplog):
    monkeypatch.delenv("NPS_SLACK_WEBHOOK_URL", raising=False)
    with caplog.at_level(logging.INFO, logger="nps_platform.alerts"):
        alert_for(instance, failed_run.dagster_run, failed_run.get_run_failure_event())

    alerts = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name == "nps_platform.alerts"]
    assert alerts == [("nps_platform.alerts", "ERROR", expected_text(failed_run.run_id))]


def test_a_slack_error_is_logged_with_the_alert_not_raised(instance, failed_run, slack_webhook, caplog):
    received = slack_webhook(status=500, answer="internal_error")
    with caplog.at_level(logging.DEBUG):
        alert_for(instance, failed_run.dagster_run, failed_run.get_run_failure_event())

    assert len(received) == 1
    alerts = [r.getMessage() for r in caplog.records if r.name == "nps_platform.alerts"]
    assert alerts == [f"Slack webhook answered 500 'internal_error'; alert: {expected_text(failed_run.run_id)}"]
    assert "secret-token" not in caplog.text


def test_an_unusable_webhook_url_is_logged_without_the_url(instance, failed_run, monkeypatch, caplog):
    monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", "hooks.slack.example/services/secret-token")  # no scheme
    with caplog.at_level(logging.DEBUG):
        alert_for(instance, failed_run.dagster_run, failed_run.get_run_failure_event())

    alerts = [r.getMessage() for r in caplog.records if r.name == "nps_platform.alerts"]
    assert len(alerts) == 1
    assert alerts[0].startswith("Slack webhook not reached (ValueError: unknown url type: '<webhook url>')")
    assert "secret-token" not in caplog.text


def test_a_run_that_will_be_retried_does_not_alert(instance, failed_run, slack_webhook):
    received = slack_webhook()
    instance.add_run_tags(failed_run.run_id, {"dagster/will_retry": "true"})
    alert_for(instance, instance.get_run_by_id(failed_run.run_id), failed_run.get_run_failure_event())
    assert received == []


@pytest.fixture(scope="module")
def definitions(dbt_manifest) -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def test_every_raw_table_and_mart_has_a_freshness_check(definitions):
    asset_graph = definitions.resolve_asset_graph()
    by_group = {
        group: {node.key for node in asset_graph.asset_nodes if node.group_name == group}
        for group in ("raw", "marts", "serving")
    }
    assert by_group["raw"] == {dg.AssetKey([spec.schema, spec.entity]) for spec in ENTITIES}
    assert dg.AssetKey(["marts", "nps_by_period"]) in by_group["marts"]
    checked = {key.asset_key for key in asset_graph.asset_check_keys if key.name == "freshness_check"}
    assert by_group["serving"] == {dg.AssetKey(["serving", "marts_published"])}
    assert checked == by_group["raw"] | by_group["marts"] | by_group["serving"]


def test_the_freshness_sensor_checks_what_was_built_and_leaves_the_rest(definitions, instance):
    """A new instance has nothing to be stale: no check run (it could only fail, alert and hold the run queue).
    Once assets were built, the sensor asks for exactly their checks that never ran."""
    sensor = definitions.resolve_sensor_def("freshness_checks_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick():
        with dg.build_sensor_context(instance=instance, repository_def=definitions.get_repository_def()) as context:
            return sensor.evaluate_tick(context)

    assert tick().run_requests == []
    built = [dg.AssetKey(["raw_segment", "tracks"]), dg.AssetKey(["marts", "nps_by_period"])]
    for key in built:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    [request] = tick().run_requests
    assert set(request.asset_check_keys) == {dg.AssetCheckKey(key, "freshness_check") for key in built}


def test_a_stale_mart_fails_its_check_run_and_alerts(definitions, instance, monkeypatch, caplog):
    from orchestration.defs.checks.freshness import freshness_checks

    marts_freshness_checks = freshness_checks()["marts"]

    # The real checks, in a job of their own, against an instance where no mart was ever materialized.
    job = dg.define_asset_job("check_marts_freshness", selection=dg.AssetSelection.checks(*marts_freshness_checks))
    checks_only = dg.Definitions(asset_checks=marts_freshness_checks, jobs=[job])
    result = checks_only.resolve_job_def("check_marts_freshness").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    # Every dbt model under models/marts/ and the marts written in Python.
    dbt_marts = {f"marts/{path.stem}" for path in (DBT_PROJECT_DIR / "models" / "marts").rglob("*.sql")}
    python_marts = {
        "marts/churn_risk_backtest",
        "marts/churn_rule_weights",
        "marts/nps_revenue_per_point",
        "marts/nps_changes",
        "marts/followup_effect",
        "marts/experiment_results",
    } | {
        f"marts/{name}"
        for name in (
            "comment_classifications",
            "comment_theme_evaluation",
            "comment_themes",
            "theme_escalations",
            "churn_reason_themes",
            "feedback_to_feature",
        )
    }
    assert {"marts/nps_by_period", "marts/account_health"} <= dbt_marts
    failed = {e.asset_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == dbt_marts | python_marts

    monkeypatch.delenv("NPS_SLACK_WEBHOOK_URL", raising=False)
    with caplog.at_level(logging.INFO, logger="nps_platform.alerts"):
        alert_for(instance, result.dagster_run, result.get_run_failure_event())
    alerts = [r.getMessage() for r in caplog.records if r.name == "nps_platform.alerts"]
    assert len(alerts) == 1
    assert f"job check_marts_freshness, run {result.run_id}, failed step(s): freshness_check_" in alerts[0]
    # One check step per dbt step (see freshness.py); the alert quotes the first failed step's error.
    assert "Error: DagsterAssetCheckFailedError: " in alerts[0]
    assert "failed with ERROR severity: marts/" in alerts[0]


def test_a_check_right_after_the_update_says_how_long_ago(instance):
    """Dagster's own check wrote "The last update was  ago" when it ran within a second of the update, as the daily
    run's checks do."""
    from orchestration.defs.checks.freshness import last_update_checks

    key = dg.AssetKey(["raw_test", "events"])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    checks = last_update_checks([key], "test")
    job = dg.define_asset_job("check_it", selection=dg.AssetSelection.checks(*checks))
    result = (
        dg.Definitions(asset_checks=checks, jobs=[job])
        .resolve_job_def("check_it")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.description == (
        "Asset is fresh: the last update was less than a second ago, within the allowed 1 day, 2 hours."
    )
    # When it can turn overdue: 26 hours after the update (the freshness sensor runs the check again then).
    [record] = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    fresh_until = evaluation.metadata["dagster/fresh_until_timestamp"].value
    assert fresh_until == pytest.approx(record.timestamp + 26 * 3600)


def test_the_freshness_messages():
    from orchestration.defs.checks.freshness import freshness_description

    now = 1_800_000_000.0
    assert freshness_description(None, now) == "Asset has never been materialized."
    assert freshness_description(now - 0.3, now) == (
        "Asset is fresh: the last update was less than a second ago, within the allowed 1 day, 2 hours."
    )
    assert freshness_description(now - 3 * 3600 - 1, now) == (
        "Asset is fresh: the last update was 3 hours, 1 second ago, within the allowed 1 day, 2 hours."
    )
    assert freshness_description(now - (27 * 3600 + 61), now) == (
        "Asset is overdue for an update: the last update was 1 day, 3 hours, 1 minute, 1 second ago, more than "
        "the allowed 1 day, 2 hours."
    )
