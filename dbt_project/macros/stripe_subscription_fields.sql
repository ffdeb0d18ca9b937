{#-
    The fields of a Stripe Subscription object that staging reads, in one place: both the current subscriptions
    (stg_stripe__subscriptions) and their landed versions (stg_stripe__subscription_versions) select them.
-#}
{% macro stripe_subscription_fields() -%}
        coalesce(payload ->> '$.customer.id', payload ->> '$.customer') as customer_id,
        {{ clean_enum("payload ->> '$.status'") }} as status,
        {{ clean_enum("payload ->> '$.currency'") }} as currency,
        {{ epoch_to_timestamp("payload ->> '$.created'") }} as created_at,
        {{ epoch_to_timestamp("payload ->> '$.start_date'") }} as started_at,
        {{ epoch_to_timestamp("payload ->> '$.trial_end'") }} as trial_ended_at,
        {{ epoch_to_timestamp("payload ->> '$.canceled_at'") }} as canceled_at,
        {{ epoch_to_timestamp("payload ->> '$.ended_at'") }} as ended_at
{%- endmacro %}
