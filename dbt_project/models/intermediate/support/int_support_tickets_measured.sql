-- Zendesk tickets with their category for CES / CSAT reporting, their reply / resolution times (calendar and, where
-- Zendesk has a schedule, business minutes) and their current satisfaction rating.
with

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

ticket_metrics as (

    select * from {{ ref('stg_zendesk__ticket_metrics') }}

),

final as (

    select
        tickets.ticket_id,
        tickets.organization_id,
        organizations.account_id,
        tickets.status,
        tickets.channel,
        tickets.is_refund_related,
        case when tickets.is_refund_related then 'refund_related' else 'other' end as ticket_category,
        tickets.is_nps_followup,
        tickets.nps_response_id,
        tickets.group_id,
        tickets.assignee_id,
        tickets.requester_id,
        tickets.satisfaction_rating_id,
        tickets.satisfaction_score,
        tickets.satisfaction_rating_seen_at,
        ticket_metrics.first_reply_minutes,
        ticket_metrics.first_reply_business_minutes,
        ticket_metrics.first_reply_loaded_on,
        ticket_metrics.full_resolution_minutes,
        ticket_metrics.full_resolution_business_minutes,
        ticket_metrics.reopens,
        ticket_metrics.replies,
        tickets.created_at,
        tickets.updated_at,
        ticket_metrics.solved_at
    from tickets
    left join organizations
        on tickets.organization_id = organizations.organization_id
    left join ticket_metrics
        on tickets.ticket_id = ticket_metrics.ticket_id

)

select * from final
