with

source as (

    select * from {{ source('zendesk', 'organizations') }}

),

versions_ranked as (

    select
        *,
        row_number() over (
            partition by record_id
            order by
                {{ to_utc_timestamp("payload ->> '$.updated_at'") }} desc nulls last,
                _partition_date desc,
                _line_number desc
        ) as version_rank
    from source

),

latest_versions as (

    select * from versions_ranked
    where version_rank = 1

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
