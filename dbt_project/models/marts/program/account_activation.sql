-- Activation of every account: from signup (its first Stripe customer) to the first key event, and how its
-- engagement moved within the first 30 days. The key events are configured per plan at signup in seed
-- activation_events (rows for the plan, else the '*' rows); var activation_window_days (30) is the window.
--   activation_status: activated (a key event within the window), late (a key event after it), pending (no key
--     event yet and the window still open), not_activated (window over, none), unknown (signed up before the
--     usage data begins, so the first events are not in the data).
--   early_engagement_change: events on days 15-29 after signup against days 0-14, -1 to +inf;
--     is_early_engagement_decline: a fall of the usage_decline threshold of seed churn_risk_rules (20%) or more,
--     once day 29 is observed.
with

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

key_events_daily as (

    select * from {{ ref('int_usage_key_events_daily') }}

),

usage_daily as (

    select * from {{ ref('int_usage_daily') }}

),

key_events as (

    select * from {{ ref('activation_events') }}

),

usage_span as (

    select
        min(activity_date) as first_date,
        max(activity_date) as last_date
    from usage_daily

),

first_plans as (

    select
        account_id,
        plan,
        row_number() over (partition by account_id order by valid_from_date) as version_rank
    from billing_history
    where plan != 'none'

),

accounts as (

    select
        billing_accounts.account_id,
        billing_accounts.first_customer_created_at as signup_at,
        cast(billing_accounts.first_customer_created_at as date) as signup_date,
        coalesce(first_plans.plan, 'none') as plan_at_signup
    from billing_accounts
    left join first_plans
        on billing_accounts.account_id = first_plans.account_id and first_plans.version_rank = 1

),

-- The plans with key events of their own (the others take the '*' rows); a join rather than a correlated
-- subquery in the join condition, which Spark does not plan.
plans_with_key_events as (

    select distinct plan
    from key_events

),

account_key_events as (

    select
        accounts.account_id,
        key_events.event_name
    from accounts
    left join plans_with_key_events
        on accounts.plan_at_signup = plans_with_key_events.plan
    inner join key_events
        on
            accounts.plan_at_signup = key_events.plan
            or (key_events.plan = '*' and plans_with_key_events.plan is null)

),

key_event_lists as (

    select
        account_id,
        {{ dbt.listagg('event_name', "', '", 'order by event_name') }} as key_events
    from account_key_events
    group by account_id

),

first_key_events as (

    select
        account_key_events.account_id,
        min(key_events_daily.first_event_at) as first_key_event_at,
        min_by(key_events_daily.event_name, key_events_daily.first_event_at) as first_key_event
    from account_key_events
    inner join key_events_daily
        on
            account_key_events.account_id = key_events_daily.account_id
            and account_key_events.event_name = key_events_daily.event_name
    group by account_key_events.account_id

),

early_usage as (

    select
        accounts.account_id,
        sum(
            case
                when usage_daily.activity_date < {{ dbt.dateadd('day', 15, 'accounts.signup_date') }}
                    then usage_daily.events
                else 0
            end
        ) as events_days_0_14,
        sum(
            case
                when usage_daily.activity_date >= {{ dbt.dateadd('day', 15, 'accounts.signup_date') }}
                    then usage_daily.events
                else 0
            end
        ) as events_days_15_29
    from accounts
    inner join usage_daily
        on
            accounts.account_id = usage_daily.account_id
            and accounts.signup_date <= usage_daily.activity_date
            and usage_daily.activity_date < {{ dbt.dateadd('day', 30, 'accounts.signup_date') }}
    group by accounts.account_id

),

measured as (

    select
        accounts.*,
        key_event_lists.key_events,
        first_key_events.first_key_event_at,
        first_key_events.first_key_event,
        -- greatest() skips nulls on DuckDB and Spark: without a key event there is no duration.
        case
            when first_key_events.first_key_event_at is not null
                then greatest(
                    0.0,
                    {{ dbt.datediff('accounts.signup_at', 'first_key_events.first_key_event_at', 'second') }} / cast(86400 as double)  -- noqa: LT05
                )
        end as days_to_activation,
        accounts.signup_date >= usage_span.first_date as is_observed_from_signup,
        {{ dbt.dateadd('day', var('activation_window_days') - 1, 'accounts.signup_date') }} <= usage_span.last_date
            as is_window_over,
        coalesce(early_usage.events_days_0_14, 0) as events_days_0_14,
        coalesce(early_usage.events_days_15_29, 0) as events_days_15_29
    from accounts
    cross join usage_span
    left join key_event_lists
        on accounts.account_id = key_event_lists.account_id
    left join first_key_events
        on accounts.account_id = first_key_events.account_id
    left join early_usage
        on accounts.account_id = early_usage.account_id

),

final as (

    select
        account_id,
        signup_at,
        cast({{ dbt.date_trunc('month', 'signup_date') }} as date) as signup_month,
        plan_at_signup,
        key_events,
        first_key_event_at,
        first_key_event,
        cast(days_to_activation as double) as days_to_activation,
        case
            when not is_observed_from_signup then 'unknown'
            when days_to_activation <= {{ var('activation_window_days') }} then 'activated'
            when first_key_event_at is not null then 'late'
            when is_window_over then 'not_activated'
            else 'pending'
        end as activation_status,
        cast(events_days_0_14 as bigint) as events_days_0_14,
        cast(events_days_15_29 as bigint) as events_days_15_29,
        case
            when is_observed_from_signup and is_window_over and events_days_0_14 > 0
                then cast(cast(events_days_15_29 as double) / events_days_0_14 - 1 as double)
        end as early_engagement_change,
        coalesce(
            is_observed_from_signup and is_window_over and events_days_0_14 > 0
            and cast(events_days_15_29 as double) / events_days_0_14 - 1
            <= -{{ churn_rule_threshold('usage_decline') }},
            false
        ) as is_early_engagement_decline
    from measured

)

select * from final
