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
        coalesce(payload ->> '$.customer.id', payload ->> '$.customer') as customer_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at,
        {{ epoch_to_timestamp("payload ->> '$.start_date'") }} as started_at,
        {{ epoch_to_timestamp("payload ->> '$.trial_end'") }} as trial_ended_at,
        {{ epoch_to_timestamp("payload ->> '$.canceled_at'") }} as canceled_at,
        {{ epoch_to_timestamp("payload ->> '$.ended_at'") }} as ended_at,
        _partition_date as last_changed_date
    from latest_versions

)

select * from final
