with

source as (

    select * from {{ source('stripe', 'charges') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as charge_id,
        coalesce(payload ->> '$.customer.id', payload ->> '$.customer') as customer_id,
        payload ->> '$.invoice' as invoice_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        {{ stripe_minor_to_major("payload ->> '$.amount'", "payload ->> '$.currency'") }} as amount,
        {{ stripe_minor_to_major("payload ->> '$.amount_refunded'", "payload ->> '$.currency'") }} as amount_refunded,
        coalesce(cast(payload ->> '$.paid' as boolean), false) as is_paid,
        coalesce(cast(payload ->> '$.refunded' as boolean), false) as is_refunded,
        {{ clean_text("payload ->> '$.failure_code'") }} as failure_code,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at
    from latest_versions

)

select * from final
