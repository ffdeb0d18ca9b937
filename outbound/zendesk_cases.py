"""Follow-up cases: one Zendesk ticket per new detractor (and, by configuration, passive) response, created once
each through the Tickets API; unless switched live, a dry run.

The ticket carries the score, comment, account, plan, MRR, risk tier and theme as a private note, is assigned by
the rules of seed followup_case_rules (outbound/followup_cases.py), and has `external_id`
`nps-followup:<response_id>`. Before creating, the sender looks the external id up (GET /api/v2/tickets.json?
external_id=...), so a ticket created by a run that died between Zendesk's 201 and its ledger write is found and
recorded, not created twice. Live only with `NPS_FOLLOWUP_CASES_LIVE=true` and the Zendesk site, agent e-mail and
API token of the Zendesk connector (`NPS_ZENDESK_SUBDOMAIN` or `NPS_ZENDESK_API_URL`, `NPS_ZENDESK_EMAIL`,
`NPS_ZENDESK_API_TOKEN`); otherwise the exact body is recorded in the ledger with status `dry_run`.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

import settings
from outbound import experiments, http, ledger
from outbound.followup_cases import CATEGORIES, RULES_PATH, CaseRule, FollowupResponse, assign, load_rules
from outbound.jira import _truncate
from outbound.ledger import DeliverySummary, Message, Outcome

LIVE_VARIABLE = "NPS_FOLLOWUP_CASES_LIVE"
CATEGORIES_VARIABLE = "NPS_FOLLOWUP_CASES_CATEGORIES"
LOOKBACK_VARIABLE = "NPS_FOLLOWUP_CASES_LOOKBACK_DAYS"
MAX_PER_RUN_VARIABLE = "NPS_FOLLOWUP_CASES_MAX_PER_RUN"
FIELD_VARIABLE = "NPS_FOLLOWUP_CASES_RESPONSE_FIELD_ID"
URL_VARIABLE = "NPS_ZENDESK_API_URL"
SUBDOMAIN_VARIABLE = "NPS_ZENDESK_SUBDOMAIN"
EMAIL_VARIABLE = "NPS_ZENDESK_EMAIL"
TOKEN_VARIABLE = "NPS_ZENDESK_API_TOKEN"

KEY_PREFIX = "followup_case:"
EXTERNAL_ID_PREFIX = "nps-followup:"
CHANNEL = "zendesk"
DRY_RUN_CHANNEL = "zendesk_dry_run"
TICKETS_PATH = "/api/v2/tickets.json"
FOLLOWUP_TAG = "nps_followup"  # the tag closed_loop counts as a follow-up (dbt var nps_followup_tags)
TIMEOUT_SECONDS = 15
MAX_RETRY_WAIT_SECONDS = 60.0
SERVER_ERROR_RETRIES = 2
BACKOFF_SECONDS = 1.0
SUBJECT_MAX_CHARS = 150
COMMENT_MAX_CHARS = 2000

logger = logging.getLogger("nps_platform.outbound.zendesk_cases")


@dataclass(frozen=True)
class ZendeskConfig:
    """Where and as whom to create tickets. `api_token` is a secret: kept out of repr, logs and the ledger."""

    base_url: str
    email: str
    api_token: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ZendeskConfig | None:
        """None (dry run) unless NPS_FOLLOWUP_CASES_LIVE is true; then the Zendesk site, e-mail and token are
        required, and a ValueError names the missing ones (live with half a configuration is an error)."""
        env = os.environ if environ is None else environ
        switch = (env.get(LIVE_VARIABLE) or "").strip().lower() or "false"
        if switch not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{LIVE_VARIABLE} must be true or false, not {switch!r}")
        if switch in ("false", "0", "no"):
            return None
        base = (env.get(URL_VARIABLE) or "").strip()
        subdomain = (env.get(SUBDOMAIN_VARIABLE) or "").strip()
        values = {EMAIL_VARIABLE: (env.get(EMAIL_VARIABLE) or "").strip()}
        values[TOKEN_VARIABLE] = (env.get(TOKEN_VARIABLE) or "").strip()
        missing = [name for name, value in values.items() if not value]
        if not base and not subdomain:
            missing.insert(0, f"{SUBDOMAIN_VARIABLE} (or {URL_VARIABLE})")
        if missing:
            raise ValueError(f"{LIVE_VARIABLE} is true but Zendesk is not configured: set {', '.join(missing)}")
        return cls(
            base_url=(base or f"https://{subdomain}.zendesk.com").rstrip("/"),
            email=values[EMAIL_VARIABLE],
            api_token=values[TOKEN_VARIABLE],
        )

    @property
    def authorization(self) -> str:
        """HTTP basic auth as Zendesk takes an API token: `{email}/token:{api_token}`."""
        return "Basic " + base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()


def configured_categories() -> tuple[str, ...]:
    """NPS_FOLLOWUP_CASES_CATEGORIES as a tuple of detractor / passive; anything else is an error."""
    raw = settings.value(CATEGORIES_VARIABLE) or ""
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    wrong = [part for part in chosen if part not in CATEGORIES]
    if wrong or not chosen:
        raise ValueError(f"{CATEGORIES_VARIABLE} takes {' and/or '.join(CATEGORIES)}, comma-separated, not {raw!r}")
    return chosen


def configured_lookback_days() -> int:
    return settings.whole_number(LOOKBACK_VARIABLE, minimum=1)


def message_key(response_id: str) -> str:
    return f"{KEY_PREFIX}{response_id}"


# ---------------------------------------------------------------------------------------------------------------
# The request body


def tag(text: str) -> str:
    """A Zendesk tag: lower case, no spaces (a space would split it into two tags)."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "unknown"


