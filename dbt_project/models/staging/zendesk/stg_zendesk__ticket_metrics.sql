-- Incremental on the run's partition window, as stg_zendesk__tickets (whose header explains it): the tickets with a
-- metric-set version loaded in the window are rebuilt from ALL their loaded versions (found by the payload's
-- ticket_id, the key the latest version is picked by) and replace their rows (delete+insert on ticket_id); the
-- others are not rebuilt. first_reply_loaded_on and the latest version are those of a full build whatever the order
-- of the windows, and re-running a window changes nothing. Without a window the pre-hook empties the table and every
-- ticket is rebuilt; on Spark the model stays a table rebuilt whole. Same limitation as stg_zendesk__tickets: a day
-- re-loaded WITHOUT a version it held before refreshes that ticket only when it changes again or a --full-refresh.
-- A table, not a view: its JSON is parsed once, instead of again for each of its tests and every model that reads it.
-- Not tagged `partitioned`: it builds in the step after, with stg_zendesk__tickets, which its relationships test reads.
{{
    config(
        materialized=('incremental' if date_window_strategy() == 'delete+insert' else 'table'),
        incremental_strategy='delete+insert',
        unique_key='ticket_id',
        on_schema_change='fail',
        pre_hook="{{ delete_all_without_date_window(this) }}",
    )
}}
{%- set entity = 'zendesk.ticket_metrics' %}

with

source as (

    select * from {{ source('zendesk', 'ticket_metrics') }}
    -- Every loaded version of the tickets that have one in the window (on an incremental run with one).
    {{ where_key_has_version_in_date_window(source('zendesk', 'ticket_metrics'), raw_field(entity, 'ticket_id')) }}

),

-- The landing day of the first version that carries a first reply time: when the reply became known here.
versions_with_reply_day as (

    select
        *,
        min(
            case
                when {{ raw_field(entity, 'reply_time_in_minutes.calendar') }} is not null then _partition_date
            end
        ) over (partition by {{ raw_field(entity, 'ticket_id') }}) as first_reply_loaded_on
    from source

),

-- Zendesk keeps one metric set per ticket, so the latest version is picked per ticket_id
-- (the key everything joins on) rather than per metric-set id.
latest_versions as (

    {{ latest_versions(
        'versions_with_reply_day', key=raw_field(entity, 'ticket_id'), updated_at=raw_field(entity, 'updated_at')
    ) }}

),

final as (

    select
        {{ raw_field(entity, 'ticket_id') }} as ticket_id,
        {{ raw_field(entity, 'id') }} as ticket_metric_id,
        {{ raw_field(entity, 'reopens') }} as reopens,
        {{ raw_field(entity, 'replies') }} as replies,
        {{ raw_field(entity, 'reply_time_in_minutes.calendar') }} as first_reply_minutes,
        {{ raw_field(entity, 'reply_time_in_minutes.business') }} as first_reply_business_minutes,
        first_reply_loaded_on,
        {{ raw_field(entity, 'full_resolution_time_in_minutes.calendar') }} as full_resolution_minutes,
        {{ raw_field(entity, 'full_resolution_time_in_minutes.business') }} as full_resolution_business_minutes,
        {{ raw_field(entity, 'solved_at') }} as solved_at,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

)

select * from final
