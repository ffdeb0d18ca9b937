"""Detractor alerts and the weekly digest through a local server playing a Slack incoming webhook, the log-file
fallback, and the ledger that keeps a re-run from sending anything twice."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from outbound import ledger
from outbound import slack as slack_module
from outbound.slack import (
    DetractorAlert,
    Mover,
    SlaAttainment,
    ThemeShare,
    WeeklyDigest,
    detractor_alert_blocks,
    detractor_alert_text,
    mask_email,
    send_detractor_alerts,
    send_weekly_digest,
    weekly_digest_blocks,
)
from tests.outbound import Answer, RecordingServer

SECRET_PATH = "/services/T0001/B0001/secret-token"
SECRET = "secret-token"


def alert(number: int, **overrides) -> DetractorAlert:
    values = {
        "response_id": f"resp_{number:03d}",
        "responded_at": datetime(2026, 3, 2, 9, 30 + number),
        "score": 3,
        "comment": f"Exports time out every morning ({number}).",
        "account_id": f"acc_{number:05d}",
        "account_name": "Acme Corp",
        "plan": "business",
        "mrr_usd": 1250.0,
        "email": "jane@acme.com",
        "survey_kind": "relational",
        "touchpoint": "relationship",
    }
    return DetractorAlert(**(values | overrides))


DIGEST = WeeklyDigest(
    week_start=date(2026, 3, 2),
    nps=24.8,
    nps_ci_low=23.4,
    nps_ci_high=26.2,
    responses=1234,
    nps_change=2.1,
    movers=[Mover("plan", "enterprise", 31.0, 8.5, 120), Mover("region", "EMEA", -4.0, -6.25)],
    top_detractor_themes=[ThemeShare("performance", 0.32, 41), ThemeShare("billing", 0.18, 23)],
    sla=SlaAttainment(detractors=40, within_24h=34, within_4h=16),
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    server = RecordingServer()
    monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", server.base_url + SECRET_PATH)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def debug_logs_and_no_spacing(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)  # every log line, slack_sdk's included, is checked for the secret
    monkeypatch.setattr(slack_module, "SECONDS_BETWEEN_POSTS", 0.0)  # tested on its own below


def ledger_dump(con: duckdb.DuckDBPyConnection) -> str:
    ledger.ensure_table(con)
    return repr(con.execute(f"select * from {ledger.TABLE}").fetchall())


def assert_no_secret(con, caplog, *more: object) -> None:
    for text in (ledger_dump(con), caplog.text, *map(repr, more)):
        assert SECRET not in text
        assert SECRET_PATH not in text


def test_each_new_detractor_is_posted_once_with_score_comment_account_and_mrr(con, slack, caplog):
    alerts = [alert(1), alert(2, score=0, account_name=None, mrr_usd=99.0, comment=None)]

    summary = send_detractor_alerts(con, alerts)

    assert summary.channel == "slack"
    assert summary.delivered == ["detractor_alert:resp_001", "detractor_alert:resp_002"]
    assert summary.failed == summary.deferred == summary.skipped == []
    assert [(r.method, r.path) for r in slack.requests] == [("POST", SECRET_PATH)] * 2
    assert all(r.headers["Content-Type"].startswith("application/json") for r in slack.requests)

    first, second = (r.json for r in slack.requests)
    assert first["text"] == (
        "New detractor: score 3/10 from *Acme Corp* (`acc_00001`) (business, MRR $1,250): "
        '"Exports time out every morning (1)."'
    )
    section, comment, context = first["blocks"]
    assert section["text"]["text"] == "*New detractor: score 3/10* from *Acme Corp* (`acc_00001`)"
    assert [f["text"] for f in section["fields"]] == [
        "*Account*\n*Acme Corp* (`acc_00001`)",
        "*MRR*\n$1,250",
        "*Plan*\nbusiness",
        "*Contact*\nj***@acme.com",
    ]
    assert comment == {"type": "section", "text": {"type": "mrkdwn", "text": ">Exports time out every morning (1)."}}
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == "response `resp_001` | relational / relationship | 2026-03-02 09:31 UTC"
    assert "jane@" not in json.dumps(first)

    assert "score 0/10 from `acc_00002`" in second["text"]
    assert "MRR $99" in second["text"]
    assert second["blocks"][1]["text"]["text"] == "_no comment_"

    rows = ledger.rows(con, "detractor_alert:")
    assert [(r.message_key, r.channel, r.status, r.attempts, r.response_status) for r in rows] == [
        ("detractor_alert:resp_001", "slack", "sent", 1, 200),
        ("detractor_alert:resp_002", "slack", "sent", 1, 200),
    ]
    assert [r.payload for r in rows] == [first, second]  # the ledger holds exactly what was sent
    assert all(r.sent_at is not None and r.first_attempt_at is not None for r in rows)

    again = send_detractor_alerts(con, alerts)
    assert len(slack.requests) == 2  # nothing new reached the server
    assert again.delivered == [] and again.skipped == ["detractor_alert:resp_001", "detractor_alert:resp_002"]
    assert [r.attempts for r in ledger.rows(con)] == [1, 1]
    assert_no_secret(con, caplog, summary, again)


def test_dict_rows_are_accepted_and_extra_columns_ignored(con, slack):
    row = {f: getattr(alert(7), f) for f in DetractorAlert.__dataclass_fields__} | {"nps_category": "detractor"}
    summary = send_detractor_alerts(con, [row])
    assert summary.delivered == ["detractor_alert:resp_007"]
    assert "acc_00007" in slack.requests[0].json["text"]


def test_user_text_is_escaped_masked_and_truncated():
    hostile = alert(
        1, comment="<!channel> refund & <https://evil.example|click> " + "x" * 2000, account_name="A&B <Ltd>"
    )
    text = detractor_alert_text(hostile)
    blocks = json.dumps(detractor_alert_blocks(hostile))
    for rendered in (text, blocks):
        assert "<!channel>" not in rendered and "<https://" not in rendered
        assert "&lt;!channel&gt; refund &amp; &lt;https://evil.example|click&gt;" in rendered
        assert "A&amp;B &lt;Ltd&gt;" in rendered
    quoted = detractor_alert_blocks(hostile)[1]["text"]["text"]
    assert quoted.endswith("\u2026") and len(quoted) < 560  # ~500 characters of comment, escaped
    assert mask_email("jane.doe@acme.com") == "j***@acme.com"
    assert mask_email("not-an-address") == "***"
    assert mask_email(None) is None
    multi_line = detractor_alert_blocks(alert(1, comment="first line\nsecond line"))[1]["text"]["text"]
    assert multi_line == ">first line\n>second line"


def test_a_failed_delivery_is_recorded_and_retried_on_the_next_run(con, slack, caplog):
    slack.answer(Answer(500, "internal_error"))
    alerts = [alert(1), alert(2), alert(3)]

    first = send_detractor_alerts(con, alerts)

    # Slack is down: the first message fails, the other two are not tried (deferred), none is lost.
    assert len(slack.requests) == 1
    assert first.failed == ["detractor_alert:resp_001"]
    assert first.deferred == ["detractor_alert:resp_002", "detractor_alert:resp_003"]
    failed = ledger.get(con, "detractor_alert:resp_001")
    assert (failed.status, failed.attempts, failed.response_status) == ("failed", 1, 500)
    assert failed.error == "HTTP 500: internal_error" and failed.sent_at is None
    assert [(r.status, r.attempts) for r in ledger.rows(con)][1:] == [("deferred", 0), ("deferred", 0)]
    assert ledger.pending(con, [a.message_key for a in alerts]) == {a.message_key for a in alerts}

    second = send_detractor_alerts(con, alerts)
    assert second.delivered == [a.message_key for a in alerts]
    assert len(slack.requests) == 4
    assert slack.requests[1].body == slack.requests[0].body  # the same message, retried
    retried = ledger.get(con, "detractor_alert:resp_001")
    assert (retried.status, retried.attempts, retried.response_status, retried.error) == ("sent", 2, 200, None)
    assert retried.first_attempt_at == failed.first_attempt_at

    send_detractor_alerts(con, alerts)
    assert len(slack.requests) == 4
    assert_no_secret(con, caplog)


def test_a_429_waits_for_retry_after_then_sends(con, slack):
    slack.answer(Answer(429, "rate_limited", {"Retry-After": "1"}))
    started = time.monotonic()

    summary = send_detractor_alerts(con, [alert(1)], max_retry_wait_seconds=5)

    assert time.monotonic() - started >= 1.0
    assert summary.delivered == ["detractor_alert:resp_001"]
    assert len(slack.requests) == 2 and slack.requests[0].body == slack.requests[1].body
    row = ledger.get(con, "detractor_alert:resp_001")
    assert (row.status, row.attempts, row.response_status) == ("sent", 1, 200)


def test_a_429_longer_than_the_cap_defers_the_batch_to_the_next_run(con, slack, caplog):
    slack.answer(Answer(429, "rate_limited", {"Retry-After": "120"}))
    started = time.monotonic()

    first = send_detractor_alerts(con, [alert(1), alert(2)], max_retry_wait_seconds=2)

    assert time.monotonic() - started < 2  # it did not sleep two minutes
    assert len(slack.requests) == 1
    assert (first.failed, first.deferred) == (["detractor_alert:resp_001"], ["detractor_alert:resp_002"])
    assert ledger.get(con, "detractor_alert:resp_001").response_status == 429

    second = send_detractor_alerts(con, [alert(1), alert(2)], max_retry_wait_seconds=2)
    assert second.delivered == ["detractor_alert:resp_001", "detractor_alert:resp_002"]
    assert len(slack.requests) == 3
    assert_no_secret(con, caplog)


def test_the_per_run_cap_defers_the_rest_which_are_sent_later_even_if_not_passed_again(con, slack):
    alerts = [alert(n) for n in range(1, 6)]

    first = send_detractor_alerts(con, alerts, max_per_run=2)
    assert (len(first.delivered), len(first.deferred)) == (2, 3)
    assert len(slack.requests) == 2

    # The next run's query no longer returns these detractors: the ledger still carries the deferred ones.
    second = send_detractor_alerts(con, [], max_per_run=2)
    assert second.delivered == ["detractor_alert:resp_003", "detractor_alert:resp_004"]
    third = send_detractor_alerts(con, alerts[:1], max_per_run=2)
    assert third.delivered == ["detractor_alert:resp_005"] and third.skipped == ["detractor_alert:resp_001"]
    assert send_detractor_alerts(con, alerts, max_per_run=2).delivered == []

    texts = [r.json["text"] for r in slack.requests]
    assert len(texts) == len(set(texts)) == 5  # every alert exactly once
    assert {r.status for r in ledger.rows(con)} == {"sent"}


def test_posts_are_spaced_to_slacks_pace(con, slack):
    started = time.monotonic()
    send_detractor_alerts(con, [alert(1), alert(2), alert(3)], seconds_between_posts=0.4)
    assert time.monotonic() - started >= 0.8
    assert len(slack.requests) == 3


def test_an_unreachable_webhook_is_recorded_without_the_url(con, monkeypatch, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NPS_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{port}{SECRET_PATH}")

    summary = send_detractor_alerts(con, [alert(1), alert(2)])

    assert (summary.failed, summary.deferred) == (["detractor_alert:resp_001"], ["detractor_alert:resp_002"])
    row = ledger.get(con, "detractor_alert:resp_001")
    assert row.status == "failed" and row.error.startswith("not reached: URLError")
    assert_no_secret(con, caplog, summary)


def test_without_a_webhook_alerts_go_to_the_log_file_once(con, monkeypatch, tmp_path: Path, caplog):
    server = RecordingServer()  # running, but not configured: it must receive nothing
    monkeypatch.delenv("NPS_SLACK_WEBHOOK_URL", raising=False)
    log = tmp_path / "nested" / "alerts.log"
    monkeypatch.setenv("NPS_ALERTS_LOG", str(log))
    try:
        summary = send_detractor_alerts(con, [alert(1), alert(2)])
        digest = send_weekly_digest(con, DIGEST)
        lines = [json.loads(line) for line in log.read_text().splitlines()]

        assert summary.channel == "log_file" and summary.delivered == [
            "detractor_alert:resp_001",
            "detractor_alert:resp_002",
        ]
        assert digest.delivered == ["weekly_digest:2026-03-02"]
        assert [line["message_key"] for line in lines] == [
            "detractor_alert:resp_001",
            "detractor_alert:resp_002",
            "weekly_digest:2026-03-02",
        ]
        assert "score 3/10" in lines[0]["payload"]["text"] and lines[0]["payload"]["blocks"]
        assert {(r.channel, r.status) for r in ledger.rows(con)} == {("log_file", "logged")}

        send_detractor_alerts(con, [alert(1), alert(2)])
        send_weekly_digest(con, DIGEST)
        assert len(log.read_text().splitlines()) == 3  # the second run wrote nothing
        assert server.requests == []
    finally:
        server.close()


def test_the_weekly_digest_is_posted_once(con, slack, caplog):
    summary = send_weekly_digest(con, DIGEST)

    assert summary.delivered == ["weekly_digest:2026-03-02"]
    assert len(slack.requests) == 1
    body = slack.requests[0].json
    assert body["text"] == (
        "NPS weekly digest, week of 2026-03-02: +24.8 (95% interval +23.4 to +26.2) from 1,234 responses, "
        "+2.1 vs the previous week"
    )
    header, nps, movers, themes, sla, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "NPS weekly digest: week of 2026-03-02"}}
    assert nps["text"]["text"].startswith("*NPS*\n+24.8 (95% interval +23.4 to +26.2)")
    assert movers["text"]["text"] == (
        "*Movers*\n\u2022 plan enterprise: NPS +31.0 (+8.5, 120 responses)\n\u2022 region EMEA: NPS -4.0 (-6.2)"
    )
    assert themes["text"]["text"] == (
        "*Top detractor themes*\n\u2022 performance: 32% of detractors (41)\n\u2022 billing: 18% of detractors (23)"
    )
    assert sla["text"]["text"] == "*Detractor follow-up*\nwithin 24 h: 85% (34 of 40)\nwithin 4 h: 40% (16 of 40)"
    assert context["type"] == "context"

    assert send_weekly_digest(con, DIGEST).skipped == ["weekly_digest:2026-03-02"]
    assert len(slack.requests) == 1
    assert_no_secret(con, caplog)


def test_a_failed_digest_is_sent_with_the_next_one():
    con = duckdb.connect()
    server = RecordingServer()
    url = server.base_url + SECRET_PATH
    try:
        server.answer(Answer(503, "service_unavailable"))
        assert send_weekly_digest(con, DIGEST, webhook_url=url).failed == ["weekly_digest:2026-03-02"]
        next_week = WeeklyDigest(week_start=date(2026, 3, 9), nps=None, nps_ci_low=None, nps_ci_high=None, responses=0)
        summary = send_weekly_digest(con, next_week, webhook_url=url)
        assert summary.delivered == ["weekly_digest:2026-03-02", "weekly_digest:2026-03-09"]
        assert [r.json["blocks"][0]["text"]["text"][-10:] for r in server.requests] == [
            "2026-03-02",
            "2026-03-02",
            "2026-03-09",
        ]
    finally:
        server.close()
        con.close()


def test_a_digest_with_missing_pieces_says_so():
    digest = WeeklyDigest(week_start=date(2026, 3, 9), nps=None, nps_ci_low=None, nps_ci_high=None, responses=0)
    texts = [block["text"]["text"] for block in weekly_digest_blocks(digest)[1:5]]
    assert texts == [
        "*NPS*\nno NPS responses this week",
        "*Movers*\n_no segment moved_",
        "*Top detractor themes*\n_no themes classified yet_",
        "*Detractor follow-up*\n_not available yet_",
    ]
    quiet = WeeklyDigest(
        week_start=date(2026, 3, 9),
        nps=10.0,
        nps_ci_low=None,
        nps_ci_high=None,
        responses=5,
        sla=SlaAttainment(0, 0, 0),
        top_detractor_themes=[ThemeShare("a<b>", 1.0, 1)],
    )
    blocks = weekly_digest_blocks(quiet)
    assert blocks[1]["text"]["text"] == "*NPS*\n+10.0 from 5 responses"
    assert "a&lt;b&gt;" in blocks[3]["text"]["text"]
    assert blocks[4]["text"]["text"] == "*Detractor follow-up*\n_no detractors to follow up this week_"


def test_a_delivered_row_is_never_overwritten(con):
    ledger.record(con, "weekly_digest:2026-03-02", channel="slack", payload={"text": "x"}, status="sent")
    assert not ledger.record(con, "weekly_digest:2026-03-02", channel="slack", payload={"text": "y"}, status="failed")
    row = ledger.get(con, "weekly_digest:2026-03-02")
    assert (row.status, row.attempts, row.payload) == ("sent", 1, {"text": "x"})
    assert ledger.pending(con, ["weekly_digest:2026-03-02", "weekly_digest:2026-03-09"]) == {"weekly_digest:2026-03-09"}
    with pytest.raises(ValueError, match="defer"):
        ledger.record(con, "k", channel="slack", payload={}, status="deferred")
