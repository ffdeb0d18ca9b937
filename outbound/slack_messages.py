"""What goes to Slack: the detractor alert, the weekly digest and the run-failure alert, as Block Kit with a
plain-text fallback. Plain data in, message bodies out; `outbound.slack` sends them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from outbound.ledger import Message

COMMENT_MAX_CHARS = 500
LIST_MAX_ITEMS = 10  # movers and themes shown in the digest (a Slack section holds at most 3,000 characters)
DIGEST_FOOTNOTE = "Weeks start on Monday (UTC); the NPS interval is the adjusted Wald 95% interval."
DETRACTOR_ALERT_PREFIX = "detractor_alert:"
WEEKLY_DIGEST_PREFIX = "weekly_digest:"


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
    """A segment whose NPS moved most against the previous week (e.g. segment_type `plan`, value `enterprise`), with
    the two-sample test of the change (marts.nps_changes): `significant` is p < 0.05, the only test of a real move."""

    segment_type: str
    segment_value: str
    nps: float | None
    nps_change: float
    responses: int | None = None
    p_value: float | None = None
    significant: bool | None = None


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
    then), with the p-value of its two-sample test and whether it is a real move (p < 0.05; marts.nps_changes).
    Empty `movers` / `top_detractor_themes` and a None `sla` are shown as not available."""

    week_start: date
    nps: float | None
    nps_ci_low: float | None
    nps_ci_high: float | None
    responses: int
    nps_change: float | None = None
    nps_change_p_value: float | None = None
    nps_change_significant: bool | None = None
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
        + (f", {m.responses:,} responses" if m.responses is not None else "")
        + _test_text(m.p_value, m.significant)
        + ")"
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


def run_failure_text(job_name: str, run_id: str, failed_steps: Sequence[str], error: str, ui_url: str) -> str:
    """One line, so the log fallback stays one line too, ending with the run's page in the Dagster UI at
    `ui_url` (`NPS_DAGSTER_URL`), as Dagster's own Slack integration links it (`webserver_base_url`)."""
    steps = ", ".join(failed_steps) or "none (the run failed outside a step)"
    link = f"{ui_url.rstrip('/')}/runs/{run_id}"
    return f"Run failed: job {job_name}, run {run_id}, failed step(s): {steps}. Error: {error} ({link})"


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
    change = (
        f", {_signed(digest.nps_change)} vs the previous week"
        + _test_text(digest.nps_change_p_value, digest.nps_change_significant)
        if digest.nps_change is not None
        else ""
    )
    return f"{_signed(digest.nps)}{interval} from {digest.responses:,} responses{change}"


def _test_text(p_value: float | None, significant: bool | None) -> str:
    """The two-sample test of a change in words: a move is real only when it says so (p < 0.05)."""
    if significant is None:
        return ""
    if p_value is None:
        return ", exact: no variance in either week"
    p_text = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    return f", {p_text}: {'a real move' if significant else 'may be noise'}"
