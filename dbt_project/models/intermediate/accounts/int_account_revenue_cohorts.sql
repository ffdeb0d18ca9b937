-- Every account paying at the start of a month, what it paid then, what it paid 1, 3, 6 and 12 months later,
-- and what it had said about us then: the panel behind nps_revenue and the revenue-per-NPS-point estimate.
--   starting_mrr_usd: MRR on the last day of the month before (int_account_mrr_monthly.previous_mrr_usd) > 0;
--   plan, mrr_band: the account's billing state that day; region: from its Stripe customers;
--   tenure_months: full months from the account's first Stripe customer to month_start;
--   nps_score / nps_category: the account's latest NPS answer in the 365 days before month_start
--     (any contact); 'no_response' when there is none;
--   mrr_after_<h>m_usd: MRR on the last day of month_start + h - 1 months (h = 1, 3, 6, 12); null while that day
--     is after the last day of billing data, so a horizon is either observed in full or not at all.
--   churn_type_after_<h>m (h = 3, 6, 12): when mrr_after_<h>m_usd is 0, the churn type of the account's latest
--     churn month up to that day (int_account_mrr_monthly.churn_type: voluntary, involuntary, unknown); else null.
{%- set tenure = full_months_between('billing_accounts.first_customer_created_at', 'paying_at_start.month_start') %}
with

