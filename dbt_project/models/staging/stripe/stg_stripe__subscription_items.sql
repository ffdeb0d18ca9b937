-- The items of every landed subscription version, one row per item and version
-- (items.data unnested into `element`; price fields flattened, amounts in major units).
-- The billing period is the item's from API version 2025-03-31.basil on, the subscription's before it.
{%- set entity = 'stripe.subscriptions' %}
with

source as (

    select * from {{ source('stripe', 'subscriptions') }}

),

items_unnested as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        {{ raw_field(entity, 'current_period_start') }} as subscription_period_started_at,
        {{ raw_field(entity, 'current_period_end') }} as subscription_period_ended_at,
        {{ json_array_elements('payload', '$.items.data') }} as element
    from source

),

final as (

    select
        subscription_id,
        valid_from_date,
        {{ raw_field(entity, 'items.data[].id') }} as subscription_item_id,
        {{ raw_field(entity, 'items.data[].price.id') }} as price_id,
        {{ raw_field(entity, 'items.data[].price.nickname') }} as price_nickname,
        {{ raw_field(entity, 'items.data[].price.lookup_key') }} as price_lookup_key,
        {{ raw_field(entity, 'items.data[].price.product') }} as product_id,
        {{ raw_field(entity, 'items.data[].price.product.name') }} as product_name,
        coalesce({{ raw_field(entity, 'items.data[].quantity') }}, 1) as quantity,
        coalesce(
            {{ raw_field(entity, 'items.data[].price.unit_amount_decimal') }},
            {{ raw_field(entity, 'items.data[].price.unit_amount') }}
        ) as unit_amount,
        {{ raw_field(entity, 'items.data[].price.currency') }} as currency,
        {{ raw_field(entity, 'items.data[].price.recurring.interval') }} as billing_interval,
        coalesce({{ raw_field(entity, 'items.data[].price.recurring.interval_count') }}, 1) as billing_interval_count,
        coalesce(
            {{ raw_field(entity, 'items.data[].current_period_start') }}, subscription_period_started_at
        ) as current_period_started_at,
        coalesce(
            {{ raw_field(entity, 'items.data[].current_period_end') }}, subscription_period_ended_at
        ) as current_period_ended_at
    from items_unnested

)

select * from final
