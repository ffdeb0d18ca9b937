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
        {{ clean_text(json_text('payload', '$.metadata.account_id')) }} as account_id,
        {{ clean_email(json_text('payload', '$.email')) }} as email,
        upper({{ clean_text(json_text('payload', '$.address.country')) }}) as country,
        {{ clean_enum(json_text('payload', '$.currency')) }} as currency,
        coalesce(cast({{ json_text('payload', '$.deleted') }} as boolean), false) as is_deleted,
        {{ epoch_to_timestamp(json_text('payload', '$.created')) }} as created_at
    from latest_versions

)

select * from final
