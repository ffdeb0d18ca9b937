-- Amounts in the currency's major unit (minor units divided by the currency's exponent, from the contract).
{%- set entity = 'stripe.charges' %}
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
        {{ raw_field(entity, 'customer') }} as customer_id,
        {{ raw_field(entity, 'invoice') }} as invoice_id,
        {{ raw_field(entity, 'status') }} as status,
        {{ raw_field(entity, 'currency') }} as currency,
        {{ raw_field(entity, 'amount') }} as amount,
        {{ raw_field(entity, 'amount_refunded') }} as amount_refunded,
        coalesce({{ raw_field(entity, 'paid') }}, false) as is_paid,
        coalesce({{ raw_field(entity, 'refunded') }}, false) as is_refunded,
        {{ raw_field(entity, 'failure_code') }} as failure_code,
        {{ raw_field(entity, 'created') }} as created_at
    from latest_versions

)

select * from final
