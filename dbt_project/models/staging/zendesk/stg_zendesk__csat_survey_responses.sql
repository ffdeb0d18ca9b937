-- One row per Zendesk CSAT survey response (customizable CSAT), latest version: a response edited before it
-- expires lands again on the day it changed, and only its latest landing is kept. The rating is the answer of type
-- rating_scale (the loader quarantines a response without one); the ticket is the response's subject of type ticket.
{%- set entity = 'zendesk.csat_survey_responses' %}
with

source as (

    select * from {{ source('zendesk', 'csat_survey_responses') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as survey_response_id,
        {{ raw_field(entity, 'ticket_subject.id') }} as ticket_id,
        {{ raw_field(entity, 'responder_id') }} as responder_id,
        {{ raw_field(entity, 'rating_answer.rating') }} as rating,
        -- One option per point of the scale, where the answer carries its question's options.
        json_array_length({{ raw_field(entity, 'rating_answer.question.options') }}) as rating_scale_points,
        {{ raw_field(entity, 'rating_answer.rating_category') }} as rating_category,
        {{ raw_field(entity, 'rating_answer.question.type') }} as question_type,
        {{ raw_field(entity, 'comment_answer.value') }} as comment,
        coalesce({{ raw_field(entity, 'survey.id') }}, {{ raw_field(entity, 'survey_id') }}) as survey_id,
        coalesce(
            {{ raw_field(entity, 'survey.version') }}, {{ raw_field(entity, 'survey_version') }}
        ) as survey_version,
        {{ raw_field(entity, 'rating_answer.created_at') }} as created_at,
        {{ raw_field(entity, 'rating_answer.updated_at') }} as updated_at
    from latest_versions

)

select * from final
