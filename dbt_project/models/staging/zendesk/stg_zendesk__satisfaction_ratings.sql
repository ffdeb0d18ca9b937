-- One row per Zendesk satisfaction rating (legacy CSAT), latest version: a rating changed by the requester (bad to
-- good, a comment added) lands again with a later updated_at, and only its latest state is kept.
{%- set entity = 'zendesk.satisfaction_ratings' %}
with

source as (

    select * from {{ source('zendesk', 'satisfaction_ratings') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'updated_at')) }}

),

final as (

    select
        {{ raw_field(entity, 'id') }} as satisfaction_rating_id,
        {{ raw_field(entity, 'ticket_id') }} as ticket_id,
        {{ raw_field(entity, 'score') }} as score,
        -- The ticket's group and assignee when it was rated.
        {{ raw_field(entity, 'group_id') }} as group_id,
        {{ raw_field(entity, 'assignee_id') }} as assignee_id,
        {{ raw_field(entity, 'requester_id') }} as requester_id,
        {{ raw_field(entity, 'comment') }} as comment,
        {{ raw_field(entity, 'reason') }} as reason,
        {{ raw_field(entity, 'reason_code') }} as reason_code,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

)

select * from final
