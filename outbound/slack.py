"""The one Slack sender: detractor alerts, the weekly digest and run-failure alerts, posted to the incoming webhook
`NPS_SLACK_WEBHOOK_URL` (read at call time, so it can be set or rotated without reloading the code).

Without a URL, alerts and digests are appended as JSON lines to the alerts log (`NPS_ALERTS_LOG`, default
`alerts.log` beside the warehouse: settings.py) and run failures are logged by the `nps_platform.alerts` logger.
Alerts and digests are recorded in the outbound ledger (`outbound.ledger`) right after delivery, so a re-run sends
nothing twice. The URL is a secret: it never reaches the ledger, the log file, log records, exceptions or return
values. The message bodies are built in `outbound.slack_messages`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

import duckdb
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

import settings
from outbound import ledger
from outbound.http import retry_after_seconds
from outbound.ledger import DeliverySummary, Message, Outcome
from outbound.slack_messages import (
    DETRACTOR_ALERT_PREFIX,
    WEEKLY_DIGEST_PREFIX,
    DetractorAlert,
    Mover,
    SlaAttainment,
    ThemeShare,
    WeeklyDigest,
    detractor_alert_blocks,
    detractor_alert_message,
    detractor_alert_text,
    mask_email,
    run_failure_text,
    weekly_digest_blocks,
    weekly_digest_message,
    weekly_digest_text,
)

__all__ = [
    "DetractorAlert",
    "Mover",
    "SlaAttainment",
    "ThemeShare",
    "WeeklyDigest",
    "detractor_alert_blocks",
    "detractor_alert_text",
    "mask_email",
    "run_failure_text",
    "send_alert",
    "send_detractor_alerts",
    "send_messages",
    "send_weekly_digest",
    "weekly_digest_blocks",
    "weekly_digest_text",
]

WEBHOOK_URL_VARIABLE = "NPS_SLACK_WEBHOOK_URL"
ALERTS_LOG_VARIABLE = "NPS_ALERTS_LOG"
SLACK_TIMEOUT_SECONDS = 10
MAX_ALERTS_PER_RUN = 50
MAX_RETRY_WAIT_SECONDS = 30.0  # the longest Retry-After honoured in a run; a longer one defers to the next run
RATE_LIMIT_RETRIES = 2
SECONDS_BETWEEN_POSTS = 1.0  # Slack allows about one message per second per incoming webhook

logger = logging.getLogger("nps_platform.outbound.slack")
alerts_logger = logging.getLogger("nps_platform.alerts")

# slack_sdk logs the request URL (the secret) at DEBUG, and at INFO/ERROR when it retries or fails to connect.
# A logger of its own that passes only CRITICAL keeps the URL out of every log; we log outcomes ourselves.
_slack_sdk_logger = logging.getLogger("nps_platform.outbound.slack_sdk")
_slack_sdk_logger.setLevel(logging.CRITICAL)


# ---------------------------------------------------------------------------------------------------------------
# Sending


def send_detractor_alerts(
    con: duckdb.DuckDBPyConnection,
    alerts: Iterable[DetractorAlert | Mapping[str, Any]],
    *,
    webhook_url: str | None = None,
    log_path: str | Path | None = None,
    max_per_run: int | None = MAX_ALERTS_PER_RUN,
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    timeout_seconds: int = SLACK_TIMEOUT_SECONDS,
    seconds_between_posts: float | None = None,
) -> DeliverySummary:
    """Post one message per detractor not yet alerted; return what was delivered, failed, deferred, skipped.

    `alerts`: DetractorAlert objects or dicts with the same keys. Pass the recent detractors (for example those
    answered in the last 2 days); those already delivered are skipped by the ledger. Earlier failed or deferred
    alerts are sent first from their stored payload, even when no longer passed.

    `webhook_url`: defaults to `NPS_SLACK_WEBHOOK_URL` at call time; empty means the log file
    (`log_path`, default `NPS_ALERTS_LOG` or data/alerts.log). At most `max_per_run` messages are attempted
    (None: no cap); the rest are recorded `deferred` and go first on the next run. On 429 the `Retry-After`
    is honoured up to `max_retry_wait_seconds`; beyond that, or when Slack is down or refuses the webhook,
    the message is recorded `failed` and the rest of the batch `deferred`, all retried on the next run.
    Posts are spaced by `seconds_between_posts` (default SECONDS_BETWEEN_POSTS, 1 s: Slack's pace for a
    webhook), so 50 alerts take about a minute.
    """
    messages = [
        detractor_alert_message(alert if isinstance(alert, DetractorAlert) else DetractorAlert.from_mapping(alert))
        for alert in alerts
    ]
    return _send(
        con,
        messages,
        prefix=DETRACTOR_ALERT_PREFIX,
        webhook_url=webhook_url,
        log_path=log_path,
        max_per_run=max_per_run,
        max_retry_wait_seconds=max_retry_wait_seconds,
        timeout_seconds=timeout_seconds,
        seconds_between_posts=seconds_between_posts,
    )


def send_weekly_digest(
    con: duckdb.DuckDBPyConnection,
    digest: WeeklyDigest,
    *,
    webhook_url: str | None = None,
    log_path: str | Path | None = None,
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    timeout_seconds: int = SLACK_TIMEOUT_SECONDS,
    seconds_between_posts: float | None = None,
) -> DeliverySummary:
    """Post the digest of `digest.week_start` once (key `weekly_digest:<week start>`); same channels, ledger and
    retry rules as `send_detractor_alerts`. An earlier week's digest that failed is sent first."""
    return _send(
        con,
        [weekly_digest_message(digest)],
        prefix=WEEKLY_DIGEST_PREFIX,
        webhook_url=webhook_url,
        log_path=log_path,
        max_per_run=None,
        max_retry_wait_seconds=max_retry_wait_seconds,
        timeout_seconds=timeout_seconds,
        seconds_between_posts=seconds_between_posts,
    )


