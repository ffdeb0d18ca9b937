"""What the report reads from the marts: one function per section, each returning plain rows (none when its mart
does not exist yet, so a first run or a failed build gives a page that says so)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb

# The marts the report reads; the Dagster asset depends on exactly these.
MARTS = (
    "program_summary",
    "nps_by_period",
    "comment_themes",
    "closed_loop_sla_weekly",
    "dim_accounts",
    "nps_revenue_per_point",
    "goal_progress",
    "ces_by_period",
    "fct_survey_responses",
    "comment_classifications",
)
SEGMENT_TYPES = ("plan", "region", "mrr_band")
THEME_MONTHS = 3
VERBATIM_THEMES = 3  # top themes per category
VERBATIMS_PER_THEME = 3
SLA_WEEKS = 4
TOP_ACCOUNTS = 10
DEFAULT_FOLLOWUP_TARGET = 1.0  # "every detractor contacted within 24 hours" unless goal_progress says otherwise


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0


def mart_rows(con: duckdb.DuckDBPyConnection, mart: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The query's rows as dicts; none when the mart does not exist yet (a first run, a failed build)."""
    if not has_table(con, mart):
        return []
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The data's as-of date: the day of the latest response (program_summary.last_response_date)."""
    rows = mart_rows(con, "program_summary", "select last_response_date from marts.program_summary")
    return rows[0]["last_response_date"] if rows else None


