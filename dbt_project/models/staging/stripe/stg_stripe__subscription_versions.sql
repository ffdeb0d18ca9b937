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
        {{ stripe_subscription_fields() }}
    from source

)

select * from final
