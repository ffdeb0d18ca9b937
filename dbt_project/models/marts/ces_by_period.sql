-- CES per UTC calendar period (day, week from Monday, month, quarter) and segment, with the reply and
-- resolution times of the distinct Zendesk tickets the CES responses are about.
-- Segments are those of nps_by_period plus ticket_category: 'refund_related' / 'other' by the linked
-- ticket's tags, 'no_ticket' without a ticket_id or when that ticket is not in the Zendesk data; and agent: the
-- SimpleSAT primary team member's external_id, else the linked ticket's assignee (int_survey_responses_attributed),
-- 'unknown' without either. period_end / is_complete_period: macros/dates.sql (as nps_by_period).
{%- set ces_segment_types = var('segment_types') + ['ticket_category', 'agent'] %}
with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

support_tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

responses_attributed as (

    select * from {{ ref('int_survey_responses_attributed') }}

),

period_grains as (

    {{- period_grains_rows() }}

),

ces_responses as (

    select
        survey_responses.*,
        support_tickets.first_reply_minutes,
        support_tickets.full_resolution_minutes,
        coalesce(support_tickets.ticket_category, 'no_ticket') as ticket_category,
        responses_attributed.agent_id as agent
    from survey_responses
    left join support_tickets
        on survey_responses.ticket_id = support_tickets.ticket_id
    left join responses_attributed
        on survey_responses.response_id = responses_attributed.response_id
    where
        survey_responses.survey_type = 'ces'
        and survey_responses.score is not null
        and survey_responses.responded_at is not null

),

responses_segmented as (

    {{- unpivot_segments('ces_responses', ces_segment_types) }}

),

responses_periodized as (

    select
        responses_segmented.*,
        period_grains.period_grain,
        {{ period_start('period_grains.period_grain', 'responses_segmented.responded_at') }} as period_start
    from responses_segmented
    cross join period_grains

),

response_stats as (

    select
        period_grain,
        period_start,
        segment_type,
        segment_value,
        count(*) as responses,
        avg(cast(score as double)) as ces_mean,
        avg(case when ces_is_easy then 1 else 0 end) as ces_easy_share
    from responses_periodized
    group by 1, 2, 3, 4

),

-- A ticket answered by several CES responses counts once in the medians.
period_tickets as (

    select distinct
        period_grain,
        period_start,
        segment_type,
        segment_value,
        ticket_id,
        first_reply_minutes,
        full_resolution_minutes
    from responses_periodized
    where ticket_id is not null

),

ticket_stats as (

    select
        period_grain,
        period_start,
        segment_type,
        segment_value,
        {{ median('first_reply_minutes') }} as median_first_reply_minutes,
        {{ median('full_resolution_minutes') }} as median_resolution_minutes
    from period_tickets
    group by 1, 2, 3, 4

),

final as (

    select
        cast(response_stats.period_grain as string) as period_grain,
        cast(response_stats.period_start as date) as period_start,
        {{ period_end('response_stats.period_grain', 'response_stats.period_start') }} as period_end,
        {{ is_complete_period('response_stats.period_grain', 'response_stats.period_start', 'survey_responses') }}
            as is_complete_period,
        cast(response_stats.segment_type as string) as segment_type,
        cast(response_stats.segment_value as string) as segment_value,
        cast(response_stats.responses as bigint) as responses,
        cast(response_stats.ces_mean as double) as ces_mean,
        cast(response_stats.ces_easy_share as double) as ces_easy_share,
        cast(ticket_stats.median_first_reply_minutes as double) as median_first_reply_minutes,
        cast(ticket_stats.median_resolution_minutes as double) as median_resolution_minutes
    from response_stats
    left join ticket_stats
        on
            response_stats.period_grain = ticket_stats.period_grain
            and response_stats.period_start = ticket_stats.period_start
            and response_stats.segment_type = ticket_stats.segment_type
            and response_stats.segment_value = ticket_stats.segment_value

)

select * from final
