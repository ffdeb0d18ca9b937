{%- set entity = 'surveys.sends' %}
with

source as (

    select * from {{ source('surveys', 'sends') }}

),

latest_versions as (

    {{ latest_versions('source', key="send_id") }}

),

final as (

    select
        {{ raw_field(entity, 'send_id') }} as send_id,
        {{ raw_field(entity, 'survey_type') }} as survey_type,
        {{ raw_field(entity, 'survey_kind') }} as survey_kind,
        {{ raw_field(entity, 'channel') }} as channel,
        {{ raw_field(entity, 'touchpoint') }} as touchpoint,
        {{ raw_field(entity, 'account_id') }} as account_id,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'sent_at') }} as sent_at,
        {{ raw_field(entity, 'delivered_at') }} as delivered_at,
        {{ raw_field(entity, 'opened_at') }} as opened_at,
        {{ raw_field(entity, 'reminded_at') }} as reminded_at,
        {{ raw_field(entity, 'bounced_at') }} as bounced_at,
        {{ raw_field(entity, 'unsubscribed_at') }} as unsubscribed_at,
        -- The experiment variant of the send (seed experiments); null when the file has no variant column.
        {{ raw_field(entity, 'variant') }} as variant
    from latest_versions

)

select * from final
