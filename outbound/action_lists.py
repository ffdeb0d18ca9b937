"""Who is on the action lists, read from the marts: the promoters to thank (and, by configuration, to ask for a
referral or review), the accounts to call (entering the high risk tier, or an early usage decline) and the
customers to tell that a theme they raised is fixed (marts.feedback_to_feature_notify).

The writer is outbound/outbox.py; this module only reads. Each list covers the `lookback_days` days of data up
to `as_of` (default the latest day of the mart), so a first run does not list the whole history and a day missed
by the schedule is still caught; the ledger keeps anyone from being listed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

ENTERED_HIGH = "entered high risk tier"
USAGE_DECLINE = "early usage decline"


@dataclass(frozen=True)
class Promoter:
    """One promoter response (NPS 9-10) to thank; `ask_referral` is None when referral asks are not configured."""

    response_id: str
    responded_at: datetime
    score: int
    comment: str | None = None
    email: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    plan: str | None = None
    mrr_usd: float | None = None
    risk_tier: str | None = None
    ask_referral: bool | None = None

    @property
    def week_start(self) -> date:
        """Monday of the response's ISO week (UTC)."""
        day = self.responded_at.date()
        return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class AtRiskAccount:
    """One account to call on `list_date`: why (`reason`, one of ENTERED_HIGH and USAGE_DECLINE), the drivers
    in words and the revenue at risk, from marts.account_health of that day and the day before."""

    list_date: date
    account_id: str
    reason: str
    risk_tier: str
    previous_risk_tier: str | None = None
    risk_score: float | None = None
    risk_drivers: str | None = None
    revenue_at_risk_usd: float | None = None
    usage_change_30d: float | None = None
    mrr_usd: float | None = None
    plan: str | None = None
    account_name: str | None = None
    owner: str | None = None  # no account owner in the Stripe staging yet: always empty (docs/alerts.md)


@dataclass(frozen=True)
class FixNotice:
    """A customer to tell that the theme they raised is fixed: one per escalation (theme and month) and customer."""

    theme: str
    month_start: date
    issue_key: str | None
    resolved_at: datetime
    customer_key: str
    account_id: str | None
    email: str | None
    response_ids: str  # the customer's responses that raised the theme that month, space-separated

    @property
    def notice_id(self) -> str:
        return f"{self.theme}:{self.month_start:%Y-%m}:{self.customer_key}"


def fix_notices(con: duckdb.DuckDBPyConnection) -> list[FixNotice]:
    """Every customer of marts.feedback_to_feature_notify (escalations whose Jira issue is done), once per
    escalation, oldest fix first; empty when the mart is not built. The ledger keeps anyone from being listed
    twice, so the whole mart is read each time (a fix read back late is still caught)."""
    if "feedback_to_feature_notify" not in _marts(con):
        return []
    rows = con.execute(
        """
        select
            theme, month_start::date, max(issue_key), max(resolved_at), customer_key, max(account_id), max(email),
            string_agg(response_id, ' ' order by response_id)
        from marts.feedback_to_feature_notify
        group by theme, month_start, customer_key
        order by max(resolved_at), theme, month_start, customer_key
        """
    ).fetchall()
    return [FixNotice(r[0], r[1], r[2], r[3], str(r[4]), r[5], r[6], r[7]) for r in rows]


def _marts(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }


def _names(tables: set[str]) -> str:
    if "dim_accounts" in tables:
        return "select account_id, account_name from marts.dim_accounts"
    return "select null::varchar as account_id, null::varchar as account_name where false"


