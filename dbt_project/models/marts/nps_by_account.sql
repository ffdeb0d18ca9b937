-- NPS per account and UTC calendar quarter, over the account's contacts (docs/metrics.md "Account NPS").
-- A contact is a respondent (fct_survey_responses.respondent_key, macros/respondents.sql) with an NPS answer tied to
-- the account in the quarter; each contact counts once, by their latest answer there (ties: the greatest
-- response_id). account_nps = 100 * (promoter contacts - detractor contacts) / contacts. plan, mrr_usd and mrr_band
-- are the account's at the quarter's last day, or at the latest billing day for a quarter that ends after it (as
-- int_account_mrr_monthly measures a month); 'unknown' plan and MRR 0 for an account Stripe does not know.
-- One row per account and quarter with at least one NPS answer; answers without an account are left out.
with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

billing_as_of as (

    select max(valid_from_date) as as_of_date
    from billing_history

),

account_answers as (

    select
        account_id,
        respondent_key,
        response_id,
        responded_at,
        is_promoter,
        is_passive,
        is_detractor,
        cast({{ dbt.date_trunc('quarter', 'responded_at') }} as date) as quarter_start
    from survey_responses
    where
        survey_type = 'nps'
        and nps_category is not null
        and responded_at is not null
        and account_id is not null

),

answers_ranked as (

    select
        *,
        row_number() over (
            partition by account_id, quarter_start, respondent_key
            order by responded_at desc, response_id desc
        ) as contact_answer_rank
    from account_answers

),

account_quarters as (

    select
        account_id,
        quarter_start,
        count(*) as responses,
        count(case when contact_answer_rank = 1 then 1 end) as contacts,
        count(case when contact_answer_rank = 1 and is_promoter then 1 end) as promoters,
        count(case when contact_answer_rank = 1 and is_passive then 1 end) as passives,
        count(case when contact_answer_rank = 1 and is_detractor then 1 end) as detractors
    from answers_ranked
    group by account_id, quarter_start

),

measured as (

    select
        account_quarters.*,
        {{ period_end("'quarter'", 'account_quarters.quarter_start') }} as quarter_end,
        least({{ period_end("'quarter'", 'account_quarters.quarter_start') }}, billing_as_of.as_of_date)
            as mrr_measured_on
    from account_quarters
    cross join billing_as_of

),

with_billing as (

    select
        measured.*,
        billing_history.plan,
        billing_history.mrr_usd,
        billing_accounts.account_id is not null as is_known_to_billing,
        billing_accounts.region
    from measured
    left join billing_accounts
        on measured.account_id = billing_accounts.account_id
    left join billing_history
        on
            measured.account_id = billing_history.account_id
            and measured.mrr_measured_on >= billing_history.valid_from_date
            and (billing_history.valid_to_date is null or measured.mrr_measured_on < billing_history.valid_to_date)

),

final as (

    select
        cast(account_id as string) as account_id,
        cast(quarter_start as date) as quarter_start,
        cast(quarter_end as date) as quarter_end,
        {{ is_complete_period("'quarter'", 'quarter_start', 'survey_responses') }} as is_complete_period,
        cast(responses as bigint) as responses,
        cast(contacts as bigint) as contacts,
        cast(promoters as bigint) as promoters,
        cast(passives as bigint) as passives,
        cast(detractors as bigint) as detractors,
        {{ nps('promoters', 'detractors', 'contacts') }} as account_nps,
        cast(case when is_known_to_billing then coalesce(plan, 'none') else 'unknown' end as string) as plan,
        cast(coalesce(region, 'unknown') as string) as region,
        cast(mrr_measured_on as date) as mrr_measured_on,
        cast(coalesce(mrr_usd, 0) as double) as mrr_usd,
        case
            when is_known_to_billing then {{ mrr_band('coalesce(mrr_usd, 0)') }} else 'unknown'
        end as mrr_band
    from with_billing

)

select * from final
