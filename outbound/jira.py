"""Theme escalations as Jira issues (REST API v3), created once each; without Jira configured, a dry run.

A theme mentioned by at least N detractors in a month (the `theme_escalations` asset decides which) becomes one
issue: summary, labels `nps` and `nps-theme-<theme>`, and a description in Atlassian Document Format with the
accounts, their MRR and sample comments. Configured by `NPS_JIRA_URL`, `NPS_JIRA_EMAIL`, `NPS_JIRA_API_TOKEN`,
`NPS_JIRA_PROJECT_KEY` and optionally `NPS_JIRA_ISSUE_TYPE` (default Task). Without the URL, e-mail and token,
nothing goes on the network: the exact request body is recorded in the ledger with status `dry_run`.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

import settings
from outbound import http, ledger
from outbound.ledger import DeliverySummary, Message, Outcome

URL_VARIABLE = "NPS_JIRA_URL"
EMAIL_VARIABLE = "NPS_JIRA_EMAIL"
TOKEN_VARIABLE = "NPS_JIRA_API_TOKEN"
PROJECT_KEY_VARIABLE = "NPS_JIRA_PROJECT_KEY"
ISSUE_TYPE_VARIABLE = "NPS_JIRA_ISSUE_TYPE"
DEFAULT_ISSUE_TYPE = "Task"
DRY_RUN_PROJECT_KEY = "<NPS_JIRA_PROJECT_KEY>"  # shown in dry-run payloads when no project key is set

ESCALATION_PREFIX = "jira_escalation:"
CREATE_ISSUE_PATH = "/rest/api/3/issue"
TIMEOUT_SECONDS = 15
MAX_ISSUES_PER_RUN = 20
MAX_RETRY_WAIT_SECONDS = 30.0
SERVER_ERROR_RETRIES = 2
BACKOFF_SECONDS = 1.0
SUMMARY_MAX_CHARS = 255  # Jira's limit on the summary field
COMMENT_MAX_CHARS = 500
MAX_SAMPLE_COMMENTS = 10
MAX_ACCOUNTS_LISTED = 25

logger = logging.getLogger("nps_platform.outbound.jira")


@dataclass(frozen=True)
class JiraConfig:
    """Where and as whom to create issues. `api_token` is a secret: kept out of repr, logs and the ledger."""

    base_url: str
    email: str
    api_token: str = field(repr=False)
    project_key: str
    issue_type: str = DEFAULT_ISSUE_TYPE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JiraConfig | None:
        """The configuration from the environment, read at call time; None when URL, e-mail and token are all
        unset (dry run). Raises ValueError naming the missing variables when only some are set, so a half
        configuration fails loudly instead of silently recording dry runs that are never sent."""
        env = os.environ if environ is None else environ
        values = {
            name: env.get(name, "").strip()
            for name in (URL_VARIABLE, EMAIL_VARIABLE, TOKEN_VARIABLE, PROJECT_KEY_VARIABLE)
        }
        if not any(values[name] for name in (URL_VARIABLE, EMAIL_VARIABLE, TOKEN_VARIABLE)):
            return None
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ValueError(f"Jira is partly configured: set {', '.join(missing)} too, or unset {URL_VARIABLE}")
        return cls(
            base_url=values[URL_VARIABLE].rstrip("/"),
            email=values[EMAIL_VARIABLE],
            api_token=values[TOKEN_VARIABLE],
            project_key=values[PROJECT_KEY_VARIABLE],
            issue_type=env.get(ISSUE_TYPE_VARIABLE, "").strip() or DEFAULT_ISSUE_TYPE,
        )

    @property
    def authorization(self) -> str:
        """The HTTP basic-auth header value (e-mail:API token, as Jira Cloud expects)."""
        return "Basic " + base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()


@dataclass(frozen=True)
class ThemeEscalation:
    """A theme mentioned by at least N detractors in one month. `month` is a date in the month or 'YYYY-MM';
    `accounts` are (account_id, mrr_usd) pairs (or dicts with those keys)."""

    theme: str
    month: date | str
    detractor_count: int
    accounts: Sequence[tuple[str, float | None]] = ()
    total_mrr_usd: float | None = None
    sample_comments: Sequence[str] = ()

    @property
    def month_label(self) -> str:
        """'YYYY-MM'."""
        if isinstance(self.month, datetime | date):
            return self.month.strftime("%Y-%m")
        return str(self.month)[:7]

    @property
    def message_key(self) -> str:
        return f"{ESCALATION_PREFIX}{self.theme}:{self.month_label}"

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> ThemeEscalation:
        """Build from a dict with the field names; accounts may be pairs or dicts with account_id and mrr_usd."""
        accounts = [
            (item["account_id"], item.get("mrr_usd")) if isinstance(item, Mapping) else (item[0], item[1])
            for item in row.get("accounts") or ()
        ]
        return cls(
            theme=row["theme"],
            month=row["month"],
            detractor_count=int(row["detractor_count"]),
            accounts=accounts,
            total_mrr_usd=row.get("total_mrr_usd"),
            sample_comments=list(row.get("sample_comments") or ()),
        )


# ---------------------------------------------------------------------------------------------------------------
# The request body


def theme_label(theme: str) -> str:
    """`nps-theme-<theme>`, made a valid Jira label (no spaces): lower case, runs of other characters as '-'."""
    return "nps-theme-" + (re.sub(r"[^a-z0-9]+", "-", theme.lower()).strip("-") or "unknown")


def issue_summary(escalation: ThemeEscalation) -> str:
    summary = (
        f"NPS escalation: {escalation.theme} - {escalation.detractor_count} detractors in {escalation.month_label}"
    )
    return summary[:SUMMARY_MAX_CHARS]


def issue_description(escalation: ThemeEscalation) -> dict[str, Any]:
    """The description as an Atlassian Document Format document: a lead paragraph, the accounts with their MRR
    (largest first) and sample comments as bullet lists, and the ledger key it was raised under."""
    accounts = sorted(escalation.accounts, key=lambda pair: -(pair[1] or 0.0))
    total = escalation.total_mrr_usd if escalation.total_mrr_usd is not None else sum(mrr or 0.0 for _, mrr in accounts)
    content: list[dict[str, Any]] = [
        _paragraph(
            f"{escalation.detractor_count} detractors mentioned the theme '{escalation.theme}' in "
            f"{escalation.month_label}, from {len(accounts)} accounts with a combined MRR of {_money(total)}."
        )
    ]
    if accounts:
        content.append(_heading("Accounts"))
        content.append(
            _bullets(f"{account_id}: {_money(mrr)} MRR" for account_id, mrr in accounts[:MAX_ACCOUNTS_LISTED])
        )
        if len(accounts) > MAX_ACCOUNTS_LISTED:
            content.append(_paragraph(f"and {len(accounts) - MAX_ACCOUNTS_LISTED} more accounts."))
    comments = [_truncate(comment) for comment in escalation.sample_comments if comment and comment.strip()]
    content.append(_heading("Sample comments"))
    content.append(
        _bullets(comments[:MAX_SAMPLE_COMMENTS]) if comments else _paragraph("No comment text in this month.")
    )
    content.append(
        _paragraph(f"Raised by the NPS platform (ledger key {escalation.message_key} in ops.outbound_messages).")
    )
    return {"type": "doc", "version": 1, "content": content}


def issue_body(escalation: ThemeEscalation, project_key: str, issue_type: str = DEFAULT_ISSUE_TYPE) -> dict:
    """The JSON body of POST /rest/api/3/issue."""
    return {
        "fields": {
            "project": {"key": project_key},
            "summary": issue_summary(escalation),
            "issuetype": {"name": issue_type},
            "labels": ["nps", theme_label(escalation.theme)],
            "description": issue_description(escalation),
        }
    }


# ---------------------------------------------------------------------------------------------------------------
# Creating the issues


def create_escalation_issues(
    con: duckdb.DuckDBPyConnection,
    escalations: Iterable[ThemeEscalation | Mapping[str, Any]],
    *,
    config: JiraConfig | None = None,
    max_per_run: int | None = MAX_ISSUES_PER_RUN,
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    server_error_retries: int = SERVER_ERROR_RETRIES,
    backoff_seconds: float = BACKOFF_SECONDS,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> DeliverySummary:
    """Create one Jira issue per escalation not yet raised (key `jira_escalation:<theme>:<YYYY-MM>`).

    `config`: defaults to `JiraConfig.from_env()` at call time; without configuration every pending escalation
    is recorded `dry_run` with the body it would send (channel `jira_dry_run`, no network), and is not sent
    later unless its ledger row is deleted. With configuration: the created issue key (e.g. NPS-123) is the
    row's `external_id`. 429 waits `Retry-After` up to `max_retry_wait_seconds` (3 times at most); 5xx is
    retried `server_error_retries` times after `backoff_seconds`, doubling; a timeout or network error is not
    retried in the run (the issue may exist). 400 fails that escalation only; 401, 403, 404, 429 beyond the
    cap, 5xx and network errors fail it and defer the rest. Failed and deferred escalations are tried again on
    the next run, first, from their stored body.
    """
    if config is None:
        config = JiraConfig.from_env()
    items = [item if isinstance(item, ThemeEscalation) else ThemeEscalation.from_mapping(item) for item in escalations]
    if config is None:
        project_key = settings.value(PROJECT_KEY_VARIABLE) or DRY_RUN_PROJECT_KEY
        issue_type = settings.value(ISSUE_TYPE_VARIABLE) or DEFAULT_ISSUE_TYPE
        messages = [Message(item.message_key, issue_body(item, project_key, issue_type)) for item in items]
        return ledger.deliver(
            con,
            messages,
            lambda message: Outcome(ledger.DRY_RUN),
            channel=ledger.JIRA_DRY_RUN,
            carry_over_prefix=ESCALATION_PREFIX,
            max_messages=None,
        )

    messages = [Message(item.message_key, issue_body(item, config.project_key, config.issue_type)) for item in items]
    client = http.opener()

    def create(message: Message) -> Outcome:
        return _create_issue(
            client,
            config,
            message,
            max_retry_wait_seconds=max_retry_wait_seconds,
            server_error_retries=server_error_retries,
            backoff_seconds=backoff_seconds,
            timeout_seconds=timeout_seconds,
        )

    summary = ledger.deliver(
        con,
        messages,
        create,
        channel=ledger.JIRA,
        carry_over_prefix=ESCALATION_PREFIX,
        max_messages=max_per_run,
    )
    if summary.failed or summary.deferred:
        logger.warning(
            "Jira: %d issues created, %d failed, %d deferred to the next run (see ops.outbound_messages)",
            len(summary.delivered),
            len(summary.failed),
            len(summary.deferred),
        )
    return summary


def _create_issue(
    client: urllib.request.OpenerDirector, config: JiraConfig, message: Message, **retries: float
) -> Outcome:
    """POST one issue; `retries` are request()'s keyword arguments."""
    try:
        status, _, body = http.request(client, config, "POST", CREATE_ISSUE_PATH, message.payload, **retries)
    except OSError as error:  # refused, reset, timed out: the issue may or may not exist, so no retry now
        reason = redact(f"{type(error).__name__}: {error}", config)
        logger.error("Jira not reached for %s (%s)", message.key, reason)
        return Outcome(ledger.FAILED, error=f"not reached: {reason}", stop=True)

    if status in (200, 201):
        parsed = http.parse_json(body)
        issue_key = parsed.get("key") if isinstance(parsed, dict) else None
        if issue_key:
            logger.info("Jira issue %s created for %s", issue_key, message.key)
            return Outcome(ledger.SENT, response_status=status, external_id=str(issue_key))
        return Outcome(ledger.FAILED, response_status=status, error="Jira answered without an issue key", stop=True)
    error = redact(f"HTTP {status}: {jira_errors(body)}", config)
    logger.error("Jira refused %s: %s", message.key, error)
    return Outcome(ledger.FAILED, response_status=status, error=error, stop=status != 400)


def jira_errors(body: bytes) -> str:
    """Jira's `errorMessages` and field `errors` in one line, or the start of a non-JSON body."""
    parsed = http.parse_json(body)
    if isinstance(parsed, dict) and ("errorMessages" in parsed or "errors" in parsed):
        messages = [str(text) for text in parsed.get("errorMessages") or []]
        messages += [f"{name}: {text}" for name, text in (parsed.get("errors") or {}).items()]
        return "; ".join(messages) or "no error message"
    return body[:300].decode("utf-8", "replace").strip() or "empty answer"


def redact(text: str, config: JiraConfig) -> str:
    """Jira does not echo credentials, but an exception text could: remove the token and the auth header."""
    for secret in (config.api_token, config.authorization, config.authorization.removeprefix("Basic ")):
        text = text.replace(secret, "<redacted>")
    return text


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def _heading(text: str) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": text}]}


def _bullets(items: Iterable[str]) -> dict[str, Any]:
    # ADF text nodes must not be empty; callers pass non-empty strings.
    return {"type": "bulletList", "content": [{"type": "listItem", "content": [_paragraph(item)]} for item in items]}


def _truncate(text: str, limit: int = COMMENT_MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _money(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:,.0f}"
