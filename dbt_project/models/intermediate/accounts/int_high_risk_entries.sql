{{ config(tags=['partitioned_mart']) }}

-- Each time an account entered the high churn-risk tier, whether it got a save call, and whether it still paid
-- var('save_outcome_days') days later (churn_save_rate aggregates these rows).
--   entered_date: a day the account is high in account_health while it was not high (or not scored: not paying)
--                 the day before; the first day account_health holds is no entry (what came before is unknown).
--                 An account that leaves the tier and comes back enters again: one row per entry.
--   is_cancellation_requested: the account had asked to cancel a subscription that still pays on the entry day
--                 (account_health.cancellation_requested), the population of a save desk.
--   a save call: a Zendesk ticket of the account (its organization's external_id) whose via channel is one of
--                var('save_call_channels') or that has a tag of var('save_call_tags'), created from the day after
--                the entry to var('save_call_window_days') days after it, and before the account's next entry (a
--                call belongs to the latest entry before it). A call on the entry day itself is not counted: the
--                tier of a day is known once the day's data is in, so a call that day was not made because of it.
--   is_saved: MRR > 0 (int_account_billing_historized) on entered_date + var('save_outcome_days'); null until that
--             day is on or before the as-of date (the last day of account_health).
-- Built with account_health (tag partitioned_mart), whose tiers it reads.
with

account_health as (

    select * from {{ ref('account_health') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

span as (

    select
        min(as_of_date) as first_date,
        max(as_of_date) as as_of_date
    from account_health

),

tiers_with_previous as (

    select
        account_id,
        as_of_date,
        risk_tier,
        cancellation_requested,
        lag(as_of_date) over (partition by account_id order by as_of_date) as previous_date,
        lag(risk_tier) over (partition by account_id order by as_of_date) as previous_tier
    from account_health

),

entries as (

    select
        tiers_with_previous.account_id,
        tiers_with_previous.as_of_date as entered_date,
        coalesce(tiers_with_previous.cancellation_requested, 0) >= 1 as is_cancellation_requested
    from tiers_with_previous
    cross join span
    where
        tiers_with_previous.risk_tier = 'high'
        and tiers_with_previous.as_of_date > span.first_date
        and (
            tiers_with_previous.previous_tier is null
            or tiers_with_previous.previous_tier != 'high'
            or tiers_with_previous.previous_date
            < cast({{ dbt.dateadd('day', -1, 'tiers_with_previous.as_of_date') }} as date)
        )

),

entries_with_next as (

    select
        account_id,
        entered_date,
        is_cancellation_requested,
        lead(entered_date) over (partition by account_id order by entered_date) as next_entered_date,
        cast({{ dbt.dateadd('day', var('save_call_window_days'), 'entered_date') }} as date) as call_window_end_date,
        cast({{ dbt.dateadd('day', var('save_outcome_days'), 'entered_date') }} as date) as outcome_date
    from entries

),

calls as (

    select
        organizations.account_id,
        tickets.ticket_id,
        cast(tickets.created_at as date) as call_date
    from tickets
    inner join organizations
        on tickets.organization_id = organizations.organization_id
    where
        organizations.account_id is not null
        and (
            tickets.channel in ({{ sql_string_list(var('save_call_channels')) }})
            or {{ list_has_any_of('tickets.tags', var('save_call_tags')) }}
        )

),

entry_calls as (

    select
        entries_with_next.account_id,
        entries_with_next.entered_date,
        min(calls.call_date) as first_call_date,
        count(calls.ticket_id) as calls
    from entries_with_next
    inner join calls
        on
            entries_with_next.account_id = calls.account_id
            and entries_with_next.entered_date < calls.call_date
            and entries_with_next.call_window_end_date >= calls.call_date
            and (
                entries_with_next.next_entered_date is null
                or entries_with_next.next_entered_date >= calls.call_date
            )
    group by entries_with_next.account_id, entries_with_next.entered_date

),

outcomes as (

    select
        entries_with_next.account_id,
        entries_with_next.entered_date,
        coalesce(max(billing_history.mrr_usd), 0) as outcome_mrr_usd
    from entries_with_next
    left join billing_history
        on
            entries_with_next.account_id = billing_history.account_id
            and entries_with_next.outcome_date >= billing_history.valid_from_date
            and (
                billing_history.valid_to_date is null
                or entries_with_next.outcome_date < billing_history.valid_to_date
            )
    group by entries_with_next.account_id, entries_with_next.entered_date

),

final as (

    select
        entries_with_next.account_id,
        entries_with_next.entered_date,
        cast({{ dbt.date_trunc('month', 'entries_with_next.entered_date') }} as date) as entry_month,
        entries_with_next.is_cancellation_requested,
        entries_with_next.next_entered_date,
        entry_calls.first_call_date,
        coalesce(entry_calls.calls, 0) as calls,
        entry_calls.first_call_date is not null as is_called,
        entries_with_next.outcome_date,
        entries_with_next.outcome_date <= span.as_of_date as is_outcome_known,
        case
            when entries_with_next.outcome_date <= span.as_of_date then outcomes.outcome_mrr_usd > 0
        end as is_saved,
        span.as_of_date
    from entries_with_next
    cross join span
    left join entry_calls
        on
            entries_with_next.account_id = entry_calls.account_id
            and entries_with_next.entered_date = entry_calls.entered_date
    left join outcomes
        on
            entries_with_next.account_id = outcomes.account_id
            and entries_with_next.entered_date = outcomes.entered_date

)

select * from final
