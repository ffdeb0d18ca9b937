-- The discounts of every landed subscription version, one row per discount and version, whatever the API version:
--   before 2025-03-31.basil: the subscription's `discount` (coupon embedded), and `discounts` when expanded;
--   from it: `discounts` (Discount objects where expanded) and each item's `items.data[].discounts`;
--   from 2025-09-30.clover the coupon is under `source.coupon` (`source.type = 'coupon'`), not `coupon`, and is
--   an id unless expanded: its terms then come from stripe/coupons (stg_stripe__coupons).
-- A discount listed by id only (an event's object, or a list read without `expand[]`) takes the Discount object
-- landed under the same id in any version of any subscription (ids are unique; a Discount never changes): the API
-- connector asks for `expand[]=data.discounts` and `data.items.data.discounts`, so the list read before an event
-- has it. An id never seen expanded cannot be priced: it is not here, and the test
-- assert_stripe_discounts_are_priced warns about it (docs/sources.md).
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

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

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

-- Discount objects only (an element that is an id has none of these).
discount_objects as (

    select * from discounts_read
    where discount_id is not null or coupon_id is not null or percent_off is not null or amount_off is not null

),

discount_ids as (

    select
        subscription_id,
        valid_from_date,
        null as item_id,
        {{ json_string_element('element') }} as discount_id
    from subscription_discounts

    union all

    select
        subscription_id,
        valid_from_date,
        item_id,
        {{ json_string_element('element') }} as discount_id
    from item_discounts

),

-- One Discount object per id: the latest landed.
objects_ranked as (

    select
        *,
        row_number() over (partition by discount_id order by valid_from_date desc, discount_level asc) as object_rank
    from discount_objects
    where discount_id is not null

),

objects_by_id as (

    select * from objects_ranked
    where object_rank = 1

),

discounts_by_id as (

    select
        discount_ids.subscription_id,
        discount_ids.valid_from_date,
        objects_by_id.discount_level,
        discount_ids.discount_id,
        coalesce(objects_by_id.subscription_item_id, discount_ids.item_id) as subscription_item_id,
        objects_by_id.coupon_id,
        objects_by_id.percent_off,
        objects_by_id.amount_off,
        objects_by_id.amount_off_currency,
        objects_by_id.duration,
        objects_by_id.duration_in_months,
        objects_by_id.started_at,
        objects_by_id.ended_at
    from discount_ids
    inner join objects_by_id
        on discount_ids.discount_id = objects_by_id.discount_id

),

discounts_found as (

    select * from discount_objects
    union all
    select * from discounts_by_id

),

-- Before basil a subscription's `discount` is also in its `discounts` (an id): the same discount id once.
discounts_ranked as (

    select
        *,
        row_number() over (
            partition by subscription_id, valid_from_date, discount_id, subscription_item_id
            order by coupon_id asc nulls last, discount_level asc
        ) as discount_rank
    from discounts_found

),

-- A coupon named by id only (clover's `source.coupon`, unless expanded) takes its terms from stripe/coupons.
final as (

    select
        discounts_ranked.subscription_id,
        discounts_ranked.valid_from_date,
        discounts_ranked.discount_id,
        case when discounts_ranked.subscription_item_id is null then 'subscription' else 'item' end as discount_level,
        discounts_ranked.subscription_item_id,
        discounts_ranked.coupon_id,
        {%- for column in ['percent_off', 'amount_off', 'amount_off_currency', 'duration', 'duration_in_months'] %}
            case
                when discounts_ranked.percent_off is null and discounts_ranked.amount_off is null
                    then coupons.{{ column }}
                else discounts_ranked.{{ column }}
            end as {{ column }},
        {%- endfor %}
        discounts_ranked.started_at,
        discounts_ranked.ended_at
    from discounts_ranked
    left join coupons
        on discounts_ranked.coupon_id = coupons.coupon_id
    where discounts_ranked.discount_rank = 1

)

select * from final
