"""The theme marts, built in DuckDB from the classified comments (marts.comment_classifications) and the
responses (marts.fct_survey_responses). Sums and averages of doubles are rounded, so a re-run writes identical
values.

- `comment_themes`: NPS comments per month, NPS category (and 'all') and theme: counts, the share of the
  category's comments that month, average sentiment, accounts and their MRR. For detractors the share is "the
  share of detractor comments per theme" the issue asks for.
- `theme_escalations`: a theme mentioned by at least `min_detractors` detractors (distinct responses) in a
  calendar month becomes an escalation, with sample comments (the most recent first), the accounts and their MRR
  at response time. Themes in ESCALATION_EXCLUDED (praise, other) never escalate.
"""

from __future__ import annotations

import duckdb

import settings
from analytics.tables import describe

CLASSIFICATIONS = "marts.comment_classifications"
RESPONSES = "marts.fct_survey_responses"
COMMENT_THEMES = "marts.comment_themes"
THEME_ESCALATIONS = "marts.theme_escalations"
MIN_DETRACTORS_VARIABLE = "NPS_THEME_ESCALATION_MIN_DETRACTORS"
ESCALATION_EXCLUDED = ("praise", "other")
SAMPLE_COMMENTS = 3


def min_detractors() -> int:
    """N, from `NPS_THEME_ESCALATION_MIN_DETRACTORS` (default 10)."""
    return settings.whole_number(MIN_DETRACTORS_VARIABLE, minimum=1)


_CLASSIFIED_NPS = f"""
    select
        responses.response_id,
        responses.responded_at,
        cast(date_trunc('month', responses.responded_at) as date) as month_start,
        responses.nps_category,
        responses.score,
        responses.comment,
        responses.account_id,
        cast(responses.mrr_usd as decimal(18, 6)) as mrr_usd,
        classified.theme,
        classified.theme_label,
        -- exact decimals: sums of doubles depend on the order rows arrive in; a re-run must write the same values
        cast(classified.sentiment_score as decimal(18, 6)) as sentiment_score
    from {RESPONSES} as responses
    inner join {CLASSIFICATIONS} as classified
        on responses.response_id = classified.response_id
    where responses.survey_type = 'nps' and responses.nps_category is not null
"""

COMMENT_THEMES_SQL = f"""
create or replace table {COMMENT_THEMES} as
with

classified as ({_CLASSIFIED_NPS}),

with_all as (
    select * from classified
    union all
    select * replace ('all' as nps_category) from classified
),

by_theme as (
    select
        month_start,
        nps_category,
        theme,
        any_value(theme_label) as theme_label,
        count(*) as comments,
        avg(sentiment_score) as avg_sentiment_score,
        count(distinct account_id) as accounts
    from with_all
    group by month_start, nps_category, theme
),

account_mrr as (
    -- each account once per month, category and theme, with its MRR at its latest response then
    select month_start, nps_category, theme, arg_max(mrr_usd, responded_at) as mrr_usd
    from with_all
    where account_id is not null
    group by month_start, nps_category, theme, account_id
),

theme_mrr as (
    select month_start, nps_category, theme, sum(mrr_usd) as mrr_usd
    from account_mrr
    group by month_start, nps_category, theme
)

select
    by_theme.month_start,
    by_theme.nps_category,
    by_theme.theme,
    by_theme.theme_label,
    cast(by_theme.comments as bigint) as comments,
    cast(sum(by_theme.comments) over category_month as bigint) as category_comments,
    cast(by_theme.comments / sum(by_theme.comments) over category_month as double) as share_of_comments,
    round(cast(by_theme.avg_sentiment_score as double), 6) as avg_sentiment_score,
    cast(by_theme.accounts as bigint) as accounts,
    round(cast(coalesce(theme_mrr.mrr_usd, 0) as double), 2) as mrr_usd
from by_theme
left join theme_mrr
    on
        by_theme.month_start = theme_mrr.month_start
        and by_theme.nps_category = theme_mrr.nps_category
        and by_theme.theme = theme_mrr.theme
window category_month as (partition by by_theme.month_start, by_theme.nps_category)
order by by_theme.month_start, by_theme.nps_category, by_theme.theme
"""

THEME_ESCALATIONS_SQL = f"""
create or replace table {THEME_ESCALATIONS} as
with

detractor_comments as (
    select * from ({_CLASSIFIED_NPS}) as classified
    where nps_category = 'detractor' and theme not in ({", ".join(f"'{t}'" for t in ESCALATION_EXCLUDED)})
),

counted as (
    select
        month_start,
        theme,
        any_value(theme_label) as theme_label,
        count(*) as detractors,
        count(distinct account_id) as accounts,
        list(comment order by responded_at desc, response_id)[1:{SAMPLE_COMMENTS}] as sample_comments,
        list(response_id order by responded_at desc, response_id) as response_ids
    from detractor_comments
    group by month_start, theme
    having count(*) >= $min_detractors
),

account_mrr as (
    select month_start, theme, account_id, arg_max(mrr_usd, responded_at) as mrr_usd
    from detractor_comments
    where account_id is not null
    group by month_start, theme, account_id
),

accounts_listed as (
    select
        month_start,
        theme,
        sum(coalesce(mrr_usd, 0)) as total_mrr_usd,
        list({{'account_id': account_id, 'mrr_usd': mrr_usd}} order by mrr_usd desc nulls last, account_id)
            as account_mrr
    from account_mrr
    group by month_start, theme
)

select
    counted.month_start,
    counted.theme,
    counted.theme_label,
    cast(counted.detractors as bigint) as detractors,
    cast(counted.accounts as bigint) as accounts,
    round(cast(coalesce(accounts_listed.total_mrr_usd, 0) as double), 2) as total_mrr_usd,
    counted.sample_comments,
    accounts_listed.account_mrr,
    counted.response_ids,
    cast($min_detractors as integer) as min_detractors
from counted
left join accounts_listed
    on counted.month_start = accounts_listed.month_start and counted.theme = accounts_listed.theme
order by counted.month_start, counted.detractors desc, counted.theme
"""


def build(con: duckdb.DuckDBPyConnection, threshold: int | None = None) -> dict[str, int]:
    """Replace both marts; returns their row counts. Re-running on the same data writes the same rows."""
    threshold = min_detractors() if threshold is None else threshold
    con.execute(COMMENT_THEMES_SQL)
    con.execute(THEME_ESCALATIONS_SQL, {"min_detractors": threshold})
    for table in (COMMENT_THEMES, THEME_ESCALATIONS):
        describe(con, table)
    return {
        table: con.execute(f"select count(*) from {table}").fetchall()[0][0]
        for table in (COMMENT_THEMES, THEME_ESCALATIONS)
    }
