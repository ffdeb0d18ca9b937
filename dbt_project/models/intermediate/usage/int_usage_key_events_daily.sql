{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('activity_date'),
        unique_key=['activity_date', 'account_id', 'event_name'],
        on_schema_change='append_new_columns',
        tags=['partitioned'],
        pre_hook="{{ delete_date_window(this, 'activity_date') }}",
    )
}}

-- The activation key events (any event named in seed activation_events) per account and day, with the first
-- time each happened that day: account_activation finds every account's first key event here instead of in
-- the whole event history, so the daily run reads one day of events. Built like int_usage_daily, one partition
-- window at a time (the pre-hook deletes the window first). Events without an account are left out.
with

tracks as (

    select * from {{ ref('stg_segment__tracks') }}
    {{ where_in_date_window('activity_date') }}

),

key_event_names as (

    select distinct event_name
    from {{ ref('activation_events') }}

),

final as (

    select
        tracks.activity_date,
        tracks.account_id,
        tracks.event_name,
        count(*) as events,
        min(tracks.event_at) as first_event_at
    from tracks
    inner join key_event_names
        on tracks.event_name = key_event_names.event_name
    where tracks.account_id is not null
    group by tracks.activity_date, tracks.account_id, tracks.event_name

)

select * from final
