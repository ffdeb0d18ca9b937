-- The whole survey program in one row (all time). The CLI prints this. Metric definitions: macros/nps.sql.
with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

nps_totals as (

    select
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors
    from survey_responses
    where
        survey_type = 'nps'
        and nps_category is not null

),

nps_send_totals as (

    select count(*) as nps_sends
    from survey_events
    where
        event_type = 'send'
        and survey_type = 'nps'

),

ces_totals as (

    select
        count(*) as ces_responses,
        avg(cast(score as double)) as ces_mean
    from survey_responses
    where
        survey_type = 'ces'
        and score is not null

),

all_response_totals as (

    select
        count(case when account_id is null then 1 end) as unmatched_responses,
        min(response_date) as first_response_date,
        max(response_date) as last_response_date
    from survey_responses

),

final as (

    select
        cast(nps_totals.responses as bigint) as responses,
        cast(nps_totals.promoters as bigint) as promoters,
        cast(nps_totals.passives as bigint) as passives,
        cast(nps_totals.detractors as bigint) as detractors,
        {{ nps('nps_totals.promoters', 'nps_totals.detractors', 'nps_totals.responses') }} as nps,
        {{ nps_ci_low('nps_totals.promoters', 'nps_totals.detractors', 'nps_totals.responses') }} as nps_ci_low,
        {{ nps_ci_high('nps_totals.promoters', 'nps_totals.detractors', 'nps_totals.responses') }} as nps_ci_high,
        cast(nps_send_totals.nps_sends as bigint) as nps_sends,
        case
            when nps_send_totals.nps_sends > 0
                then cast(nps_totals.responses as double) / nps_send_totals.nps_sends
        end as response_rate,
        cast(ces_totals.ces_responses as bigint) as ces_responses,
        cast(ces_totals.ces_mean as double) as ces_mean,
        cast(all_response_totals.unmatched_responses as bigint) as unmatched_responses,
        cast(all_response_totals.first_response_date as date) as first_response_date,
        cast(all_response_totals.last_response_date as date) as last_response_date
    from nps_totals
    cross join nps_send_totals
    cross join ces_totals
    cross join all_response_totals

)

select * from final
