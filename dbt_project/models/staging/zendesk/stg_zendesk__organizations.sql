with

source as (

    select * from {{ source('zendesk', 'organizations') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=json_text('payload', '$.updated_at')) }}

),

final as (

    select
        cast({{ json_text('payload', '$.id') }} as bigint) as organization_id,
        {{ json_text('payload', '$.name') }} as organization_name,
        -- The platform's account id is kept in the organization's external_id.
        {{ clean_text(json_text('payload', '$.external_id')) }} as account_id,
        {{ to_utc_timestamp(json_text('payload', '$.created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', '$.updated_at')) }} as updated_at
    from latest_versions

)

select * from final
