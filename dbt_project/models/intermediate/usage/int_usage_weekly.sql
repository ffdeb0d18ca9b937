{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('week_start'),
        unique_key=['week_start', 'account_id'],
        on_schema_change='append_new_columns',
        tags=['partitioned'],
        pre_hook="{{ delete_week_window(this, 'week_start') }}",
    )
}}

-- Product usage per account and week (weeks start on Monday; activity_date = the Segment partition day).
-- Active users are distinct over the whole week, so a week cannot be summed from int_usage_daily: a partition
-- window is widened to whole weeks (week_window_bounds) and those weeks are rebuilt from their events, so the
-- daily run reads at most one week of events, not the history. Events without an account are left out.
{%- set bounds = week_window_bounds() %}
with

tracks as (

    select * from {{ ref('stg_segment__tracks') }}
    {%- if bounds %}
    where activity_date between {{ bounds[0] }} and {{ bounds[1] }}
    {%- endif %}

),

final as (

    select
        cast({{ dbt.date_trunc('week', 'activity_date') }} as date) as week_start,
        account_id,
        count(*) as events,
        count(case when event_name in ({{ sql_string_list(var('core_events')) }}) then 1 end) as core_events,
        count(distinct user_id) as active_users
    from tracks
    where account_id is not null
    group by cast({{ dbt.date_trunc('week', 'activity_date') }} as date), account_id

)

select * from final
