{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('as_of_date'),
        unique_key=['as_of_date', 'window_days', 'segment_type', 'segment_value'],
        on_schema_change='append_new_columns',
        tags=['partitioned_mart'],
        pre_hook="{{ delete_from_date(this, 'as_of_date') }}",
    )
}}

-- Trailing NPS per day (as_of_date), window (the window_days UTC days ending on and including as_of_date) and
-- segment (var segment_types, segmented by the account attributes at response time, as nps_by_period), over each
-- respondent's (fct_survey_responses.respondent_key, macros/respondents.sql) latest NPS answer in the window and
-- segment; ties on the same timestamp go to the greatest response_id. A row exists for every day from the first NPS
-- answer to the data's as-of date (macros/dates.sql) and every window and segment with at least one answer in the
-- window. Metric definitions: macros/nps.sql.
-- How: a respondent's latest answer up to a day is in that day's window when it is less than window_days days old.
-- So each respondent's last answer of a day counts from its day until the respondent's next answer or until it
-- leaves the window, whichever comes first: +1 on its first day, -1 on the day after; a running sum of these
-- changes over the days gives every day's counts (integers only, so a backfill in pieces writes the same values).
-- Incremental: a run for the partition window starting at min_date rebuilds every day from min_date on, reading
-- the answers of the longest window before it (min_date - 89 days).
{%- set window_lengths = [30, 90] %}
{%- set read_from = none %}
{%- if window_min_date() %}
    {%- set read_from = dbt.dateadd('day', 1 - window_lengths | max, "cast('" ~ window_min_date() ~ "' as date)") %}
{%- endif %}

with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