def overall(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = mart_rows(con, "program_summary", "select * from marts.program_summary")
    return rows[0] if rows and rows[0]["responses"] else None


def trend(con: duckdb.DuckDBPyConnection, grain: str) -> list[dict[str, Any]]:
    return mart_rows(
        con,
        "nps_by_period",
        """
        select period_start, responses, promoters, passives, detractors, nps, nps_ci_low, nps_ci_high,
            response_rate, is_complete_period
        from marts.nps_by_period
        where period_grain = ? and segment_type = 'overall' and responses > 0
        order by period_start
        """,
        [grain],
    )


def segment_quarters(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every plan, region and MRR band in the latest three quarters with responses (the latest may be partial)."""
    return mart_rows(
        con,
        "nps_by_period",
        f"""
        with quarters as (
            select distinct period_start from marts.nps_by_period
            where period_grain = 'quarter' and segment_type = 'overall' and responses > 0
            order by period_start desc
            limit 3
        )
        select segment_type, segment_value, period_start, responses, promoters, detractors, nps, nps_ci_low,
            nps_ci_high, is_complete_period
        from marts.nps_by_period
        where period_grain = 'quarter'
            and segment_type in ({", ".join("?" for _ in SEGMENT_TYPES)})
            and responses > 0
            and period_start in (select period_start from quarters)
        order by segment_type, segment_value, period_start
        """,
        SEGMENT_TYPES,
    )


def themes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return mart_rows(
        con,
        "comment_themes",
        f"""
        with months as (
            select distinct month_start from marts.comment_themes
            where nps_category in ('promoter', 'detractor')
            order by month_start desc
            limit {THEME_MONTHS}
        )
        select month_start, nps_category, theme, theme_label, comments, category_comments, share_of_comments,
            accounts, mrr_usd
        from marts.comment_themes
        where nps_category in ('promoter', 'detractor') and month_start in (select month_start from months)
        order by month_start, nps_category, comments desc, theme
        """,
    )


def sla(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return mart_rows(
        con,
        "closed_loop_sla_weekly",
        """
        select week_start, responses, followed_up, target_due, met_target, target_attainment,
            fast_target_due, met_fast_target, fast_target_attainment, median_hours_to_first_outreach
        from marts.closed_loop_sla_weekly
        where team = 'all' and nps_category = 'detractor'
        order by week_start
        """,
    )


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'marts' and table_name = ? "
        "and column_name = ?",
        [table, column],
    ).fetchall()
    return rows[0][0] > 0


def accounts_at_risk(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    # account_name is newer than the mart: a warehouse built before it shows ids only.
    name = "account_name" if has_column(con, "dim_accounts", "account_name") else "null::varchar"
    return mart_rows(
        con,
        "dim_accounts",
        f"""
        select account_id, {name} as account_name, plan, region, mrr_usd, risk_score, risk_tier,
            revenue_at_risk_usd, risk_drivers, latest_nps_score, latest_nps_date
        from marts.dim_accounts
        where revenue_at_risk_usd > 0
        order by revenue_at_risk_usd desc, risk_score desc, account_id
        limit {TOP_ACCOUNTS}
        """,
    )


def revenue_per_point(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return mart_rows(
        con,
        "nps_revenue_per_point",
        "select * from marts.nps_revenue_per_point where outcome = 'mrr_change_usd' order by horizon_months",
    )


def followup_target(con: duckdb.DuckDBPyConnection) -> float:
    rows = mart_rows(
        con,
        "goal_progress",
        """
        select target from marts.goal_progress
        where metric = 'followup_24h_attainment' and target is not null
        order by quarter_start desc
        limit 1
        """,
    )
    return float(rows[0]["target"]) if rows else DEFAULT_FOLLOWUP_TARGET


def has_support_data(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds any Zendesk ticket: a follow-up ticket of a response, a ticket a CES response is
    about, or an open ticket of an account. Without one, a 0% follow-up rate means missing data, not missed
    follow-ups."""
    evidence = (
        ("closed_loop_sla_weekly", "select coalesce(sum(followed_up), 0) from marts.closed_loop_sla_weekly"),
        (
            "ces_by_period",
            "select count(*) from marts.ces_by_period where segment_type = 'ticket_category' "
            "and segment_value != 'no_ticket' and responses > 0",
        ),
        ("dim_accounts", "select coalesce(sum(open_tickets), 0) from marts.dim_accounts"),
    )
    for mart, sql in evidence:
        readable = has_table(con, mart) and (mart != "dim_accounts" or has_column(con, mart, "open_tickets"))
        if readable and con.execute(sql).fetchall()[0][0]:
            return True
    return False


def ces_trend(con: duckdb.DuckDBPyConnection, grain: str) -> list[dict[str, Any]]:
    return mart_rows(
        con,
        "ces_by_period",
        """
        select period_start, responses, ces_mean, ces_easy_share, is_complete_period
        from marts.ces_by_period
        where period_grain = ? and segment_type = 'overall' and responses > 0
        order by period_start
        """,
        [grain],
    )


def ces_by_ticket_category(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """CES per ticket category (refund_related, other, no_ticket) and quarter."""
    return mart_rows(
        con,
        "ces_by_period",
        """
        select period_start, segment_value as ticket_category, responses, ces_mean, ces_easy_share,
            median_first_reply_minutes, median_resolution_minutes, is_complete_period
        from marts.ces_by_period
        where period_grain = 'quarter' and segment_type = 'ticket_category' and responses > 0
        order by period_start, segment_value
        """,
    )


def risk_tiers(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Paying accounts per churn-risk tier (accounts without a tier, not paying, aside)."""
    return mart_rows(
        con,
        "dim_accounts",
        """
        select risk_tier, count(*) as accounts, sum(mrr_usd)::double as mrr_usd,
            sum(revenue_at_risk_usd)::double as revenue_at_risk_usd
        from marts.dim_accounts
        where risk_tier is not null
        group by risk_tier
        order by case risk_tier when 'high' then 1 when 'medium' then 2 when 'low' then 3 else 4 end, risk_tier
        """,
    )


def goals(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every goal in the latest quarter of goal_progress."""
    return mart_rows(
        con,
        "goal_progress",
        """
        select goal_id, goal, metric, quarter_start, baseline, target, actual, actual_ci_low, actual_ci_high,
            sample_size, progress, status
        from marts.goal_progress
        where quarter_start = (select max(quarter_start) from marts.goal_progress)
        order by goal_id
        """,
    )


def verbatims(con: duckdb.DuckDBPyConnection, months: list[date]) -> list[dict[str, Any]]:
    """Up to VERBATIMS_PER_THEME comments (newest first) of each of the VERBATIM_THEMES themes with most comments
    per category (detractor, promoter; not 'other') in `months` (the complete months of the themes chart)."""
    if not months or not has_table(con, "comment_classifications"):
        return []
    name = "accounts.account_name" if has_column(con, "dim_accounts", "account_name") else "null::varchar"
    accounts = "marts.dim_accounts" if has_table(con, "dim_accounts") else "(select null::varchar as account_id)"
    return mart_rows(
        con,
        "fct_survey_responses",
        f"""
        with comments as (
            select responses.response_id, responses.nps_category, responses.score, responses.comment,
                responses.response_date, responses.account_id, {name} as account_name, classes.theme,
                classes.theme_label
            from marts.fct_survey_responses as responses
            join marts.comment_classifications as classes on responses.response_id = classes.response_id
            left join {accounts} as accounts on responses.account_id = accounts.account_id
            where responses.survey_type = 'nps' and responses.nps_category in ('detractor', 'promoter')
                and responses.comment is not null and classes.theme != 'other'
                and date_trunc('month', responses.response_date)::date in ({", ".join("?" for _ in months)})
        ),
        themes as (
            select nps_category, theme, count(*) as theme_comments,
                row_number() over (partition by nps_category order by count(*) desc, theme) as theme_rank
            from comments
            group by nps_category, theme
        ),
        ranked as (
            select comments.*, themes.theme_comments, themes.theme_rank,
                row_number() over (
                    partition by comments.nps_category, comments.theme
                    order by comments.response_date desc, comments.response_id
                ) as comment_rank
            from comments
            join themes on comments.nps_category = themes.nps_category and comments.theme = themes.theme
        )
        select * exclude (comment_rank)
        from ranked
        where theme_rank <= {VERBATIM_THEMES} and comment_rank <= {VERBATIMS_PER_THEME}
        order by nps_category, theme_rank, response_date desc, response_id
        """,
        months,
    )
