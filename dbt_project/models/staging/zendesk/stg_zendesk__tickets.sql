with

source as (

    select * from {{ source('zendesk', 'tickets') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at="payload ->> '$.updated_at'") }}

),

renamed as (

    select
        cast(payload ->> '$.id' as bigint) as ticket_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.type'") }} as ticket_type,
        {{ clean_enum("payload ->> '$.priority'") }} as priority,
        payload ->> '$.subject' as subject,
        cast(payload ->> '$.organization_id' as bigint) as organization_id,
        cast(payload ->> '$.requester_id' as bigint) as requester_id,
        {{ clean_enum("payload ->> '$.via.channel'") }} as channel,
        -- Zendesk stores tags lower-cased; a missing or null array becomes an empty list.
        json_extract_string(payload, '$.tags[*]') as tags,
        {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
        {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at
    from latest_versions

),

final as (

    select
        ticket_id,
        status,
        ticket_type,
        priority,
        subject,
        organization_id,
        requester_id,
        channel,
        tags,
        list_has_any(tags, [{{ sql_string_list(var('refund_tags')) }}]) as is_refund_related,
        created_at,
        updated_at
    from renamed

)

select * from final
