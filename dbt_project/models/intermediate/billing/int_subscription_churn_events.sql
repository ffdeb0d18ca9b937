-- One row per time a Stripe subscription stopped paying (a paying period followed by a non-paying one): when,
-- why (the subscription's `cancellation_details`), and the MRR it took with it.
--   churn_type: 'voluntary'   the customer asked (cancellation_details.reason = cancellation_requested);
--               'involuntary' payment failed or was disputed (reason payment_failed, payment_disputed), or the
--                             subscription went `unpaid` / `incomplete_expired` without a cancellation;
--               'unknown'     anything else (no reason recorded: canceled through the API without details,
--                             paused, or a version from before the field existed).
with

subscription_periods as (

    select * from {{ ref('int_subscription_versions_priced') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

with_previous as (

    select
        *,
        lag(is_paying) over (partition by subscription_id order by valid_from_date) as was_paying,
        lag(mrr_usd) over (partition by subscription_id order by valid_from_date) as previous_mrr_usd,
        lag(plan) over (partition by subscription_id order by valid_from_date) as previous_plan
    from subscription_periods

),

stops as (

    select * from with_previous
    where was_paying and not is_paying

),

final as (

    select
        stops.subscription_id,
        stripe_customers.account_id,
        stops.customer_id,
        stops.valid_from_date as stopped_on,
        stops.status,
        stops.canceled_at,
        stops.ended_at,
        stops.cancellation_reason,
        stops.cancellation_feedback,
        stops.cancellation_comment,
        case
            when stops.cancellation_reason = 'cancellation_requested' then 'voluntary'
            when stops.cancellation_reason in ('payment_failed', 'payment_disputed') then 'involuntary'
            when stops.cancellation_reason is null and stops.status in ('unpaid', 'incomplete_expired')
                then 'involuntary'
            else 'unknown'
        end as churn_type,
        stops.previous_plan as plan,
        cast(stops.previous_mrr_usd as double) as mrr_lost_usd
    from stops
    left join stripe_customers
        on
            stops.customer_id = stripe_customers.customer_id
            and not stripe_customers.is_deleted

)

select * from final
