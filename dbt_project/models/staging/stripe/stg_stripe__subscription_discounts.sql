-- The discounts of every landed subscription version, one row per discount and version, whatever the API version:
--   before 2025-03-31.basil: the subscription's `discount` (coupon embedded), and `discounts` when expanded;
--   from it: `discounts` (Discount objects where expanded) and each item's `items.data[].discounts`;
--   from 2025-09-30.clover the coupon is under `source.coupon` (`source.type = 'coupon'`), not `coupon`.
-- A discount listed by id only (not expanded) has no coupon to price: it is not here (docs/sources.md).
-- Amounts in the coupon currency's major unit.
{%- set entity = 'stripe.subscriptions' %}
{#- Each shape gives the Discount objects as `element`, read with the fields of `discounts[]` (one Discount object). -#}
{%- set shapes = [
    ('subscription_discount', 'subscription'),
    ('subscription_discounts', 'subscription'),
    ('item_discounts', 'item'),
] %}
{%- set prefix = 'discounts[].' %}
with

source as (

    select * from {{ source('stripe', 'subscriptions') }}

),

subscription_discount as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        {{ raw_field(entity, 'discount') }} as element
    from source

),

subscription_discounts as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        {{ json_array_elements('payload', '$.discounts') }} as element
    from source

),

items_unnested as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        {{ json_array_elements('payload', '$.items.data') }} as element
    from source

),

items as (

    select
        subscription_id,
        valid_from_date,
        {{ raw_field(entity, 'items.data[].id') }} as item_id,
        element as item
    from items_unnested

),

item_discounts as (

    select
        subscription_id,
        valid_from_date,
        item_id,
        {{ json_array_elements('item', '$.discounts') }} as element
    from items

),

discounts_read as (

    {%- for relation, level in shapes %}

        select
            subscription_id,
            valid_from_date,
            '{{ level }}' as discount_level,
            {{ raw_field(entity, prefix ~ 'id') }} as discount_id,
            {%- if level == 'item' %}
                coalesce({{ raw_field(entity, prefix ~ 'subscription_item') }}, item_id) as subscription_item_id,
            {%- else %}
                {{ raw_field(entity, prefix ~ 'subscription_item') }} as subscription_item_id,
            {%- endif %}
            {%- for column, field in [
                ('coupon_id', 'coupon'),
                ('percent_off', 'coupon.percent_off'),
                ('amount_off', 'coupon.amount_off'),
                ('amount_off_currency', 'coupon.currency'),
                ('duration', 'coupon.duration'),
                ('duration_in_months', 'coupon.duration_in_months'),
            ] %}
                coalesce(
                    {{ raw_field(entity, prefix ~ field) }}, {{ raw_field(entity, prefix ~ 'source.' ~ field) }}
                ) as {{ column }},
            {%- endfor %}
            {{ raw_field(entity, prefix ~ 'start') }} as started_at,
            {{ raw_field(entity, prefix ~ 'end') }} as ended_at
        from {{ relation }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- Before basil a subscription's `discount` is also in its `discounts`: the same discount id once.
discounts_ranked as (

    select
        *,
        row_number() over (
            partition by subscription_id, valid_from_date, discount_id, subscription_item_id
            order by coupon_id asc nulls last, discount_level asc
        ) as discount_rank
    from discounts_read
    -- Discount objects only (an element that is an id has none of these).
    where discount_id is not null or coupon_id is not null or percent_off is not null or amount_off is not null

),

final as (

    select
        subscription_id,
        valid_from_date,
        discount_id,
        case when subscription_item_id is null then 'subscription' else 'item' end as discount_level,
        subscription_item_id,
        coupon_id,
        percent_off,
        amount_off,
        amount_off_currency,
        duration,
        duration_in_months,
        started_at,
        ended_at
    from discounts_ranked
    where discount_rank = 1

)

select * from final
