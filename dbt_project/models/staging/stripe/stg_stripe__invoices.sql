{%- set currency = json_text('payload', '$.currency') %}
with

source as (

    select * from {{ source('stripe', 'invoices') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as invoice_id,
        coalesce({{ json_text('payload', '$.customer.id') }}, {{ json_text('payload', '$.customer') }}) as customer_id,
        {{ json_text('payload', '$.subscription') }} as subscription_id,
        {{ clean_enum(json_text('payload', '$.status')) }} as status,
        {{ clean_enum(json_text('payload', '$.currency')) }} as currency,
        {{ stripe_minor_to_major(json_text('payload', '$.amount_due'), currency) }} as amount_due,
        {{ stripe_minor_to_major(json_text('payload', '$.amount_paid'), currency) }} as amount_paid,
        {{ stripe_minor_to_major(json_text('payload', '$.total'), currency) }} as total_amount,
        {{ epoch_to_timestamp(json_text('payload', '$.created')) }} as created_at,
        {{ epoch_to_timestamp(json_text('payload', '$.period_start')) }} as period_started_at,
        {{ epoch_to_timestamp(json_text('payload', '$.period_end')) }} as period_ended_at,
        {{ epoch_to_timestamp(json_text('payload', '$.status_transitions.paid_at')) }} as paid_at
    from latest_versions

)

select * from final
