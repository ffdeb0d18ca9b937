-- A table, not a view: the latest version of each object is picked from every version loaded and its JSON is
-- parsed once, instead of again for each of its tests and for every model that reads it.
{{ config(materialized='table') }}
{%- set entity = 'zendesk.ticket_metrics' %}

with

source as (

    select * from {{ source('zendesk', 'ticket_metrics') }}

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
