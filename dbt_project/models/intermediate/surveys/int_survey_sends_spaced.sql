-- Every survey send with the send before it to the same contact (email) of the same kind (relational or
-- transactional, any survey type), and the fatigue rule that applies to it (seed survey_fatigue_rules: the row
-- for its kind and type, else for its kind and '*').
--   is_violation: the previous send of the kind is less than min_days_between days before this one
--     (exactly min_days_between days later is allowed).
with

sends as (

    select * from {{ ref('stg_surveys__sends') }}

),

rules as (

    select * from {{ ref('survey_fatigue_rules') }}

),

with_previous as (

    select
        send_id,
        survey_type,
        survey_kind,
        channel,
        touchpoint,
        account_id,
        email,
        sent_at,
        lag(send_id) over by_contact_and_kind as previous_send_id,
        lag(survey_type) over by_contact_and_kind as previous_survey_type,
        lag(sent_at) over by_contact_and_kind as previous_sent_at
    from sends
    where email is not null
    window by_contact_and_kind as (partition by email, survey_kind order by sent_at, send_id)

),

with_rule as (

    select
        with_previous.*,
        coalesce(exact_rule.min_days_between, kind_rule.min_days_between) as min_days_between,
        coalesce(exact_rule.rule, kind_rule.rule) as rule
    from with_previous
    left join rules as exact_rule
        on
            with_previous.survey_kind = exact_rule.survey_kind
            and with_previous.survey_type = exact_rule.survey_type
    left join rules as kind_rule
        on
            with_previous.survey_kind = kind_rule.survey_kind
            and kind_rule.survey_type = '*'

),

final as (

    select
        *,
        {{ dbt.datediff('previous_sent_at', 'sent_at', 'second') }} / cast(86400 as double) as days_since_previous,  -- noqa: LT05
        coalesce(
            previous_sent_at is not null
            and min_days_between > 0
            and sent_at < {{ dbt.dateadd('day', 'min_days_between', 'previous_sent_at') }},
            false
        ) as is_violation
    from with_rule

)

select * from final
