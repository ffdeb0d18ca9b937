with

source as (

    select * from {{ source('zendesk', 'users') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at="payload ->> '$.updated_at'") }}

),

final as (

    select
        cast(payload ->> '$.id' as bigint) as user_id,
        {{ clean_email("payload ->> '$.email'") }} as email,
        cast(payload ->> '$.organization_id' as bigint) as organization_id,
        {{ clean_enum("payload ->> '$.role'") }} as user_role,
        {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
        {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at
    from latest_versions

)

select * from final
