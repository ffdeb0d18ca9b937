-- Each landed version of each Stripe subscription with its plan and MRR in USD, split where a discount starts or
-- ends inside it (so one row per subscription and period of constant price: valid_from_date to valid_to_date).
--   plan: the label of the version's largest item (by monthly USD list amount), the first set of the labels in
--         var('stripe_plan_label_precedence') (default: price nickname, product name, price lookup_key), else
--         'unknown product <product id>' (a product missing from stripe/products and not expanded), never null.
--         product name = the catalog's current name (stg_stripe__products), else the expanded price.product.name;
--   list_mrr_usd: sum(unit_amount * quantity) normalised to a month (year / 12, week * 52 / 12, day * 365 / 12,
--            divided by interval_count), converted with the fx_rates seed;
--   mrr_usd: list MRR net of the discounts in effect (docs/metrics.md "MRR"), 0 unless the version is paying:
--            each item's own discounts first, then the subscription's, percent_off multiplying, amount_off (a
--            coupon's amount per invoice, normalised to a month like the price) subtracting, never below 0.
--            A discount is in effect from its start until its end: `end` (a repeating coupon), else
--            start + duration_in_months (repeating), else start + one billing period (once), else for ever.
--   currency: the subscription's billing currency (Stripe `currency`), the one its invoices are in.
-- Taxes are ignored. Discount boundaries after the latest landed day are not split (they are not known yet).
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

discounts as (

    select * from {{ ref('stg_stripe__subscription_discounts') }}

),

as_of as (

    select max(valid_from_date) as as_of_date
    from subscription_versions

),

-- A subscription's items share one billing interval (Stripe requires it): the period a `once` coupon covers.
version_intervals as (

    select
        subscription_id,
        valid_from_date,
        max(billing_interval) as billing_interval,
        max(billing_interval_count) as billing_interval_count,
        max({{ per_month('billing_interval', 'billing_interval_count') }}) as months_factor
    from subscription_items
    group by subscription_id, valid_from_date

),

discounts_dated as (

    select
        discounts.*,
        version_intervals.months_factor,
        cast(discounts.started_at as date) as start_date,
        case discounts.duration
            when 'once'
                then cast(
                    case version_intervals.billing_interval
                        {%- for interval in ['day', 'week', 'month', 'year'] %}
                            when '{{ interval }}' then {{ dbt.dateadd(
                                interval,
                                'version_intervals.billing_interval_count',
                                'cast(discounts.started_at as date)'
                            ) }}
                        {%- endfor %}
                    end as date
                )
            when 'repeating'
                then coalesce(
                    cast(discounts.ended_at as date),
                    cast({{ dbt.dateadd(
                        'month', 'discounts.duration_in_months', 'cast(discounts.started_at as date)'
                    ) }} as date)
                )
            else cast(discounts.ended_at as date)
        end as end_date
    from discounts
    left join version_intervals
        on
            discounts.subscription_id = version_intervals.subscription_id
            and discounts.valid_from_date = version_intervals.valid_from_date

),

discount_dates as (

    select
        subscription_id,
        valid_from_date,
        start_date as boundary_date
    from discounts_dated
    union all
    select
        subscription_id,
        valid_from_date,
        end_date as boundary_date
    from discounts_dated

),

-- Days inside a version (up to the latest landed day) on which one of its discounts starts or ends.
discount_boundaries as (

    select
        subscription_versions.subscription_id,
        discount_dates.boundary_date as period_from
    from subscription_versions
    inner join discount_dates
        on
            subscription_versions.subscription_id = discount_dates.subscription_id
            and subscription_versions.valid_from_date = discount_dates.valid_from_date
    cross join as_of
    where
        discount_dates.boundary_date > subscription_versions.valid_from_date
        and (
            subscription_versions.valid_to_date is null
            or discount_dates.boundary_date < subscription_versions.valid_to_date
        )
        and discount_dates.boundary_date <= as_of.as_of_date

),

period_starts as (

    select
        subscription_id,
        valid_from_date as period_from
    from subscription_versions
    union
    select
        subscription_id,
        period_from
    from discount_boundaries

),

periods as (

    select
        period_starts.subscription_id,
        period_starts.period_from,
        lead(period_starts.period_from) over (
            partition by period_starts.subscription_id
            order by period_starts.period_from
        ) as period_to,
        subscription_versions.valid_from_date as landed_date
    from period_starts
    inner join subscription_versions
        on
            period_starts.subscription_id = subscription_versions.subscription_id
            and period_starts.period_from >= subscription_versions.valid_from_date
            and (
                subscription_versions.valid_to_date is null
                or period_starts.period_from < subscription_versions.valid_to_date
            )

),

-- The discounts in effect in each period, with their multiplier and their monthly amount in USD.
discounts_in_effect as (

    select
        periods.subscription_id,
        periods.period_from,
        discounts_dated.discount_level,
        discounts_dated.subscription_item_id,
        case
            when max(coalesce(discounts_dated.percent_off, 0)) >= 100 then cast(0 as double)
            else exp(sum(ln(1 - cast(coalesce(discounts_dated.percent_off, 0) as double) / 100)))
        end as percent_multiplier,
        sum(coalesce(discounts_dated.amount_off * fx_rates.usd_per_unit * discounts_dated.months_factor, 0))
            as amount_off_monthly_usd
    from periods
    inner join discounts_dated
        on
            periods.subscription_id = discounts_dated.subscription_id
            and periods.landed_date = discounts_dated.valid_from_date
            and (discounts_dated.start_date is null or periods.period_from >= discounts_dated.start_date)
            and (discounts_dated.end_date is null or periods.period_from < discounts_dated.end_date)
    left join fx_rates
        on discounts_dated.amount_off_currency = fx_rates.currency
    group by
        periods.subscription_id,
        periods.period_from,
        discounts_dated.discount_level,
        discounts_dated.subscription_item_id

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
            * {{ per_month('subscription_items.billing_interval', 'subscription_items.billing_interval_count') }}
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

-- Each item net of its own discounts, in each period.
items_net as (

    select
        periods.subscription_id,
        periods.period_from,
        items_priced.monthly_amount_usd as list_amount_usd,
        greatest(
            items_priced.monthly_amount_usd * coalesce(item_discounts.percent_multiplier, 1)
            - coalesce(item_discounts.amount_off_monthly_usd, 0),
            0
        ) as net_amount_usd
    from periods
    inner join items_priced
        on
            periods.subscription_id = items_priced.subscription_id
            and periods.landed_date = items_priced.valid_from_date
    left join discounts_in_effect as item_discounts
        on
            periods.subscription_id = item_discounts.subscription_id
            and periods.period_from = item_discounts.period_from
            and item_discounts.discount_level = 'item'
            and items_priced.subscription_item_id = item_discounts.subscription_item_id

),

-- Then the subscription's discounts, on the sum of its items.
period_totals as (

    select
        items_net.subscription_id,
        items_net.period_from,
        sum(items_net.list_amount_usd) as list_mrr_usd,
        greatest(
            sum(items_net.net_amount_usd) * coalesce(max(subscription_discounts.percent_multiplier), 1)
            - coalesce(max(subscription_discounts.amount_off_monthly_usd), 0),
            0
        ) as net_mrr_usd
    from items_net
    left join discounts_in_effect as subscription_discounts
        on
            items_net.subscription_id = subscription_discounts.subscription_id
            and items_net.period_from = subscription_discounts.period_from
            and subscription_discounts.discount_level = 'subscription'
    group by items_net.subscription_id, items_net.period_from

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
        periods.period_from as valid_from_date,
        periods.period_to as valid_to_date,
        versions_classified.valid_from_date as landed_date,
        versions_classified.customer_id,
        versions_classified.currency,
        versions_classified.status,
        versions_classified.created_at,
        versions_classified.canceled_at,
        versions_classified.ended_at,
        versions_classified.cancellation_reason,
        versions_classified.cancellation_feedback,
        versions_classified.cancellation_comment,
        versions_classified.is_live,
        versions_classified.is_paying,
        largest_items.plan_name as plan,
        cast(coalesce(period_totals.list_mrr_usd, 0) as double) as list_mrr_usd,
        cast(coalesce(period_totals.list_mrr_usd, 0) - coalesce(period_totals.net_mrr_usd, 0) as double)
            as discount_mrr_usd,
        case
            when versions_classified.is_paying then cast(coalesce(period_totals.net_mrr_usd, 0) as double)
            else cast(0 as double)
        end as mrr_usd
    from periods
    inner join versions_classified
        on
            periods.subscription_id = versions_classified.subscription_id
            and periods.landed_date = versions_classified.valid_from_date
    left join largest_items
        on
            versions_classified.subscription_id = largest_items.subscription_id
            and versions_classified.valid_from_date = largest_items.valid_from_date
    left join period_totals
        on
            periods.subscription_id = period_totals.subscription_id
            and periods.period_from = period_totals.period_from

)

select * from final
