-- Revenue and retention by what accounts said about us: one row per month, segment and NPS category.
-- The cohort of a month is every account paying at its start (int_account_revenue_cohorts), in the NPS
-- category of its latest answer in the 365 days before (no_response without one); nps_category 'all' is the
-- whole cohort of the segment. Every metric is defined in _marts__models.yml.
{%- set horizons = [3, 6, 12] %}
with

-- Money as exact decimals: sums of doubles depend on the order rows arrive in, and a re-run must give the
-- same values to the last digit (averages of cents land on rounding boundaries often).
cohorts as (

    select
        account_id,
        month_start,
        cast(starting_mrr_usd as decimal(18, 6)) as starting_mrr_usd,
        plan,
        mrr_band,
        region,
        tenure_months,
        tenure_band,
        nps_score,
        nps_category,
        nps_response_date,
        cast(mrr_after_1m_usd as decimal(18, 6)) as mrr_after_1m_usd,
        cast(mrr_after_3m_usd as decimal(18, 6)) as mrr_after_3m_usd,
        cast(mrr_after_6m_usd as decimal(18, 6)) as mrr_after_6m_usd,
        cast(mrr_after_12m_usd as decimal(18, 6)) as mrr_after_12m_usd,
        churn_type_after_3m,
        churn_type_after_6m,
        churn_type_after_12m
    from {{ ref('int_account_revenue_cohorts') }}

),

-- Every cohort row twice: under its own NPS category, and under 'all' (the whole cohort of the segment).
category_rows as (

    select false as is_total
    union all
    select true as is_total

),

with_all_category as (

    select
        cohorts.*,
        case when category_rows.is_total then 'all' else cohorts.nps_category end as row_category
    from cohorts
    cross join category_rows

),

segmented as (

    {{- unpivot_segments('with_all_category', var('revenue_segment_types')) }}

),

aggregated as (

    select
        month_start,
        segment_type,
        segment_value,
        row_category,
        count(*) as accounts,
        sum(starting_mrr_usd) as starting_mrr_usd,
        avg(starting_mrr_usd) as avg_mrr_usd,
        count(mrr_after_1m_usd) as accounts_observed_1m,
        sum(case when mrr_after_1m_usd = 0 then 1 else 0 end) as churned_1m,
        {%- for h in horizons %}
            sum(mrr_after_{{ h }}m_usd)
            / nullif(sum(case when mrr_after_{{ h }}m_usd is not null then starting_mrr_usd end), 0)
                as nrr_{{ h }}m,
            sum(least(mrr_after_{{ h }}m_usd, starting_mrr_usd))
            / nullif(sum(case when mrr_after_{{ h }}m_usd is not null then starting_mrr_usd end), 0) as grr_{{ h }}m,
            avg(
                case
                    when
                        mrr_after_{{ h }}m_usd is not null
                        then cast(mrr_after_{{ h }}m_usd > starting_mrr_usd as integer)
                end
            )
                as expansion_rate_{{ h }}m,
            avg(case when mrr_after_{{ h }}m_usd is not null then cast(mrr_after_{{ h }}m_usd = 0 as integer) end)
                as churn_rate_{{ h }}m,
            -- The churn split by who ended it: the customer (voluntary) or a failed payment (involuntary).
            -- (churn_type_after_<h>m is set only where mrr_after_<h>m_usd is 0, so only on observed horizons)
            {%- for churn_type in ['voluntary', 'involuntary'] %}
                avg(
                    case
                        when churn_type_after_{{ h }}m = '{{ churn_type }}' then 1
                        when mrr_after_{{ h }}m_usd is not null then 0
                    end
                ) as {{ churn_type }}_churn_rate_{{ h }}m,
                sum(
                    case
                        when churn_type_after_{{ h }}m = '{{ churn_type }}' then starting_mrr_usd
                        when mrr_after_{{ h }}m_usd is not null then 0
                    end
                ) as {{ churn_type }}_churned_mrr_{{ h }}m_usd,
            {%- endfor %}
        {%- endfor %}
        sum(case when nps_category = 'promoter' then starting_mrr_usd else 0 end) as promoter_mrr_usd,
        sum(case when nps_category = 'detractor' then starting_mrr_usd else 0 end) as detractor_mrr_usd,
        sum(case when nps_category in ('promoter', 'passive', 'detractor') then starting_mrr_usd else 0 end)
            as responding_mrr_usd,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as promoter_accounts,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as detractor_accounts,
        sum(case when nps_category in ('promoter', 'passive', 'detractor') then 1 else 0 end) as responding_accounts
    from segmented
    group by month_start, segment_type, segment_value, row_category

),

