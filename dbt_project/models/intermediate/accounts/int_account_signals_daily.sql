{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('as_of_date'),
        unique_key=['as_of_date', 'account_id'],
        on_schema_change='append_new_columns',
        tags=['partitioned_mart'],
        pre_hook="{{ delete_from_date(this, 'as_of_date') }}",
    )
}}

-- The daily signals of every paying account, from what was known on that day only: the features the churn
-- rules of seed churn_risk_rules compare (account_health scores them). Incremental like account_health, and
-- built with it (tag partitioned_mart): a run for the partition window starting at min_date rebuilds every
-- day from min_date to the last day of data; the 30- to 90-day trailing windows read the days before min_date.
with

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

nps_history as (

    select * from {{ ref('int_account_nps_history') }}

),

usage_daily as (

    select * from {{ ref('int_usage_daily') }}

),

tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

subscription_versions as (

    select * from {{ ref('stg_stripe__subscription_versions') }}

),

billing_span as (

    select
        min(valid_from_date) as first_date,
        max(valid_from_date) as last_date
    from billing_history

),

usage_span as (

    select
        min(activity_date) as first_date,
        max(activity_date) as last_date
    from usage_daily

),

-- The days to build: from the window's first day (else the first billing change) to the last day of data,
-- the latest billing change or product activity.
window_bounds as (

    select
        {% if window_min_date() -%}
            cast('{{ window_min_date() }}' as date) as first_day,
        {%- else -%}
            billing_span.first_date as first_day,
        {%- endif %}
        greatest(billing_span.last_date, coalesce(usage_span.last_date, billing_span.last_date)) as last_day
    from billing_span
    cross join usage_span

),

days as (

    {{ period_starts('day',
        "(select " ~ dbt.dateadd('day', -90, 'first_day') ~ " from window_bounds)",
        "(select last_day from window_bounds)") }}

),

-- Every day each account was paying, from 90 days before the window (for the trailing windows) to its end.
paying_days as (

    select
        billing_history.account_id,
        days.period_start as as_of_date,
        billing_history.mrr_usd,
        billing_history.plan
    from billing_history
    inner join days
        on
            billing_history.valid_from_date <= days.period_start
            and (billing_history.valid_to_date is null or billing_history.valid_to_date > days.period_start)
    where billing_history.mrr_usd > 0

),

ticket_days as (

    select
        account_id,
        cast(created_at as date) as activity_date,
        count(*) as tickets,
        count(case when is_refund_related then 1 end) as refund_tickets
    from tickets
    where account_id is not null and not is_nps_followup
    group by 1, 2

),

