-- The items of every landed subscription version, one row per item and version
-- (items.data unnested; price fields flattened, amounts in major units).
with

source as (

    select * from {{ source('stripe', 'subscriptions') }}

),

items_unnested as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        {{ json_array_elements('payload', '$.items.data') }} as item
    from source

),

final as (

    select
        subscription_id,
        valid_from_date,
        {{ json_text('item', '$.id') }} as subscription_item_id,
        {{ json_text('item', '$.price.id') }} as price_id,
        {{ clean_text(json_text('item', '$.price.nickname')) }} as price_nickname,
        {{ clean_text(json_text('item', '$.price.lookup_key')) }} as price_lookup_key,
        coalesce(
            {{ json_text('item', '$.price.product.id') }}, {{ json_text('item', '$.price.product') }}
        ) as product_id,
        {{ clean_text(json_text('item', '$.price.product.name')) }} as product_name,
        coalesce(cast({{ json_text('item', '$.quantity') }} as integer), 1) as quantity,
        {%- set unit_amount = [
            json_text('item', '$.price.unit_amount_decimal'), json_text('item', '$.price.unit_amount')
        ] %}
        {{ stripe_minor_to_major(
            'coalesce(' ~ unit_amount | join(', ') ~ ')',
            json_text('item', '$.price.currency')
        ) }} as unit_amount,
        {{ clean_enum(json_text('item', '$.price.currency')) }} as currency,
        {{ clean_enum(json_text('item', '$.price.recurring.interval')) }} as billing_interval,
        coalesce(
            cast({{ json_text('item', '$.price.recurring.interval_count') }} as integer), 1
        ) as billing_interval_count
    from items_unnested

)

select * from final