def send_messages(
    con: duckdb.DuckDBPyConnection, messages: list[Message], *, prefix: str, webhook_url: str
) -> DeliverySummary:
    """Post ready-made messages (the action lists' summaries) once each to `webhook_url`, with the ledger, retry
    and carry-over rules of `send_detractor_alerts` (earlier failed messages whose key starts with `prefix` first).
    """
    return _send(
        con,
        messages,
        prefix=prefix,
        webhook_url=webhook_url,
        log_path=None,
        max_per_run=None,
        max_retry_wait_seconds=MAX_RETRY_WAIT_SECONDS,
        timeout_seconds=SLACK_TIMEOUT_SECONDS,
        seconds_between_posts=None,
    )


def alerts_log_path(log_path: str | Path | None = None) -> Path:
    """`log_path`, else `NPS_ALERTS_LOG`, else alerts.log beside the warehouse (settings.alerts_log)."""
    return settings.absolute(log_path) if log_path else settings.alerts_log()


def send_alert(text: str) -> None:
    """Post one plain-text alert (a failed run) to the webhook if one is configured, else log it with the
    `nps_platform.alerts` logger. Never raises on a delivery problem: an alert that cannot be delivered is logged
    with its text, so it is not lost. Not ledgered: each failed run is alerted once by its sensor."""
    url = (settings.value(WEBHOOK_URL_VARIABLE) or "").strip()
    if not url:
        alerts_logger.error(text)
        return
    try:
        response = WebhookClient(url, timeout=SLACK_TIMEOUT_SECONDS, logger=_slack_sdk_logger).send(text=text)
    except Exception as error:  # a network error, a timeout, a malformed URL
        reason = _redact(f"{type(error).__name__}: {error}", url)
        alerts_logger.error("Slack webhook not reached (%s); alert: %s", reason, text)
        return
    if response.status_code != 200:
        body = _redact(str(response.body or "")[:200], url)
        alerts_logger.error("Slack webhook answered %s %r; alert: %s", response.status_code, body, text)


