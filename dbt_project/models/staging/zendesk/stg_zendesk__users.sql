{%- set entity = 'zendesk.users' %}
with

source as (

    select * from {{ source('zendesk', 'users') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'updated_at')) }}

),

final as (

    select
        {{ raw_field(entity, 'id') }} as user_id,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'organization_id') }} as organization_id,
        {{ raw_field(entity, 'role') }} as user_role,
        {{ raw_field(entity, 'created_at') }} as created_at,
        {{ raw_field(entity, 'updated_at') }} as updated_at
    from latest_versions

)

select * from final
