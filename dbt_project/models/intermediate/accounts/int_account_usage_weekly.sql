{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('week_start'),
        unique_key=['week_start', 'account_id'],
        on_schema_change='append_new_columns',
        tags=['partitioned'],
        pre_hook="{{ delete_from_week(this, 'week_start') }}",
    )
}}

-- Product usage per account and week (weeks start on Monday), and its 30-day trend at the week's end.
--   events, core_events, active_users: the week's Segment events, from int_usage_weekly (active users are
--   distinct over the whole week; that model rebuilds only the weeks of each partition window);
--   events_last_30d / events_prior_30d: events in the 30 days ending on the week's last day (or on the as-of
--   date, the latest activity date, for the current week) and in the 30 days before those;
--   usage_change_30d: events_last_30d / events_prior_30d - 1, rounded to 4 decimals (null without prior events);
-- Incremental: a run for a partition window rebuilds every week from the window's first week on (a later week's
-- trend reads the 60 days before it), and the table's latest week, measured on the previous as-of date
-- (rebuild_from_week). A daily run rebuilds one or two weeks and reads 60 days of daily usage, not the history.
{%- set rebuild_from = rebuild_from_week(this, 'week_start') %}
with

usage_weekly as (

    select * from {{ ref('int_usage_weekly') }}

),

usage_daily as (

    select * from {{ ref('int_usage_daily') }}

),

as_of as (

    select max(activity_date) as as_of_date
    from usage_daily

),

weekly as (

    select
        account_id,
        week_start,
        events,
        core_events,
        active_users
    from usage_weekly

),

account_first_weeks as (

    select
        account_id,
        min(week_start) as first_week
    from weekly
    group by account_id

),

weeks as (

    {{ period_starts('week', '(select min(first_week) from account_first_weeks)', '(select as_of_date from as_of)') }}

),

-- Every week from the account's first activity to the as-of date, with or without events.
weeks_measured as (

    select
        account_first_weeks.account_id,
        weeks.period_start as week_start,
        least(cast({{ dbt.dateadd('day', 6, 'weeks.period_start') }} as date), as_of.as_of_date) as measured_on,
        coalesce(weekly.events, 0) as events,
        coalesce(weekly.core_events, 0) as core_events,
        coalesce(weekly.active_users, 0) as active_users
    from account_first_weeks
    cross join as_of
    inner join weeks
        on account_first_weeks.first_week <= weeks.period_start
    left join weekly
        on
            account_first_weeks.account_id = weekly.account_id
            and weeks.period_start = weekly.week_start
    {%- if rebuild_from %}
    where weeks.period_start >= {{ rebuild_from }}
    {%- endif %}

),

-- The daily usage the trends read: the 60 days before the first rebuilt week's first day on an incremental run.
usage_daily_trailing as (

    select * from usage_daily
    {%- if rebuild_from %}
    where activity_date > cast({{ dbt.dateadd('day', -60, rebuild_from) }} as date)
    {%- endif %}

),

trend as (

    select
        weeks_measured.account_id,
        weeks_measured.week_start,
        sum(
            case
                when
                    usage_daily.activity_date
                    > cast({{ dbt.dateadd('day', -30, 'weeks_measured.measured_on') }} as date)
                    then usage_daily.events
                else 0
            end
        ) as events_last_30d,
        sum(
            case
                when
                    usage_daily.activity_date
                    <= cast({{ dbt.dateadd('day', -30, 'weeks_measured.measured_on') }} as date)
                    then usage_daily.events
                else 0
            end
        ) as events_prior_30d
    from weeks_measured
    inner join usage_daily_trailing as usage_daily
        on
            weeks_measured.account_id = usage_daily.account_id
            and weeks_measured.measured_on >= usage_daily.activity_date
            and usage_daily.activity_date > cast({{ dbt.dateadd('day', -60, 'weeks_measured.measured_on') }} as date)
    group by weeks_measured.account_id, weeks_measured.week_start

),

-- Rounded to 4 decimals so that a fall of exactly 20% compares as exactly -0.2.
trend_ratio as (

    select
        account_id,
        week_start,
        round(cast(events_last_30d as double) / nullif(events_prior_30d, 0) - 1, 4) as usage_change_30d
    from trend

),

final as (

    select
        weeks_measured.account_id,
        weeks_measured.week_start,
        weeks_measured.measured_on,
        weeks_measured.events,
        weeks_measured.core_events,
        weeks_measured.active_users,
        coalesce(trend.events_last_30d, 0) as events_last_30d,
        coalesce(trend.events_prior_30d, 0) as events_prior_30d,
        trend_ratio.usage_change_30d
    from weeks_measured
    left join trend
        on
            weeks_measured.account_id = trend.account_id
            and weeks_measured.week_start = trend.week_start
    left join trend_ratio
        on
            weeks_measured.account_id = trend_ratio.account_id
            and weeks_measured.week_start = trend_ratio.week_start

)

select * from final
