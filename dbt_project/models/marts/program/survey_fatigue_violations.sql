-- Survey sends that broke a fatigue rule: the same contact got a send of the same kind (relational or
-- transactional) less than the rule's min_days_between days before (seed survey_fatigue_rules).
with

sends as (

    select * from {{ ref('int_survey_sends_spaced') }}

),

final as (

    select
        send_id,
        survey_type,
        survey_kind,
        channel,
        touchpoint,
        account_id,
        email,
        sent_at,
        previous_send_id,
        previous_survey_type,
        previous_sent_at,
        cast(days_since_previous as double) as days_since_previous,
        cast(min_days_between as integer) as min_days_between,
        rule
    from sends
    where is_violation

)

select * from final
