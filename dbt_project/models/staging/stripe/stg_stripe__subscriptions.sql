-- The current (latest landed) version of each subscription. The full history, for point-in-time
-- plan and MRR, is in stg_stripe__subscription_versions and stg_stripe__subscription_items.
with

source as (

    select * from {{ source('stripe', 'subscriptions') }}

),

-- Stripe objects carry no updated timestamp: the latest landing partition, then line, wins.
latest_versions as (

    {{ latest_versions('source') }}

),

final as (

    select
        record_id as subscription_id,
        {{ stripe_subscription_fields() }},
        _partition_date as last_changed_date
    from latest_versions

)

select * from final
