-- Who does not answer: per UTC calendar quarter and segment, the people surveyed for NPS against those of them who
-- answered, and an NPS reweighted for non-response (docs/metrics.md, "Non-response").
-- Surveyed: every NPS send with a time, keyed by respondent (macros/respondents.sql over the send's email, account
-- and event id, the key fct_survey_responses gives an answer). A send is answered when the same respondent gives an
-- NPS answer (0-10) at or after it, before the next NPS send to them and within var('nonresponse_window_days').
-- A person surveyed in the quarter is one row: segmented by the account's attributes at their first send of the
-- quarter (plan, mrr_band, region, tenure_band; channel, survey_kind, touchpoint of that send); a respondent if any
-- of their sends in the quarter was answered, with the latest of those answers as their score.
-- Compared per group: MRR at the send, the account's 30-day usage trend at the end of the week before the send's
-- week (int_account_usage_weekly.usage_change_30d) and churn within 90 days (a billing version with MRR 0 starting
-- within 90 days after the send, the rule of churn_risk_backtest), counted only when the 90 days are over by the
-- last day of data (the latest billing change or product activity, as int_account_signals_daily).
-- Not from the daily signals themselves: those are built after the unpartitioned marts in a run
-- (orchestration/defs/dbt/assets.py), so this mart cannot read them.
-- Reweighted NPS (nps_reweighted_*): the values of the row's segment type are the weighting classes; each class's
-- respondent NPS weighs by its share of the surveyed people (post-stratification); classes without a respondent
-- cannot be reweighted and are left out (their share: surveyed_share_unrepresented). The same on every row of a
-- quarter and segment type.
with

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

