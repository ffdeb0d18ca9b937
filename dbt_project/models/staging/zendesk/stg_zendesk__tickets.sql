-- A table, not a view: the latest version of each object is picked from every version loaded and its JSON is
-- parsed once, instead of again for each of its tests and for every model that reads it.
{{ config(materialized='table') }}
{%- set entity = 'zendesk.tickets' %}

with

source as (

    select * from {{ source('zendesk', 'tickets') }}

),

-- When the ticket's current satisfaction rating was first seen: the earliest version carrying its id (a rating
-- has no time of its own on the ticket; the satisfaction_ratings objects have theirs).
versions_with_rating_seen as (

    select
        *,
        min({{ raw_field(entity, 'updated_at') }}) over (
            partition by record_id, {{ raw_field(entity, 'satisfaction_rating.id') }}
        ) as rating_first_seen_at
    from source

),

latest_versions as (

    {{ latest_versions('versions_with_rating_seen', updated_at=raw_field(entity, 'updated_at')) }}

),

renamed as (

    select
        {{ raw_field(entity, 'id') }} as ticket_id,
        {{ raw_field(entity, 'status') }} as status,
        {{ raw_field(entity, 'type') }} as ticket_type,
        {{ raw_field(entity, 'priority') }} as priority,
        {{ raw_field(entity, 'subject') }} as subject,
        {{ raw_field(entity, 'organization_id') }} as organization_id,
        {{ raw_field(entity, 'requester_id') }} as requester_id,
        {{ raw_field(entity, 'group_id') }} as group_id,
        {{ raw_field(entity, 'assignee_id') }} as assignee_id,
        -- The survey response a follow-up ticket answers: the value of custom field var zendesk_nps_response_field_id.
        {{ raw_field(entity, 'nps_response_field.value') }} as nps_response_id,
        {{ raw_field(entity, 'via.channel') }} as channel,
        -- Zendesk stores tags lower-cased; a missing or null array becomes an empty list.
        {{ raw_field(entity, 'tags') }} as tags,
        -- The ticket's satisfaction rating: 'offered', 'unoffered', 'good' or 'bad' (null where CSAT is off).
        {{ raw_field(entity, 'satisfaction_rating.id') }} as satisfaction_rating_id,
        {{ raw_field(entity, 'satisfaction_rating.score') }} as satisfaction_score,
        {{ raw_field(entity, 'satisfaction_rating.comment') }} as satisfaction_comment,
        {{ raw_field(entity, 'satisfaction_rating.reason') }} as satisfaction_reason,
        case
            when {{ raw_field(entity, 'satisfaction_rating.id') }} is not null then rating_first_seen_at
        end as satisfaction_rating_seen_at,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
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
        nps_response_id,
        satisfaction_rating_id,
        satisfaction_score,
        satisfaction_comment,
        satisfaction_reason,
        satisfaction_rating_seen_at,
        (
            {{ list_has_any_of('tags', var('nps_followup_tags')) }}
            or nps_response_id is not null
        ) as is_nps_followup,
        created_at,
        updated_at
    from renamed

)

select * from final
