-- One row per survey send (any survey type) with its lifecycle (stg_surveys__sends: delivered, opened, reminded,
-- bounced, unsubscribed, where the sending tool reports them), the account's attributes at the send
-- (int_survey_events_enriched) and its first answer.
-- The answer of a send, the rule of nps_nonresponse for every survey type:
--   1. a response that names the send (stg_surveys__responses.send_id) answers that send and no other;
--   2. a response without a send id answers the send of the same survey type to the same respondent key
--      (macros/respondents.sql over email, account id and the send or response id) that precedes it, before the
--      next such send;
--   either way at or after sent_at and within var('nonresponse_window_days') days of it.
-- is_at_risk: the send still unanswered var('reminder_after_days') days after it was sent (the moment a reminder
-- goes out) and not bounced, once that moment is on or before the data's as-of date: the sends whose response rate
-- with and without a reminder survey_funnel compares.
with

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

survey_sends as (

    select * from {{ ref('stg_surveys__sends') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

export_responses as (

    select * from {{ ref('stg_surveys__responses') }}

),

sends as (

    select
        survey_events.event_id as send_id,
        survey_events.survey_type,
        survey_events.survey_kind,
        survey_events.channel,
        survey_events.touchpoint,
        survey_events.account_id,
        survey_events.email,
        survey_events.plan,
        survey_events.mrr_band,
        survey_events.region,
        survey_events.tenure_band,
        survey_events.event_at as sent_at,
        survey_sends.delivered_at,
        survey_sends.opened_at,
        survey_sends.reminded_at,
        survey_sends.bounced_at,
        survey_sends.unsubscribed_at,
        {{ respondent_key(email='survey_events.email', account_id='survey_events.account_id',
            response_id='survey_events.event_id') }} as respondent_key
    from survey_events
    inner join survey_sends
        on survey_events.event_id = survey_sends.send_id
    where survey_events.event_type = 'send'

),

sends_windowed as (

    select
        sends.*,
        lead(sends.sent_at) over (
            partition by sends.survey_type, sends.respondent_key
            order by sends.sent_at, sends.send_id
        ) as next_sent_at
    from sends

),

answers as (

    select
        survey_responses.response_id,
        survey_responses.survey_type,
        survey_responses.responded_at,
        export_responses.send_id,
        {{ respondent_key(email='survey_responses.email', account_id='survey_responses.account_id',
            response_id='survey_responses.response_id') }} as respondent_key
    from survey_responses
    left join export_responses
        on
            survey_responses.source = 'survey_export'
            and survey_responses.response_id = export_responses.response_id
    where survey_responses.responded_at is not null

),

answers_named as (

    select
        sends_windowed.send_id,
        answers.response_id,
        answers.responded_at,
        'send_id' as link_method
    from sends_windowed
    inner join answers
        on
            sends_windowed.send_id = answers.send_id
            and sends_windowed.survey_type = answers.survey_type

),

answers_matched as (

    select
        sends_windowed.send_id,
        answers.response_id,
        answers.responded_at,
        'respondent' as link_method
    from sends_windowed
    inner join answers
        on
            sends_windowed.respondent_key = answers.respondent_key
            and sends_windowed.survey_type = answers.survey_type
            and (sends_windowed.next_sent_at is null or sends_windowed.next_sent_at > answers.responded_at)
    where answers.send_id is null

),

answers_linked as (

    select
        candidates.*,
        row_number() over (
            partition by candidates.send_id
            order by candidates.responded_at, candidates.response_id
        ) as answer_rank
    from (
        select * from answers_named
        union all
        select * from answers_matched
    ) as candidates
    inner join sends_windowed
        on candidates.send_id = sends_windowed.send_id
    where
        sends_windowed.sent_at <= candidates.responded_at
        and candidates.responded_at
        < {{ dbt.dateadd('day', var('nonresponse_window_days'), 'sends_windowed.sent_at') }}

),

as_of as (

    select {{ data_as_of_date('survey_responses') }} as as_of_date

),

final as (

    select
        sends_windowed.send_id,
        sends_windowed.survey_type,
        sends_windowed.survey_kind,
        sends_windowed.channel,
        sends_windowed.touchpoint,
        sends_windowed.account_id,
        sends_windowed.email,
        sends_windowed.respondent_key,
        sends_windowed.plan,
        sends_windowed.mrr_band,
        sends_windowed.region,
        sends_windowed.tenure_band,
        sends_windowed.sent_at,
        sends_windowed.delivered_at,
        sends_windowed.opened_at,
        sends_windowed.reminded_at,
        sends_windowed.bounced_at,
        sends_windowed.unsubscribed_at,
        answers_linked.response_id,
        answers_linked.responded_at,
        answers_linked.link_method,
        sends_windowed.reminded_at is not null as is_reminded,
        coalesce(
            sends_windowed.bounced_at is null
            and cast({{ dbt.dateadd('day', var('reminder_after_days'), 'sends_windowed.sent_at') }} as date)
            <= as_of.as_of_date
            and (
                answers_linked.responded_at is null
                or answers_linked.responded_at
                >= {{ dbt.dateadd('day', var('reminder_after_days'), 'sends_windowed.sent_at') }}
            ),
            false
        ) as is_at_risk
    from sends_windowed
    cross join as_of
    left join answers_linked
        on
            sends_windowed.send_id = answers_linked.send_id
            and answers_linked.answer_rank = 1

)

select * from final
