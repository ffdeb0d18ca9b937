{{ config(tags=['partitioned_mart']) }}

{%- set account_attributes = ['overall', 'plan', 'region', 'mrr_band', 'tenure_band'] -%}
{%- set account_segment_types = var('segment_types') | select('in', account_attributes) | list -%}
{%- set account_segment_list = "'" ~ account_segment_types | join("', '") ~ "'" -%}
-- How big a change of NPS each quarter's sample can detect, and how large a sample a 5-point change needs, per
-- calendar quarter and segment of nps_by_period (docs/metrics.md "Sample plan"). Over the quarter's respondents
-- (each person's latest answer), on the -1..1 scale:
--   s2                    = pP + pD - (pP - pD)^2, the variance of one respondent's +1 / 0 / -1
--                           (report/significance.py)
--   min_detectable_change = 100 * (z_0.975 + z_0.80) * sqrt(2 * s2 / respondents): the smallest true change a
--                           two-sided 5% two-sample z-test finds with 80% power, against a sample of the same size
--                           and shares
--   respondents_needed    = ceiling((z_0.975 + z_0.80)^2 * 2 * s2 / (target_change / 100)^2), per quarter
--   respondent_share_needed = respondents_needed / eligible_contacts (the share that must answer)
--   sample_share_needed   = respondent_share_needed / response_rate (the share to send to)
-- s2 = 0 (every respondent in one category) leaves all of these null: no spread, nothing to plan from.
-- eligible_contacts: the contacts of survey_eligibility eligible for a relational survey as of the data's latest
-- day (the population the next quarterly draw comes from), by their account's current attributes (dim_accounts;
-- 'unknown' without an account known to billing); the same count on every quarter of a segment; null for the
-- segment types that are not account attributes (channel, survey_kind, touchpoint).
-- Built with dim_accounts (tag partitioned_mart), whose current attributes it reads.
with

nps_periods as (

    select * from {{ ref('nps_by_period') }}

),

eligibility as (

    select * from {{ ref('survey_eligibility') }}

),

accounts as (

    select * from {{ ref('dim_accounts') }}

),

quarters as (

    select * from nps_periods
    where period_grain = 'quarter' and respondents > 0

),

eligible_contacts as (

    select
        eligibility.email,
        accounts.plan,
        accounts.region,
        accounts.mrr_band,
        case
            when accounts.account_id is not null then {{ tenure_band('accounts.tenure_months') }}
        end as tenure_band
    from eligibility
    left join accounts
        on eligibility.account_id = accounts.account_id
    where eligibility.is_eligible_relational

),

eligible_segmented as (

    {{- unpivot_segments('eligible_contacts', account_segment_types) }}

),

eligible_counts as (

    select
        segment_type,
        segment_value,
        count(distinct email) as eligible_contacts
    from eligible_segmented
    group by segment_type, segment_value

),

variances as (

    select
        quarters.period_start as quarter_start,
        quarters.period_end as quarter_end,
        quarters.is_complete_period,
        quarters.segment_type,
        quarters.segment_value,
        quarters.respondents,
        quarters.respondent_promoters,
        quarters.respondent_detractors,
        quarters.respondent_nps,
        quarters.response_rate,
        case
            when quarters.segment_type in ({{ account_segment_list }})
                then coalesce(eligible_counts.eligible_contacts, 0)
        end as eligible_contacts,
        cast(quarters.respondent_promoters as double) / quarters.respondents
        + cast(quarters.respondent_detractors as double) / quarters.respondents
        - power(
            cast(quarters.respondent_promoters - quarters.respondent_detractors as double) / quarters.respondents, 2
        ) as respondent_variance
    from quarters
    left join eligible_counts
        on
            quarters.segment_type = eligible_counts.segment_type
            and quarters.segment_value = eligible_counts.segment_value

),

planned as (

    select
        *,
        -- z_0.975 = 1.959963984540054 (5% two-sided), z_0.80 = 0.8416212335729143 (80% power): standard normal
        -- quantiles, as literals so the SQL needs no inverse normal CDF.
        cast(1.959963984540054 as double) + cast(0.8416212335729143 as double) as z_sum,
        cast({{ var('sample_plan_target_change', 5) }} as double) as target_change
    from variances

),

sized as (

    select
        *,
        case
            when respondent_variance > 0
                then ceiling(power(z_sum, 2) * 2 * respondent_variance / power(target_change / 100, 2))
        end as respondents_needed
    from planned

),

final as (

    select
        cast(quarter_start as date) as quarter_start,
        cast(quarter_end as date) as quarter_end,
        is_complete_period,
        cast(segment_type as string) as segment_type,
        cast(segment_value as string) as segment_value,
        cast(respondents as bigint) as respondents,
        cast(respondent_nps as double) as respondent_nps,
        cast(case when respondent_variance > 0 then respondent_variance end as double) as respondent_variance,
        cast(
            case when respondent_variance > 0 then 100 * z_sum * sqrt(2 * respondent_variance / respondents) end
            as double
        ) as min_detectable_change,
        target_change,
        cast(respondents_needed as bigint) as respondents_needed,
        cast(eligible_contacts as bigint) as eligible_contacts,
        cast(
            case when eligible_contacts > 0 then respondents_needed / eligible_contacts end as double
        ) as respondent_share_needed,
        cast(response_rate as double) as response_rate,
        cast(
            case
                when eligible_contacts > 0 and response_rate > 0
                    then respondents_needed / eligible_contacts / response_rate
            end as double
        ) as sample_share_needed,
        cast({{ var('survey_sample_share') }} as double) as current_sample_share
    from sized

)

select * from final
