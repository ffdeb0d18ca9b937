{{ config(tags=['partitioned_mart']) }}

-- Save rate of the accounts that entered the high churn-risk tier, by whether they got a save call: one row per
-- month of entry (period_grain 'month') and one over every month (period_grain 'all', entry_month null), for
-- every entry (entry_reason 'any') and for those who had asked to cancel ('cancellation_requested': a save
-- desk's population, where whom to call depends least on other signals) or not ('other'). The
-- entries, calls and outcomes are those of int_high_risk_entries (its header has the rules); an entry counts in
-- the save rates only once its outcome is known (var('save_outcome_days') days after it are over).
--   save_rate = saved / entries with a known outcome, per group, with its 95% Wilson interval;
--   save_rate_difference = called - not called, with Newcombe's hybrid score interval (macros/proportions.sql).
-- An observational comparison: who gets called is not random (docs/metrics.md "Churn save rate").
-- Built with account_health (tag partitioned_mart), from whose tiers the entries come.
with

entries as (

    select * from {{ ref('int_high_risk_entries') }}

),

reasons as (

    select
        'any' as entry_reason,
        entries.*
    from entries

    union all

    select
        case when is_cancellation_requested then 'cancellation_requested' else 'other' end as entry_reason,
        entries.*
    from entries

),

grains as (

    select
        'month' as period_grain,
        reasons.entry_month as period_month,
        reasons.*
    from reasons

    union all

    select
        'all' as period_grain,
        cast(null as date) as period_month,
        reasons.*
    from reasons

),

counted as (

    select
        period_grain,
        period_month as entry_month,
        entry_reason,
        count(*) as entries,
        count(distinct account_id) as accounts,
        sum(case when is_called then 1 else 0 end) as called_entries,
        sum(case when is_outcome_known then 1 else 0 end) as entries_with_outcome,
        sum(case when is_called and is_outcome_known then 1 else 0 end) as called_with_outcome,
        sum(case when is_called and is_saved then 1 else 0 end) as called_saved,
        sum(case when not is_called and is_outcome_known then 1 else 0 end) as not_called_with_outcome,
        sum(case when not is_called and is_saved then 1 else 0 end) as not_called_saved,
        max(as_of_date) as as_of_date
    from grains
    group by period_grain, period_month, entry_reason

),

rates as (

    select
        *,
        case
            when called_with_outcome > 0 then cast(called_saved as double) / called_with_outcome
        end as called_save_rate,
        {{ wilson_low('called_saved', 'called_with_outcome') }} as called_save_rate_ci_low,
        {{ wilson_high('called_saved', 'called_with_outcome') }} as called_save_rate_ci_high,
        case
            when not_called_with_outcome > 0 then cast(not_called_saved as double) / not_called_with_outcome
        end as not_called_save_rate,
        {{ wilson_low('not_called_saved', 'not_called_with_outcome') }} as not_called_save_rate_ci_low,
        {{ wilson_high('not_called_saved', 'not_called_with_outcome') }} as not_called_save_rate_ci_high
    from counted

),

final as (

    select
        period_grain,
        entry_month,
        entry_reason,
        cast(entries as bigint) as entries,
        cast(accounts as bigint) as accounts,
        cast(called_entries as bigint) as called_entries,
        cast(entries_with_outcome as bigint) as entries_with_outcome,
        cast(entries_with_outcome = entries as boolean) as is_outcome_complete,
        cast(called_with_outcome as bigint) as called_with_outcome,
        cast(called_saved as bigint) as called_saved,
        cast(called_save_rate as double) as called_save_rate,
        called_save_rate_ci_low,
        called_save_rate_ci_high,
        cast(not_called_with_outcome as bigint) as not_called_with_outcome,
        cast(not_called_saved as bigint) as not_called_saved,
        cast(not_called_save_rate as double) as not_called_save_rate,
        not_called_save_rate_ci_low,
        not_called_save_rate_ci_high,
        cast(called_save_rate - not_called_save_rate as double) as save_rate_difference,
        {{ newcombe_difference_bound(
            'called_save_rate', 'called_save_rate_ci_low', 'called_save_rate_ci_high',
            'not_called_save_rate', 'not_called_save_rate_ci_low', 'not_called_save_rate_ci_high', '-'
        ) }} as save_rate_difference_ci_low,
        {{ newcombe_difference_bound(
            'called_save_rate', 'called_save_rate_ci_low', 'called_save_rate_ci_high',
            'not_called_save_rate', 'not_called_save_rate_ci_low', 'not_called_save_rate_ci_high', '+'
        ) }} as save_rate_difference_ci_high,
        as_of_date
    from rates

)

select * from final
