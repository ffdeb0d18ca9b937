-- Billing state of each account over time: one row per account and date on which any of its
-- subscriptions changed, valid until the next change (valid_to_date exclusive, null = still valid).
--   plan: plan of the account's primary live subscription (paying first, then highest MRR, then newest);
--         'none' when no subscription is live;
--   currency: billing currency of that primary subscription (null when none is live);
--   mrr_usd: sum of the MRR of its subscription versions valid on that date.
with

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

subscription_versions as (

    select * from {{ ref('int_subscription_versions_priced') }}

),

account_subscription_versions as (

    select
        stripe_customers.account_id,
        subscription_versions.*
    from subscription_versions
    inner join stripe_customers
        on subscription_versions.customer_id = stripe_customers.customer_id
    where
        stripe_customers.account_id is not null
        and not stripe_customers.is_deleted

),

change_dates as (

    select distinct
        account_id,
        valid_from_date
    from account_subscription_versions

),

change_periods as (

    select
        account_id,
        valid_from_date,
        lead(valid_from_date) over (
            partition by account_id
            order by valid_from_date
        ) as valid_to_date
    from change_dates

),

versions_in_effect as (

    select
        change_periods.account_id,
        change_periods.valid_from_date,
        change_periods.valid_to_date,
        account_subscription_versions.subscription_id,
        account_subscription_versions.plan,
        account_subscription_versions.currency,
        account_subscription_versions.is_live,
        account_subscription_versions.is_paying,
        account_subscription_versions.mrr_usd,
        account_subscription_versions.created_at
    from change_periods
    inner join account_subscription_versions
        on
            change_periods.account_id = account_subscription_versions.account_id
            and change_periods.valid_from_date >= account_subscription_versions.valid_from_date
            and (
                account_subscription_versions.valid_to_date is null
                or change_periods.valid_from_date < account_subscription_versions.valid_to_date
            )

),

primary_subscriptions_ranked as (

    select
        *,
        row_number() over (
            partition by account_id, valid_from_date
            order by is_paying desc, mrr_usd desc, created_at desc, subscription_id asc
        ) as subscription_rank
    from versions_in_effect
    where is_live

),

primary_subscriptions as (

    select * from primary_subscriptions_ranked
    where subscription_rank = 1

),

period_totals as (

    select
        account_id,
        valid_from_date,
        valid_to_date,
        sum(mrr_usd) as mrr_usd,
        count(case when is_live then 1 end) as live_subscriptions,
        count(case when is_paying then 1 end) as paying_subscriptions
    from versions_in_effect
    group by account_id, valid_from_date, valid_to_date

),

final as (

    select
        period_totals.account_id,
        period_totals.valid_from_date,
        period_totals.valid_to_date,
        coalesce(primary_subscriptions.plan, 'none') as plan,
        primary_subscriptions.currency,
        cast(period_totals.mrr_usd as double) as mrr_usd,
        {{ mrr_band('period_totals.mrr_usd') }} as mrr_band,
        period_totals.live_subscriptions,
        period_totals.paying_subscriptions
    from period_totals
    left join primary_subscriptions
        on
            period_totals.account_id = primary_subscriptions.account_id
            and period_totals.valid_from_date = primary_subscriptions.valid_from_date

)

select * from final
