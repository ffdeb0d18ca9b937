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
        coalesce(payload ->> '$.customer.id', payload ->> '$.customer') as customer_id,
        payload ->> '$.subscription' as subscription_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        {{ stripe_minor_to_major("payload ->> '$.amount_due'", "payload ->> '$.currency'") }} as amount_due,
        {{ stripe_minor_to_major("payload ->> '$.amount_paid'", "payload ->> '$.currency'") }} as amount_paid,
        {{ stripe_minor_to_major("payload ->> '$.total'", "payload ->> '$.currency'") }} as total_amount,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at,
        {{ epoch_to_timestamp("payload ->> '$.period_start'") }} as period_started_at,
        {{ epoch_to_timestamp("payload ->> '$.period_end'") }} as period_ended_at,
        {{ epoch_to_timestamp("payload ->> '$.status_transitions.paid_at'") }} as paid_at
    from latest_versions

)

select * from final
