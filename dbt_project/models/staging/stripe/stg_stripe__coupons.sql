-- One row per Stripe coupon, its latest landed version: the terms of the discounts that name it by id only (from
-- 2025-09-30.clover a Discount's `source.coupon` is an id unless expanded, in lists and events alike).
{%- set entity = 'stripe.coupons' %}
with

source as (

    select * from {{ source('stripe', 'coupons') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as coupon_id,
        {{ raw_field(entity, 'name') }} as coupon_name,
        {{ raw_field(entity, 'percent_off') }} as percent_off,
        {{ raw_field(entity, 'amount_off') }} as amount_off,
        {{ raw_field(entity, 'currency') }} as amount_off_currency,
        {{ raw_field(entity, 'duration') }} as duration,
        {{ raw_field(entity, 'duration_in_months') }} as duration_in_months,
        coalesce({{ raw_field(entity, 'valid') }}, true) as is_valid,
        {{ raw_field(entity, 'created') }} as created_at
    from latest_versions

)

select * from final