def _send(
    con: duckdb.DuckDBPyConnection,
    messages: list[Message],
    *,
    prefix: str,
    webhook_url: str | None,
    log_path: str | Path | None,
    max_per_run: int | None,
    max_retry_wait_seconds: float,
    timeout_seconds: int,
    seconds_between_posts: float | None,
) -> DeliverySummary:
    # Read at call time: the variable can be set or rotated without reloading the code location.
    url = ((settings.value(WEBHOOK_URL_VARIABLE) or "") if webhook_url is None else webhook_url).strip()
    if not url:
        path = alerts_log_path(log_path)
        summary = ledger.deliver(
            con,
            messages,
            lambda message: _write_log_line(path, message),
            channel=ledger.LOG_FILE,
            carry_over_prefix=prefix,
            max_messages=max_per_run,
        )
    else:
        client = WebhookClient(
            url,
            timeout=timeout_seconds,
            logger=_slack_sdk_logger,
            retry_handlers=[
                # A refused connection never reached Slack: one more try is safe.
                ConnectionErrorRetryHandler(max_retry_count=1, error_types=[URLError]),
                _RateLimitRetryHandler(RATE_LIMIT_RETRIES, max_retry_wait_seconds),
            ],
        )
        spacing = SECONDS_BETWEEN_POSTS if seconds_between_posts is None else seconds_between_posts
        last_post: list[float] = []

        def post(message: Message) -> Outcome:
            if last_post:
                time.sleep(max(0.0, spacing - (time.monotonic() - last_post[-1])))
            try:
                return _post(client, url, message)
            finally:
                last_post.append(time.monotonic())

        summary = ledger.deliver(
            con,
            messages,
            post,
            channel=ledger.SLACK,
            carry_over_prefix=prefix,
            max_messages=max_per_run,
        )
    if summary.failed or summary.deferred:
        logger.warning(
            "%s: %d delivered, %d failed, %d deferred to the next run (see ops.outbound_messages)",
            summary.channel,
            len(summary.delivered),
            len(summary.failed),
            len(summary.deferred),
        )
    return summary


def _post(client: WebhookClient, url: str, message: Message) -> Outcome:
    try:
        response = client.send_dict(message.payload)
    except Exception as error:  # a network error, a timeout, a malformed URL: Slack is out of reach
        reason = _redact(f"{type(error).__name__}: {error}", url)
        logger.error("Slack webhook not reached for %s (%s)", message.key, reason)
        return Outcome(ledger.FAILED, error=f"not reached: {reason}", stop=True)
    if response.status_code == 200:
        return Outcome(ledger.SENT, response_status=200)
    body = _redact(str(response.body or "")[:200], url)
    logger.error("Slack webhook answered %s %r for %s", response.status_code, body, message.key)
    # 400 is about this message (invalid_payload, no_text); anything else is about the webhook or Slack
    # (403 action_prohibited, 404 no_service, 410 channel_is_archived, 429 beyond the wait cap, 5xx).
    return Outcome(
        ledger.FAILED,
        response_status=response.status_code,
        error=f"HTTP {response.status_code}: {body}",
        stop=response.status_code != 400,
    )


def _write_log_line(path: Path, message: Message) -> Outcome:
    line = {
        "message_key": message.key,
        "logged_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "payload": message.payload,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log_file:
            log_file.write(json.dumps(line, ensure_ascii=False) + "\n")
            log_file.flush()
            os.fsync(log_file.fileno())
    except OSError as error:
        logger.error("alerts log %s not written for %s (%s)", path, message.key, error)
        return Outcome(ledger.FAILED, error=f"log file not written: {error}", stop=True)
    return Outcome(ledger.LOGGED)


class _RateLimitRetryHandler(RetryHandler):
    """Honour HTTP 429 `Retry-After`, but never wait longer than `max_wait_seconds` (slack_sdk's own
    RateLimitErrorRetryHandler waits whatever Slack says); a longer wait leaves the 429 to the caller."""

    def __init__(self, max_retry_count: int, max_wait_seconds: float):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None or response.status_code != 429:
            return False
        return self._wait(response) <= self.max_wait_seconds

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        state.next_attempt_requested = True
        time.sleep(self._wait(response))
        state.increment_current_attempt()

    @staticmethod
    def _wait(response) -> float:
        values = {key.lower(): value for key, value in response.headers.items()}.get("retry-after")
        return retry_after_seconds(values[0] if isinstance(values, list) else values)


def _redact(text: str, url: str) -> str:
    """Remove the webhook URL, and its path (the secret part) on its own, from a message."""
    text = text.replace(url, "<webhook url>")
    path = urlsplit(url).path if "://" in url else url
    return text.replace(path, "<webhook path>") if len(path) > 1 else text
