{%- set entity = 'stripe.customers' %}
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
        {{ raw_field(entity, 'metadata.account_id') }} as account_id,
        {{ raw_field(entity, 'name') }} as customer_name,
        {{ raw_field(entity, 'email') }} as email,
        {{ raw_field(entity, 'address.country') }} as country,
        {{ raw_field(entity, 'metadata.region') }} as metadata_region,
        -- Who referred the customer (var stripe_referred_by_metadata_key): an account id or a Stripe customer id.
        {{ raw_field(entity, 'metadata.referred_by') }} as referred_by,
        {{ raw_field(entity, 'currency') }} as currency,
        coalesce({{ raw_field(entity, 'deleted') }}, false) as is_deleted,
        {{ raw_field(entity, 'created') }} as created_at
    from latest_versions

)

select * from final