trailing_churn as (

    select
        *,
        sum(churned_1m) over trailing_12_months
        / nullif(sum(accounts_observed_1m) over trailing_12_months, 0) as monthly_churn_rate_trailing_12m
    from aggregated
    window trailing_12_months as (
        partition by segment_type, segment_value, row_category
        order by {{ month_number('month_start') }}
        range between 11 preceding and current row
    )

),

segment_totals as (

    select
        month_start,
        segment_type,
        segment_value,
        responding_accounts,
        100 * cast(promoter_accounts - detractor_accounts as double) / nullif(responding_accounts, 0) as account_nps,
        cast(100.0 * (promoter_mrr_usd - detractor_mrr_usd) as double)
        / cast(nullif(responding_mrr_usd, 0) as double) as revenue_weighted_nps
    from aggregated
    where row_category = 'all'

),

final as (

    select
        trailing_churn.month_start,
        trailing_churn.segment_type,
        trailing_churn.segment_value,
        trailing_churn.row_category as nps_category,
        cast(trailing_churn.accounts as bigint) as accounts,
        -- USD to the cent, ratios to 6 decimals.
        round(cast(trailing_churn.starting_mrr_usd as double), 2) as mrr_usd,
        -- The mean from the sum in whole cents: summed in another order (another engine) the mean of the same
        -- accounts can land a hair either side of a half cent, and round() would then differ (310.465).
        round(round(cast(trailing_churn.starting_mrr_usd as double) * 100) / trailing_churn.accounts) / 100
            as avg_mrr_usd,
        {%- for h in horizons %}
            round(cast(trailing_churn.nrr_{{ h }}m as double), 6) as nrr_{{ h }}m,
            round(cast(trailing_churn.grr_{{ h }}m as double), 6) as grr_{{ h }}m,
            round(cast(trailing_churn.expansion_rate_{{ h }}m as double), 6) as expansion_rate_{{ h }}m,
            round(cast(trailing_churn.churn_rate_{{ h }}m as double), 6) as churn_rate_{{ h }}m,
            {%- for churn_type in ['voluntary', 'involuntary'] %}
                round(cast(trailing_churn.{{ churn_type }}_churn_rate_{{ h }}m as double), 6)
                    as {{ churn_type }}_churn_rate_{{ h }}m,
                round(cast(trailing_churn.{{ churn_type }}_churned_mrr_{{ h }}m_usd as double), 2)
                    as {{ churn_type }}_churned_mrr_{{ h }}m_usd,
            {%- endfor %}
        {%- endfor %}
        round(cast(trailing_churn.monthly_churn_rate_trailing_12m as double), 6) as monthly_churn_rate_trailing_12m,
        round(
            cast(
                trailing_churn.avg_mrr_usd * least(
                    1.0 / nullif(trailing_churn.monthly_churn_rate_trailing_12m, 0),
                    {{ var('ltv_max_lifetime_months') }}
                ) as double
            ),
            2
        ) as avg_ltv_usd,
        cast(segment_totals.responding_accounts as bigint) as segment_responding_accounts,
        round(cast(segment_totals.account_nps as double), 6) as segment_account_nps,
        round(cast(segment_totals.revenue_weighted_nps as double), 6) as segment_revenue_weighted_nps
    from trailing_churn
    inner join segment_totals
        on
            trailing_churn.month_start = segment_totals.month_start
            and trailing_churn.segment_type = segment_totals.segment_type
            and trailing_churn.segment_value = segment_totals.segment_value

)

select * from final
