-- MRR of each account at the end of each month, its movement from the month before, and refunds.
--   mrr_usd: the account's MRR in effect on the month's last day (or on the as-of date for the current month),
--            from int_account_billing_historized; 0 when nothing is paying.
--   movement (ChartMogul definitions), comparing with the previous month's mrr_usd:
--     new           0 -> positive, and the account never paid before this month;
--     reactivation  0 -> positive, and the account paid on any day before this month (its MRR was positive that
--                   day in int_account_billing_historized), even if never at a month's end (paid from the 3rd to
--                   the 20th of an earlier month: that return is a reactivation, not new);
--     expansion     positive -> higher;   contraction  positive -> lower but positive;
--     churn         positive -> 0;        none         unchanged.
--   movement_usd: mrr_usd - previous_mrr_usd. Month-end net changes: changes inside a month that cancel out by its
--            end are not movements (docs/metrics.md "MRR movements").
--   currency: billing currency of the MRR that moved: that of the account's primary subscription at the month's end
--            when it pays then, else at the previous month's end (a churn row carries the currency it lost).
--   churn_type (churn rows only): voluntary / involuntary / unknown, of the subscription that took the most MRR
--            among those that stopped paying that month (int_subscription_churn_events); unknown without one.
--   refunds_usd: amount refunded on the account's charges created that month, in USD.
-- Months run from the account's first billing change to the month of the as-of date, the latest date any
-- billing record was seen; results do not depend on the day the model is built.
with

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

churn_events as (

    select * from {{ ref('int_subscription_churn_events') }}
    where account_id is not null

),

as_of as (

    select max(valid_from_date) as as_of_date
    from billing_history

),

account_first_months as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'min(valid_from_date)') }} as date) as first_month
    from billing_history
    group by account_id

),

account_first_paying_dates as (

    select
        account_id,
        min(valid_from_date) as first_paying_date
    from billing_history
    where mrr_usd > 0
    group by account_id

),

months as (

    {{ period_starts(
        'month', '(select min(first_month) from account_first_months)', '(select as_of_date from as_of)'
    ) }}

),

account_months as (

    select
        account_first_months.account_id,
        months.period_start as month_start,
        least(cast({{ dbt.last_day('months.period_start', 'month') }} as date), as_of.as_of_date) as measured_on
    from account_first_months
    cross join as_of
    inner join months
        on account_first_months.first_month <= months.period_start

),

month_end_mrr as (

    select
        account_months.account_id,
        account_months.month_start,
        coalesce(billing_history.mrr_usd, 0) as mrr_usd,
        billing_history.currency
    from account_months
    left join billing_history
        on
            account_months.account_id = billing_history.account_id
            and account_months.measured_on >= billing_history.valid_from_date
            and (billing_history.valid_to_date is null or account_months.measured_on < billing_history.valid_to_date)

),

refunds as (

    select
        stripe_customers.account_id,
        cast({{ dbt.date_trunc('month', 'charges.created_at') }} as date) as month_start,
        sum(charges.amount_refunded * fx_rates.usd_per_unit) as refunds_usd,
        count(case when charges.amount_refunded > 0 then 1 end) as refunded_charges
    from charges
    inner join stripe_customers
        on charges.customer_id = stripe_customers.customer_id
    left join fx_rates
        on charges.currency = fx_rates.currency
    where stripe_customers.account_id is not null
    group by stripe_customers.account_id, cast({{ dbt.date_trunc('month', 'charges.created_at') }} as date)

),

month_churn_types_ranked as (

    select
        account_months.account_id,
        account_months.month_start,
        churn_events.churn_type,
        row_number() over (
            partition by account_months.account_id, account_months.month_start
            order by churn_events.mrr_lost_usd desc, churn_events.churn_type asc, churn_events.subscription_id asc
        ) as churn_rank
    from account_months
    inner join churn_events
        on
            account_months.account_id = churn_events.account_id
            and account_months.month_start <= churn_events.stopped_on
            and account_months.measured_on >= churn_events.stopped_on

),

month_churn_types as (

    select * from month_churn_types_ranked
    where churn_rank = 1

),

with_previous as (

    select
        *,
        coalesce(lag(mrr_usd) over (partition by account_id order by month_start), 0) as previous_mrr_usd,
        lag(currency) over (partition by account_id order by month_start) as previous_currency
    from month_end_mrr

),

final as (

    select
        with_previous.account_id,
        with_previous.month_start,
        with_previous.mrr_usd,
        with_previous.previous_mrr_usd,
        with_previous.mrr_usd - with_previous.previous_mrr_usd as movement_usd,
        case
            when with_previous.previous_mrr_usd = 0 and with_previous.mrr_usd > 0
                then
                    case
                        when account_first_paying_dates.first_paying_date < with_previous.month_start
                            then 'reactivation'
                        else 'new'
                    end
            when with_previous.previous_mrr_usd > 0 and with_previous.mrr_usd = 0 then 'churn'
            when with_previous.mrr_usd > with_previous.previous_mrr_usd then 'expansion'
            when with_previous.mrr_usd < with_previous.previous_mrr_usd then 'contraction'
            else 'none'
        end as movement,
        case
            when with_previous.previous_mrr_usd > 0 and with_previous.mrr_usd = 0
                then coalesce(month_churn_types.churn_type, 'unknown')
        end as churn_type,
        case
            when with_previous.mrr_usd > 0 then with_previous.currency
            when with_previous.previous_mrr_usd > 0 then with_previous.previous_currency
        end as currency,
        coalesce(refunds.refunds_usd, 0) as refunds_usd,
        coalesce(refunds.refunded_charges, 0) as refunded_charges
    from with_previous
    left join account_first_paying_dates
        on with_previous.account_id = account_first_paying_dates.account_id
    left join refunds
        on
            with_previous.account_id = refunds.account_id
            and with_previous.month_start = refunds.month_start
    left join month_churn_types
        on
            with_previous.account_id = month_churn_types.account_id
            and with_previous.month_start = month_churn_types.month_start

)

select * from final
