-- A table, not a view: the latest version of each object is picked from every version loaded and its JSON is
-- parsed once, instead of again for each of its tests and for every model that reads it.
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('zendesk', 'tickets') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=json_text('payload', '$.updated_at')) }}

),

renamed as (

    select
        cast({{ json_text('payload', '$.id') }} as bigint) as ticket_id,
        {{ clean_enum(json_text('payload', '$.status')) }} as status,
        {{ clean_enum(json_text('payload', '$.type')) }} as ticket_type,
        {{ clean_enum(json_text('payload', '$.priority')) }} as priority,
        {{ json_text('payload', '$.subject') }} as subject,
        cast({{ json_text('payload', '$.organization_id') }} as bigint) as organization_id,
        cast({{ json_text('payload', '$.requester_id') }} as bigint) as requester_id,
        cast({{ json_text('payload', '$.group_id') }} as bigint) as group_id,
        cast({{ json_text('payload', '$.assignee_id') }} as bigint) as assignee_id,
        -- The survey response a follow-up ticket answers: the value of custom field var zendesk_nps_response_field_id.
        {{ json_text(
            json_first_element_where('payload', '$.custom_fields', '$.id', var('zendesk_nps_response_field_id')),
            '$.value'
        ) }} as nps_response_id,
        {{ clean_enum(json_text('payload', '$.via.channel')) }} as channel,
        -- Zendesk stores tags lower-cased; a missing or null array becomes an empty list.
        {{ json_text_list('payload', '$.tags') }} as tags,
        {{ to_utc_timestamp(json_text('payload', '$.created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', '$.updated_at')) }} as updated_at
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
        {{ list_has_any_of('tags', var('refund_tags')) }} as is_refund_related,
        group_id,
        assignee_id,
        nullif(trim(nps_response_id), '') as nps_response_id,
        (
            {{ list_has_any_of('tags', var('nps_followup_tags')) }}
            or nullif(trim(nps_response_id), '') is not null
        ) as is_nps_followup,
        created_at,
        updated_at
    from renamed

)

select * from final
