-- One row per CSAT rating: each Zendesk ticket's satisfaction rating (offered, good or bad; 'unoffered' is not a
-- rating) and each CSAT survey response (SimpleSAT and the other survey sources, 1-5 scale), with the ticket,
-- group, agent, ticket category and the account's plan at rating time.
-- Zendesk: the satisfaction_ratings object of the ticket (its latest version, the latest rating of the ticket),
-- with the group and assignee at rating time; its score is the ticket's when the ticket changed after the rating
-- object was last loaded with the same rating id (a rating changed from bad to good counts once, as good). A
-- ticket rated without a loaded rating object counts from the ticket: its current group and assignee, rated when
-- the rating id was first seen on the ticket. Zendesk CSAT survey responses (customizable CSAT) are Zendesk ratings
-- too: a ticket's latest response counts instead of its legacy rating (object or ticket), which Zendesk derives from
-- it as good / bad; satisfied as Zendesk maps the scale (macro zendesk_csat_is_satisfied), group and agent those of
-- the legacy rating where there is one, else the ticket's. Surveys: satisfied = 4-5 (macro csat_is_satisfied); the
-- agent and group come from int_survey_responses_attributed, the plan from the response's account.
with

satisfaction_ratings as (

    select * from {{ ref('stg_zendesk__satisfaction_ratings') }}

),

csat_survey_responses as (

    select * from {{ ref('stg_zendesk__csat_survey_responses') }}

),

support_tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

survey_responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

responses_attributed as (

    select * from {{ ref('int_survey_responses_attributed') }}

),

