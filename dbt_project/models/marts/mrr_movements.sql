-- MRR movements per month, movement type and billing currency (docs/metrics.md "MRR movements"), in two bases:
--   month_end     the account's month-end MRR against the previous month's end (int_account_mrr_monthly): one
--                 movement per account and month at most, changes that cancel out inside a month are not counted;
--   every_change  every day the account's MRR changed (int_account_billing_historized), classified against the
--                 day before, as ChartMogul counts them: an account paying from the 3rd to the 20th shows new and
--                 churn in that month. Changes on the same day are netted (the landing files are daily).
-- Movement types (ChartMogul's): new (0 -> positive, never paid before), reactivation (0 -> positive, paid on an
-- earlier day), expansion (up), contraction (down, still paying), churn (to 0). currency: the billing currency of the
-- MRR that moved (of the account's primary subscription after the change, or before it for churn); amounts in USD
-- (fx_rates seed). movement_usd is signed: a month's rows of one basis add up to its net change in MRR.
with

mrr_monthly as (

    select * from {{ ref('int_account_mrr_monthly') }}
    where movement != 'none'

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

account_changes as (

    select
        account_id,
        valid_from_date as changed_on,
        mrr_usd,
        currency,
        coalesce(lag(mrr_usd) over (partition by account_id order by valid_from_date), 0) as previous_mrr_usd,
        lag(currency) over (partition by account_id order by valid_from_date) as previous_currency,
        coalesce(
            max(mrr_usd) over (
                partition by account_id order by valid_from_date rows between unbounded preceding and 1 preceding
            ),
            0
        ) as highest_earlier_mrr_usd
    from billing_history

),

change_movements as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'changed_on') }} as date) as month_start,
        case
            when previous_mrr_usd = 0 and highest_earlier_mrr_usd > 0 then 'reactivation'
            when previous_mrr_usd = 0 then 'new'
            when mrr_usd = 0 then 'churn'
            when mrr_usd > previous_mrr_usd then 'expansion'
            else 'contraction'
        end as movement,
        case when mrr_usd > 0 then currency else previous_currency end as currency,
        mrr_usd - previous_mrr_usd as movement_usd
    from account_changes
    where mrr_usd != previous_mrr_usd

),

movements_unioned as (

    select
        month_start,
        'month_end' as movement_basis,
        movement,
        currency,
        account_id,
        movement_usd
    from mrr_monthly
    union all
    select
        month_start,
        'every_change' as movement_basis,
        movement,
        currency,
        account_id,
        movement_usd
    from change_movements

),

final as (

    select
        cast(month_start as date) as month_start,
        cast(movement_basis as {{ dbt.type_string() }}) as movement_basis,
        cast(movement as {{ dbt.type_string() }}) as movement,
        cast(coalesce(currency, 'unknown') as {{ dbt.type_string() }}) as currency,
        cast(count(distinct account_id) as bigint) as accounts,
        cast(count(*) as bigint) as movements,
        cast(round(sum(movement_usd), 2) as double) as movement_usd
    from movements_unioned
    group by month_start, movement_basis, movement, coalesce(currency, 'unknown')

)

select * from final