-- First replies count from the day they were known: the ticket's day, or the later landing day of the first
-- metric set with a reply (Zendesk's metrics can land days later, e.g. with the solve), so no day reads a reply
-- that arrived after it, and a daily run gives the same row as a full build.
reply_days as (

    select
        account_id,
        greatest(cast(created_at as date), coalesce(first_reply_loaded_on, cast(created_at as date))) as activity_date,
        sum(first_reply_minutes) as first_reply_minutes,
        count(first_reply_minutes) as replied_tickets
    from tickets
    where account_id is not null and not is_nps_followup and first_reply_minutes is not null
    group by 1, 2

),

failed_charge_days as (

    select
        stripe_customers.account_id,
        cast(charges.created_at as date) as activity_date,
        count(*) as failed_charges
    from charges
    inner join stripe_customers
        on charges.customer_id = stripe_customers.customer_id
    where charges.status = 'failed' and stripe_customers.account_id is not null
    group by 1, 2

),

-- The subscriptions as known each day (the versions landed by then): a cancellation already requested on a
-- subscription that still pays (Stripe sets canceled_at when cancel_at_period_end is set: the subscription runs
-- to the end of its period, then ends), and the latest trial end of the live subscriptions.
subscription_days as (

    select
        stripe_customers.account_id,
        days.period_start as as_of_date,
        max(
            case
                when
                    subscription_versions.status in ({{ sql_string_list(var('paying_subscription_statuses')) }})
                    and subscription_versions.canceled_at is not null
                    and cast(subscription_versions.canceled_at as date) <= days.period_start
                    then 1
                else 0
            end
        ) as cancellation_requested,
        max(cast(subscription_versions.trial_ended_at as date)) as trial_end_date
    from subscription_versions
    inner join stripe_customers
        on subscription_versions.customer_id = stripe_customers.customer_id
    inner join days
        on
            subscription_versions.valid_from_date <= days.period_start
            and (subscription_versions.valid_to_date is null or subscription_versions.valid_to_date > days.period_start)
    where
        stripe_customers.account_id is not null
        and not stripe_customers.is_deleted
        and subscription_versions.ended_at is null
        and subscription_versions.status in ({{ sql_string_list(var('live_subscription_statuses')) }})
    group by 1, 2

),

daily_signals as (

    select
        paying_days.*,
        coalesce(usage_daily.events, 0) as events,
        coalesce(ticket_days.tickets, 0) as tickets,
        coalesce(ticket_days.refund_tickets, 0) as refund_tickets,
        coalesce(reply_days.first_reply_minutes, 0) as first_reply_minutes,
        coalesce(reply_days.replied_tickets, 0) as replied_tickets,
        coalesce(failed_charge_days.failed_charges, 0) as failed_charges
    from paying_days
    left join usage_daily
        on paying_days.account_id = usage_daily.account_id and paying_days.as_of_date = usage_daily.activity_date
    left join ticket_days
        on paying_days.account_id = ticket_days.account_id and paying_days.as_of_date = ticket_days.activity_date
    left join reply_days
        on paying_days.account_id = reply_days.account_id and paying_days.as_of_date = reply_days.activity_date
    left join failed_charge_days
        on
            paying_days.account_id = failed_charge_days.account_id
            and paying_days.as_of_date = failed_charge_days.activity_date

),

-- Trailing sums over calendar days (a range frame on the day number: days that were not paying add nothing).
-- The frames are spelled out in full: Spark's WINDOW clause cannot extend another named window.
{%- set by_day = 'partition by account_id order by day_number range between' %}
trailing_sums as (

    select
        *,
        sum(events) over ({{ by_day }} 29 preceding and current row) as events_last_30d,
        sum(events) over ({{ by_day }} 59 preceding and 30 preceding) as events_prior_30d,
        sum(events) over ({{ by_day }} 89 preceding and 60 preceding) as events_60_to_90d_ago,
        sum(tickets) over ({{ by_day }} 29 preceding and current row) as tickets_last_30d,
        sum(tickets) over ({{ by_day }} 59 preceding and 30 preceding) as tickets_prior_30d,
        sum(refund_tickets) over ({{ by_day }} 89 preceding and current row) as refund_tickets_last_90d,
        sum(first_reply_minutes) over ({{ by_day }} 29 preceding and current row) as first_reply_minutes_last_30d,
        sum(replied_tickets) over ({{ by_day }} 29 preceding and current row) as replied_tickets_last_30d,
        sum(failed_charges) over ({{ by_day }} 29 preceding and current row) as failed_charges_last_30d,
        sum(failed_charges) over ({{ by_day }} 89 preceding and current row) as failed_charges_last_90d,
        count(*) over ({{ by_day }} 59 preceding and current row) as paying_days_observed,
        count(*) over ({{ by_day }} 89 preceding and current row) as paying_days_observed_90d
    from (
        select
            *,
            {% set day_number = dbt.datediff("cast('2000-01-01' as date)", 'as_of_date', 'day') -%}
            {{ day_number }} as day_number
        from daily_signals
    ) as numbered

),

-- Each NPS answer is the account's latest from its day until the next answer's day.
nps_latest_per_day as (

    select
        account_id,
        response_date,
        score,
        nps_category,
        previous_score,
        previous_nps_category,
        score_change,
        lead(response_date) over (partition by account_id order by response_date) as next_response_date
    from (
        select
            *,
            row_number() over (partition by account_id, response_date order by responded_at desc, response_id desc)
                as day_rank
        from nps_history
    ) as ranked
    where day_rank = 1

),

-- Activation is judged only for accounts that signed up after usage data begins (otherwise unknown).
activation as (

    select
        billing_accounts.account_id,
        cast(billing_accounts.first_customer_created_at as date) as signup_date,
        coalesce(sum(usage_daily.core_events), 0) as core_events_first_30d
    from billing_accounts
    left join usage_daily
        on
            billing_accounts.account_id = usage_daily.account_id
            and usage_daily.activity_date >= cast(billing_accounts.first_customer_created_at as date)
            and usage_daily.activity_date
            < cast({{ dbt.dateadd('day', 30, 'cast(billing_accounts.first_customer_created_at as date)') }} as date)
    where
        cast(billing_accounts.first_customer_created_at as date)
        >= (select usage_span.first_date from usage_span)
    group by 1, 2

),

features as (

    select
        trailing_sums.account_id,
        trailing_sums.as_of_date,
        trailing_sums.plan,
        trailing_sums.mrr_usd,
        nps_latest_per_day.score as latest_nps_score,
        nps_latest_per_day.nps_category as latest_nps_category,
        nps_latest_per_day.response_date as latest_nps_date,
        nps_latest_per_day.previous_score as previous_nps_score,
        nps_latest_per_day.previous_nps_category,
        nps_latest_per_day.score_change as nps_score_change,
        trailing_sums.events_last_30d,
        case when trailing_sums.paying_days_observed = 60 then trailing_sums.events_prior_30d end as events_prior_30d,
        case
            when trailing_sums.paying_days_observed = 60 and trailing_sums.events_prior_30d > 0
                then round(cast(trailing_sums.events_last_30d as double) / trailing_sums.events_prior_30d - 1, 4)
        end as usage_change_30d,
        -- The last 30 days against days 61-90 before: a fall that a 30-day comparison no longer sees.
        case
            when trailing_sums.paying_days_observed_90d = 90 and trailing_sums.events_60_to_90d_ago > 0
                then round(cast(trailing_sums.events_last_30d as double) / trailing_sums.events_60_to_90d_ago - 1, 4)
        end as usage_change_90d,
        trailing_sums.tickets_last_30d,
        coalesce(trailing_sums.tickets_prior_30d, 0) as tickets_prior_30d,
        trailing_sums.refund_tickets_last_90d,
        case
            when trailing_sums.replied_tickets_last_30d > 0
                then cast(trailing_sums.first_reply_minutes_last_30d as double) / trailing_sums.replied_tickets_last_30d
        end as avg_first_reply_minutes_30d,
        trailing_sums.failed_charges_last_30d,
        trailing_sums.failed_charges_last_90d,
        coalesce(subscription_days.cancellation_requested, 0) as cancellation_requested,
        {{ dbt.datediff('subscription_days.trial_end_date', 'trailing_sums.as_of_date', 'day') }}
            as days_from_trial_end,
        {{ dbt.datediff(
            'cast(billing_accounts.first_customer_created_at as date)', 'trailing_sums.as_of_date', 'day') }}
            as tenure_days,
        activation.signup_date,
        -- Shown once the first 30 days are over, so that the value never changes as days are added.
        case
            when trailing_sums.as_of_date >= cast({{ dbt.dateadd('day', 30, 'activation.signup_date') }} as date)
                then activation.core_events_first_30d
        end as core_events_first_30d
    from trailing_sums
    inner join window_bounds
        on trailing_sums.as_of_date between window_bounds.first_day and window_bounds.last_day
    left join nps_latest_per_day
        on
            trailing_sums.account_id = nps_latest_per_day.account_id
            and trailing_sums.as_of_date >= nps_latest_per_day.response_date
            and (
                nps_latest_per_day.next_response_date is null
                or trailing_sums.as_of_date < nps_latest_per_day.next_response_date
            )
    left join activation
        on trailing_sums.account_id = activation.account_id
    left join billing_accounts
        on trailing_sums.account_id = billing_accounts.account_id
    left join subscription_days
        on
            trailing_sums.account_id = subscription_days.account_id
            and trailing_sums.as_of_date = subscription_days.as_of_date

),

-- The rule-ready features: each churn rule compares one of these with its threshold.
final as (

    select
        as_of_date,
        account_id,
        plan,
        cast(mrr_usd as double) as mrr_usd,
        cast(latest_nps_score as integer) as latest_nps_score,
        latest_nps_category,
        latest_nps_date,
        cast(previous_nps_score as integer) as previous_nps_score,
        previous_nps_category,
        cast(nps_score_change as integer) as nps_score_change,
        cast(
            case
                when latest_nps_date > cast({{ dbt.dateadd('day', -365, 'as_of_date') }} as date) then latest_nps_score
            end as integer
        ) as latest_nps_score_365d,
        cast(
            {{ dbt.datediff('latest_nps_date', 'as_of_date', 'day') }}
            as integer
        ) as days_since_latest_nps,
        cast(-nps_score_change as integer) as nps_score_drop,
        cast(events_last_30d as bigint) as events_last_30d,
        cast(events_prior_30d as bigint) as events_prior_30d,
        cast(usage_change_30d as double) as usage_change_30d,
        cast(-usage_change_30d as double) as usage_decline_30d,
        cast(usage_change_90d as double) as usage_change_90d,
        cast(-usage_change_90d as double) as usage_decline_90d,
        cast(tickets_last_30d as bigint) as tickets_last_30d,
        cast(tickets_prior_30d as bigint) as tickets_prior_30d,
        cast(
            case when tickets_last_30d >= tickets_prior_30d then tickets_last_30d else 0 end as bigint
        ) as rising_tickets_last_30d,
        cast(refund_tickets_last_90d as bigint) as refund_tickets_last_90d,
        cast(avg_first_reply_minutes_30d as double) as avg_first_reply_minutes_30d,
        cast(failed_charges_last_30d as bigint) as failed_charges_last_30d,
        cast(failed_charges_last_90d as bigint) as failed_charges_last_90d,
        cast(cancellation_requested as integer) as cancellation_requested,
        cast(days_from_trial_end as integer) as days_from_trial_end,
        cast(tenure_days as integer) as tenure_days,
        case
            -- The first 90 days after the account's first Stripe customer.
            when tenure_days < 90 then 'onboarding'
            when tenure_days is not null then 'established'
        end as lifecycle_stage,
        signup_date,
        cast(core_events_first_30d as bigint) as core_events_first_30d
    from features

)

select * from final