survey_events as (

    select * from {{ ref('int_survey_events_enriched') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

account_billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

ratings_ranked as (

    select
        *,
        row_number() over (
            partition by ticket_id
            order by updated_at desc nulls last, created_at desc nulls last, satisfaction_rating_id desc
        ) as rating_rank
    from satisfaction_ratings

),

zendesk_from_objects as (

    select
        cast(ratings_ranked.satisfaction_rating_id as {{ dbt.type_string() }}) as rating_id,
        ratings_ranked.ticket_id,
        case
            when
                support_tickets.satisfaction_rating_id = ratings_ranked.satisfaction_rating_id
                and support_tickets.updated_at > ratings_ranked.updated_at
                and support_tickets.satisfaction_score is not null
                then support_tickets.satisfaction_score
            else ratings_ranked.score
        end as zendesk_score,
        ratings_ranked.created_at as rated_at,
        ratings_ranked.group_id,
        cast(ratings_ranked.assignee_id as {{ dbt.type_string() }}) as agent_id,
        cast(null as integer) as score
    from ratings_ranked
    left join support_tickets
        on ratings_ranked.ticket_id = support_tickets.ticket_id
    where ratings_ranked.rating_rank = 1

),

zendesk_from_tickets as (

    select
        cast(support_tickets.satisfaction_rating_id as {{ dbt.type_string() }}) as rating_id,
        support_tickets.ticket_id,
        support_tickets.satisfaction_score as zendesk_score,
        coalesce(support_tickets.satisfaction_rating_seen_at, support_tickets.updated_at) as rated_at,
        support_tickets.group_id,
        cast(support_tickets.assignee_id as {{ dbt.type_string() }}) as agent_id,
        cast(null as integer) as score
    from support_tickets
    left join satisfaction_ratings
        on support_tickets.ticket_id = satisfaction_ratings.ticket_id
    where
        support_tickets.satisfaction_score is not null
        and satisfaction_ratings.ticket_id is null

),

legacy_ratings as (

    select * from zendesk_from_objects
    union all
    select * from zendesk_from_tickets

),

-- A ticket's latest survey response; a response about no ticket (a conversation) counts on its own.
survey_responses_ranked as (

    select
        *,
        row_number() over (
            partition by coalesce(cast(ticket_id as {{ dbt.type_string() }}), survey_response_id)
            order by created_at desc nulls last, updated_at desc nulls last, survey_response_id desc
        ) as response_rank
    from csat_survey_responses

),

zendesk_from_survey_responses as (

    select
        survey_responses_ranked.survey_response_id as rating_id,
        survey_responses_ranked.ticket_id,
        case
            when
                {{ zendesk_csat_is_satisfied(
                    'survey_responses_ranked.rating',
                    'survey_responses_ranked.rating_scale_points',
                    'survey_responses_ranked.rating_category'
                ) }}
                then 'good'
            else 'bad'
        end as zendesk_score,
        survey_responses_ranked.created_at as rated_at,
        coalesce(legacy_ratings.group_id, support_tickets.group_id) as group_id,
        coalesce(
            legacy_ratings.agent_id, cast(support_tickets.assignee_id as {{ dbt.type_string() }})
        ) as agent_id,
        survey_responses_ranked.rating as score
    from survey_responses_ranked
    left join legacy_ratings
        on survey_responses_ranked.ticket_id = legacy_ratings.ticket_id
    left join support_tickets
        on survey_responses_ranked.ticket_id = support_tickets.ticket_id
    where survey_responses_ranked.response_rank = 1

),

-- The survey response wins: a ticket's legacy rating counts only when the ticket has no survey response.
zendesk_ratings as (

    select legacy_ratings.*
    from legacy_ratings
    left join zendesk_from_survey_responses
        on legacy_ratings.ticket_id = zendesk_from_survey_responses.ticket_id
    where zendesk_from_survey_responses.ticket_id is null
    union all
    select * from zendesk_from_survey_responses

),

zendesk_with_plan as (

    select
        coalesce(
            zendesk_ratings.rating_id,
            'ticket-' || cast(zendesk_ratings.ticket_id as {{ dbt.type_string() }})
        ) as rating_id,
        'zendesk' as source,
        zendesk_ratings.ticket_id,
        zendesk_ratings.rated_at,
        zendesk_ratings.zendesk_score,
        -- A CSAT survey response's rating on its scale; null for a legacy rating.
        zendesk_ratings.score,
        true as is_offered,
        zendesk_ratings.zendesk_score in ('good', 'bad') as is_answered,
        zendesk_ratings.zendesk_score = 'good' as is_satisfied,
        zendesk_ratings.group_id,
        zendesk_ratings.agent_id,
        support_tickets.account_id,
        coalesce(support_tickets.ticket_category, 'no_ticket') as ticket_category,
        case
            when billing_accounts.account_id is null or zendesk_ratings.rated_at is null then 'unknown'
            else coalesce(account_billing_history.plan, 'none')
        end as plan
    from zendesk_ratings
    left join support_tickets
        on zendesk_ratings.ticket_id = support_tickets.ticket_id
    left join billing_accounts
        on support_tickets.account_id = billing_accounts.account_id
    left join account_billing_history
        on
            support_tickets.account_id = account_billing_history.account_id
            and account_billing_history.valid_from_date <= cast(zendesk_ratings.rated_at as date)
            and (
                account_billing_history.valid_to_date is null
                or account_billing_history.valid_to_date > cast(zendesk_ratings.rated_at as date)
            )
    where zendesk_ratings.zendesk_score in ('offered', 'good', 'bad')

),

survey_ratings as (

    select
        survey_responses.response_id as rating_id,
        survey_responses.source,
        survey_responses.ticket_id,
        survey_responses.responded_at as rated_at,
        cast(null as {{ dbt.type_string() }}) as zendesk_score,
        survey_responses.score,
        -- A survey's sends are not known here: its answers count, its offers do not.
        cast(null as boolean) as is_offered,
        true as is_answered,
        {{ csat_is_satisfied('survey_responses.score') }} as is_satisfied,
        responses_attributed.group_id,
        responses_attributed.agent_id,
        survey_events.account_id,
        coalesce(support_tickets.ticket_category, 'no_ticket') as ticket_category,
        coalesce(survey_events.plan, 'unknown') as plan
    from survey_responses
    left join responses_attributed
        on survey_responses.response_id = responses_attributed.response_id
    left join survey_events
        on
            survey_events.event_type = 'response'
            and survey_responses.response_id = survey_events.event_id
    left join support_tickets
        on survey_responses.ticket_id = support_tickets.ticket_id
    where
        survey_responses.survey_type = 'csat'
        and survey_responses.score is not null
        and survey_responses.responded_at is not null

),

final as (

    select * from zendesk_with_plan
    union all
    select * from survey_ratings

)

select * from final
