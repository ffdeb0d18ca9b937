with

source as (

    select * from {{ source('stripe', 'customers') }}

),

-- Stripe objects carry no updated timestamp: the latest landing partition, then line, wins.
latest_versions as (

    {{ latest_versions('source') }}

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
