with

source as (

    select * from {{ source('zendesk', 'organizations') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at="payload ->> '$.updated_at'") }}

),

final as (

    select
        cast(payload ->> '$.id' as bigint) as organization_id,
        payload ->> '$.name' as organization_name,
        -- The platform's account id is kept in the organization's external_id.
        {{ clean_text("payload ->> '$.external_id'") }} as account_id,
        {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
        {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at
    from latest_versions

)

select * from final
