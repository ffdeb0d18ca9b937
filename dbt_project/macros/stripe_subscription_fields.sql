{#-
    The fields of a Stripe Subscription object that staging reads, in one place: both the current subscriptions
    (stg_stripe__subscriptions) and their landed versions (stg_stripe__subscription_versions) select them.
-#}
{% macro stripe_subscription_fields() -%}
        coalesce({{ json_text('payload', '$.customer.id') }}, {{ json_text('payload', '$.customer') }}) as customer_id,
        {{ clean_enum(json_text('payload', '$.status')) }} as status,
        {{ clean_enum(json_text('payload', '$.currency')) }} as currency,
        {{ epoch_to_timestamp(json_text('payload', '$.created')) }} as created_at,
        {{ epoch_to_timestamp(json_text('payload', '$.start_date')) }} as started_at,
        {{ epoch_to_timestamp(json_text('payload', '$.trial_end')) }} as trial_ended_at,
        {{ epoch_to_timestamp(json_text('payload', '$.canceled_at')) }} as canceled_at,
        {{ epoch_to_timestamp(json_text('payload', '$.ended_at')) }} as ended_at
{%- endmacro %}
