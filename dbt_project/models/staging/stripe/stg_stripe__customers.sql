with

source as (

    select * from {{ source('stripe', 'customers') }}

),

-- Stripe objects carry no updated timestamp: the latest landing partition, then line, wins.
versions_ranked as (

    select
        *,
        row_number() over (
            partition by record_id
            order by _partition_date desc, _line_number desc
        ) as version_rank
    from source

),

latest_versions as (

    select * from versions_ranked
    where version_rank = 1

),

final as (

    select
        record_id as customer_id,
        {{ clean_text("payload ->> '$.metadata.account_id'") }} as account_id,
        {{ clean_email("payload ->> '$.email'") }} as email,
        upper({{ clean_text("payload ->> '$.address.country'") }}) as country,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        coalesce(cast(payload ->> '$.deleted' as boolean), false) as is_deleted,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at
    from latest_versions

)

select * from final
