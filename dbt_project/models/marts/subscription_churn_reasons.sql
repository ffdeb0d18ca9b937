-- Why subscriptions stopped paying: one row per Stripe subscription and day it stopped (int_subscription_churn_events),
-- with the customer's own words (`cancellation_details.feedback`, `comment`) and the MRR lost, for accounts the
-- platform knows. The comment and feedback get the survey comment themes in the Python mart churn_reason_themes
-- (analytics/themes/churn.py): the classifier is Python, not a dbt macro or seed.
with

churn_events as (

    select * from {{ ref('int_subscription_churn_events') }}

),

final as (

    select
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(stopped_on as date) as stopped_on,
        cast(churn_type as {{ dbt.type_string() }}) as churn_type,
        cast(cancellation_reason as {{ dbt.type_string() }}) as cancellation_reason,
        cast(cancellation_feedback as {{ dbt.type_string() }}) as cancellation_feedback,
        cast(cancellation_comment as {{ dbt.type_string() }}) as cancellation_comment,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(plan as {{ dbt.type_string() }}) as plan,
        cast(round(mrr_lost_usd, 2) as double) as mrr_lost_usd
    from churn_events
    where account_id is not null

)

select * from final