account_usage_weekly as (

    select * from {{ ref('int_account_usage_weekly') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

nps_sends as (

    select
        survey_events.*,
        {{ respondent_key(email='survey_events.email', account_id='survey_events.account_id',
            response_id='survey_events.event_id') }} as respondent_key,
        cast({{ dbt.date_trunc('day', 'survey_events.event_at') }} as date) as send_date
    from survey_events
    where
        survey_events.event_type = 'send'
        and survey_events.survey_type = 'nps'
        and survey_events.event_at is not null

),

nps_answers as (

    select
        response_id,
        respondent_key,
        responded_at,
        is_promoter,
        is_passive,
        is_detractor
    from survey_responses
    where
        survey_type = 'nps'
        and nps_category is not null
        and responded_at is not null

),

sends_windowed as (

    select
        nps_sends.*,
        {{ dbt.date_trunc('quarter', 'nps_sends.event_at') }} as quarter_start_at,
        lead(nps_sends.event_at) over (
            partition by nps_sends.respondent_key
            order by nps_sends.event_at, nps_sends.event_id
        ) as next_send_at
    from nps_sends

),

-- Each send's answer: the respondent's latest NPS answer in the send's window (ties: the greatest response id).
send_answers as (

    select
        sends_windowed.event_id,
        nps_answers.responded_at,
        nps_answers.response_id,
        nps_answers.is_promoter,
        nps_answers.is_passive,
        nps_answers.is_detractor
    from sends_windowed
    inner join nps_answers
        on
            sends_windowed.respondent_key = nps_answers.respondent_key
            and sends_windowed.event_at <= nps_answers.responded_at
            and nps_answers.responded_at
            < {{ dbt.dateadd('day', var('nonresponse_window_days'), 'sends_windowed.event_at') }}
            and (sends_windowed.next_send_at is null or sends_windowed.next_send_at > nps_answers.responded_at)

),

sends_answered as (

    select
        sends_windowed.*,
        send_answers.responded_at,
        send_answers.response_id,
        send_answers.is_promoter,
        send_answers.is_passive,
        send_answers.is_detractor,
        row_number() over (
            partition by sends_windowed.event_id
            order by send_answers.responded_at desc, send_answers.response_id desc
        ) as answer_rank
    from sends_windowed
    left join send_answers
        on sends_windowed.event_id = send_answers.event_id

),

-- One row per person and quarter: the first send's attributes, the latest answer of the quarter.
people_ranked as (

    select
        sends_answered.*,
        row_number() over (
            partition by sends_answered.quarter_start_at, sends_answered.respondent_key
            order by sends_answered.event_at, sends_answered.event_id
        ) as send_rank,
        row_number() over (
            partition by sends_answered.quarter_start_at, sends_answered.respondent_key
            order by
                case when sends_answered.response_id is null then 1 else 0 end,
                sends_answered.responded_at desc,
                sends_answered.response_id desc
        ) as answer_order
    from sends_answered
    where sends_answered.answer_rank = 1

),

latest_answers as (

    select
        quarter_start_at,
        respondent_key,
        response_id,
        is_promoter,
        is_passive,
        is_detractor
    from people_ranked
    where answer_order = 1

),

billing_span as (

    select max(valid_from_date) as last_change from billing_history

),

usage_span as (

    select max(measured_on) as last_measured from account_usage_weekly

),

billing_last_day as (

    select greatest(billing_span.last_change, coalesce(usage_span.last_measured, billing_span.last_change)) as last_day
    from billing_span
    cross join usage_span

),

churn_starts as (

    select
        account_id,
        valid_from_date as churned_on
    from billing_history
    where mrr_usd = 0

),

-- The accounts (at a first send) that churned within 90 days after it.
first_sends_churned as (

    select distinct people_ranked.event_id
    from people_ranked
    inner join churn_starts
        on
            people_ranked.account_id = churn_starts.account_id
            and people_ranked.send_date < churn_starts.churned_on
            and churn_starts.churned_on <= {{ dbt.dateadd('day', 90, 'people_ranked.send_date') }}
    where people_ranked.send_rank = 1

),

people as (

    select
        people_ranked.quarter_start_at,
        people_ranked.respondent_key,
        people_ranked.plan,
        people_ranked.mrr_band,
        people_ranked.region,
        people_ranked.tenure_band,
        people_ranked.channel,
        people_ranked.survey_kind,
        people_ranked.touchpoint,
        cast(people_ranked.mrr_usd as double) as mrr_usd,
        latest_answers.response_id is not null as is_respondent,
        latest_answers.is_promoter,
        latest_answers.is_passive,
        latest_answers.is_detractor,
        account_usage_weekly.usage_change_30d,
        people_ranked.mrr_usd > 0
        and {{ dbt.dateadd('day', 90, 'people_ranked.send_date') }} <= billing_last_day.last_day as is_churn_observed,
        first_sends_churned.event_id is not null as churned_within_90d
    from people_ranked
    inner join latest_answers
        on
            people_ranked.quarter_start_at = latest_answers.quarter_start_at
            and people_ranked.respondent_key = latest_answers.respondent_key
    cross join billing_last_day
    left join account_usage_weekly
        on
            people_ranked.account_id = account_usage_weekly.account_id
            and account_usage_weekly.week_start
            = cast({{ dbt.dateadd('day', -7, dbt.date_trunc('week', 'people_ranked.send_date')) }} as date)
    left join first_sends_churned
        on people_ranked.event_id = first_sends_churned.event_id
    where people_ranked.send_rank = 1

),

people_segmented as (

    {{- unpivot_segments('people', var('segment_types')) }}

),

segment_counts as (

    select
        cast(quarter_start_at as date) as period_start,
        segment_type,
        segment_value,
        count(*) as surveyed,
        count(case when is_respondent then 1 end) as respondents,
        count(case when is_promoter then 1 end) as promoters,
        count(case when is_passive then 1 end) as passives,
        count(case when is_detractor then 1 end) as detractors,
        avg(case when is_respondent then mrr_usd end) as respondent_avg_mrr_usd,
        avg(case when not is_respondent then mrr_usd end) as non_respondent_avg_mrr_usd,
        avg(case when is_respondent then usage_change_30d end) as respondent_avg_usage_change_30d,
        avg(case when not is_respondent then usage_change_30d end) as non_respondent_avg_usage_change_30d,
        count(case when is_respondent and is_churn_observed then 1 end) as respondent_churn_observed,
        count(case when is_respondent and is_churn_observed and churned_within_90d then 1 end)
            as respondent_churned_90d,
        count(case when not is_respondent and is_churn_observed then 1 end) as non_respondent_churn_observed,
        count(case when not is_respondent and is_churn_observed and churned_within_90d then 1 end)
            as non_respondent_churned_90d
    from people_segmented
    group by cast(quarter_start_at as date), segment_type, segment_value

),

-- Post-stratification over the values of each segment type: weight = surveyed share, variance sum w^2 var/n.
segment_type_reweighted as (

    select
        period_start,
        segment_type,
        sum(surveyed) as type_surveyed,
        sum(respondents) as type_respondents,
        sum(promoters) as type_promoters,
        sum(detractors) as type_detractors,
        sum(case when respondents > 0 then surveyed else 0 end) as surveyed_represented,
        sum(
            case
                when respondents > 0
                    then surveyed * cast(promoters - detractors as double) / respondents
                else 0
            end
        ) as weighted_nps_sum,
        sum(
            case
                when respondents > 0
                    then
                        cast(surveyed as double) * surveyed / respondents
                        * (
                            cast(promoters + detractors as double) / respondents
                            - (cast(promoters - detractors as double) / respondents)
                            * (cast(promoters - detractors as double) / respondents)
                        )
                else 0
            end
        ) as weighted_variance_sum
    from segment_counts
    group by period_start, segment_type

),

final as (

    select
        segment_counts.period_start as quarter_start,
        {{ period_end("'quarter'", 'segment_counts.period_start') }} as quarter_end,
        {{ is_complete_period("'quarter'", 'segment_counts.period_start', 'survey_responses') }} as is_complete_period,
        segment_counts.segment_type,
        segment_counts.segment_value,
        segment_counts.surveyed,
        segment_counts.respondents,
        segment_counts.surveyed - segment_counts.respondents as non_respondents,
        cast(segment_counts.respondents as double) / segment_counts.surveyed as response_rate,
        segment_counts.promoters,
        segment_counts.passives,
        segment_counts.detractors,
        {{ nps('segment_counts.promoters', 'segment_counts.detractors', 'segment_counts.respondents') }} as nps,
        cast(round(segment_counts.respondent_avg_mrr_usd, 6) as double) as respondent_avg_mrr_usd,
        cast(round(segment_counts.non_respondent_avg_mrr_usd, 6) as double) as non_respondent_avg_mrr_usd,
        cast(round(segment_counts.respondent_avg_usage_change_30d, 9) as double) as respondent_avg_usage_change_30d,
        cast(round(segment_counts.non_respondent_avg_usage_change_30d, 9) as double)
            as non_respondent_avg_usage_change_30d,
        segment_counts.respondent_churn_observed,
        segment_counts.respondent_churned_90d,
        case
            when segment_counts.respondent_churn_observed > 0
                then cast(segment_counts.respondent_churned_90d as double) / segment_counts.respondent_churn_observed
        end as respondent_churn_rate_90d,
        segment_counts.non_respondent_churn_observed,
        segment_counts.non_respondent_churned_90d,
        case
            when segment_counts.non_respondent_churn_observed > 0
                then
                    cast(segment_counts.non_respondent_churned_90d as double)
                    / segment_counts.non_respondent_churn_observed
        end as non_respondent_churn_rate_90d,
        {{ nps('reweighted.type_promoters', 'reweighted.type_detractors', 'reweighted.type_respondents') }}
            as nps_unweighted,
        case
            when reweighted.surveyed_represented > 0
                then cast(round(100 * reweighted.weighted_nps_sum / reweighted.surveyed_represented, 9) as double)
        end as nps_reweighted,
        case
            when reweighted.surveyed_represented > 0
                then cast(round(
                    100 * sqrt(reweighted.weighted_variance_sum)
                    / reweighted.surveyed_represented, 9
                ) as double)
        end as nps_reweighted_std_error,
        cast(
            cast(reweighted.type_surveyed - reweighted.surveyed_represented as double) / reweighted.type_surveyed
            as double
        ) as surveyed_share_unrepresented
    from segment_counts
    inner join segment_type_reweighted as reweighted
        on
            segment_counts.period_start = reweighted.period_start
            and segment_counts.segment_type = reweighted.segment_type

)

select
    final.*,
    cast(greatest(-100.0, final.nps_reweighted - 1.959963984540054 * final.nps_reweighted_std_error) as double)
        as nps_reweighted_ci_low,
    cast(least(100.0, final.nps_reweighted + 1.959963984540054 * final.nps_reweighted_std_error) as double)
        as nps_reweighted_ci_high
from final
