-- Amounts in the currency's major unit (minor units divided by the currency's exponent, from the contract).
{%- set entity = 'stripe.invoices' %}
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
        {{ raw_field(entity, 'customer') }} as customer_id,
        -- `parent.subscription_details.subscription` from API version 2025-03-31.basil on.
        coalesce(
            {{ raw_field(entity, 'subscription') }},
            {{ raw_field(entity, 'parent.subscription_details.subscription') }}
        ) as subscription_id,
        {{ raw_field(entity, 'status') }} as status,
        {{ raw_field(entity, 'currency') }} as currency,
        {{ raw_field(entity, 'amount_due') }} as amount_due,
        {{ raw_field(entity, 'amount_paid') }} as amount_paid,
        {{ raw_field(entity, 'total') }} as total_amount,
        {{ raw_field(entity, 'created') }} as created_at,
        {{ raw_field(entity, 'period_start') }} as period_started_at,
        {{ raw_field(entity, 'period_end') }} as period_ended_at,
        {{ raw_field(entity, 'status_transitions.paid_at') }} as paid_at
    from latest_versions

)

select * from final
