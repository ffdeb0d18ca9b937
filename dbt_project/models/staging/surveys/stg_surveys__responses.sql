{%- set entity = 'surveys.responses' %}
with

source as (

    select * from {{ source('surveys', 'responses') }}

),

latest_versions as (

    {{ latest_versions('source', key="response_id") }}

),

final as (

    select
        {{ raw_field(entity, 'response_id') }} as response_id,
        {{ raw_field(entity, 'survey_type') }} as survey_type,
        {{ raw_field(entity, 'survey_kind') }} as survey_kind,
        {{ raw_field(entity, 'score') }} as score,
        {{ raw_field(entity, 'comment') }} as comment,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'account_id') }} as account_id,
        {{ raw_field(entity, 'ticket_id') }} as ticket_id,
        {{ raw_field(entity, 'channel') }} as channel,
        {{ raw_field(entity, 'touchpoint') }} as touchpoint,
        {{ raw_field(entity, 'responded_at') }} as responded_at,
        {{ raw_field(entity, 'send_id') }} as send_id
    from latest_versions

)

select * from final
