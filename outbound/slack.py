"""Detractor alerts and the weekly NPS digest, posted to a Slack incoming webhook or written to the alerts log.

The webhook URL is `NPS_SLACK_WEBHOOK_URL` (the variable the run-failure alerts use), read at call time. Without
it, each message is appended as one JSON line to `NPS_ALERTS_LOG` (default `data/alerts.log`). Every message is
recorded in the outbound ledger (`outbound.ledger`) right after it is delivered, so a re-run sends nothing twice.
The URL is a secret: it never reaches the ledger, the log file, log records, exceptions or return values.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

import duckdb
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from orchestration.paths import REPO_ROOT
from outbound import ledger
from outbound.ledger import DeliverySummary, Message, Outcome

WEBHOOK_URL_VARIABLE = "NPS_SLACK_WEBHOOK_URL"
ALERTS_LOG_VARIABLE = "NPS_ALERTS_LOG"
DEFAULT_ALERTS_LOG = "data/alerts.log"
SLACK_TIMEOUT_SECONDS = 10
MAX_ALERTS_PER_RUN = 50
MAX_RETRY_WAIT_SECONDS = 30.0  # the longest Retry-After honoured in a run; a longer one defers to the next run
RATE_LIMIT_RETRIES = 2
SECONDS_BETWEEN_POSTS = 1.0  # Slack allows about one message per second per incoming webhook
COMMENT_MAX_CHARS = 500
LIST_MAX_ITEMS = 10  # movers and themes shown in the digest (a Slack section holds at most 3,000 characters)

DIGEST_FOOTNOTE = "Weeks start on Monday (UTC); the NPS interval is the adjusted Wald 95% interval."
DETRACTOR_ALERT_PREFIX = "detractor_alert:"
WEEKLY_DIGEST_PREFIX = "weekly_digest:"

logger = logging.getLogger("nps_platform.outbound.slack")

# slack_sdk logs the request URL (the secret) at DEBUG, and at INFO/ERROR when it retries or fails to connect.
# A logger of its own that passes only CRITICAL keeps the URL out of every log; we log outcomes ourselves.
_slack_sdk_logger = logging.getLogger("nps_platform.outbound.slack_sdk")
_slack_sdk_logger.setLevel(logging.CRITICAL)


# ---------------------------------------------------------------------------------------------------------------
# Input data


@dataclass(frozen=True)
class DetractorAlert:
    """One detractor response (score 0-6), as `marts.fct_survey_responses` holds it, plus the account name."""

    response_id: str
    responded_at: datetime
    score: int
    comment: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    plan: str | None = None
    mrr_usd: float | None = None
    email: str | None = None
    survey_kind: str | None = None
    touchpoint: str | None = None

    @property
    def message_key(self) -> str:
        return f"{DETRACTOR_ALERT_PREFIX}{self.response_id}"

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> DetractorAlert:
        """Build from a dict (e.g. a DuckDB row as a dict); keys that are not fields are ignored."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


@dataclass(frozen=True)
class Mover:
    """A segment whose NPS moved most against the previous week (e.g. segment_type `plan`, value `enterprise`)."""

    segment_type: str
    segment_value: str
    nps: float | None
    nps_change: float
    responses: int | None = None


@dataclass(frozen=True)
class ThemeShare:
    """A comment theme among the week's detractors: `share` in 0-1 of the detractors with a classified comment."""

    theme: str
    share: float
    count: int


@dataclass(frozen=True)
class SlaAttainment:
    """Detractors of the week followed up within 24 hours and within 4 hours (see DOMAIN: close the loop)."""

    detractors: int
    within_24h: int
    within_4h: int

    @property
    def share_24h(self) -> float | None:
        return self.within_24h / self.detractors if self.detractors else None

    @property
    def share_4h(self) -> float | None:
        return self.within_4h / self.detractors if self.detractors else None


@dataclass(frozen=True)
class WeeklyDigest:
    """The week starting Monday `week_start` (UTC). `nps_change` is against the previous week (None: no NPS
    then). Empty `movers` / `top_detractor_themes` and a None `sla` are shown as not available."""

    week_start: date
    nps: float | None
    nps_ci_low: float | None
    nps_ci_high: float | None
    responses: int
    nps_change: float | None = None
    movers: Sequence[Mover] = ()
    top_detractor_themes: Sequence[ThemeShare] = ()
    sla: SlaAttainment | None = None

    @property
    def message_key(self) -> str:
        return f"{WEEKLY_DIGEST_PREFIX}{self.week_start.isoformat()}"


# ---------------------------------------------------------------------------------------------------------------
# Message bodies (Block Kit plus a plain-text fallback)


