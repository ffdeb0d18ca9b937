-- Tagged `partitioned`: built with int_usage_daily, the incremental model that reads it, so that the
-- orchestrator's partitioned dbt step never depends on the step that rebuilds the rest of the project.
{{ config(tags=['partitioned']) }}
{%- set entity = 'segment.tracks' %}

-- A plain projection (no dedup window: message_id is unique in raw), so filters on
-- activity_date push down through this view to the `_partition_date` scan of the raw table.
with

source as (

    select * from {{ source('segment', 'tracks') }}

),

final as (

    select
        message_id,
        _partition_date as activity_date,
        {{ raw_field(entity, 'event') }} as event_name,
        {{ raw_field(entity, 'user_id') }} as user_id,
        {{ raw_field(entity, 'anonymous_id') }} as anonymous_id,
        {{ raw_field(entity, 'account_id') }} as account_id,
        {{ raw_field(entity, 'event_timestamp') }} as event_at,
        properties,
        context
    from source

)

select * from final
