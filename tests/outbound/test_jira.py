"""Theme escalations created as Jira issues through a local server playing the Jira Cloud REST API v3, the dry
run without configuration, retries, refusals, and the ledger that keeps a re-run from creating an issue twice."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from datetime import date

import duckdb
import pytest

from outbound import ledger
from outbound.jira import JiraConfig, ThemeEscalation, create_escalation_issues, issue_body
from tests.outbound import Answer, RecordingServer

TOKEN = "ATATT3xFfGF0-test-only-jira-token"
EMAIL = "nps-bot@acme.com"
JIRA_ENV = ("NPS_JIRA_URL", "NPS_JIRA_EMAIL", "NPS_JIRA_API_TOKEN", "NPS_JIRA_PROJECT_KEY", "NPS_JIRA_ISSUE_TYPE")

PERFORMANCE = ThemeEscalation(
    theme="performance",
    month=date(2026, 3, 1),
    detractor_count=14,
    accounts=[("acc_00002", 800.0), ("acc_00001", 2000.0), ("acc_00003", None)],
    total_mrr_usd=2800.0,
    sample_comments=["Exports time out every morning.", "  ", "Dashboards take 40 seconds to load."],
)
BILLING = ThemeEscalation(
    theme="Billing & invoices",
    month="2026-03",
    detractor_count=11,
    accounts=[("acc_00009", 450.0)],
    total_mrr_usd=450.0,
    sample_comments=["Charged twice in March."],
)


def created(number: int) -> Answer:
    return Answer(
        201, {"id": str(10000 + number), "key": f"NPS-{number}", "self": f"https://x/rest/api/3/issue/{number}"}
    )


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def no_jira_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in JIRA_ENV:
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    server = RecordingServer(default=created)
    monkeypatch.setenv("NPS_JIRA_URL", server.base_url + "/")
    monkeypatch.setenv("NPS_JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("NPS_JIRA_API_TOKEN", TOKEN)
    monkeypatch.setenv("NPS_JIRA_PROJECT_KEY", "NPS")
    yield server
    server.close()


def assert_no_token(con, caplog, *more: object) -> None:
    dump = repr(con.execute(f"select * from {ledger.TABLE}").fetchall())
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    for text in (dump, caplog.text, *map(repr, more)):
        assert TOKEN not in text and basic not in text


def test_each_escalation_becomes_one_issue_and_a_rerun_creates_none(con, jira, caplog):
    summary = create_escalation_issues(con, [PERFORMANCE, BILLING])

    assert summary.channel == "jira"
    assert summary.delivered == ["jira_escalation:performance:2026-03", "jira_escalation:Billing & invoices:2026-03"]
    assert summary.external_ids == {
        "jira_escalation:performance:2026-03": "NPS-1",
        "jira_escalation:Billing & invoices:2026-03": "NPS-2",
    }
    assert [(r.method, r.path) for r in jira.requests] == [("POST", "/rest/api/3/issue")] * 2
    request = jira.requests[0]
    scheme, credentials = request.headers["Authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(credentials).decode() == f"{EMAIL}:{TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"

    fields = request.json["fields"]
    assert fields["project"] == {"key": "NPS"}
    assert fields["summary"] == "NPS escalation: performance - 14 detractors in 2026-03"
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["nps", "nps-theme-performance"]
    assert jira.requests[1].json["fields"]["labels"] == ["nps", "nps-theme-billing-invoices"]

    def text(node: dict) -> str:
        return "".join(child["text"] for child in node["content"])

    description = fields["description"]
    assert (description["type"], description["version"]) == ("doc", 1)
    lead, accounts_heading, accounts, comments_heading, comments, footer = description["content"]
    assert lead["type"] == "paragraph"
    assert text(lead) == (
        "14 detractors mentioned the theme 'performance' in 2026-03, from 3 accounts with a combined MRR of $2,800."
    )
    assert (accounts_heading["type"], accounts_heading["attrs"], text(accounts_heading)) == (
        "heading",
        {"level": 3},
        "Accounts",
    )
    assert accounts["type"] == "bulletList"
    assert [item["type"] for item in accounts["content"]] == ["listItem"] * 3
    assert [text(item["content"][0]) for item in accounts["content"]] == [
        "acc_00001: $2,000 MRR",
        "acc_00002: $800 MRR",
        "acc_00003: unknown MRR",
    ]
    assert text(comments_heading) == "Sample comments"
    assert [text(item["content"][0]) for item in comments["content"]] == [
        "Exports time out every morning.",
        "Dashboards take 40 seconds to load.",
    ]
    assert "jira_escalation:performance:2026-03" in text(footer)

    rows = ledger.rows(con, "jira_escalation:")
    assert {(r.channel, r.status, r.response_status, r.attempts) for r in rows} == {("jira", "sent", 201, 1)}
    assert {r.message_key: r.external_id for r in rows} == summary.external_ids
    assert ledger.get(con, "jira_escalation:performance:2026-03").payload == request.json

    again = create_escalation_issues(con, [PERFORMANCE, BILLING])
    assert len(jira.requests) == 2  # the server received nothing new
    assert again.delivered == [] and len(again.skipped) == 2
    assert_no_token(con, caplog, summary, again, JiraConfig.from_env())


def test_without_configuration_the_would_be_request_is_recorded_as_a_dry_run(con, caplog):
    server = RecordingServer(default=created)  # running, not configured: it must receive nothing
    try:
        summary = create_escalation_issues(con, [PERFORMANCE, BILLING])
        assert summary.channel == "jira_dry_run"
        assert summary.delivered == [PERFORMANCE.message_key, BILLING.message_key]

        row = ledger.get(con, PERFORMANCE.message_key)
        assert (row.channel, row.status, row.attempts, row.external_id) == ("jira_dry_run", "dry_run", 1, None)
        assert row.payload == issue_body(PERFORMANCE, "<NPS_JIRA_PROJECT_KEY>", "Task")
        assert row.payload["fields"]["summary"] == "NPS escalation: performance - 14 detractors in 2026-03"
        assert row.payload["fields"]["description"]["type"] == "doc"

        again = create_escalation_issues(con, [PERFORMANCE, BILLING])
        assert again.skipped == [PERFORMANCE.message_key, BILLING.message_key]
        assert [r.attempts for r in ledger.rows(con)] == [1, 1]
        assert server.requests == []
    finally:
        server.close()


def test_dicts_are_accepted_and_the_project_key_is_used_in_a_dry_run(con, monkeypatch):
    monkeypatch.setenv("NPS_JIRA_PROJECT_KEY", "CX")
    monkeypatch.setenv("NPS_JIRA_ISSUE_TYPE", "Bug")
    row = {
        "theme": "onboarding",
        "month": date(2026, 4, 1),
        "detractor_count": 10,
        "accounts": [{"account_id": "acc_1", "mrr_usd": 99.0}],
        "total_mrr_usd": 99.0,
        "sample_comments": ["Setup took three weeks."],
    }
    create_escalation_issues(con, [row])
    fields = ledger.get(con, "jira_escalation:onboarding:2026-04").payload["fields"]
    assert (fields["project"], fields["issuetype"]) == ({"key": "CX"}, {"name": "Bug"})


def test_a_429_waits_for_retry_after(con, jira):
    jira.answer(Answer(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "1"}))
    started = time.monotonic()

    summary = create_escalation_issues(con, [PERFORMANCE], max_retry_wait_seconds=5)

    assert time.monotonic() - started >= 1.0
    assert summary.external_ids == {PERFORMANCE.message_key: "NPS-2"}
    assert len(jira.requests) == 2 and jira.requests[0].body == jira.requests[1].body


def test_server_errors_are_retried_with_backoff_then_recorded_failed_and_retried_next_run(con, jira, caplog):
    jira.answer(Answer(500, "oops"), Answer(502, "bad gateway"), created(3))
    assert create_escalation_issues(con, [PERFORMANCE], backoff_seconds=0.05).external_ids == {
        PERFORMANCE.message_key: "NPS-3"
    }
    assert len(jira.requests) == 3

    jira.answer(Answer(500, "oops"), Answer(500, "oops"), Answer(503, "down"))
    first = create_escalation_issues(con, [BILLING, PERFORMANCE], server_error_retries=2, backoff_seconds=0.05)
    assert first.failed == [BILLING.message_key] and first.skipped == [PERFORMANCE.message_key]
    row = ledger.get(con, BILLING.message_key)
    assert (row.status, row.response_status, row.error, row.attempts) == ("failed", 503, "HTTP 503: down", 1)

    second = create_escalation_issues(con, [BILLING])
    assert second.external_ids == {BILLING.message_key: "NPS-7"}
    row = ledger.get(con, BILLING.message_key)
    assert (row.status, row.attempts, row.external_id, row.error) == ("sent", 2, "NPS-7", None)
    assert len(jira.requests) == 7
    assert_no_token(con, caplog)


def test_refused_credentials_fail_clearly_and_defer_the_rest(con, jira, caplog):
    jira.answer(Answer(401, {"errorMessages": ["Client must be authenticated to access this resource."]}))

    first = create_escalation_issues(con, [PERFORMANCE, BILLING])

    assert len(jira.requests) == 1
    assert (first.failed, first.deferred) == ([PERFORMANCE.message_key], [BILLING.message_key])
    row = ledger.get(con, PERFORMANCE.message_key)
    assert (row.status, row.response_status) == ("failed", 401)
    assert row.error == "HTTP 401: Client must be authenticated to access this resource."
    assert ledger.get(con, BILLING.message_key).status == "deferred"
    assert "Client must be authenticated" in caplog.text

    second = create_escalation_issues(con, [])  # the failed and deferred ones come back from the ledger
    assert second.delivered == [PERFORMANCE.message_key, BILLING.message_key]
    assert len(jira.requests) == 3
    assert_no_token(con, caplog, first, second)


def test_a_bad_request_fails_that_escalation_only(con, jira, caplog):
    jira.answer(
        Answer(
            400,
            {
                "errorMessages": [],
                "errors": {"labels": "Field 'labels' cannot be set. It is not on the appropriate screen."},
            },
        )
    )

    summary = create_escalation_issues(con, [PERFORMANCE, BILLING])

    assert (summary.failed, summary.delivered) == ([PERFORMANCE.message_key], [BILLING.message_key])
    row = ledger.get(con, PERFORMANCE.message_key)
    assert row.error == "HTTP 400: labels: Field 'labels' cannot be set. It is not on the appropriate screen."
    assert_no_token(con, caplog)


def test_a_partial_configuration_is_an_error_and_the_token_stays_out_of_repr(monkeypatch):
    monkeypatch.setenv("NPS_JIRA_URL", "https://acme.atlassian.net")
    monkeypatch.setenv("NPS_JIRA_API_TOKEN", TOKEN)
    with pytest.raises(ValueError, match="NPS_JIRA_EMAIL, NPS_JIRA_PROJECT_KEY") as raised:
        JiraConfig.from_env()
    assert TOKEN not in str(raised.value)
    monkeypatch.setenv("NPS_JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("NPS_JIRA_PROJECT_KEY", "NPS")
    config = JiraConfig.from_env()
    assert config is not None and config.issue_type == "Task" and TOKEN not in repr(config)
    assert json.dumps(issue_body(PERFORMANCE, config.project_key)).count(TOKEN) == 0