def ticket_subject(response: FollowupResponse) -> str:
    who = response.account_id or response.email or "an unknown account"
    details = ", ".join(part for part in (response.plan, f"{_money(response.mrr_usd)} MRR") if part)
    subject = f"NPS {response.nps_category} follow-up: {response.score}/10 from {who} ({details})"
    return subject[:SUBJECT_MAX_CHARS]


def ticket_comment(response: FollowupResponse, rule: CaseRule, variants: Sequence[experiments.Variant] = ()) -> str:
    """The private note: everything the agent needs before reaching out, and the experiment variants to follow."""
    comment = _truncate(response.comment, COMMENT_MAX_CHARS) if response.comment and response.comment.strip() else ""
    responded = response.responded_at.strftime("%Y-%m-%d %H:%M UTC") if response.responded_at else "unknown"
    lines = [
        f"NPS {response.nps_category}: score {response.score}/10, answered {responded}.",
        f'Comment: "{comment}"' if comment else "Comment: none.",
        f"Account: {response.account_id or 'unknown'} (plan {response.plan or 'unknown'}, "
        f"MRR {_money(response.mrr_usd)}, region {response.region or 'unknown'}).",
        f"Churn risk tier: {response.risk_tier or 'unknown'}.",
        f"Theme: {response.theme_label or response.theme or 'not classified'}.",
        f"Contact: {response.email or 'unknown'}.",
        f"Survey: {response.survey_kind or 'unknown'} / {response.touchpoint or 'unknown'}; response "
        f"{response.response_id}.",
        f"Assigned by rule '{rule.rule_id}' of followup_case_rules; raised by the NPS platform "
        f"(ledger key {message_key(response.response_id)}).",
    ]
    lines += [f"Experiment {v.experiment}: variant {v.variant} ({v.description})." for v in variants]
    return "\n".join(lines)


