-- A table, not a view: the latest version of each object is picked from every version loaded and its JSON is
-- parsed once, instead of again for each of its tests and for every model that reads it.
{{ config(materialized='table') }}

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
                when {{ json_text('payload', '$.reply_time_in_minutes.calendar') }} is not null then _partition_date
            end
        ) over (partition by {{ json_text('payload', '$.ticket_id') }}) as first_reply_loaded_on
    from source

),

-- Zendesk keeps one metric set per ticket, so the latest version is picked per ticket_id
-- (the key everything joins on) rather than per metric-set id.
latest_versions as (

    {{ latest_versions(
        'versions_with_reply_day', key=json_text('payload', '$.ticket_id'), updated_at=json_text('payload', '$.updated_at')
    ) }}

),

final as (

    select
        cast({{ json_text('payload', '$.ticket_id') }} as bigint) as ticket_id,
        cast({{ json_text('payload', '$.id') }} as bigint) as ticket_metric_id,
        cast({{ json_text('payload', '$.reopens') }} as integer) as reopens,
        cast({{ json_text('payload', '$.replies') }} as integer) as replies,
        cast({{ json_text('payload', '$.reply_time_in_minutes.calendar') }} as integer) as first_reply_minutes,
        cast({{ json_text('payload', '$.reply_time_in_minutes.business') }} as integer) as first_reply_business_minutes,
        first_reply_loaded_on,
        cast(
            {{ json_text('payload', '$.full_resolution_time_in_minutes.calendar') }} as integer
        ) as full_resolution_minutes,
        cast(
            {{ json_text('payload', '$.full_resolution_time_in_minutes.business') }} as integer
        ) as full_resolution_business_minutes,
        {{ to_utc_timestamp(json_text('payload', '$.solved_at')) }} as solved_at,
        {{ to_utc_timestamp(json_text('payload', '$.created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', '$.updated_at')) }} as updated_at
    from latest_versions

)

select * from final