mrr_monthly as (

    select * from {{ ref('int_account_mrr_monthly') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

nps_history as (

    select * from {{ ref('int_account_nps_history') }}

),

as_of as (

    select max(valid_from_date) as as_of_date
    from billing_history

),

-- The latest churn month up to each month (churn_type is set on churn months only), and its churn type: an
-- account at MRR 0 at a horizon's end churned last in its latest churn month, whatever happened before.
latest_churn_months as (

    select
        account_id,
        month_start,
        max(case when churn_type is not null then month_start end) over (
            partition by account_id order by month_start rows between unbounded preceding and current row
        ) as latest_churn_month
    from mrr_monthly

),

latest_churn_types as (

    select
        latest_churn_months.account_id,
        latest_churn_months.month_start,
        churn_months.churn_type as latest_churn_type
    from latest_churn_months
    left join mrr_monthly as churn_months
        on
            latest_churn_months.account_id = churn_months.account_id
            and latest_churn_months.latest_churn_month = churn_months.month_start

),

with_later_mrr as (

    select
        mrr_monthly.account_id,
        mrr_monthly.month_start,
        mrr_monthly.previous_mrr_usd as starting_mrr_usd,
        mrr_monthly.mrr_usd as mrr_1m_usd,
        lead(mrr_monthly.mrr_usd, 2) over later_months as mrr_3m_usd,
        lead(mrr_monthly.mrr_usd, 5) over later_months as mrr_6m_usd,
        lead(mrr_monthly.mrr_usd, 11) over later_months as mrr_12m_usd,
        lead(latest_churn_types.latest_churn_type, 2) over later_months as churn_type_3m,
        lead(latest_churn_types.latest_churn_type, 5) over later_months as churn_type_6m,
        lead(latest_churn_types.latest_churn_type, 11) over later_months as churn_type_12m
    from mrr_monthly
    inner join latest_churn_types
        on
            mrr_monthly.account_id = latest_churn_types.account_id
            and mrr_monthly.month_start = latest_churn_types.month_start
    window later_months as (partition by mrr_monthly.account_id order by mrr_monthly.month_start)

),

paying_at_start as (

    select
        with_later_mrr.*,
        cast({{ dbt.dateadd('day', -1, 'with_later_mrr.month_start') }} as date) as start_state_date,
        -- The last day of each horizon: the cohort month's last day, and that of 2, 5 and 11 months later.
        cast({{ dbt.last_day(dbt.dateadd('month', 0, 'with_later_mrr.month_start'), 'month') }} as date)
            as end_1m,
        cast({{ dbt.last_day(dbt.dateadd('month', 2, 'with_later_mrr.month_start'), 'month') }} as date)
            as end_3m,
        cast({{ dbt.last_day(dbt.dateadd('month', 5, 'with_later_mrr.month_start'), 'month') }} as date)
            as end_6m,
        cast({{ dbt.last_day(dbt.dateadd('month', 11, 'with_later_mrr.month_start'), 'month') }} as date)
            as end_12m,
        as_of.as_of_date
    from with_later_mrr
    cross join as_of
    where with_later_mrr.starting_mrr_usd > 0

),

latest_nps_before_start as (

    select
        paying_at_start.account_id,
        paying_at_start.month_start,
        nps_history.score,
        nps_history.nps_category,
        nps_history.response_date,
        row_number() over (
            partition by paying_at_start.account_id, paying_at_start.month_start
            order by nps_history.responded_at desc, nps_history.response_id desc
        ) as answer_rank
    from paying_at_start
    inner join nps_history
        on
            paying_at_start.account_id = nps_history.account_id
            and paying_at_start.month_start > nps_history.response_date
            and nps_history.response_date >= {{ dbt.dateadd('day', -365, 'paying_at_start.month_start') }}

),

final as (

    select
        paying_at_start.account_id,
        paying_at_start.month_start,
        cast(paying_at_start.starting_mrr_usd as double) as starting_mrr_usd,
        coalesce(billing_history.plan, 'none') as plan,
        {{ mrr_band('paying_at_start.starting_mrr_usd') }} as mrr_band,
        coalesce(billing_accounts.region, 'unknown') as region,
        cast(
            greatest(
                0,
                {{ tenure }}
            ) as integer
        ) as tenure_months,
        {{ tenure_band('greatest(0, ' ~ tenure ~ ')') }} as tenure_band,
        cast(latest_nps_before_start.score as integer) as nps_score,
        coalesce(latest_nps_before_start.nps_category, 'no_response') as nps_category,
        latest_nps_before_start.response_date as nps_response_date,
        cast(
            case when paying_at_start.end_1m <= paying_at_start.as_of_date then paying_at_start.mrr_1m_usd end as double
        ) as mrr_after_1m_usd,
        cast(
            case when paying_at_start.end_3m <= paying_at_start.as_of_date then paying_at_start.mrr_3m_usd end as double
        ) as mrr_after_3m_usd,
        cast(
            case when paying_at_start.end_6m <= paying_at_start.as_of_date then paying_at_start.mrr_6m_usd end as double
        ) as mrr_after_6m_usd,
        cast(
            case
                when paying_at_start.end_12m <= paying_at_start.as_of_date then paying_at_start.mrr_12m_usd
            end as double
        ) as mrr_after_12m_usd,
        case
            when paying_at_start.end_3m <= paying_at_start.as_of_date and paying_at_start.mrr_3m_usd = 0
                then coalesce(paying_at_start.churn_type_3m, 'unknown')
        end as churn_type_after_3m,
        case
            when paying_at_start.end_6m <= paying_at_start.as_of_date and paying_at_start.mrr_6m_usd = 0
                then coalesce(paying_at_start.churn_type_6m, 'unknown')
        end as churn_type_after_6m,
        case
            when paying_at_start.end_12m <= paying_at_start.as_of_date and paying_at_start.mrr_12m_usd = 0
                then coalesce(paying_at_start.churn_type_12m, 'unknown')
        end as churn_type_after_12m
    from paying_at_start
    left join billing_history
        on
            paying_at_start.account_id = billing_history.account_id
            and paying_at_start.start_state_date >= billing_history.valid_from_date
            and (
                billing_history.valid_to_date is null
                or paying_at_start.start_state_date < billing_history.valid_to_date
            )
    left join billing_accounts
        on paying_at_start.account_id = billing_accounts.account_id
    left join latest_nps_before_start
        on
            paying_at_start.account_id = latest_nps_before_start.account_id
            and paying_at_start.month_start = latest_nps_before_start.month_start
            and latest_nps_before_start.answer_rank = 1

)

select * from final
