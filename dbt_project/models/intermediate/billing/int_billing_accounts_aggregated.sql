-- One row per account known to Stripe (a customer whose metadata.account_id is set), with the
-- attributes that do not change over time here: first customer creation (tenure starts there) and region.
-- Region is taken from the current customer country (Stripe history of addresses is not kept).
with

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

country_regions as (

    select * from {{ ref('country_regions') }}

),

account_customers as (

    select * from stripe_customers
    where
        account_id is not null
        and not is_deleted

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
    from account_customers
    where country is not null

),

account_countries as (

    select * from countries_ranked
    where country_rank = 1

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
        coalesce(country_regions.region, 'unknown') as region
    from account_firsts
    left join account_countries
        on account_firsts.account_id = account_countries.account_id
    left join country_regions
        on account_countries.country = country_regions.country_code

)

select * from final