def escape(text: str) -> str:
    """Escape Slack's mrkdwn control characters, so user text cannot mention @channel or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mask_email(address: str | None) -> str | None:
    """`jane@acme.com` -> `j***@acme.com`; the domain stays (it names the customer), the person does not."""
    if not address:
        return None
    local, at, domain = address.strip().partition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def truncate(text: str, limit: int = COMMENT_MAX_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def detractor_alert_text(alert: DetractorAlert) -> str:
    """The plain-text fallback (notifications, and clients without Block Kit), mrkdwn-escaped."""
    account = _account_label(alert)
    details = ", ".join(part for part in (alert.plan and escape(alert.plan), f"MRR {_money(alert.mrr_usd)}") if part)
    comment = f': "{escape(truncate(alert.comment))}"' if alert.comment and alert.comment.strip() else ""
    return f"New detractor: score {alert.score}/10 from {account} ({details}){comment}"


def detractor_alert_blocks(alert: DetractorAlert) -> list[dict[str, Any]]:
    """Block Kit: a headline section with score, account, plan, MRR and contact fields, the comment quoted,
    and a context line with the response id, survey kind, touchpoint and time."""
    comment = alert.comment.strip() if alert.comment else ""
    quoted = "\n".join(f">{line}" for line in escape(truncate(comment)).splitlines()) if comment else "_no comment_"
    context = [f"response `{escape(alert.response_id)}`"]
    survey = " / ".join(escape(part) for part in (alert.survey_kind, alert.touchpoint) if part)
    if survey:
        context.append(survey)
    context.append(_timestamp(alert.responded_at))
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*New detractor: score {alert.score}/10* from {_account_label(alert)}"},
            "fields": [
                {"type": "mrkdwn", "text": f"*Account*\n{_account_label(alert)}"},
                {"type": "mrkdwn", "text": f"*MRR*\n{_money(alert.mrr_usd)}"},
                {"type": "mrkdwn", "text": f"*Plan*\n{escape(alert.plan) if alert.plan else 'unknown'}"},
                {"type": "mrkdwn", "text": f"*Contact*\n{escape(mask_email(alert.email) or 'unknown')}"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": quoted}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(context)}]},
    ]


def weekly_digest_text(digest: WeeklyDigest) -> str:
    """The plain-text fallback of the digest: the headline figure."""
    return f"NPS weekly digest, week of {digest.week_start.isoformat()}: {_nps_line(digest)}"


def weekly_digest_blocks(digest: WeeklyDigest) -> list[dict[str, Any]]:
    """Block Kit: header, NPS with its 95% interval and change, movers, top detractor themes, follow-up SLA."""
    movers = [
        f"\u2022 {escape(m.segment_type)} {escape(m.segment_value)}: NPS {_signed(m.nps)} ({_signed(m.nps_change)}"
        + (f", {m.responses:,} responses)" if m.responses is not None else ")")
        for m in digest.movers[:LIST_MAX_ITEMS]
    ]
    themes = [
        f"\u2022 {escape(t.theme)}: {t.share:.0%} of detractors ({t.count:,})"
        for t in digest.top_detractor_themes[:LIST_MAX_ITEMS]
    ]
    sla = digest.sla
    if sla is None or not sla.detractors:
        sla_text = "_no detractors to follow up this week_" if sla is not None else "_not available yet_"
    else:
        sla_text = (
            f"within 24 h: {sla.share_24h:.0%} ({sla.within_24h:,} of {sla.detractors:,})\n"
            f"within 4 h: {sla.share_4h:.0%} ({sla.within_4h:,} of {sla.detractors:,})"
        )
    sections = [
        ("NPS", _nps_line(digest)),
        ("Movers", "\n".join(movers) or "_no segment moved_"),
        ("Top detractor themes", "\n".join(themes) or "_no themes classified yet_"),
        ("Detractor follow-up", sla_text),
    ]
    return [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"NPS weekly digest: week of {digest.week_start.isoformat()}"},
        },
        *({"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{body}"}} for title, body in sections),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": DIGEST_FOOTNOTE}],
        },
    ]


def detractor_alert_message(alert: DetractorAlert) -> Message:
    """The ledger key and webhook body of one alert."""
    return Message(alert.message_key, {"text": detractor_alert_text(alert), "blocks": detractor_alert_blocks(alert)})


def weekly_digest_message(digest: WeeklyDigest) -> Message:
    """The ledger key and webhook body of one digest."""
    return Message(digest.message_key, {"text": weekly_digest_text(digest), "blocks": weekly_digest_blocks(digest)})


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


def alerts_log_path(log_path: str | Path | None = None) -> Path:
    """`log_path`, else `NPS_ALERTS_LOG`, else data/alerts.log; relative paths from the repository root."""
    path = Path(log_path or os.environ.get(ALERTS_LOG_VARIABLE) or DEFAULT_ALERTS_LOG).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


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
    url = (os.environ.get(WEBHOOK_URL_VARIABLE, "") if webhook_url is None else webhook_url).strip()
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
        return ledger.retry_after_seconds(values[0] if isinstance(values, list) else values)


def _redact(text: str, url: str) -> str:
    """Remove the webhook URL, and its path (the secret part) on its own, from a message."""
    text = text.replace(url, "<webhook url>")
    path = urlsplit(url).path if "://" in url else url
    return text.replace(path, "<webhook path>") if len(path) > 1 else text


def _account_label(alert: DetractorAlert) -> str:
    if alert.account_name and alert.account_id:
        return f"*{escape(alert.account_name)}* (`{escape(alert.account_id)}`)"
    if alert.account_id:
        return f"`{escape(alert.account_id)}`"
    return "an unmatched respondent (no account)"


def _money(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:,.0f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def _timestamp(value: datetime | date | str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return escape(str(value))


def _nps_line(digest: WeeklyDigest) -> str:
    if digest.nps is None or not digest.responses:
        return "no NPS responses this week"
    interval = (
        f" (95% interval {_signed(digest.nps_ci_low)} to {_signed(digest.nps_ci_high)})"
        if digest.nps_ci_low is not None and digest.nps_ci_high is not None
        else ""
    )
    change = f", {_signed(digest.nps_change)} vs the previous week" if digest.nps_change is not None else ""
    return f"{_signed(digest.nps)}{interval} from {digest.responses:,} responses{change}"
