{{
    config(
        materialized='incremental',
        incremental_strategy=date_window_strategy(),
        partition_by=date_window_partition_by('activity_date'),
        unique_key=['activity_date', 'account_id'],
        on_schema_change='append_new_columns',
        tags=['partitioned'],
        pre_hook="{{ delete_date_window(this, 'activity_date') }}",
    )
}}

-- Product usage per account and day, built one daily partition (or window of partitions) at a time.
-- Reads the staging view, not source('segment', 'tracks'): the view is a plain projection, so DuckDB
-- pushes the activity_date filter down to the `_partition_date` scan of the raw table (checked with
-- EXPLAIN: the filter sits on the raw table scan). Events without an account (anonymous) are left out.
-- The pre-hook deletes the whole date window first, so an account that vanished from a re-landed
-- partition does not keep a stale row (delete+insert alone only replaces the keys it inserts). On Spark the
-- table is partitioned by activity_date and the window's partitions are overwritten (insert_overwrite).
with

tracks as (

    select * from {{ ref('stg_segment__tracks') }}
    {{ where_in_date_window('activity_date') }}

),

final as (

    select
        activity_date,
        account_id,
        count(*) as events,
        count(distinct user_id) as active_users,
        count(
            case when event_name in ({{ sql_string_list(var('core_events')) }}) then 1 end
        ) as core_events
    from tracks
    where account_id is not null
    group by activity_date, account_id

)

select * from final
