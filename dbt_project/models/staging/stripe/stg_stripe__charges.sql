{%- set currency = json_text('payload', '$.currency') %}
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
        coalesce({{ json_text('payload', '$.customer.id') }}, {{ json_text('payload', '$.customer') }}) as customer_id,
        {{ json_text('payload', '$.invoice') }} as invoice_id,
        {{ clean_enum(json_text('payload', '$.status')) }} as status,
        {{ clean_enum(json_text('payload', '$.currency')) }} as currency,
        {{ stripe_minor_to_major(json_text('payload', '$.amount'), currency) }} as amount,
        {{ stripe_minor_to_major(json_text('payload', '$.amount_refunded'), currency) }} as amount_refunded,
        coalesce(cast({{ json_text('payload', '$.paid') }} as boolean), false) as is_paid,
        coalesce(cast({{ json_text('payload', '$.refunded') }} as boolean), false) as is_refunded,
        {{ clean_text(json_text('payload', '$.failure_code')) }} as failure_code,
        {{ epoch_to_timestamp(json_text('payload', '$.created')) }} as created_at
    from latest_versions

)

select * from final
