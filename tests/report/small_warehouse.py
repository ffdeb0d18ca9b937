"""A small warehouse of hand-written mart rows for the report tests: the data ends on 20 May 2026 (a Wednesday),
so May, the week of 18 May and Q2 2026 are partial, and each partial period holds a move that a recommendation
would pick if it read partial periods."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

AS_OF = date(2026, 5, 20)

# (grain, period_start, segment_type, segment_value, promoters, passives, detractors)
NPS_ROWS = [
    ("month", date(2026, 1, 1), "overall", "all", 10, 5, 5),
    ("month", date(2026, 2, 1), "overall", "all", 12, 4, 4),
    ("month", date(2026, 3, 1), "overall", "all", 15, 3, 2),
    ("month", date(2026, 4, 1), "overall", "all", 9, 6, 5),
    ("month", date(2026, 5, 1), "overall", "all", 0, 0, 3),
    ("week", date(2026, 4, 27), "overall", "all", 3, 1, 1),
    ("week", date(2026, 5, 4), "overall", "all", 2, 2, 1),
    ("week", date(2026, 5, 11), "overall", "all", 4, 0, 1),
    ("week", date(2026, 5, 18), "overall", "all", 0, 0, 2),
    ("quarter", date(2025, 10, 1), "overall", "all", 32, 23, 17),
    ("quarter", date(2026, 1, 1), "overall", "all", 44, 13, 13),
    ("quarter", date(2026, 4, 1), "overall", "all", 30, 0, 0),
    # Pro moves most between the complete quarters: 25.0 -> 62.5.
    ("quarter", date(2025, 10, 1), "plan", "Pro", 20, 10, 10),
    ("quarter", date(2026, 1, 1), "plan", "Pro", 30, 5, 5),
    ("quarter", date(2026, 4, 1), "plan", "Pro", 0, 0, 0),
    ("quarter", date(2025, 10, 1), "plan", "Basic", 10, 10, 5),
    ("quarter", date(2026, 1, 1), "plan", "Basic", 12, 8, 8),
    # Basic jumps to 100 in the partial quarter: no recommendation may read it.
    ("quarter", date(2026, 4, 1), "plan", "Basic", 30, 0, 0),
    ("quarter", date(2026, 1, 1), "region", "EU", 42, 13, 13),
    # MRR bands, written in an order that is neither alphabetical nor by bound; '0' has 2 responses.
    ("quarter", date(2026, 1, 1), "mrr_band", "2000+", 10, 2, 2),
    ("quarter", date(2026, 1, 1), "mrr_band", "<100", 10, 4, 4),
    ("quarter", date(2026, 1, 1), "mrr_band", "0", 2, 0, 0),
    ("quarter", date(2025, 10, 1), "mrr_band", "0", 0, 0, 2),
    ("quarter", date(2026, 1, 1), "mrr_band", "100-499", 12, 4, 4),
    ("quarter", date(2026, 1, 1), "mrr_band", "500-1999", 10, 3, 3),
]
MRR_BAND_ORDER = ["0", "<100", "100-499", "500-1999", "2000+"]

# (month_start, nps_category, theme, theme_label, comments, category_comments, accounts, mrr_usd)
THEME_ROWS = [
    (date(2026, 3, 1), "detractor", "pricing", "Pricing", 2, 2, 2, 300.0),
    (date(2026, 4, 1), "detractor", "bugs", "Bugs and errors", 5, 10, 4, 1200.0),
    (date(2026, 4, 1), "detractor", "pricing", "Pricing", 3, 10, 3, 900.0),
    (date(2026, 4, 1), "detractor", "other", "Other", 2, 10, 2, 100.0),
    # May is partial: its one comment must not become "the largest theme (1 of 1 comments)".
    (date(2026, 5, 1), "detractor", "onboarding", "Onboarding", 1, 1, 1, 50.0),
    (date(2026, 3, 1), "promoter", "support", "Support", 4, 6, 4, 800.0),
    (date(2026, 3, 1), "promoter", "ease_of_use", "Ease of use", 2, 6, 2, 200.0),
    (date(2026, 4, 1), "promoter", "support", "Support", 5, 9, 5, 900.0),
    (date(2026, 4, 1), "promoter", "ease_of_use", "Ease of use", 4, 9, 3, 500.0),
    (date(2026, 5, 1), "promoter", "support", "Support", 1, 1, 1, 70.0),
]

# (week_start, followed_up, target_due, met_target, fast_target_due, met_fast_target)
SLA_ROWS = [
    (date(2026, 4, 13), 2, 2, 2, 2, 1),
    (date(2026, 4, 20), 3, 3, 2, 3, 1),
    (date(2026, 4, 27), 4, 4, 4, 4, 2),
    (date(2026, 5, 4), 2, 3, 1, 3, 0),
    (date(2026, 5, 11), 2, 2, 2, 2, 2),
    # The week not over yet: 1 due, none met.
    (date(2026, 5, 18), 0, 1, 0, 1, 0),
]

# (grain, period_start, segment_type, segment_value, responses, ces_mean, ces_easy_share, first reply, resolution)
CES_ROWS = [
    ("month", date(2026, 2, 1), "overall", "all", 8, 5.5, 0.75, None, None),
    ("month", date(2026, 3, 1), "overall", "all", 10, 5.0, 0.6, None, None),
    ("month", date(2026, 4, 1), "overall", "all", 12, 4.5, 0.5, None, None),
    ("month", date(2026, 5, 1), "overall", "all", 2, 2.0, 0.0, None, None),
    ("quarter", date(2026, 1, 1), "ticket_category", "refund_related", 6, 3.5, 0.25, 240.0, 1440.0),
    ("quarter", date(2026, 1, 1), "ticket_category", "other", 10, 5.25, 0.8, 30.0, 300.0),
    ("quarter", date(2026, 1, 1), "ticket_category", "no_ticket", 2, 6.0, 1.0, None, None),
    # The partial quarter: refund-related tickets look perfect so far.
    ("quarter", date(2026, 4, 1), "ticket_category", "refund_related", 1, 7.0, 1.0, 10.0, 60.0),
]

# (response_id, nps_category, score, comment, response_date, account_id, theme, theme_label)
COMMENTS = [
    ("r01", "detractor", 2, "Crashes on export", date(2026, 4, 28), "acc_1", "bugs", "Bugs and errors"),
    ("r02", "detractor", 3, "Error 500 every morning", date(2026, 4, 20), "acc_2", "bugs", "Bugs and errors"),
    ("r03", "detractor", 4, "Sync loses rows", date(2026, 4, 10), None, "bugs", "Bugs and errors"),
    ("r04", "detractor", 1, "The oldest bug report", date(2026, 4, 2), "acc_3", "bugs", "Bugs and errors"),
    ("r05", "detractor", 5, "Too expensive <for us>", date(2026, 4, 15), "acc_2", "pricing", "Pricing"),
    ("r06", "detractor", 6, "Price went up", date(2026, 3, 15), "acc_3", "pricing", "Pricing"),
    ("r07", "detractor", 6, "Pricing page unclear", date(2026, 3, 5), "acc_1", "pricing", "Pricing"),
    ("r08", "detractor", 5, "Slow dashboards", date(2026, 4, 5), "acc_1", "performance", "Performance"),
    ("r09", "detractor", 5, "Slow search", date(2026, 3, 9), "acc_2", "performance", "Performance"),
    ("r10", "detractor", 6, "Setup took weeks", date(2026, 4, 6), "acc_3", "onboarding", "Onboarding"),
    ("r11", "detractor", 0, "Just bad", date(2026, 4, 7), "acc_3", "other", "Other"),
    # May is partial: its comments are not shown.
    ("r12", "detractor", 0, "May comment, partial month", date(2026, 5, 12), "acc_1", "bugs", "Bugs and errors"),
    ("r13", "promoter", 10, "Support answered in minutes", date(2026, 4, 12), "acc_1", "support", "Support"),
    ("r14", "promoter", 9, "Great <b>support</b> team", date(2026, 3, 12), "acc_2", "support", "Support"),
    ("r15", "promoter", 10, "So easy to use", date(2026, 4, 3), "acc_3", "ease_of_use", "Ease of use"),
]

# (goal_id, goal, metric, baseline, target, actual, actual_ci_low, actual_ci_high, progress, status)
GOALS = [
    (
        "followup_24h",
        "Every detractor contacted within 24 hours",
        "followup_24h_attainment",
        0.8,
        0.9,
        0.75,
        None,
        None,
        -0.5,
        "in_progress",
    ),
    ("nps_plus_5", "Raise NPS by 5 points quarter on quarter", "nps", 44.3, 49.3, 100.0, 70.0, 100.0, 11.1, "met"),
]


# The marts' is_complete_period (dbt_project/macros/dates.sql): the period's last day is on or before the as-of date.
COMPLETE = """(
    case period_grain
        when 'week' then period_start + 6
        when 'month' then cast(period_start + interval 1 month as date) - 1
        when 'quarter' then cast(period_start + interval 3 month as date) - 1
        else period_start
    end <= ?::date
)"""


def build(path: Path, *, support_data: bool = True) -> Path:
    """Write the marts the report reads; without support data there is no Zendesk ticket at all: no response has a
    follow-up ticket (and so none met its deadline), no CES response a ticket, no account an open ticket."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            """
            create table marts.nps_by_period (period_grain varchar, period_start date, segment_type varchar,
                segment_value varchar, promoters bigint, passives bigint, detractors bigint)
            """
        )
        con.executemany("insert into marts.nps_by_period values (?, ?, ?, ?, ?, ?, ?)", NPS_ROWS)
        con.execute(
            """
            create or replace table marts.nps_by_period as
            select *, promoters + passives + detractors as responses,
                case when promoters + passives + detractors > 0
                    then 100.0 * (promoters - detractors) / (promoters + passives + detractors) end as nps,
                nps - 15 as nps_ci_low, nps + 15 as nps_ci_high, 2 * responses as sends, 0.5 as response_rate,
                {COMPLETE} as is_complete_period
            from marts.nps_by_period
            """.replace("{COMPLETE}", COMPLETE),
            [AS_OF],
        )
        con.execute(
            """
            create table marts.program_summary as
            select 100::bigint as responses, 40::bigint as promoters, 30::bigint as passives,
                30::bigint as detractors, 10.0 as nps, 1.0 as nps_ci_low, 19.0 as nps_ci_high, 200::bigint as nps_sends,
                0.5 as response_rate, 10::bigint as ces_responses, 5.5 as ces_mean, 0::bigint as unmatched_responses,
                date '2025-10-02' as first_response_date, ?::date as last_response_date
            """,
            [AS_OF],
        )
        con.execute(
            """
            create table marts.comment_themes (month_start date, nps_category varchar, theme varchar,
                theme_label varchar, comments bigint, category_comments bigint, accounts bigint, mrr_usd double)
            """
        )
        con.executemany("insert into marts.comment_themes values (?, ?, ?, ?, ?, ?, ?, ?)", THEME_ROWS)
        con.execute(
            "create or replace table marts.comment_themes as "
            "select *, comments / category_comments as share_of_comments from marts.comment_themes"
        )
        con.execute(
            """
            create table marts.closed_loop_sla_weekly (week_start date, followed_up bigint, target_due bigint,
                met_target bigint, fast_target_due bigint, met_fast_target bigint)
            """
        )
        rows = (
            SLA_ROWS if support_data else [(week, 0, due, 0, fast_due, 0) for week, _, due, _, fast_due, _ in SLA_ROWS]
        )
        con.executemany("insert into marts.closed_loop_sla_weekly values (?, ?, ?, ?, ?, ?)", rows)
        con.execute(
            """
            create or replace table marts.closed_loop_sla_weekly as
            select week_start, 'all' as team, 'detractor' as nps_category, target_due + 1 as responses, followed_up,
                target_due, met_target, met_target / target_due as target_attainment, fast_target_due,
                met_fast_target, met_fast_target / fast_target_due as fast_target_attainment,
                5.0 as median_hours_to_first_outreach
            from marts.closed_loop_sla_weekly
            """
        )
        con.execute(
            """
            create table marts.dim_accounts as
            select * from (values
                ('acc_1', 'Acme & Sons', 'Pro', 'EU', 2000.0, 80, 'high', 1600.0, 'detractor score; usage down', 3,
                    date '2026-05-02'),
                ('acc_2', 'Globex', 'Basic', 'NA', 500.0, 50, 'medium', 250.0, null, 6, date '2026-04-11'),
                ('acc_3', null, 'Basic', 'NA', 90.0, 10, 'low', 9.0, null, 9, date '2026-03-01'),
                ('acc_4', 'Initech', 'Pro', 'EU', 0.0, 0, 'low', 0.0, null, null, null)
            ) as t(account_id, account_name, plan, region, mrr_usd, risk_score, risk_tier, revenue_at_risk_usd, risk_drivers,
                latest_nps_score, latest_nps_date)
            """
        )
        con.execute("alter table marts.dim_accounts add column open_tickets bigint default 0")
        if support_data:
            con.execute("update marts.dim_accounts set open_tickets = 2 where account_id = 'acc_1'")
        con.execute(
            """
            create table marts.goal_progress (goal_id varchar, goal varchar, metric varchar, baseline double,
                target double, actual double, actual_ci_low double, actual_ci_high double, progress double,
                status varchar)
            """
        )
        con.executemany("insert into marts.goal_progress values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", GOALS)
        con.execute(
            "create or replace table marts.goal_progress as "
            "select *, date '2026-04-01' as quarter_start, 20 as sample_size from marts.goal_progress"
        )
        con.execute(
            """
            create table marts.fct_survey_responses (response_id varchar, nps_category varchar, score integer,
                comment varchar, response_date date, account_id varchar, theme varchar, theme_label varchar)
            """
        )
        con.executemany("insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, ?)", COMMENTS)
        con.execute(
            "create table marts.comment_classifications as "
            "select response_id, theme, theme_label from marts.fct_survey_responses"
        )
        con.execute(
            "create or replace table marts.fct_survey_responses as "
            "select * exclude (theme, theme_label), 'nps' as survey_type from marts.fct_survey_responses"
        )
        con.execute(
            """
            create table marts.nps_revenue_per_point (horizon_months integer, outcome varchar, estimate double,
                ci_low double, ci_high double, p_value double, observations bigint, accounts bigint, note varchar)
            """
        )
        con.execute(
            "insert into marts.nps_revenue_per_point values (3, 'mrr_change_usd', null, null, null, null, 5, 2, "
            "'under 30 observations')"
        )
        con.execute(
            """
            create table marts.ces_by_period (period_grain varchar, period_start date, segment_type varchar,
                segment_value varchar, responses bigint, ces_mean double, ces_easy_share double,
                median_first_reply_minutes double, median_resolution_minutes double)
            """
        )
        ces = CES_ROWS if support_data else [row for row in CES_ROWS if row[3] in ("all", "no_ticket")]
        con.executemany("insert into marts.ces_by_period values (?, ?, ?, ?, ?, ?, ?, ?, ?)", ces)
        con.execute(
            f"create or replace table marts.ces_by_period as select *, {COMPLETE} as is_complete_period "
            "from marts.ces_by_period",
            [AS_OF],
        )
    return path
