{#-
    The fields of a Stripe Subscription object that staging reads, in one place: both the current subscriptions
    (stg_stripe__subscriptions) and their landed versions (stg_stripe__subscription_versions) select them.
    Typed values come from the contract (raw_field, generated from ingestion/stripe/__init__.py).
-#}
{% macro stripe_subscription_fields() -%}
        {{ raw_field('stripe.subscriptions', 'customer') }} as customer_id,
        {{ raw_field('stripe.subscriptions', 'status') }} as status,
        {{ raw_field('stripe.subscriptions', 'currency') }} as currency,
        {{ raw_field('stripe.subscriptions', 'created') }} as created_at,
        {{ raw_field('stripe.subscriptions', 'start_date') }} as started_at,
        {{ raw_field('stripe.subscriptions', 'trial_end') }} as trial_ended_at,
        {{ raw_field('stripe.subscriptions', 'canceled_at') }} as canceled_at,
        {{ raw_field('stripe.subscriptions', 'ended_at') }} as ended_at,
        {{ raw_field('stripe.subscriptions', 'cancellation_details.reason') }} as cancellation_reason,
        {{ raw_field('stripe.subscriptions', 'cancellation_details.feedback') }} as cancellation_feedback,
        {{ raw_field('stripe.subscriptions', 'cancellation_details.comment') }} as cancellation_comment
{%- endmacro %}
