-- NPS per UTC calendar period (day, week from Monday, month, quarter) and segment.
-- Responses: NPS responses with a 0-10 score, in the period of their submission, segmented by the
-- account attributes at response time. Sends: NPS sends, in the period of sent_at, segmented by the
-- account attributes at send time and the send's channel / survey_kind / touchpoint.
-- A row exists for every period and segment with responses or sends. Metric definitions: macros/nps.sql.
-- Respondents (respondent_*): each respondent's (fct_survey_responses.respondent_key, macros/respondents.sql) latest
-- NPS response in the period and segment, ties broken by the greatest response_id; responses stay response-level.
-- period_end / is_complete_period: macros/dates.sql (complete = the last day is on or before the data's as-of date).
with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

period_grains as (

    {{- period_grains_rows() }}

),

nps_responses as (

    select * from survey_responses
    where
        survey_type = 'nps'
        and nps_category is not null
        and responded_at is not null

),

nps_sends as (

    select * from survey_events
    where
        event_type = 'send'
        and survey_type = 'nps'
        and event_at is not null

),

responses_segmented as (

    {{- unpivot_segments('nps_responses', var('segment_types')) }}

),

sends_segmented as (

    {{- unpivot_segments('nps_sends', var('segment_types')) }}

),

-- Each respondent's latest response per period and segment (this one needs every response, not daily counts).
responses_periodized as (

    select
        responses_segmented.response_id,
        responses_segmented.respondent_key,
        responses_segmented.responded_at,
        responses_segmented.is_promoter,
        responses_segmented.is_passive,
        responses_segmented.is_detractor,
        responses_segmented.segment_type,
        responses_segmented.segment_value,
        period_grains.period_grain,
        {{ period_start('period_grains.period_grain', 'responses_segmented.responded_at') }} as period_start
    from responses_segmented
    cross join period_grains

),

responses_ranked as (

    select
        responses_periodized.*,
        row_number() over (
            partition by
                responses_periodized.period_grain,
                responses_periodized.period_start,
                responses_periodized.segment_type,
                responses_periodized.segment_value,
                responses_periodized.respondent_key
            order by responses_periodized.responded_at desc, responses_periodized.response_id desc
        ) as respondent_answer_rank
    from responses_periodized

),

respondent_counts as (

    select
        period_grain,
        period_start,
        segment_type,
        segment_value,
        count(*) as respondents,
        count(case when is_promoter then 1 end) as respondent_promoters,
        count(case when is_passive then 1 end) as respondent_passives,
        count(case when is_detractor then 1 end) as respondent_detractors
    from responses_ranked
    where respondent_answer_rank = 1
    group by 1, 2, 3, 4

),

-- Counts per UTC day first; a period's counts are the sums of its days' (every grain is whole days).
daily_response_counts as (

    select
        cast({{ dbt.date_trunc('day', 'responded_at') }} as date) as response_date,
        segment_type,
        segment_value,
        count(*) as responses,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors
    from responses_segmented
    group by 1, 2, 3

),

daily_send_counts as (

    select
        cast({{ dbt.date_trunc('day', 'event_at') }} as date) as send_date,
        segment_type,
        segment_value,
        count(*) as sends
    from sends_segmented
    group by 1, 2, 3

),

response_counts as (

    select
        period_grains.period_grain,
        {{ period_start('period_grains.period_grain', 'daily_response_counts.response_date') }} as period_start,
        daily_response_counts.segment_type,
        daily_response_counts.segment_value,
        sum(daily_response_counts.responses) as responses,
        sum(daily_response_counts.promoters) as promoters,
        sum(daily_response_counts.passives) as passives,
        sum(daily_response_counts.detractors) as detractors
    from daily_response_counts
    cross join period_grains
    group by 1, 2, 3, 4

),

send_counts as (

    select
        period_grains.period_grain,
        {{ period_start('period_grains.period_grain', 'daily_send_counts.send_date') }} as period_start,
        daily_send_counts.segment_type,
        daily_send_counts.segment_value,
        sum(daily_send_counts.sends) as sends
    from daily_send_counts
    cross join period_grains
    group by 1, 2, 3, 4

),

-- Every period and segment with responses or sends (a full outer join, written as a key spine).
period_segments as (

    select
        period_grain,
        period_start,
        segment_type,
        segment_value
    from response_counts

    union

    select
        period_grain,
        period_start,
        segment_type,
        segment_value
    from send_counts

),

counts_joined as (

    select
        period_segments.period_grain,
        period_segments.period_start,
        period_segments.segment_type,
        period_segments.segment_value,
        coalesce(response_counts.responses, 0) as responses,
        coalesce(response_counts.promoters, 0) as promoters,
        coalesce(response_counts.passives, 0) as passives,
        coalesce(response_counts.detractors, 0) as detractors,
        coalesce(send_counts.sends, 0) as sends,
        coalesce(respondent_counts.respondents, 0) as respondents,
        coalesce(respondent_counts.respondent_promoters, 0) as respondent_promoters,
        coalesce(respondent_counts.respondent_passives, 0) as respondent_passives,
        coalesce(respondent_counts.respondent_detractors, 0) as respondent_detractors
    from period_segments
    left join response_counts
        on
            period_segments.period_grain = response_counts.period_grain
            and period_segments.period_start = response_counts.period_start
            and period_segments.segment_type = response_counts.segment_type
            and period_segments.segment_value = response_counts.segment_value
    left join send_counts
        on
            period_segments.period_grain = send_counts.period_grain
            and period_segments.period_start = send_counts.period_start
            and period_segments.segment_type = send_counts.segment_type
            and period_segments.segment_value = send_counts.segment_value
    left join respondent_counts
        on
            period_segments.period_grain = respondent_counts.period_grain
            and period_segments.period_start = respondent_counts.period_start
            and period_segments.segment_type = respondent_counts.segment_type
            and period_segments.segment_value = respondent_counts.segment_value

),

final as (

    select
        cast(period_grain as string) as period_grain,
        cast(period_start as date) as period_start,
        {{ period_end('period_grain', 'period_start') }} as period_end,
        {{ is_complete_period('period_grain', 'period_start', 'survey_responses') }} as is_complete_period,
        cast(segment_type as string) as segment_type,
        cast(segment_value as string) as segment_value,
        cast(responses as bigint) as responses,
        cast(promoters as bigint) as promoters,
        cast(passives as bigint) as passives,
        cast(detractors as bigint) as detractors,
        {{ nps('promoters', 'detractors', 'responses') }} as nps,
        {{ nps_ci_low('promoters', 'detractors', 'responses') }} as nps_ci_low,
        {{ nps_ci_high('promoters', 'detractors', 'responses') }} as nps_ci_high,
        cast(sends as bigint) as sends,
        case when sends > 0 then cast(responses as double) / sends end as response_rate,
        cast(respondents as bigint) as respondents,
        cast(respondent_promoters as bigint) as respondent_promoters,
        cast(respondent_passives as bigint) as respondent_passives,
        cast(respondent_detractors as bigint) as respondent_detractors,
        {{ nps('respondent_promoters', 'respondent_detractors', 'respondents') }} as respondent_nps,
        {{ nps_ci_low('respondent_promoters', 'respondent_detractors', 'respondents') }} as respondent_nps_ci_low,
        {{ nps_ci_high('respondent_promoters', 'respondent_detractors', 'respondents') }} as respondent_nps_ci_high
    from counts_joined

)

select * from final
