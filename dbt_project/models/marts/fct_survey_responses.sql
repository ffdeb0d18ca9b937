-- One row per survey response (NPS, CES, CSAT) from Typeform and the survey export, with the
-- account it was matched to and that account's attributes at response time. respondent_key: who answered, for NPS
-- answers with a 0-10 score only (macros/respondents.sql, var respondent_key_fields).
with

survey_responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

response_events as (

    select * from survey_events
    where event_type = 'response'

),

final as (

    select
        survey_responses.response_id,
        survey_responses.source,
        survey_responses.survey_type,
        survey_responses.survey_kind,
        survey_responses.score,
        survey_responses.nps_category,
        survey_responses.is_promoter,
        survey_responses.is_passive,
        survey_responses.is_detractor,
        survey_responses.ces_is_easy,
        survey_responses.comment,
        survey_responses.email,
        response_events.account_id,
        response_events.account_match_method,
        case
            when survey_responses.survey_type = 'nps' and survey_responses.nps_category is not null
                then {{ respondent_key(
                    email='survey_responses.email',
                    account_id='response_events.account_id',
                    response_id='survey_responses.response_id'
                ) }}
        end as respondent_key,
        survey_responses.ticket_id,
        survey_responses.channel,
        survey_responses.touchpoint,
        survey_responses.responded_at,
        survey_responses.response_date,
        response_events.plan,
        response_events.region,
        response_events.mrr_usd,
        response_events.mrr_band,
        response_events.tenure_months,
        response_events.tenure_band
    from survey_responses
    inner join response_events
        on survey_responses.response_id = response_events.event_id

)

select * from final