def ticket_body(
    response: FollowupResponse,
    rule: CaseRule,
    response_field_id: int | None = None,
    variants: Sequence[experiments.Variant] = (),
) -> dict[str, Any]:
    """The JSON body of POST /api/v2/tickets.json. `variants`: the case's variant in each follow-up experiment
    (outbound/experiments.py), each a tag `nps_variant_<variant>` and a line of the note."""
    tags = [FOLLOWUP_TAG, f"nps_{response.nps_category}", f"nps_score_{response.score}"]
    if response.risk_tier:
        tags.append(f"nps_risk_{tag(response.risk_tier)}")
    if response.theme:
        tags.append(f"nps_theme_{tag(response.theme)}")
    tags += [variant.tag for variant in variants]
    ticket: dict[str, Any] = {
        "subject": ticket_subject(response),
        "comment": {"body": ticket_comment(response, rule, variants), "public": False},
        "external_id": f"{EXTERNAL_ID_PREFIX}{response.response_id}",
        "priority": rule.priority,
        "tags": tags,
    }
    if response.email:
        ticket["requester"] = {"name": response.email, "email": response.email}
    if rule.group_id is not None:
        ticket["group_id"] = rule.group_id
    if rule.assignee_id is not None:
        ticket["assignee_id"] = rule.assignee_id
    if response_field_id is not None:
        ticket["custom_fields"] = [{"id": response_field_id, "value": response.response_id}]
    return {"ticket": ticket}


# ---------------------------------------------------------------------------------------------------------------
# Creating the tickets


