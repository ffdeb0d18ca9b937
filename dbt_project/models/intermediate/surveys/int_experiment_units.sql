-- The units of the experiments of seed experiments, one row per experiment and unit (docs/metrics.md,
-- "Experiments"); marts.experiment_results (analytics/experiment_results.py) compares their variants.
--   send experiments: every NPS send whose variant (the sends file's `variant` column) is a variant of the seed.
--     Answered: the same respondent (macros/respondents.sql) gives an NPS answer (0-10) at or after the send,
--     before the next NPS send to them and within var('nonresponse_window_days'): the rule of nps_nonresponse.
--   followup_case experiments: every NPS detractor response of closed_loop with a follow-up ticket that carries
--     the tag 'nps_variant_<variant>' of a variant of the seed (outbound/experiments.py writes it). Read from the
--     Zendesk tickets landing, not from our ledger: a case created by hand with the tag counts too. Outcome: the
--     respondent's own next NPS answer (fct_survey_responses.respondent_key, as followup_effect), recovered when
--     it is passive or promoter (7-10); null while there is none.
-- A ticket tagged with two variants of one experiment gives two rows (warned by a data test).
with

experiments as (

    select * from {{ ref('experiments') }}

),

survey_sends as (

    select * from {{ ref('stg_surveys__sends') }}

),

survey_events as (

    select * from {{ ref('int_survey_events_resolved') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

closed_loop as (

    select * from {{ ref('closed_loop') }}

),

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

nps_answers as (

    select
        response_id,
        respondent_key,
        responded_at,
        score,
        lead(response_id) over by_respondent as next_response_id,
        lead(score) over by_respondent as next_score
    from survey_responses
    where survey_type = 'nps' and respondent_key is not null and responded_at is not null
    window by_respondent as (partition by respondent_key order by responded_at, response_id)

),

nps_sends as (

    select
        survey_events.event_id as send_id,
        survey_events.event_at as sent_at,
        survey_events.account_id,
        survey_sends.variant,
        {{ respondent_key(email='survey_events.email', account_id='survey_events.account_id',
            response_id='survey_events.event_id') }} as respondent_key
    from survey_events
    inner join survey_sends
        on survey_events.event_id = survey_sends.send_id
    where
        survey_events.event_type = 'send'
        and survey_events.survey_type = 'nps'
        and survey_events.event_at is not null

),

sends_windowed as (

    select
        *,
        lead(sent_at) over (partition by respondent_key order by sent_at, send_id) as next_sent_at
    from nps_sends

),

send_answers as (

    select
        sends_windowed.send_id,
        min(nps_answers.response_id) as response_id
    from sends_windowed
    inner join nps_answers
        on
            sends_windowed.respondent_key = nps_answers.respondent_key
            and sends_windowed.sent_at <= nps_answers.responded_at
            and nps_answers.responded_at
            < {{ dbt.dateadd('day', var('nonresponse_window_days'), 'sends_windowed.sent_at') }}
            and (sends_windowed.next_sent_at is null or sends_windowed.next_sent_at > nps_answers.responded_at)
    group by sends_windowed.send_id

),

send_units as (

    select
        experiments.experiment,
        experiments.applies_to,
        experiments.variant,
        experiments.is_control,
        sends_windowed.send_id as unit_id,
        sends_windowed.sent_at as unit_at,
        sends_windowed.account_id,
        sends_windowed.respondent_key,
        send_answers.response_id is not null as is_answered,
        send_answers.response_id,
        cast(null as {{ dbt.type_bigint() }}) as followup_ticket_id,
        cast(null as double) as hours_to_first_outreach,
        cast(null as {{ dbt.type_string() }}) as next_response_id,
        cast(null as integer) as next_score
    from sends_windowed
    inner join experiments
        on sends_windowed.variant = experiments.variant and experiments.applies_to = 'send'
    left join send_answers
        on sends_windowed.send_id = send_answers.send_id

),

case_units as (

    select
        experiments.experiment,
        experiments.applies_to,
        experiments.variant,
        experiments.is_control,
        closed_loop.response_id as unit_id,
        closed_loop.responded_at as unit_at,
        closed_loop.account_id,
        nps_answers.respondent_key,
        cast(null as boolean) as is_answered,
        closed_loop.response_id,
        closed_loop.followup_ticket_id,
        closed_loop.hours_to_first_outreach,
        nps_answers.next_response_id,
        cast(nps_answers.next_score as integer) as next_score
    from closed_loop
    inner join tickets
        on closed_loop.followup_ticket_id = tickets.ticket_id
    inner join experiments
        on
            experiments.applies_to = 'followup_case'
            and {{ list_holds('tickets.tags', "'nps_variant_' || experiments.variant") }}
    left join nps_answers
        on closed_loop.response_id = nps_answers.response_id
    where closed_loop.nps_category = 'detractor'

),

units as (

    select * from send_units
    union all
    select * from case_units

),

final as (

    select
        *,
        case when next_score is not null then next_score >= 7 end as is_recovered
    from units

)

select * from final
