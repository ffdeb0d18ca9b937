"""Detractor alerts, the weekly digest and theme escalations, run as Dagster assets on the demo warehouse,
against local HTTP servers that play Slack and Jira; a second run sends nothing."""

from __future__ import annotations

import base64
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from analytics.themes import marts as theme_marts
from orchestration.defs.actions.assets import detractor_alerts, theme_escalation_issues, weekly_digest
from orchestration.defs.resources import WarehouseResource
from tests.outbound import Answer, RecordingServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def warehouse(full_run: Path, tmp_path: Path) -> Path:
    """The demo warehouse as if nothing had been sent yet (the full run sent its messages to its own log), with
    escalations from 2 detractor mentions, so that the small demo has some."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, copy)
    with duckdb.connect(str(copy)) as con:
        assert con.execute("select count(*) from ops.outbound_messages").fetchall()[0][0] > 0
        con.execute("drop table ops.outbound_messages")
        theme_marts.build(con, threshold=2)
    return copy


def run_actions(warehouse: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [detractor_alerts, weekly_digest, theme_escalation_issues],
        resources={"warehouse": WarehouseResource(database=str(warehouse))},
    )


def test_alerts_digest_and_escalations_are_sent_once(warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    slack = RecordingServer()
    jira = RecordingServer(lambda n: Answer(201, {"id": str(10000 + n), "key": f"NPS-{n}", "self": "x"}))
    try:
        monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", f"{slack.base_url}/services/T000/B000/secret-token")
        monkeypatch.setenv("NPS_JIRA_URL", jira.base_url)
        monkeypatch.setenv("NPS_JIRA_EMAIL", "bot@acme.com")
        monkeypatch.setenv("NPS_JIRA_API_TOKEN", "jira-secret")
        monkeypatch.setenv("NPS_JIRA_PROJECT_KEY", "NPS")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            latest = con.execute("select max(responded_at) from marts.fct_survey_responses").fetchall()[0][0]
            detractors = con.execute(
                "select response_id, score, comment, account_id, mrr_usd from marts.fct_survey_responses "
                "where survey_type = 'nps' and score <= 6 and responded_at >= ?",
                [latest - timedelta(days=2)],
            ).fetchall()
            escalations = con.execute(
                "select count(*) from marts.comment_themes c where nps_category = 'detractor' "
                "and theme not in ('praise', 'other') and comments >= 2"
            ).fetchall()[0][0]
        assert detractors and escalations

        assert run_actions(warehouse).success
        posts = [r.json for r in slack.requests]
        alerts = {}
        for post in posts:
            if post["text"].startswith("New detractor"):
                response_id = next(
                    element["text"].split("`")[1]
                    for block in post["blocks"]
                    if block["type"] == "context"
                    for element in block["elements"]
                    if "response `" in element["text"]
                )
                alerts[response_id] = post["text"]
        # One message per recent detractor, with its score, account and MRR, and its comment.
        assert set(alerts) == {row[0] for row in detractors}
        for response_id, score, comment, account_id, mrr in detractors:
            text = alerts[response_id]
            assert f"score {score}/10" in text
            assert account_id is None or account_id in text
            assert mrr is None or f"{mrr:,.0f}" in text
            if comment:
                escaped = comment.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                assert escaped[:40] in text
        assert len(posts) == len(detractors) + 1  # and the weekly digest
        # Jira: one issue per escalation, basic auth from the environment.
        assert len(jira.requests) == escalations
        auth = jira.requests[0].headers["Authorization"]
        assert base64.b64decode(auth.split()[1]).decode() == "bot@acme.com:jira-secret"
        assert jira.requests[0].json["fields"]["summary"].startswith("NPS escalation: ")

        # A re-run sends nothing.
        before = (len(slack.requests), len(jira.requests))
        assert run_actions(warehouse).success
        assert (len(slack.requests), len(jira.requests)) == before
        with duckdb.connect(str(warehouse), read_only=True) as con:
            ledger = con.execute("select channel, status, payload from ops.outbound_messages").fetchall()
        assert {(channel, status) for channel, status, _ in ledger} == {("slack", "sent"), ("jira", "sent")}
        assert not any("secret-token" in payload or "jira-secret" in payload for _, _, payload in ledger)
    finally:
        slack.close()
        jira.close()


def test_without_settings_alerts_go_to_the_log_and_issues_are_dry_runs(warehouse: Path, monkeypatch):
    for name in (
        "NPS_SLACK_WEBHOOK_URL",
        "NPS_JIRA_URL",
        "NPS_JIRA_EMAIL",
        "NPS_JIRA_API_TOKEN",
        "NPS_JIRA_PROJECT_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    log = warehouse.with_name("alerts.log")
    monkeypatch.setenv("NPS_ALERTS_LOG", str(log))
    assert run_actions(warehouse).success
    lines = log.read_text().splitlines()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = dict(con.execute("select status, count(*) from ops.outbound_messages group by all").fetchall())
    assert statuses["logged"] == len(lines) > 0 and statuses["dry_run"] > 0
    assert run_actions(warehouse).success
    assert log.read_text().splitlines() == lines
