-- Goals (seed goals) against actuals, per calendar quarter. A goal's target is, by target_kind: 'change' = the
-- previous quarter's value + target_value; 'relative_change' = the previous quarter's value x (1 + target_value);
-- 'level' = target_value. Metrics: nps (nps_by_period, with its 95% interval), detractor_share (detractors /
-- responses), response_rate (nps_by_period) and followup_24h_attainment (closed_loop, overall only: detractors
-- reached within the target / detractors whose deadline has passed). Lower is better for detractor_share only.
with

goals as (

    select * from {{ ref('goals') }}

),

nps_by_period as (

    select * from {{ ref('nps_by_period') }}

),

closed_loop as (

    select * from {{ ref('closed_loop') }}

),

quarterly_metrics as (

    select
        period_start as quarter_start,
        segment_type,
        segment_value,
        'nps' as metric,
        nps as actual,
        nps_ci_low as ci_low,
        nps_ci_high as ci_high,
        responses as sample_size
    from nps_by_period
    where period_grain = 'quarter'
    union all
    select
        period_start as quarter_start,
        segment_type,
        segment_value,
        'detractor_share' as metric,
        cast(detractors as double) / nullif(responses, 0) as actual,
        null as ci_low,
        null as ci_high,
        responses as sample_size
    from nps_by_period
    where period_grain = 'quarter'
    union all
    select
        period_start as quarter_start,
        segment_type,
        segment_value,
        'response_rate' as metric,
        response_rate as actual,
        null as ci_low,
        null as ci_high,
        sends as sample_size
    from nps_by_period
    where period_grain = 'quarter'
    union all
    select
        cast({{ dbt.date_trunc('quarter', 'responded_at') }} as date) as quarter_start,
        'overall' as segment_type,
        'all' as segment_value,
        'followup_24h_attainment' as metric,
        cast(sum(case when target_status = 'met' then 1 else 0 end) as double)
        / nullif(sum(case when target_status != 'pending' then 1 else 0 end), 0) as actual,
        null as ci_low,
        null as ci_high,
        sum(case when target_status != 'pending' then 1 else 0 end) as sample_size
    from closed_loop
    where nps_category = 'detractor'
    group by cast({{ dbt.date_trunc('quarter', 'responded_at') }} as date)

),

latest_quarter as (

    select max(quarter_start) as quarter_start
    from quarterly_metrics

),

measured as (

    select
        goals.goal_id,
        goals.goal,
        goals.metric,
        goals.segment_type,
        goals.segment_value,
        goals.target_kind,
        goals.target_value,
        this_quarter.quarter_start,
        previous_quarter.actual as baseline,
        this_quarter.actual,
        this_quarter.ci_low,
        this_quarter.ci_high,
        this_quarter.sample_size,
        case goals.target_kind
            when 'change' then previous_quarter.actual + goals.target_value
            when 'relative_change' then previous_quarter.actual * (1 + goals.target_value)
            else goals.target_value
        end as target,
        goals.metric = 'detractor_share' as is_lower_better,
        this_quarter.quarter_start = latest_quarter.quarter_start as is_current_quarter
    from goals
    cross join latest_quarter
    inner join quarterly_metrics as this_quarter
        on
            goals.metric = this_quarter.metric
            and goals.segment_type = this_quarter.segment_type
            and goals.segment_value = this_quarter.segment_value
    left join quarterly_metrics as previous_quarter
        on
            this_quarter.metric = previous_quarter.metric
            and this_quarter.segment_type = previous_quarter.segment_type
            and this_quarter.segment_value = previous_quarter.segment_value
            and previous_quarter.quarter_start = {{ dbt.dateadd('month', -3, 'this_quarter.quarter_start') }}

),

final as (

    select
        goal_id,
        goal,
        metric,
        segment_type,
        segment_value,
        target_kind,
        cast(target_value as double) as target_value,
        quarter_start,
        cast(baseline as double) as baseline,
        cast(target as double) as target,
        cast(actual as double) as actual,
        cast(ci_low as double) as actual_ci_low,
        cast(ci_high as double) as actual_ci_high,
        cast(sample_size as bigint) as sample_size,
        cast(
            case when target != baseline then (actual - baseline) / (target - baseline) end as double
        ) as progress,
        case
            when target is null or actual is null then 'no_target'
            when (is_lower_better and actual <= target) or (not is_lower_better and actual >= target) then 'met'
            when is_current_quarter then 'in_progress'
            else 'missed'
        end as status,
        case
            when metric = 'nps' and target is not null then ci_low >= target
        end as is_met_beyond_noise
    from measured

)

select * from final
