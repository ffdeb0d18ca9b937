-- CSAT per UTC calendar period (day, week from Monday, month, quarter), rating source and segment.
-- Ratings: int_csat_ratings_unioned (Zendesk satisfaction ratings and CSAT survey responses, and CSAT survey
-- answers), each in the period of its rated_at (a Zendesk rating: when it was created, i.e. offered; a Zendesk CSAT
-- survey response: when the rating was given; a survey answer: when submitted).
-- source: 'zendesk', a survey source ('simplesat', ...), or 'all' (every source together).
-- Segments: overall ('all'), group (Zendesk group id at rating time), agent (assignee at rating time, or SimpleSAT's
-- primary team member), ticket_category ('refund_related' / 'other' / 'no_ticket'), plan (at rating time); a
-- missing value is 'unknown'. CSAT and its interval: macros/csat.sql. offered and response_rate count Zendesk
-- ratings only (a survey's sends are not known here).
with

csat_ratings as (

    select * from {{ ref('int_csat_ratings_unioned') }}

),

support_tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

-- Only for the data's as-of date (period_end / is_complete_period, macros/dates.sql), the same as nps_by_period's.
survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

period_grains as (

    {{- period_grains_rows() }}

),

ratings_by_source as (

    select
        csat_ratings.*,
        csat_ratings.source as source_value
    from csat_ratings
    union all
    select
        csat_ratings.*,
        'all' as source_value
    from csat_ratings

),

ratings_segmented as (

    select
        ratings_by_source.*,
        'overall' as segment_type,
        'all' as segment_value
    from ratings_by_source
    union all
    select
        ratings_by_source.*,
        'group' as segment_type,
        coalesce(cast(ratings_by_source.group_id as {{ dbt.type_string() }}), 'unknown') as segment_value
    from ratings_by_source
    union all
    select
        ratings_by_source.*,
        'agent' as segment_type,
        coalesce(cast(ratings_by_source.agent_id as {{ dbt.type_string() }}), 'unknown') as segment_value
    from ratings_by_source
    union all
    select
        ratings_by_source.*,
        'ticket_category' as segment_type,
        coalesce(cast(ratings_by_source.ticket_category as {{ dbt.type_string() }}), 'unknown') as segment_value
    from ratings_by_source
    union all
    select
        ratings_by_source.*,
        'plan' as segment_type,
        coalesce(cast(ratings_by_source.plan as {{ dbt.type_string() }}), 'unknown') as segment_value
    from ratings_by_source

),

ratings_periodized as (

    select
        ratings_segmented.*,
        period_grains.period_grain,
        {{ period_start('period_grains.period_grain', 'ratings_segmented.rated_at') }} as period_start
    from ratings_segmented
    cross join period_grains
    where ratings_segmented.rated_at is not null

),

rating_stats as (

    select
        period_grain,
        period_start,
        source_value,
        segment_type,
        segment_value,
        sum(case when is_offered then 1 else 0 end) as offered,
        sum(case when is_offered and is_answered then 1 else 0 end) as offered_answered,
        sum(case when is_answered then 1 else 0 end) as answered,
        sum(case when is_answered and is_satisfied then 1 else 0 end) as satisfied
    from ratings_periodized
    group by 1, 2, 3, 4, 5

),

-- A ticket rated more than once (a Zendesk rating and a survey answer) counts once in the medians.
period_tickets as (

    select distinct
        ratings_periodized.period_grain,
        ratings_periodized.period_start,
        ratings_periodized.source_value,
        ratings_periodized.segment_type,
        ratings_periodized.segment_value,
        support_tickets.ticket_id,
        support_tickets.first_reply_business_minutes,
        support_tickets.full_resolution_business_minutes
    from ratings_periodized
    inner join support_tickets
        on ratings_periodized.ticket_id = support_tickets.ticket_id
    where ratings_periodized.is_answered

),

ticket_stats as (

    select
        period_grain,
        period_start,
        source_value,
        segment_type,
        segment_value,
        {{ median('first_reply_business_minutes') }} as median_first_reply_business_minutes,
        {{ median('full_resolution_business_minutes') }} as median_resolution_business_minutes
    from period_tickets
    group by 1, 2, 3, 4, 5

),

final as (

    select
        cast(rating_stats.period_grain as string) as period_grain,
        cast(rating_stats.period_start as date) as period_start,
        {{ period_end('rating_stats.period_grain', 'rating_stats.period_start') }} as period_end,
        {{ is_complete_period('rating_stats.period_grain', 'rating_stats.period_start', 'survey_responses') }}
            as is_complete_period,
        cast(rating_stats.source_value as string) as source,
        cast(rating_stats.segment_type as string) as segment_type,
        cast(rating_stats.segment_value as string) as segment_value,
        cast(case when rating_stats.offered > 0 then rating_stats.offered end as bigint) as offered,
        cast(rating_stats.answered as bigint) as answered,
        cast(rating_stats.satisfied as bigint) as satisfied,
        {{ csat('rating_stats.satisfied', 'rating_stats.answered') }} as csat,
        {{ csat_ci_low('rating_stats.satisfied', 'rating_stats.answered') }} as csat_ci_low,
        {{ csat_ci_high('rating_stats.satisfied', 'rating_stats.answered') }} as csat_ci_high,
        cast(
            case
                when rating_stats.offered > 0
                    then cast(rating_stats.offered_answered as double) / rating_stats.offered
            end
            as double
        ) as response_rate,
        cast(ticket_stats.median_first_reply_business_minutes as double) as median_first_reply_business_minutes,
        cast(ticket_stats.median_resolution_business_minutes as double) as median_resolution_business_minutes
    from rating_stats
    left join ticket_stats
        on
            rating_stats.period_grain = ticket_stats.period_grain
            and rating_stats.period_start = ticket_stats.period_start
            and rating_stats.source_value = ticket_stats.source_value
            and rating_stats.segment_type = ticket_stats.segment_type
            and rating_stats.segment_value = ticket_stats.segment_value

)

select * from final
