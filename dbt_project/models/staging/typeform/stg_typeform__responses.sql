-- Typed values come from the contract (macro raw_field, generated from ingestion/typeform/__init__.py): the score
-- and reason are the answers whose form field `ref` is var('typeform_nps_score_ref') / var('typeform_nps_reason_ref').
{%- set entity = 'typeform.responses' %}
with

source as (

    select * from {{ source('typeform', 'responses') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as response_id,
        'nps' as survey_type,
        {{ raw_field(entity, 'nps_answer.number') }} as score,
        {{ raw_field(entity, 'reason_answer.text') }} as comment,
        {{ raw_field(entity, 'hidden.account_id') }} as account_id,
        {{ raw_field(entity, 'hidden.email') }} as email,
        {{ raw_field(entity, 'hidden.survey_kind') }} as survey_kind,
        {{ raw_field(entity, 'hidden.touchpoint') }} as touchpoint,
        -- Typeform surveys go out as email links unless the link says otherwise.
        coalesce({{ raw_field(entity, 'hidden.channel') }}, 'email') as channel,
        {{ raw_field(entity, 'hidden.ticket_id') }} as ticket_id,
        {{ raw_field(entity, 'landed_at') }} as landed_at,
        {{ raw_field(entity, 'submitted_at') }} as submitted_at
    from latest_versions

)

select * from final