def promoters(
    con: duckdb.DuckDBPyConnection, *, lookback_days: int = 7, as_of: date | None = None, referral: bool = False
) -> list[Promoter]:
    """NPS promoters (score 9-10) answered in the `lookback_days` days up to and including `as_of` (default the
    latest response day), oldest first, with the account's name (marts.dim_accounts) and latest risk tier
    (marts.account_health), each null where that mart is not built. With `referral`, `ask_referral` is true for a
    score of 10 from an account not in the high tier (an unknown tier is not high)."""
    if as_of is None:
        as_of = con.execute(
            "select max(responded_at)::date from marts.fct_survey_responses where survey_type = 'nps'"
        ).fetchall()[0][0]
        if as_of is None:
            return []
    tables = _marts(con)
    health = (
        """
        select account_id, risk_tier from marts.account_health
        qualify row_number() over (partition by account_id order by as_of_date desc) = 1
        """
        if "account_health" in tables
        else "select null::varchar as account_id, null::varchar as risk_tier where false"
    )
    rows = con.execute(
        f"""
        with health as ({health}), names as ({_names(tables)})
        select
            r.response_id, r.responded_at, r.score, r.comment, r.email, r.account_id, names.account_name, r.plan,
            r.mrr_usd, health.risk_tier
        from marts.fct_survey_responses as r
        left join health on r.account_id = health.account_id
        left join names on r.account_id = names.account_id
        where
            r.survey_type = 'nps'
            and r.score >= 9
            and r.responded_at::date > ?
            and r.responded_at::date <= ?
        order by r.responded_at, r.response_id
        """,
        [as_of - timedelta(days=lookback_days), as_of],
    ).fetchall()
    return [
        Promoter(
            response_id=str(r[0]),
            responded_at=r[1],
            score=int(r[2]),
            comment=r[3],
            email=r[4],
            account_id=r[5],
            account_name=r[6],
            plan=r[7],
            mrr_usd=float(r[8]) if r[8] is not None else None,
            risk_tier=r[9],
            ask_referral=(int(r[2]) == 10 and r[9] != "high") if referral else None,
        )
        for r in rows
    ]


def at_risk_accounts(
    con: duckdb.DuckDBPyConnection, *, lookback_days: int = 7, as_of: date | None = None
) -> list[AtRiskAccount]:
    """The accounts to call, per day of the `lookback_days` days up to and including `as_of` (default the latest
    day of marts.account_health): those in the high tier that day and not the day before (an account with no row
    the day before, a new paying one, was not high), and those whose usage decline driver turned on that day while
    not in the high tier (an early warning). Only days whose previous day is in the mart count, so the first day
    of the mart lists no one. Ordered by day, then revenue at risk (largest first), then account."""
    if as_of is None:
        as_of = con.execute("select max(as_of_date) from marts.account_health").fetchall()[0][0]
        if as_of is None:
            return []
    rows = con.execute(
        f"""
        with days as (select distinct as_of_date from marts.account_health), names as ({_names(_marts(con))})
        select
            today.as_of_date, today.account_id,
            case when today.risk_tier = 'high' then '{ENTERED_HIGH}' else '{USAGE_DECLINE}' end as reason,
            today.risk_tier, before.risk_tier, today.risk_score, today.risk_drivers, today.revenue_at_risk_usd,
            today.usage_change_30d, today.mrr_usd, today.plan, names.account_name
        from marts.account_health as today
        left join marts.account_health as before
            on today.account_id = before.account_id and before.as_of_date = today.as_of_date - 1
        left join names on today.account_id = names.account_id
        where
            today.as_of_date > ?
            and today.as_of_date <= ?
            and today.as_of_date - 1 in (select as_of_date from days)
            and (
                (today.risk_tier = 'high' and before.risk_tier is distinct from 'high')
                or (
                    today.risk_tier != 'high'
                    and today.is_usage_decline_driver
                    and not coalesce(before.is_usage_decline_driver, false)
                )
            )
        order by today.as_of_date, today.revenue_at_risk_usd desc nulls last, today.account_id
        """,
        [as_of - timedelta(days=lookback_days), as_of],
    ).fetchall()
    return [
        AtRiskAccount(
            list_date=r[0],
            account_id=str(r[1]),
            reason=r[2],
            risk_tier=r[3],
            previous_risk_tier=r[4],
            risk_score=float(r[5]) if r[5] is not None else None,
            risk_drivers=r[6],
            revenue_at_risk_usd=float(r[7]) if r[7] is not None else None,
            usage_change_30d=float(r[8]) if r[8] is not None else None,
            mrr_usd=float(r[9]) if r[9] is not None else None,
            plan=r[10],
            account_name=r[11],
        )
        for r in rows
    ]
