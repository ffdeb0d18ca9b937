"""What a follow-up case is about and who gets it: recent detractor (and passive) responses read from the marts,
and the assignment rules of seed `dbt_project/seeds/followup_case_rules.csv` (first match wins).

The sender is outbound/zendesk_cases.py; this module only reads (the marts, the CSV) and validates.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

import settings

RULES_PATH = settings.DBT_PROJECT_DIR / "seeds" / "followup_case_rules.csv"
CATEGORIES = ("detractor", "passive")
PRIORITIES = ("urgent", "high", "normal", "low")
ANY = "*"
RULE_COLUMNS = (
    "rule_order",
    "rule_id",
    "nps_category",
    "plan",
    "region",
    "min_mrr_usd",
    "max_mrr_usd",
    "group_id",
    "assignee_id",
    "priority",
)


@dataclass(frozen=True)
class FollowupResponse:
    """One NPS response that needs a follow-up case, with what the agent needs to know."""

    response_id: str
    responded_at: datetime | None
    score: int
    nps_category: str
    comment: str | None = None
    account_id: str | None = None
    plan: str | None = None
    region: str | None = None
    mrr_usd: float | None = None
    email: str | None = None
    risk_tier: str | None = None
    theme: str | None = None
    theme_label: str | None = None
    survey_kind: str | None = None
    touchpoint: str | None = None


@dataclass(frozen=True)
class CaseRule:
    """One row of the seed: who gets the cases it matches. '*' matches anything; a None bound is no bound."""

    rule_order: int
    rule_id: str
    nps_category: str = ANY
    plan: str = ANY
    region: str = ANY
    min_mrr_usd: float | None = None
    max_mrr_usd: float | None = None
    group_id: int | None = None
    assignee_id: int | None = None
    priority: str = "normal"

    @property
    def matches_everything(self) -> bool:
        return (self.nps_category, self.plan, self.region) == (ANY, ANY, ANY) and (
            self.min_mrr_usd is None and self.max_mrr_usd is None
        )

    def matches(self, response: FollowupResponse) -> bool:
        for wanted, actual in (
            (self.nps_category, response.nps_category),
            (self.plan, response.plan),
            (self.region, response.region),
        ):
            if wanted != ANY and wanted != actual:
                return False
        if self.min_mrr_usd is None and self.max_mrr_usd is None:
            return True
        if response.mrr_usd is None:  # an MRR band never matches an unknown MRR
            return False
        low_ok = self.min_mrr_usd is None or response.mrr_usd >= self.min_mrr_usd
        high_ok = self.max_mrr_usd is None or response.mrr_usd < self.max_mrr_usd
        return low_ok and high_ok


def assign(rules: Sequence[CaseRule], response: FollowupResponse) -> CaseRule:
    """The first rule (by rule_order) that matches; `load_rules` guarantees a default row, so there is one."""
    for rule in sorted(rules, key=lambda rule: rule.rule_order):
        if rule.matches(response):
            return rule
    raise ValueError(f"no follow-up case rule matches response {response.response_id} (add a default row)")


def load_rules(path: Path = RULES_PATH) -> list[CaseRule]:
    """The rules of the seed, in rule_order. A bad value raises ValueError naming the file, line and column."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in RULE_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
        rules = [_rule(path, reader.line_num, row) for row in reader]
    if not rules:
        raise ValueError(f"{path}: no rules")
    for field_name in ("rule_order", "rule_id"):
        values = [getattr(rule, field_name) for rule in rules]
        duplicates = sorted({str(value) for value in values if values.count(value) > 1})
        if duplicates:
            raise ValueError(f"{path}: column {field_name}: {', '.join(duplicates)} given twice")
    if not any(rule.matches_everything for rule in rules):
        raise ValueError(
            f"{path}: no default row: add one with nps_category, plan and region '*' and no MRR bounds, last"
        )
    return sorted(rules, key=lambda rule: rule.rule_order)