windows as (

    {%- for window_days in window_lengths %}
        select {{ window_days }} as window_days
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

all_nps_responses as (

    select * from survey_responses
    where
        survey_type = 'nps'
        and nps_category is not null
        and responded_at is not null

),

nps_responses as (

    select * from all_nps_responses
    {% if read_from -%}
        where response_date >= cast({{ read_from }} as date)
    {%- endif %}

),

answer_span as (

    select min(response_date) as first_answer_day
    from all_nps_responses

),

read_span as (

    select min(response_date) as read_from_day
    from nps_responses

),

-- The days to build: from the run's first day (else the first answer) to the data's as-of date.
bounds as (

    select
        {% if window_min_date() -%}
            cast('{{ window_min_date() }}' as date) as first_day,
        {%- else -%}
            answer_span.first_answer_day as first_day,
        {%- endif %}
        answer_span.first_answer_day,
        read_span.read_from_day,
        {{ data_as_of_date('survey_responses') }} as last_day
    from answer_span
    cross join read_span

),

-- Every day from the first answer read on, so that the running sums start from zero.
days as (

    {{ period_starts('day', "(select read_from_day from bounds)", "(select last_day from bounds)") }}

),

responses_segmented as (

    {{- unpivot_segments('nps_responses', var('segment_types')) }}

),

-- Each respondent's last answer of each day in each segment, and the day of their next answer.
respondent_days as (

    select
        segment_type,
        segment_value,
        respondent_key,
        response_date,
        case when is_promoter then 1 else 0 end as promoter,
        case when is_passive then 1 else 0 end as passive,
        case when is_detractor then 1 else 0 end as detractor,
        lead(response_date) over (
            partition by segment_type, segment_value, respondent_key order by response_date
        ) as next_response_date
    from (
        select
            *,
            row_number() over (
                partition by segment_type, segment_value, respondent_key, response_date
                order by responded_at desc, response_id desc
            ) as day_rank
        from responses_segmented
    ) as ranked
    where day_rank = 1

),

-- The days an answer counts as its respondent's latest in the window: from its day to the day before the next
-- answer or the day it leaves the window (response_date + window_days), whichever comes first.
respondent_spans as (

    select
        respondent_days.segment_type,
        respondent_days.segment_value,
        windows.window_days,
        respondent_days.response_date as counted_from,
        case
            when
                respondent_days.next_response_date is not null
                and respondent_days.next_response_date
                < cast({{ dbt.dateadd('day', 'windows.window_days', 'respondent_days.response_date') }} as date)
                then respondent_days.next_response_date
            else cast({{ dbt.dateadd('day', 'windows.window_days', 'respondent_days.response_date') }} as date)
        end as counted_until,
        respondent_days.promoter,
        respondent_days.passive,
        respondent_days.detractor
    from respondent_days
    cross join windows

),

daily_responses as (

    select
        segment_type,
        segment_value,
        response_date,
        count(*) as responses
    from responses_segmented
    group by 1, 2, 3

),

-- The changes of the counts: an answer enters the window on its day and leaves it window_days days later.
changes as (

    select
        segment_type,
        segment_value,
        window_days,
        counted_from as change_date,
        1 as respondents,
        promoter as promoters,
        passive as passives,
        detractor as detractors,
        0 as responses
    from respondent_spans

    union all

    select
        segment_type,
        segment_value,
        window_days,
        counted_until as change_date,
        -1 as respondents,
        -promoter as promoters,
        -passive as passives,
        -detractor as detractors,
        0 as responses
    from respondent_spans

    union all

    select
        daily_responses.segment_type,
        daily_responses.segment_value,
        windows.window_days,
        daily_responses.response_date as change_date,
        0 as respondents,
        0 as promoters,
        0 as passives,
        0 as detractors,
        daily_responses.responses
    from daily_responses
    cross join windows

    union all

    select
        daily_responses.segment_type,
        daily_responses.segment_value,
        windows.window_days,
        cast({{ dbt.dateadd('day', 'windows.window_days', 'daily_responses.response_date') }} as date) as change_date,
        0 as respondents,
        0 as promoters,
        0 as passives,
        0 as detractors,
        -daily_responses.responses as responses
    from daily_responses
    cross join windows

),

daily_changes as (

    select
        segment_type,
        segment_value,
        window_days,
        change_date,
        sum(respondents) as respondents,
        sum(promoters) as promoters,
        sum(passives) as passives,
        sum(detractors) as detractors,
        sum(responses) as responses
    from changes
    group by 1, 2, 3, 4

),

segment_windows as (

    select distinct
        segment_type,
        segment_value,
        window_days
    from daily_changes

),

-- Every day of every segment and window, its counts the running sums of the changes up to that day.
{%- set running = 'partition by segment_windows.segment_type, segment_windows.segment_value, '
    ~ 'segment_windows.window_days order by days.period_start rows between unbounded preceding and current row' %}
running_counts as (

    select
        days.period_start as as_of_date,
        segment_windows.window_days,
        segment_windows.segment_type,
        segment_windows.segment_value,
        sum(coalesce(daily_changes.responses, 0)) over ({{ running }}) as responses,
        sum(coalesce(daily_changes.respondents, 0)) over ({{ running }}) as respondents,
        sum(coalesce(daily_changes.promoters, 0)) over ({{ running }}) as promoters,
        sum(coalesce(daily_changes.passives, 0)) over ({{ running }}) as passives,
        sum(coalesce(daily_changes.detractors, 0)) over ({{ running }}) as detractors
    from segment_windows
    cross join days
    left join daily_changes
        on
            segment_windows.segment_type = daily_changes.segment_type
            and segment_windows.segment_value = daily_changes.segment_value
            and segment_windows.window_days = daily_changes.window_days
            and days.period_start = daily_changes.change_date

),

final as (

    select
        cast(running_counts.as_of_date as date) as as_of_date,
        cast(running_counts.window_days as integer) as window_days,
        cast(
            {{ dbt.dateadd('day', '1 - running_counts.window_days', 'running_counts.as_of_date') }} as date
        ) as window_start,
        (
            cast({{ dbt.dateadd('day', '1 - running_counts.window_days', 'running_counts.as_of_date') }} as date)
            >= bounds.first_answer_day
        ) as is_full_window,
        cast(running_counts.segment_type as string) as segment_type,
        cast(running_counts.segment_value as string) as segment_value,
        cast(running_counts.responses as bigint) as responses,
        cast(running_counts.respondents as bigint) as respondents,
        cast(running_counts.promoters as bigint) as promoters,
        cast(running_counts.passives as bigint) as passives,
        cast(running_counts.detractors as bigint) as detractors,
        {{ nps('running_counts.promoters', 'running_counts.detractors', 'running_counts.respondents') }} as nps,
        {{ nps_ci_low('running_counts.promoters', 'running_counts.detractors', 'running_counts.respondents') }}
            as nps_ci_low,
        {{ nps_ci_high('running_counts.promoters', 'running_counts.detractors', 'running_counts.respondents') }}
            as nps_ci_high
    from running_counts
    cross join bounds
    where
        running_counts.responses > 0
        and running_counts.as_of_date >= bounds.first_day

)

select * from final
