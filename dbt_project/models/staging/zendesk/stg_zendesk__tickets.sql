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
        cast(payload ->> '$.group_id' as bigint) as group_id,
        cast(payload ->> '$.assignee_id' as bigint) as assignee_id,
        -- The survey response a follow-up ticket answers: the value of custom field var zendesk_nps_response_field_id.
        list_filter(
            json_extract(payload, '$.custom_fields[*]'),
            lambda custom_field: custom_field ->> '$.id' = '{{ var("zendesk_nps_response_field_id") }}'
        )[1] ->> '$.value' as nps_response_id,
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
        group_id,
        assignee_id,
        nullif(trim(nps_response_id), '') as nps_response_id,
        (
            list_has_any(tags, [{{ sql_string_list(var('nps_followup_tags')) }}])
            or nullif(trim(nps_response_id), '') is not null
        ) as is_nps_followup,
        created_at,
        updated_at
    from renamed

)

select * from final
