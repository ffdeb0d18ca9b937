-- Activation per signup month and plan at signup (plan 'all' for every plan): of the accounts whose activation
-- window is over and whose first days are in the data, the share that reached a key event within the window.
with

activation as (

    select * from {{ ref('account_activation') }}

),

with_all_plans as (

    select
        signup_month,
        plan_at_signup,
        activation_status,
        days_to_activation,
        is_early_engagement_decline
    from activation
    union all
    select
        signup_month,
        'all' as plan_at_signup,
        activation_status,
        days_to_activation,
        is_early_engagement_decline
    from activation

),

final as (

    select
        signup_month,
        plan_at_signup,
        cast(count(*) as bigint) as accounts,
        cast(sum(case when activation_status in ('activated', 'late', 'not_activated') then 1 else 0 end) as bigint)
            as judged_accounts,
        cast(sum(case when activation_status = 'activated' then 1 else 0 end) as bigint) as activated_accounts,
        cast(
            cast(sum(case when activation_status = 'activated' then 1 else 0 end) as double)
            / nullif(sum(case when activation_status in ('activated', 'late', 'not_activated') then 1 else 0 end), 0)
            as double
        ) as activation_rate,
        cast({{ median("case when activation_status = 'activated' then days_to_activation end") }} as double)
            as median_days_to_activation,
        cast(
            avg(
                case
                    when activation_status in ('activated', 'late', 'not_activated')
                        then case when is_early_engagement_decline then 1 else 0 end
                end
            ) as double
        ) as early_engagement_decline_share
    from with_all_plans
    group by signup_month, plan_at_signup

)

select * from final