def create_followup_cases(
    con: duckdb.DuckDBPyConnection,
    responses: Iterable[FollowupResponse],
    *,
    config: ZendeskConfig | None = None,
    rules: Sequence[CaseRule] | None = None,
    rules_path: Path = RULES_PATH,
    variants: Sequence[experiments.Variant] | None = None,
    response_field_id: int | None = None,
    max_per_run: int | None = None,
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    server_error_retries: int = SERVER_ERROR_RETRIES,
    backoff_seconds: float = BACKOFF_SECONDS,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> DeliverySummary:
    """One Zendesk ticket per response not yet in the ledger (key `followup_case:<response_id>`).

    Each case gets its variant of every follow-up experiment of seed experiments (`variants`, default the seed),
    as a tag. `config` defaults to `ZendeskConfig.from_env()`: without it (not live) every pending case is recorded
    `dry_run` with its body (channel `zendesk_dry_run`, no network) and is not created later unless its ledger row
    is deleted. Live: the ticket id is the row's `external_id`; at most `max_per_run` (default
    NPS_FOLLOWUP_CASES_MAX_PER_RUN) are tried, the rest deferred. Each case first looks its external id up and
    records a ticket found there instead of creating another. 429 waits `Retry-After` up to
    `max_retry_wait_seconds` (3 times); 5xx is retried `server_error_retries` times after `backoff_seconds`,
    doubling. 400 and 422 fail that case only; 401, 403, 404, a longer 429, repeated 5xx and network errors fail
    it and defer the rest. Failed and deferred cases go first on the next run, from their stored body.
    """
    if config is None:
        config = ZendeskConfig.from_env()
    rules = list(rules) if rules is not None else load_rules(rules_path)
    variants = list(variants) if variants is not None else experiments.load()
    if response_field_id is None and settings.value(FIELD_VARIABLE):
        response_field_id = settings.whole_number(FIELD_VARIABLE, minimum=1)
    messages = [
        Message(
            message_key(item.response_id),
            ticket_body(item, assign(rules, item), response_field_id, experiments.assign(variants, item.response_id)),
        )
        for item in responses
    ]
    if config is None:
        return ledger.deliver(
            con,
            messages,
            lambda message: Outcome(ledger.DRY_RUN),
            channel=DRY_RUN_CHANNEL,
            carry_over_prefix=KEY_PREFIX,
            max_messages=None,
        )
    if max_per_run is None:
        max_per_run = settings.whole_number(MAX_PER_RUN_VARIABLE, minimum=1)
    opener = http.opener()
    retry = {
        "max_retry_wait_seconds": max_retry_wait_seconds,
        "server_error_retries": server_error_retries,
        "backoff_seconds": backoff_seconds,
        "timeout_seconds": timeout_seconds,
    }

    def create(message: Message) -> Outcome:
        external_id = message.payload["ticket"]["external_id"]
        query = urllib.parse.urlencode({"external_id": external_id})
        found = _exchange(opener, config, "GET", f"{TICKETS_PATH}?{query}", None, message.key, **retry)
        if isinstance(found, Outcome):
            return found
        tickets = (found[1] or {}).get("tickets") if isinstance(found[1], dict) else None
        if tickets:
            ticket_id = str(tickets[0].get("id"))
            logger.info("Zendesk ticket %s already exists for %s; recorded, not created", ticket_id, message.key)
            return Outcome(ledger.SENT, response_status=found[0], external_id=ticket_id)
        answer = _exchange(opener, config, "POST", TICKETS_PATH, message.payload, message.key, **retry)
        if isinstance(answer, Outcome):
            return answer
        status, parsed = answer
        ticket = parsed.get("ticket") if isinstance(parsed, dict) else None
        if isinstance(ticket, dict) and ticket.get("id") is not None:
            logger.info("Zendesk ticket %s created for %s", ticket["id"], message.key)
            return Outcome(ledger.SENT, response_status=status, external_id=str(ticket["id"]))
        return Outcome(ledger.FAILED, response_status=status, error="Zendesk answered without a ticket id", stop=True)

    summary = ledger.deliver(
        con, messages, create, channel=CHANNEL, carry_over_prefix=KEY_PREFIX, max_messages=max_per_run
    )
    if summary.failed or summary.deferred:
        logger.warning(
            "Zendesk: %d follow-up cases created, %d failed, %d deferred to the next run (see ops.outbound_messages)",
            len(summary.delivered),
            len(summary.failed),
            len(summary.deferred),
        )
    return summary


def _exchange(
    opener: urllib.request.OpenerDirector,
    config: ZendeskConfig,
    method: str,
    path: str,
    payload: Any,
    key: str,
    *,
    max_retry_wait_seconds: float,
    server_error_retries: int,
    backoff_seconds: float,
    timeout_seconds: float,
) -> tuple[int, Any] | Outcome:
    """One request with the retries of outbound/http.py: (status, parsed JSON) on 200/201, else the failed
    Outcome."""
    try:
        status, _, body = http.request(
            opener,
            config,
            method,
            path,
            payload,
            max_retry_wait_seconds=max_retry_wait_seconds,
            server_error_retries=server_error_retries,
            backoff_seconds=backoff_seconds,
            timeout_seconds=timeout_seconds,
        )
    except OSError as error:  # the ticket may or may not exist: no retry now, the next run looks it up
        reason = _redact(f"{type(error).__name__}: {error}", config)
        logger.error("Zendesk not reached for %s (%s)", key, reason)
        return Outcome(ledger.FAILED, error=f"not reached: {reason}", stop=True)
    if status in (200, 201):
        return status, http.parse_json(body)
    error = _redact(f"HTTP {status} on {method}: {_zendesk_errors(body)}", config)
    logger.error("Zendesk refused %s: %s", key, error)
    return Outcome(ledger.FAILED, response_status=status, error=error, stop=status not in (400, 422))


def _zendesk_errors(body: bytes) -> str:
    """Zendesk's `error`, `description` and `details` in one line, or the start of a non-JSON body."""
    parsed = http.parse_json(body)
    if isinstance(parsed, dict) and "error" in parsed:
        error = parsed["error"]
        if isinstance(error, dict):
            error = ": ".join(str(error[name]) for name in ("title", "message") if error.get(name))
        parts = [str(error)] + ([str(parsed["description"])] if parsed.get("description") else [])
        for name, problems in (parsed.get("details") or {}).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, dict) else problem
                parts.append(f"{name}: {text}")
        return "; ".join(parts)
    return body[:300].decode("utf-8", "replace").strip() or "empty answer"


def _redact(text: str, config: ZendeskConfig) -> str:
    for secret in (config.api_token, config.authorization, config.authorization.removeprefix("Basic ")):
        text = text.replace(secret, "<redacted>")
    return text


def _money(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:,.0f}"
