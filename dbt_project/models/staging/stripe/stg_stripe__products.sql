-- One row per Stripe product (the catalog: the plan names people know), its latest landed version: the latest
-- `updated`, then landing day, then line. A renamed product shows its current name.
{%- set entity = 'stripe.products' %}
with

source as (

    select * from {{ source('stripe', 'products') }}

),

latest_versions as (

    {{ latest_versions('source', updated_at=raw_field(entity, 'updated')) }}

),

final as (

    select
        record_id as product_id,
        {{ raw_field(entity, 'name') }} as product_name,
        coalesce({{ raw_field(entity, 'active') }}, true) as is_active,
        coalesce({{ raw_field(entity, 'deleted') }}, false) as is_deleted,
        {{ raw_field(entity, 'default_price') }} as default_price_id,
        {{ raw_field(entity, 'created') }} as created_at,
        {{ raw_field(entity, 'updated') }} as updated_at
    from latest_versions

)

select * from final
