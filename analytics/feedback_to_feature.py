"""The feedback-to-feature loop: each theme escalation (a Jira issue per theme and month, ledger
ops.outbound_messages), its Jira state read back (ops.jira_issue_states, outbound/jira_readback.py), the days it
took to fix against the sprint target, and the customers who raised the theme that month, to tell once it is fixed.

- `feedback_to_feature`: one row per theme escalation (ledger key `jira_escalation:<theme>:<YYYY-MM>`, dry runs
  included, without an issue key).
- `feedback_to_feature_notify`: once an escalation is fixed (its issue resolved in a status of category done), one
  row per NPS response that raised the theme in that month: the customers to tell, and `notice_listed_at`, when the
  action `actions/fix_notice_list` put the customer on the outbox list `fixed_themes/<date>.csv` (ledger key
  `fix_notice:<theme>:<YYYY-MM>:<customer_key>`, outbound/outbox.py); null until then. The action runs after this
  mart, so a customer listed in a run shows as listed from the next build.

"Raised the theme" = an NPS response of that calendar month whose comment is classified with the theme
(marts.comment_classifications), whatever its score. Days to fix = (resolved - created in Jira) in days, to 0.01.
"""

from __future__ import annotations

import duckdb

import settings
from analytics.tables import describe
from outbound import jira_readback, ledger
from outbound.outbox import FIX_NOTICE_PREFIX

FEEDBACK_TO_FEATURE = "marts.feedback_to_feature"
NOTIFY = "marts.feedback_to_feature_notify"
TARGET_VARIABLE = "NPS_FIX_TARGET_DAYS"
LEDGER = "ops.outbound_messages"
STATES = "ops.jira_issue_states"
CLASSIFICATIONS = "marts.comment_classifications"
RESPONSES = "marts.fct_survey_responses"


def target_days() -> int:
    """The sprint target in days, `NPS_FIX_TARGET_DAYS` (default 30)."""
    return settings.whole_number(TARGET_VARIABLE, minimum=1)


_ESCALATIONS = f"""
    select
        ledger.message_key,
        regexp_extract(ledger.message_key, '^jira_escalation:(.*):([0-9]{{4}}-[0-9]{{2}})$', 1) as theme,
        cast(regexp_extract(ledger.message_key, '^jira_escalation:(.*):([0-9]{{4}}-[0-9]{{2}})$', 2) || '-01'
            as date) as month_start,
        ledger.status as ledger_status,
        case when ledger.status = 'sent' then ledger.external_id end as issue_key,
        ledger.sent_at
    from {LEDGER} as ledger
    where regexp_matches(ledger.message_key, '^jira_escalation:(.*):([0-9]{{4}}-[0-9]{{2}})$')
"""

_RAISED = f"""
    select
        escalations.message_key,
        responses.response_id,
        responses.account_id,
        lower(trim(responses.email)) as email,
        responses.nps_category,
        responses.responded_at,
        coalesce(
            'email:' || nullif(lower(trim(responses.email)), ''),
            'account:' || responses.account_id,
            'response:' || responses.response_id
        ) as customer_key
    from escalations
    inner join {CLASSIFICATIONS} as classified
        on escalations.theme = classified.theme
    inner join {RESPONSES} as responses
        on classified.response_id = responses.response_id
        and cast(date_trunc('month', responses.responded_at) as date) = escalations.month_start
    where responses.survey_type = 'nps'
"""


def build(con: duckdb.DuckDBPyConnection, target: int | None = None) -> dict[str, int]:
    """(Re)build both marts; returns their row counts. Missing ops tables count as empty."""
    target = target_days() if target is None else target
    con.execute("create schema if not exists marts")
    ledger.ensure_table(con)
    jira_readback.ensure_table(con)
    con.execute(
        f"""
        create or replace table {FEEDBACK_TO_FEATURE} as
        with
        escalations as ({_ESCALATIONS}),
        raised as ({_RAISED}),
        raised_counts as (
            select
                message_key,
                count(distinct account_id) as accounts_raised,
                count(distinct response_id) as responses_raised,
                count(distinct customer_key) as customers_raised
            from raised
            group by message_key
        ),
        joined as (
            select
                escalations.*,
                states.found as issue_found,
                states.status,
                states.status_category,
                states.resolution,
                coalesce(states.created_at, escalations.sent_at) as opened_at,
                case when states.status_category = 'done' then states.resolved_at end as resolved_at
            from escalations
            left join {STATES} as states
                on escalations.issue_key = states.issue_key
        )
        select
            joined.theme,
            joined.month_start,
            joined.message_key,
            joined.ledger_status,
            joined.issue_key,
            joined.issue_found,
            joined.status,
            joined.status_category,
            joined.resolution,
            joined.opened_at,
            joined.resolved_at,
            joined.resolved_at is not null as is_fixed,
            round(date_diff('second', joined.opened_at, joined.resolved_at) / 86400.0, 2) as days_to_fix,
            {int(target)} as target_days,
            case when joined.resolved_at is not null
                then date_diff('second', joined.opened_at, joined.resolved_at) <= {int(target)} * 86400
            end as is_within_target,
            coalesce(raised_counts.accounts_raised, 0) as accounts_raised,
            coalesce(raised_counts.responses_raised, 0) as responses_raised,
            case when joined.resolved_at is not null
                then coalesce(raised_counts.customers_raised, 0)
            end as customers_to_notify
        from joined
        left join raised_counts
            on joined.message_key = raised_counts.message_key
        order by joined.month_start, joined.theme
        """
    )
    con.execute(
        f"""
        create or replace table {NOTIFY} as
        with
        escalations as ({_ESCALATIONS}),
        raised as ({_RAISED})
        select
            fixed.theme,
            fixed.month_start,
            fixed.issue_key,
            fixed.resolved_at,
            raised.customer_key,
            raised.account_id,
            raised.email,
            raised.response_id,
            raised.nps_category,
            raised.responded_at,
            notices.sent_at as notice_listed_at
        from {FEEDBACK_TO_FEATURE} as fixed
        inner join raised
            on fixed.message_key = raised.message_key
        left join {LEDGER} as notices
            on notices.message_key = '{FIX_NOTICE_PREFIX}' || fixed.theme || ':' || strftime(fixed.month_start, '%Y-%m')
                || ':' || raised.customer_key
            and notices.status in ('{ledger.SENT}', '{ledger.LOGGED}')
        where fixed.is_fixed
        order by fixed.month_start, fixed.theme, raised.customer_key, raised.response_id
        """
    )
    describe(con, FEEDBACK_TO_FEATURE)
    describe(con, NOTIFY)
    counts = {}
    for table in (FEEDBACK_TO_FEATURE, NOTIFY):
        counts[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    return counts
