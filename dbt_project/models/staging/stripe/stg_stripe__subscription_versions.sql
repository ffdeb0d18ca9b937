-- Every landed version of every subscription, for point-in-time billing history. A version is
-- valid from its landing partition date (the day it was created or updated) until the next one's.
with

source as (

    select * from {{ source('stripe', 'subscriptions') }}

),

final as (

    select
        record_id as subscription_id,
        _partition_date as valid_from_date,
        lead(_partition_date) over (
            partition by record_id
            order by _partition_date
        ) as valid_to_date,
        coalesce(payload ->> '$.customer.id', payload ->> '$.customer') as customer_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at,
        {{ epoch_to_timestamp("payload ->> '$.start_date'") }} as started_at,
        {{ epoch_to_timestamp("payload ->> '$.trial_end'") }} as trial_ended_at,
        {{ epoch_to_timestamp("payload ->> '$.canceled_at'") }} as canceled_at,
        {{ epoch_to_timestamp("payload ->> '$.ended_at'") }} as ended_at
    from source

)

select * from final
