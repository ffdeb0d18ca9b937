-- Closing the loop: one row per NPS detractor and promoter response, with its follow-up ticket, how fast we
-- reached out, whether that met the targets, whether the ticket was solved, and what the same customer said
-- next. Every rule is described in _marts__models.yml; the targets are dbt vars (followup_*).
--   follow-up ticket: a Zendesk ticket with the response id in custom field var zendesk_nps_response_field_id
--     (match_method 'response_id_field'); else one tagged var nps_followup_tags for the same requester email or
--     account, created within var followup_match_days after the response ('tag_and_contact'); the earliest wins.
--   first outreach: the ticket's first agent reply (created_at + Zendesk first reply time).
--   target status: 'met' when the outreach came within the target hours of the response, 'missed' when it came
--     later or never came and the deadline has passed (as of the latest response or ticket in the data),
--     'pending' while the deadline is still ahead.
with

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

teams as (

    select * from {{ ref('zendesk_groups') }}

),

nps_answers as (

    select
        *,
        lead(response_id) over by_customer as next_response_id,
        lead(score) over by_customer as next_score,
        lead(nps_category) over by_customer as next_nps_category,
        lead(responded_at) over by_customer as next_responded_at
    from responses
    where survey_type = 'nps' and score is not null
    window by_customer as (partition by coalesce(account_id, email) order by responded_at, response_id)

),

answers as (

    select * from nps_answers
    where nps_category in ('detractor', 'promoter')

),

followups as (

    select
        tickets.*,
        zendesk_users.email as requester_email
    from tickets
    left join zendesk_users
        on tickets.requester_id = zendesk_users.user_id
    where tickets.is_nps_followup

),

as_of as (

    select max(seen_at) as as_of_at
    from (
        select max(responded_at) as seen_at from responses
        union all
        select max(created_at) as seen_at from tickets
    ) as latest

),

candidates as (

    select
        answers.response_id,
        followups.ticket_id,
        followups.created_at,
        'response_id_field' as match_method,
        1 as match_priority
    from answers
    inner join followups
        on answers.response_id = followups.nps_response_id
    union all
    select
        answers.response_id,
        followups.ticket_id,
        followups.created_at,
        'tag_and_contact' as match_method,
        2 as match_priority
    from answers
    inner join followups
        on
            followups.nps_response_id is null
            and (answers.email = followups.requester_email or answers.account_id = followups.account_id)
            and answers.responded_at <= followups.created_at
            and {{ dbt.dateadd('day', var('followup_match_days'), 'answers.responded_at') }} > followups.created_at

),

first_followups as (

    select
        *,
        row_number() over (
            partition by response_id order by match_priority, created_at, ticket_id
        ) as followup_rank
    from candidates

),

joined as (

    select
        answers.response_id,
        answers.responded_at,
        answers.response_date,
        cast({{ dbt.date_trunc('week', 'answers.responded_at') }} as date) as week_start,
        answers.nps_category,
        answers.score,
        answers.comment,
        answers.account_id,
        answers.email,
        answers.survey_kind,
        answers.touchpoint,
        answers.plan,
        answers.mrr_usd,
        followups.ticket_id as followup_ticket_id,
        first_followups.match_method,
        case
            when followups.ticket_id is null then 'unassigned'
            when teams.team is not null then teams.team
            when followups.group_id is not null then 'group ' || cast(followups.group_id as {{ dbt.type_string() }})
            else 'unassigned'
        end as team,
        followups.created_at as followup_created_at,
        case
            when followups.first_reply_minutes is not null
                then {{ dbt.dateadd('minute', 'followups.first_reply_minutes', 'followups.created_at') }}
        end as first_outreach_at,
        followups.status as followup_status,
        followups.status in ('solved', 'closed') as is_resolved,
        followups.solved_at as resolved_at,
        {{ dbt.dateadd('hour', var('followup_fast_target_hours'), 'answers.responded_at') }} as fast_target_deadline,
        {{ dbt.dateadd('hour', var('followup_target_hours'), 'answers.responded_at') }} as target_deadline,
        as_of.as_of_at,
        answers.next_response_id,
        answers.next_score,
        answers.next_nps_category,
        answers.next_responded_at
    from answers
    cross join as_of
    left join first_followups
        on answers.response_id = first_followups.response_id and first_followups.followup_rank = 1
    left join followups
        on first_followups.ticket_id = followups.ticket_id
    left join teams
        on followups.group_id = teams.group_id

),

final as (

    select
        response_id,
        responded_at,
        response_date,
        week_start,
        nps_category,
        cast(score as integer) as score,
        comment,
        account_id,
        email,
        survey_kind,
        touchpoint,
        plan,
        mrr_usd,
        followup_ticket_id,
        match_method,
        team,
        followup_created_at,
        first_outreach_at,
        cast(
            {{ dbt.datediff('responded_at', 'first_outreach_at', 'second') }} / cast(3600 as double) as double  -- noqa: LT05
        ) as hours_to_first_outreach,
        case
            when first_outreach_at <= fast_target_deadline then 'met'
            when first_outreach_at is not null or fast_target_deadline <= as_of_at then 'missed'
            else 'pending'
        end as fast_target_status,
        case
            when first_outreach_at <= target_deadline then 'met'
            when first_outreach_at is not null or target_deadline <= as_of_at then 'missed'
            else 'pending'
        end as target_status,
        followup_ticket_id is not null as is_followed_up,
        coalesce(is_resolved, false) as is_resolved,
        resolved_at,
        next_response_id,
        cast(next_score as integer) as next_score,
        next_nps_category,
        next_responded_at,
        case
            when nps_category = 'detractor' and next_nps_category is not null
                then next_nps_category in ('passive', 'promoter')
        end as is_recovered
    from joined

)

select * from final
