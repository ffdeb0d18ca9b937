-- One row per Delighted survey response, its latest version (latest `updated_at`, then day, then line). Typed values
-- come from the contract (macro raw_field, generated from ingestion/delighted/__init__.py): the score is on the
-- survey type's scale, checked by the loader. The account id and plan are the person properties named by the dbt
-- vars delighted_account_id_property and delighted_plan_property.
{%- set entity = 'delighted.survey_responses' %}
with

source as (

    select * from {{ source('delighted', 'survey_responses') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'updated_at')) }}

),

typed as (

    select
        record_id as response_id,
        {{ raw_field(entity, 'survey_type') }} as survey_type,
        {{ raw_field(entity, 'score') }} as score,
        {{ raw_field(entity, 'comment') }} as comment,
        {{ raw_field(entity, 'permalink') }} as permalink,
        {{ raw_field(entity, 'person') }} as person_id,
        {{ raw_field(entity, 'person.email') }} as email,
        {{ raw_field(entity, 'person.name') }} as person_name,
        {{ raw_field(entity, 'person_properties.account_id') }} as account_id,
        {{ raw_field(entity, 'person_properties.plan') }} as plan,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

),

final as (

    select
        response_id,
        survey_type,
        score,
        comment,
        permalink,
        person_id,
        email,
        person_name,
        account_id,
        plan,
        created_at,
        updated_at
    from typed

)

select * from final
