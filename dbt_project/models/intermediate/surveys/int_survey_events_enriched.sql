-- Survey responses and sends with the account's attributes at the time of the event (UTC date):
--   plan, mrr_usd, mrr_band from the billing state valid on that date;
--   region from the account's Stripe customer country;
--   tenure_months: full months from the account's first Stripe customer creation (0 if the event came first).
-- Unknown rule: when the account is unknown (unmatched) or has no Stripe customer, or the event has no
-- time, plan/region/tenure_band/mrr_band are 'unknown' and mrr_usd/tenure_months null. An account known
-- to Stripe with no live subscription at that time has plan 'none', mrr_usd 0 and mrr_band '0'.
with

survey_events as (

    select * from {{ ref('int_survey_events_resolved') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

account_billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

events_with_billing_account as (

    select
        survey_events.*,
        billing_accounts.region,
        billing_accounts.first_customer_created_at,
        (billing_accounts.account_id is not null and survey_events.event_at is not null) as has_billing_context
    from survey_events
    left join billing_accounts
        on survey_events.account_id = billing_accounts.account_id

),

events_with_billing_state as (

    select
        events_with_billing_account.*,
        account_billing_history.plan as billing_plan,
        account_billing_history.mrr_usd as billing_mrr_usd
    from events_with_billing_account
    left join account_billing_history
        on
            events_with_billing_account.account_id = account_billing_history.account_id
            and account_billing_history.valid_from_date <= cast(events_with_billing_account.event_at as date)
            and (
                account_billing_history.valid_to_date is null
                or account_billing_history.valid_to_date > cast(events_with_billing_account.event_at as date)
            )

),

attributes_at_event as (

    select
        *,
        case
            when has_billing_context then coalesce(billing_mrr_usd, 0)
        end as mrr_usd,
        case
            when has_billing_context
                then greatest(0, {{ full_months_between('first_customer_created_at', 'event_at') }})
        end as tenure_months
    from events_with_billing_state

),

final as (

    select
        event_type,
        event_id,
        survey_type,
        survey_kind,
        channel,
        touchpoint,
        email,
        event_at,
        account_id,
        account_match_method,
        case
            when has_billing_context then coalesce(billing_plan, 'none')
            else 'unknown'
        end as plan,
        case
            when has_billing_context then region
            else 'unknown'
        end as region,
        cast(mrr_usd as double) as mrr_usd,
        {{ mrr_band('mrr_usd') }} as mrr_band,
        cast(tenure_months as integer) as tenure_months,
        {{ tenure_band('tenure_months') }} as tenure_band
    from attributes_at_event

)

select * from final
