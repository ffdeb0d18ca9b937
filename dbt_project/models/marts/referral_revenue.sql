-- Revenue from referrals: one row per month and NPS category of the referrer (promoter, passive, detractor,
-- no_answer), from every month of int_account_mrr_monthly.
--   A referred account: an account whose Stripe customer names a referrer in its metadata (stg_stripe__customers
--   .referred_by, key var('stripe_referred_by_metadata_key')): the referrer's account id, or its Stripe customer
--   id (cus_..., read as that customer's account). Where several customers of the account name one, the
--   earliest-created customer's counts; an account naming itself is no referral. referred_at: that customer's
--   creation (when Stripe learnt of the customer).
--   referrer_nps_category: the category of the referrer's latest NPS answer at or before referred_at
--   (int_account_nps_history); 'no_answer' when it had none (or the referrer is not an account we know).
--   referred_accounts / referral_mrr_usd: referred accounts paying at the month's end and their MRR (USD, net of
--   discounts, int_account_mrr_monthly); new_referred_accounts: those referred in the month;
--   share_of_mrr: referral_mrr_usd / the MRR of every account at the month's end (USD to the cent, the share to
--   6 decimals).
with

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

mrr_monthly as (

    select * from {{ ref('int_account_mrr_monthly') }}

),

nps_history as (

    select * from {{ ref('int_account_nps_history') }}

),

referring_customers as (

    select
        referred.account_id,
        referred.created_at as referred_at,
        referred.customer_id,
        case
            when substr(referred.referred_by, 1, 4) = 'cus_' then referrer_customers.account_id
            else referred.referred_by
        end as referrer_account_id
    from stripe_customers as referred
    left join stripe_customers as referrer_customers
        on referred.referred_by = referrer_customers.customer_id
    where
        referred.referred_by is not null
        and referred.account_id is not null
        and not referred.is_deleted

),

referrals as (

    select
        account_id,
        referred_at,
        referrer_account_id
    from (
        select
            *,
            row_number() over (partition by account_id order by referred_at, customer_id) as customer_rank
        from referring_customers
        where referrer_account_id is null or referrer_account_id != account_id
    ) as ranked
    where customer_rank = 1

),

referrer_answers as (

    select
        referrals.account_id,
        nps_history.nps_category,
        row_number() over (
            partition by referrals.account_id
            order by nps_history.responded_at desc, nps_history.response_id desc
        ) as answer_rank
    from referrals
    inner join nps_history
        on
            referrals.referrer_account_id = nps_history.account_id
            and referrals.referred_at >= nps_history.responded_at

),

categorised as (

    select
        referrals.account_id,
        cast({{ dbt.date_trunc('month', 'referrals.referred_at') }} as date) as referred_month,
        coalesce(referrer_answers.nps_category, 'no_answer') as referrer_nps_category
    from referrals
    left join referrer_answers
        on referrals.account_id = referrer_answers.account_id and referrer_answers.answer_rank = 1

),

months as (

    select
        month_start,
        -- USD to the cent: a sum of doubles depends on the order it is taken in (a re-run, another engine) in
        -- its last bits.
        round(cast(sum(mrr_usd) as double), 2) as total_mrr_usd
    from mrr_monthly
    group by month_start

),

categories as (

    select 'promoter' as referrer_nps_category
    union all
    select 'passive' as referrer_nps_category
    union all
    select 'detractor' as referrer_nps_category
    union all
    select 'no_answer' as referrer_nps_category

),

referred_months as (

    select
        mrr_monthly.month_start,
        categorised.referrer_nps_category,
        count(distinct case when mrr_monthly.mrr_usd > 0 then mrr_monthly.account_id end) as referred_accounts,
        round(cast(sum(mrr_monthly.mrr_usd) as double), 2) as referral_mrr_usd
    from mrr_monthly
    inner join categorised
        on mrr_monthly.account_id = categorised.account_id
    group by mrr_monthly.month_start, categorised.referrer_nps_category

),

new_referrals as (

    select
        referred_month,
        referrer_nps_category,
        count(*) as new_referred_accounts
    from categorised
    group by referred_month, referrer_nps_category

),

final as (

    select
        months.month_start,
        categories.referrer_nps_category,
        cast(coalesce(new_referrals.new_referred_accounts, 0) as bigint) as new_referred_accounts,
        cast(coalesce(referred_months.referred_accounts, 0) as bigint) as referred_accounts,
        -- The share to 6 decimals, from the sums rounded to the cent (months, referred_months).
        coalesce(referred_months.referral_mrr_usd, 0) as referral_mrr_usd,
        months.total_mrr_usd,
        round(
            case
                when months.total_mrr_usd > 0
                    then coalesce(referred_months.referral_mrr_usd, 0) / months.total_mrr_usd
            end,
            6
        ) as share_of_mrr
    from months
    cross join categories
    left join referred_months
        on
            months.month_start = referred_months.month_start
            and categories.referrer_nps_category = referred_months.referrer_nps_category
    left join new_referrals
        on
            months.month_start = new_referrals.referred_month
            and categories.referrer_nps_category = new_referrals.referrer_nps_category

)

select * from final
