with

source as (

    select * from {{ source('zendesk', 'users') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=json_text('payload', '$.updated_at')) }}

),

final as (

    select
        cast({{ json_text('payload', '$.id') }} as bigint) as user_id,
        {{ clean_email(json_text('payload', '$.email')) }} as email,
        cast({{ json_text('payload', '$.organization_id') }} as bigint) as organization_id,
        {{ clean_enum(json_text('payload', '$.role')) }} as user_role,
        {{ to_utc_timestamp(json_text('payload', '$.created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', '$.updated_at')) }} as updated_at
    from latest_versions

)

select * from final
