-- Follow-up performance per week of the response (weeks start on Monday), team and NPS category (detractor,
-- promoter); team 'all' sums every team. Attainment counts only responses whose deadline has passed.
with

closed_loop as (

    select * from {{ ref('closed_loop') }}

),

with_all_teams as (

    select
        week_start,
        team,
        nps_category,
        fast_target_status,
        target_status,
        is_followed_up,
        is_resolved,
        is_recovered,
        next_nps_category,
        hours_to_first_outreach
    from closed_loop
    union all
    select
        week_start,
        'all' as team,
        nps_category,
        fast_target_status,
        target_status,
        is_followed_up,
        is_resolved,
        is_recovered,
        next_nps_category,
        hours_to_first_outreach
    from closed_loop

),

aggregated as (

    select
        week_start,
        team,
        nps_category,
        count(*) as responses,
        sum(case when is_followed_up then 1 else 0 end) as followed_up,
        count(hours_to_first_outreach) as reached_out,
        sum(case when fast_target_status != 'pending' then 1 else 0 end) as fast_target_due,
        sum(case when fast_target_status = 'met' then 1 else 0 end) as met_fast_target,
        sum(case when target_status != 'pending' then 1 else 0 end) as target_due,
        sum(case when target_status = 'met' then 1 else 0 end) as met_target,
        {{ median('hours_to_first_outreach') }} as median_hours_to_first_outreach,
        sum(case when is_resolved then 1 else 0 end) as resolved,
        count(next_nps_category) as with_next_response,
        sum(case when is_recovered then 1 else 0 end) as recovered
    from with_all_teams
    group by week_start, team, nps_category

),

final as (

    select
        week_start,
        team,
        nps_category,
        cast(responses as bigint) as responses,
        cast(followed_up as bigint) as followed_up,
        cast(reached_out as bigint) as reached_out,
        cast(fast_target_due as bigint) as fast_target_due,
        cast(met_fast_target as bigint) as met_fast_target,
        cast(cast(met_fast_target as double) / nullif(fast_target_due, 0) as double) as fast_target_attainment,
        cast(target_due as bigint) as target_due,
        cast(met_target as bigint) as met_target,
        cast(cast(met_target as double) / nullif(target_due, 0) as double) as target_attainment,
        cast(median_hours_to_first_outreach as double) as median_hours_to_first_outreach,
        cast(resolved as bigint) as resolved,
        cast(with_next_response as bigint) as with_next_response,
        cast(recovered as bigint) as recovered,
        case
            when nps_category = 'detractor'
                then cast(cast(recovered as double) / nullif(with_next_response, 0) as double)
        end as recovery_rate,
        case
            when nps_category = 'promoter' then cast(cast(followed_up as double) / nullif(responses, 0) as double)
        end as thank_you_coverage
    from aggregated

)

select * from final
