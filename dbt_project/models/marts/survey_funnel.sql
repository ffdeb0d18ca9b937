-- The survey funnel, per UTC calendar month of sent_at, survey type and segment (var('segment_types'): overall,
-- plan, mrr_band, region, tenure_band at the send; channel, survey_kind, touchpoint of the send): sent, delivered,
-- opened, bounced, unsubscribed, responded (int_survey_sends_answered: a response naming the send, else the
-- respondent's next answer of the type within nonresponse_window_days, the rule of nps_nonresponse).
-- Reminders: among the sends at risk (unanswered var('reminder_after_days') days after the send, not bounced), the
-- response rate of those reminded against those not, and their difference (reminder_lift) with the 95%
-- Agresti-Caffo interval of a difference of two proportions (macros/proportions.sql); null unless both groups have
-- sends. It estimates the reminder's effect when reminders go to a random part of the sends at risk
-- (docs/marts.md).
with

sends as (

    select * from {{ ref('int_survey_sends_answered') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

sends_segmented as (

    {{- unpivot_segments('sends', var('segment_types')) }}

),

counts as (

    select
        cast({{ dbt.date_trunc('month', 'sent_at') }} as date) as month_start,
        survey_type,
        segment_type,
        segment_value,
        count(*) as sent,
        count(case when delivered_at is not null and bounced_at is null then 1 end) as delivered,
        count(case when opened_at is not null then 1 end) as opened,
        count(case when bounced_at is not null then 1 end) as bounced,
        count(case when unsubscribed_at is not null then 1 end) as unsubscribed,
        count(case when response_id is not null then 1 end) as responded,
        count(case when is_reminded then 1 end) as reminded,
        count(case when is_at_risk and is_reminded then 1 end) as at_risk_reminded,
        count(case when is_at_risk and is_reminded and response_id is not null then 1 end)
            as at_risk_reminded_responded,
        count(case when is_at_risk and not is_reminded then 1 end) as at_risk_unreminded,
        count(case when is_at_risk and not is_reminded and response_id is not null then 1 end)
            as at_risk_unreminded_responded
    from sends_segmented
    group by cast({{ dbt.date_trunc('month', 'sent_at') }} as date), survey_type, segment_type, segment_value

),

rates as (

    select
        *,
        cast(responded as double) / sent as response_rate,
        case
            when at_risk_reminded > 0 then cast(at_risk_reminded_responded as double) / at_risk_reminded
        end as reminded_response_rate,
        case
            when at_risk_unreminded > 0 then cast(at_risk_unreminded_responded as double) / at_risk_unreminded
        end as unreminded_response_rate
    from counts

),

final as (

    select
        month_start,
        {{ period_end("'month'", 'month_start') }} as month_end,
        {{ is_complete_period("'month'", 'month_start', 'survey_responses') }} as is_complete_period,
        survey_type,
        segment_type,
        segment_value,
        sent,
        delivered,
        opened,
        bounced,
        unsubscribed,
        responded,
        response_rate,
        reminded,
        at_risk_reminded,
        at_risk_reminded_responded,
        reminded_response_rate,
        at_risk_unreminded,
        at_risk_unreminded_responded,
        unreminded_response_rate,
        reminded_response_rate - unreminded_response_rate as reminder_lift,
        {{ proportion_difference_interval('at_risk_reminded_responded', 'at_risk_reminded',
            'at_risk_unreminded_responded', 'at_risk_unreminded', -1) }} as reminder_lift_ci_low,
        {{ proportion_difference_interval('at_risk_reminded_responded', 'at_risk_reminded',
            'at_risk_unreminded_responded', 'at_risk_unreminded', 1) }} as reminder_lift_ci_high
    from rates

)

select * from final
