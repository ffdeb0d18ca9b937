{%- set entity = 'zendesk.organizations' %}
with

source as (

    select * from {{ source('zendesk', 'organizations') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'updated_at')) }}

),

final as (

    select
        {{ raw_field(entity, 'id') }} as organization_id,
        {{ raw_field(entity, 'name') }} as organization_name,
        -- The platform's account id is kept in the organization's external_id.
        {{ raw_field(entity, 'external_id') }} as account_id,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

)

select * from final
