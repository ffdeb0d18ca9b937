-- One row per account known to Stripe (a customer whose metadata.account_id is set), with the
-- attributes that do not change over time here: first customer creation (tenure starts there) and region.
-- Region of a customer: its address.country's region (seed country_regions), else the customer metadata value under
-- var('stripe_region_metadata_key'): a region of the seed as it is, or a country code's region. The account's region
-- is that of its earliest customer that has one (the Zendesk organizations carry no region: none comes from there).
-- Regions are taken from the current customers (Stripe history of addresses is not kept).
with

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

country_regions as (

    select * from {{ ref('country_regions') }}

),

known_regions as (

    select distinct region from country_regions

),

account_customers as (

    select * from stripe_customers
    where
        account_id is not null
        and not is_deleted

),

customer_regions as (

    select
        account_customers.account_id,
        account_customers.customer_id,
        account_customers.created_at,
        account_customers.country,
        coalesce(address_regions.region, known_regions.region, metadata_countries.region) as region,
        case
            when address_regions.region is not null then 'address'
            when coalesce(known_regions.region, metadata_countries.region) is not null then 'metadata'
        end as region_source
    from account_customers
    left join country_regions as address_regions
        on account_customers.country = address_regions.country_code
    left join known_regions
        on account_customers.metadata_region = known_regions.region
    left join country_regions as metadata_countries
        on account_customers.metadata_region = metadata_countries.country_code

),

-- The earliest customer with a country decides the account's country.
countries_ranked as (

    select
        account_id,
        country,
        row_number() over (
            partition by account_id
            order by created_at, customer_id
        ) as country_rank
    from customer_regions
    where country is not null

),

account_countries as (

    select * from countries_ranked
    where country_rank = 1

),

-- The earliest customer with a region decides the account's region.
regions_ranked as (

    select
        account_id,
        region,
        region_source,
        row_number() over (
            partition by account_id
            order by created_at, customer_id
        ) as region_rank
    from customer_regions
    where region is not null

),

account_regions as (

    select * from regions_ranked
    where region_rank = 1

),

account_firsts as (

    select
        account_id,
        min(created_at) as first_customer_created_at,
        count(*) as customers
    from account_customers
    group by account_id

),

final as (

    select
        account_firsts.account_id,
        account_firsts.first_customer_created_at,
        account_firsts.customers,
        account_countries.country,
        coalesce(account_regions.region, 'unknown') as region,
        account_regions.region_source
    from account_firsts
    left join account_countries
        on account_firsts.account_id = account_countries.account_id
    left join account_regions
        on account_firsts.account_id = account_regions.account_id

)

select * from final
