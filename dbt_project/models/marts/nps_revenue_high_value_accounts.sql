{{ config(tags=['partitioned_mart']) }}

-- The revenue most exposed to poor sentiment: paying accounts in the top MRR decile whose latest NPS answer
-- (any contact, in the 365 days before the last day of data) is passive or detractor, largest MRR first.
-- Built with dim_accounts (tag partitioned_mart), whose profile and risk columns it reads.
with

accounts as (

    select * from {{ ref('dim_accounts') }}

),

nps_history as (

    select * from {{ ref('int_account_nps_history') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

data_end as (

    select max(valid_from_date) as last_day
    from billing_history

),

paying_ranked as (

    select
        *,
        percent_rank() over (order by mrr_usd) as mrr_percent_rank
    from accounts
    where is_paying

),

latest_answers as (

    select
        nps_history.account_id,
        nps_history.response_id,
        survey_responses.comment
    from nps_history
    inner join survey_responses
        on nps_history.response_id = survey_responses.response_id
    where nps_history.response_rank = 1

),

final as (

    select
        paying_ranked.account_id,
        paying_ranked.plan,
        paying_ranked.region,
        paying_ranked.tenure_months,
        paying_ranked.mrr_usd,
        cast(paying_ranked.mrr_usd * 12 as double) as arr_usd,
        cast(paying_ranked.mrr_percent_rank as double) as mrr_percent_rank,
        paying_ranked.latest_nps_score,
        paying_ranked.latest_nps_category,
        paying_ranked.latest_nps_date,
        latest_answers.comment as latest_nps_comment,
        paying_ranked.previous_nps_score,
        paying_ranked.usage_change_30d,
        paying_ranked.open_tickets,
        paying_ranked.risk_score,
        paying_ranked.risk_tier,
        paying_ranked.risk_drivers,
        paying_ranked.revenue_at_risk_usd
    from paying_ranked
    cross join data_end
    left join latest_answers
        on paying_ranked.account_id = latest_answers.account_id
    where
        paying_ranked.mrr_percent_rank >= 0.9
        and paying_ranked.latest_nps_category in ('passive', 'detractor')
        and paying_ranked.latest_nps_date >= {{ dbt.dateadd('day', -365, 'data_end.last_day') }}

)

select * from final
