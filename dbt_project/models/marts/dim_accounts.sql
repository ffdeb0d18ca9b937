{{ config(tags=['partitioned_mart']) }}

-- The unified customer profile: one row per account known to Stripe, as of the last day of data.
-- account_name is the Zendesk organization's name, else the earliest live Stripe customer's name.
-- Built with account_health (tag partitioned_mart), whose latest day it reads for the risk columns.
with

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

nps_history as (

    select * from {{ ref('int_account_nps_history') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

usage_weekly as (

    select * from {{ ref('int_account_usage_weekly') }}

),

account_health as (

    select * from {{ ref('account_health') }}

),

zendesk_organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

data_end as (

    select max(valid_from_date) as last_day
    from billing_history

),

current_billing as (

    select * from billing_history
    where valid_to_date is null

),

latest_nps as (

    select * from nps_history
    where response_rank = 1

),

latest_ces as (

    select
        account_id,
        score as latest_ces_score,
        response_date as latest_ces_date,
        row_number() over (partition by account_id order by responded_at desc, response_id desc) as ces_rank
    from survey_responses
    where survey_type = 'ces' and account_id is not null and score is not null

),

open_tickets as (

    select
        account_id,
        count(*) as open_tickets
    from tickets
    where account_id is not null and not is_nps_followup and status in ('new', 'open', 'pending', 'hold')
    group by account_id

),

latest_usage as (

    select
        account_id,
        usage_change_30d,
        row_number() over (partition by account_id order by week_start desc) as week_rank
    from usage_weekly

),

-- The account's name as support knows it: its Zendesk organization (external_id = account id), the most recently
-- updated one when several carry the same account id.
organization_names as (

    select
        account_id,
        organization_name,
        row_number() over (
            partition by account_id order by updated_at desc nulls last, organization_id desc
        ) as organization_rank
    from zendesk_organizations
    where account_id is not null and organization_name is not null

),

-- Else the name billing knows: the account's earliest live Stripe customer with a name.
customer_names as (

    select
        account_id,
        customer_name,
        row_number() over (partition by account_id order by created_at, customer_id) as customer_rank
    from stripe_customers
    where account_id is not null and customer_name is not null and not is_deleted

),

latest_health as (

    select
        account_id,
        as_of_date,
        risk_score,
        risk_tier,
        risk_drivers,
        revenue_at_risk_usd
    from account_health
    where as_of_date = (select max(latest.as_of_date) as last_day from account_health as latest)

),

final as (

    select
        billing_accounts.account_id,
        coalesce(organization_names.organization_name, customer_names.customer_name) as account_name,
        coalesce(current_billing.plan, 'none') as plan,
        billing_accounts.region,
        cast(coalesce(current_billing.mrr_usd, 0) as double) as mrr_usd,
        {{ mrr_band('coalesce(current_billing.mrr_usd, 0)') }} as mrr_band,
        coalesce(current_billing.mrr_usd, 0) > 0 as is_paying,
        billing_accounts.first_customer_created_at,
        cast(
            greatest(0, {{ full_months_between('billing_accounts.first_customer_created_at', 'data_end.last_day') }})
            as integer
        ) as tenure_months,
        cast(latest_nps.score as integer) as latest_nps_score,
        latest_nps.nps_category as latest_nps_category,
        latest_nps.response_date as latest_nps_date,
        cast(latest_nps.previous_score as integer) as previous_nps_score,
        cast(latest_ces.latest_ces_score as integer) as latest_ces_score,
        latest_ces.latest_ces_date,
        cast(coalesce(open_tickets.open_tickets, 0) as bigint) as open_tickets,
        cast(latest_usage.usage_change_30d as double) as usage_change_30d,
        coalesce(
            latest_usage.usage_change_30d <= -{{ churn_rule_threshold('usage_decline') }}, false
        ) as is_usage_declining,
        latest_health.risk_score,
        latest_health.risk_tier,
        latest_health.risk_drivers,
        latest_health.revenue_at_risk_usd
    from billing_accounts
    cross join data_end
    left join current_billing
        on billing_accounts.account_id = current_billing.account_id
    left join latest_nps
        on billing_accounts.account_id = latest_nps.account_id
    left join latest_ces
        on billing_accounts.account_id = latest_ces.account_id and latest_ces.ces_rank = 1
    left join open_tickets
        on billing_accounts.account_id = open_tickets.account_id
    left join latest_usage
        on billing_accounts.account_id = latest_usage.account_id and latest_usage.week_rank = 1
    left join latest_health
        on billing_accounts.account_id = latest_health.account_id
    left join organization_names
        on billing_accounts.account_id = organization_names.account_id and organization_names.organization_rank = 1
    left join customer_names
        on billing_accounts.account_id = customer_names.account_id and customer_names.customer_rank = 1

)

select * from final
