-- Typed values come from the contract (macro raw_field, generated from ingestion/simplesat/__init__.py). The
-- survey's metric says what the response measures; the score is the `choice` of the one answer whose question
-- carries that metric (the primary question), validated on the metric's scale by the loader.
{%- set entity = 'simplesat.responses' %}
with

source as (

    select * from {{ source('simplesat', 'responses') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'modified')) }}

),

typed as (

    select
        record_id as response_id,
        {{ raw_field(entity, 'survey.metric') }} as survey_type,
        {{ raw_field(entity, 'survey.name') }} as survey_name,
        {{ raw_field(entity, 'nps_answer.choice') }} as nps_choice,
        {{ raw_field(entity, 'csat_answer.choice') }} as csat_choice,
        {{ raw_field(entity, 'ces_answer.choice') }} as ces_choice,
        {{ raw_field(entity, 'nps_answer.comment') }} as nps_comment,
        {{ raw_field(entity, 'csat_answer.comment') }} as csat_comment,
        {{ raw_field(entity, 'ces_answer.comment') }} as ces_comment,
        {{ raw_field(entity, 'nps_answer.sentiment') }} as nps_sentiment,
        {{ raw_field(entity, 'csat_answer.sentiment') }} as csat_sentiment,
        {{ raw_field(entity, 'ces_answer.sentiment') }} as ces_sentiment,
        {{ raw_field(entity, 'source') }} as channel,
        {{ raw_field(entity, 'customer.email') }} as email,
        {{ raw_field(entity, 'customer.external_id') }} as customer_external_id,
        {{ raw_field(entity, 'customer.company') }} as customer_company,
        {{ raw_field(entity, 'ticket.external_id') }} as ticket_external_id,
        {{ raw_field(entity, 'ticket.subject') }} as ticket_subject,
        {{ raw_field(entity, 'primary_team_member.external_id') }} as team_member_external_id,
        {{ raw_field(entity, 'primary_team_member.name') }} as team_member_name,
        {{ raw_field(entity, 'primary_team_member.email') }} as team_member_email,
        {{ raw_field(entity, 'created') }} as created_at,
        {{ raw_field(entity, 'modified') }} as modified_at
    from latest_versions

),

final as (

    select
        response_id,
        survey_type,
        survey_name,
        case survey_type
            when 'nps' then nps_choice
            when 'csat' then csat_choice
            when 'ces' then ces_choice
        end as score,
        case survey_type
            when 'nps' then nps_comment
            when 'csat' then csat_comment
            when 'ces' then ces_comment
        end as comment,
        case survey_type
            when 'nps' then nps_sentiment
            when 'csat' then csat_sentiment
            when 'ces' then ces_sentiment
        end as sentiment,
        -- A survey sent on a help-desk ticket is transactional (CES, CSAT on tickets); one without is relational.
        case when ticket_external_id is not null then 'transactional' else 'relational' end as survey_kind,
        channel,
        email,
        customer_external_id,
        customer_company,
        ticket_external_id,
        ticket_subject,
        team_member_external_id,
        team_member_name,
        team_member_email,
        created_at,
        modified_at
    from typed

)

select * from final
