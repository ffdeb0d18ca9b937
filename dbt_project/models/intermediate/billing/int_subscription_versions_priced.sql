-- Each landed version of each Stripe subscription with its plan and MRR in USD.
--   plan: the label of the version's largest item (by monthly USD amount), the first set of the labels in
--         var('stripe_plan_label_precedence') (default: price nickname, product name, price lookup_key), else
--         'unknown product <product id>' (a product missing from stripe/products and not expanded), never null.
--         product name = the catalog's current name (stg_stripe__products), else the expanded price.product.name;
--   mrr_usd: sum(unit_amount * quantity) normalised to a month (year / 12, week * 52 / 12, day * 365 / 12,
--            divided by interval_count), converted with the fx_rates seed; 0 unless the version is paying.
-- Discounts, coupons and taxes are ignored: this is list-price MRR for segmentation.
{%- set plan_labels = {
    'price_nickname': 'subscription_items.price_nickname',
    'product_name': 'coalesce(products.product_name, subscription_items.product_name)',
    'price_lookup_key': 'subscription_items.price_lookup_key',
} %}
{%- for label in var('stripe_plan_label_precedence') if label not in plan_labels %}
    {{ exceptions.raise_compiler_error(
        "dbt var stripe_plan_label_precedence: unknown label '" ~ label ~ "' (known: "
        ~ plan_labels.keys() | join(', ') ~ ")"
    ) }}
{%- endfor %}
with

subscription_versions as (

    select * from {{ ref('stg_stripe__subscription_versions') }}

),

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

products as (

    select * from {{ ref('stg_stripe__products') }}

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

items_priced as (

    select
        subscription_items.subscription_id,
        subscription_items.valid_from_date,
        subscription_items.subscription_item_id,
        coalesce(
            {%- for label in var('stripe_plan_label_precedence') %}
                {{ plan_labels[label] }},
            {%- endfor %}
            'unknown product ' || subscription_items.product_id,
            'unknown price ' || subscription_items.price_id,
            'unknown price'
        ) as plan_name,
        cast(
            subscription_items.unit_amount * subscription_items.quantity
            * case subscription_items.billing_interval
                when 'month' then cast(1 as double)
                when 'year' then cast(1 as double) / 12
                when 'week' then cast(52 as double) / 12
                when 'day' then cast(365 as double) / 12
            end
            / subscription_items.billing_interval_count
            * fx_rates.usd_per_unit
            as double
        ) as monthly_amount_usd
    from subscription_items
    left join products
        on subscription_items.product_id = products.product_id
    left join fx_rates
        on subscription_items.currency = fx_rates.currency

),

items_ranked as (

    select
        *,
        row_number() over (
            partition by subscription_id, valid_from_date
            order by monthly_amount_usd desc nulls last, subscription_item_id asc
        ) as item_rank
    from items_priced

),

largest_items as (

    select * from items_ranked
    where item_rank = 1

),

version_totals as (

    select
        subscription_id,
        valid_from_date,
        sum(monthly_amount_usd) as list_mrr_usd
    from items_priced
    group by subscription_id, valid_from_date

),

versions_classified as (

    select
        subscription_versions.*,
        (
            subscription_versions.status in ({{ sql_string_list(var('live_subscription_statuses')) }})
            and subscription_versions.ended_at is null
        ) as is_live,
        (
            subscription_versions.status in ({{ sql_string_list(var('paying_subscription_statuses')) }})
            and subscription_versions.ended_at is null
        ) as is_paying
    from subscription_versions

),

final as (

    select
        versions_classified.subscription_id,
        versions_classified.valid_from_date,
        versions_classified.valid_to_date,
        versions_classified.customer_id,
        versions_classified.status,
        versions_classified.created_at,
        versions_classified.is_live,
        versions_classified.is_paying,
        largest_items.plan_name as plan,
        coalesce(version_totals.list_mrr_usd, 0) as list_mrr_usd,
        case
            when versions_classified.is_paying then coalesce(version_totals.list_mrr_usd, 0)
            else 0
        end as mrr_usd
    from versions_classified
    left join largest_items
        on
            versions_classified.subscription_id = largest_items.subscription_id
            and versions_classified.valid_from_date = largest_items.valid_from_date
    left join version_totals
        on
            versions_classified.subscription_id = version_totals.subscription_id
            and versions_classified.valid_from_date = version_totals.valid_from_date

)

select * from final