def _rule(path: Path, line: int, row: Mapping[str, str | None]) -> CaseRule:
    def text(column: str) -> str:
        return (row.get(column) or "").strip()

    def fail(column: str, message: str) -> ValueError:
        return ValueError(f"{path}: line {line}: column {column}: {message}, not {text(column)!r}")

    def whole(column: str, required: bool = False) -> int | None:
        value = text(column)
        if not value and not required:
            return None
        if not value.isdigit():
            raise fail(column, "a whole number is needed")
        return int(value)

    def amount(column: str) -> float | None:
        value = text(column)
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise fail(column, "a number of US dollars is needed") from None

    if not text("rule_id"):
        raise fail("rule_id", "a name is needed")
    category = text("nps_category") or ANY
    if category not in (ANY, *CATEGORIES):
        raise fail("nps_category", f"one of {ANY}, {', '.join(CATEGORIES)} is needed")
    priority = text("priority") or "normal"
    if priority not in PRIORITIES:
        raise fail("priority", f"one of {', '.join(PRIORITIES)} is needed")
    rule = CaseRule(
        rule_order=whole("rule_order", required=True) or 0,
        rule_id=text("rule_id"),
        nps_category=category,
        plan=text("plan") or ANY,
        region=text("region") or ANY,
        min_mrr_usd=amount("min_mrr_usd"),
        max_mrr_usd=amount("max_mrr_usd"),
        group_id=whole("group_id"),
        assignee_id=whole("assignee_id"),
        priority=priority,
    )
    if rule.group_id is None and rule.assignee_id is None:
        raise fail("group_id", "a group_id or an assignee_id is needed")
    if rule.min_mrr_usd is not None and rule.max_mrr_usd is not None and rule.min_mrr_usd >= rule.max_mrr_usd:
        raise fail("max_mrr_usd", f"the upper bound must be above min_mrr_usd {rule.min_mrr_usd:g}")
    return rule


# ---------------------------------------------------------------------------------------------------------------
# The responses, from the marts


def recent_responses(
    con: duckdb.DuckDBPyConnection,
    categories: Sequence[str] = ("detractor",),
    lookback_days: int = 7,
    as_of: datetime | None = None,
) -> list[FollowupResponse]:
    """NPS responses of `categories` answered in the `lookback_days` before `as_of` (default now, UTC), oldest
    first, with the account's latest risk tier (marts.account_health) and the comment's theme
    (marts.comment_classifications), each null where that mart is not built."""
    as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
    tables = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name in ('account_health', 'comment_classifications')"
        ).fetchall()
    }
    health = (
        """
        select account_id, risk_tier from marts.account_health
        qualify row_number() over (partition by account_id order by as_of_date desc) = 1
        """
        if "account_health" in tables
        else "select null::varchar as account_id, null::varchar as risk_tier where false"
    )
    themes = (
        "select response_id, theme, theme_label from marts.comment_classifications"
        if "comment_classifications" in tables
        else "select null::varchar as response_id, null::varchar as theme, null::varchar as theme_label where false"
    )
    rows = con.execute(
        f"""
        with health as ({health}), themes as ({themes})
        select
            r.response_id, r.responded_at, r.score, r.nps_category, r.comment, r.account_id, r.plan, r.region,
            r.mrr_usd, r.email, health.risk_tier, themes.theme, themes.theme_label, r.survey_kind, r.touchpoint
        from marts.fct_survey_responses as r
        left join health on r.account_id = health.account_id
        left join themes on r.response_id = themes.response_id
        where
            r.survey_type = 'nps'
            and r.nps_category in (select unnest(?::varchar[]))
            and r.responded_at >= ?
            and r.responded_at <= ?
        order by r.responded_at, r.response_id
        """,
        [list(categories), as_of - timedelta(days=lookback_days), as_of],
    ).fetchall()
    return [
        FollowupResponse(
            response_id=str(r[0]),
            responded_at=r[1],
            score=int(r[2]),
            nps_category=r[3],
            comment=r[4],
            account_id=r[5],
            plan=r[6],
            region=r[7],
            mrr_usd=float(r[8]) if r[8] is not None else None,
            email=r[9],
            risk_tier=r[10],
            theme=r[11],
            theme_label=r[12],
            survey_kind=r[13],
            touchpoint=r[14],
        )
        for r in rows
    ]
