with

source as (

    select * from {{ source('zendesk', 'ticket_metrics') }}

),

-- Zendesk keeps one metric set per ticket, so the latest version is picked per ticket_id
-- (the key everything joins on) rather than per metric-set id.
latest_versions as (

    {{ latest_versions('source', key="payload ->> '$.ticket_id'", updated_at="payload ->> '$.updated_at'") }}

),

final as (

    select
        cast(payload ->> '$.ticket_id' as bigint) as ticket_id,
        cast(payload ->> '$.id' as bigint) as ticket_metric_id,
        cast(payload ->> '$.reopens' as integer) as reopens,
        cast(payload ->> '$.replies' as integer) as replies,
        cast(payload ->> '$.reply_time_in_minutes.calendar' as integer) as first_reply_minutes,
        cast(payload ->> '$.reply_time_in_minutes.business' as integer) as first_reply_business_minutes,
        cast(payload ->> '$.full_resolution_time_in_minutes.calendar' as integer) as full_resolution_minutes,
        cast(payload ->> '$.full_resolution_time_in_minutes.business' as integer) as full_resolution_business_minutes,
        {{ to_utc_timestamp("payload ->> '$.solved_at'") }} as solved_at,
        {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
        {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at
    from latest_versions

)

select * from final
