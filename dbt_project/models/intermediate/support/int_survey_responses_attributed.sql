-- One row per survey response about a Zendesk ticket (ticket_id set) or answered to a SimpleSAT team member, with
-- the support agent and group it is attributed to: the agent is SimpleSAT's primary team member (its external_id:
-- the help desk's agent id) when the response carries one, with or without a ticket, else the ticket's current
-- assignee; the group is the ticket's current group.
with

survey_responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

simplesat_responses as (

    select * from {{ ref('stg_simplesat__responses') }}

),

support_tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

final as (

    select
        survey_responses.response_id,
        survey_responses.ticket_id,
        coalesce(
            simplesat_responses.team_member_external_id,
            cast(support_tickets.assignee_id as {{ dbt.type_string() }})
        ) as agent_id,
        case
            when simplesat_responses.team_member_external_id is not null then 'survey_team_member'
            when support_tickets.assignee_id is not null then 'ticket_assignee'
        end as agent_attribution,
        support_tickets.group_id
    from survey_responses
    left join simplesat_responses
        on
            survey_responses.source = 'simplesat'
            and survey_responses.response_id = 'simplesat-' || simplesat_responses.response_id
    left join support_tickets
        on survey_responses.ticket_id = support_tickets.ticket_id
    where
        survey_responses.ticket_id is not null
        or simplesat_responses.team_member_external_id is not null

)

select * from final
