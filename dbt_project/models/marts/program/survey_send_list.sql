-- The daily send list: who to survey on list_date (the date of survey_eligibility.as_of_at, the latest send or
-- response in the data), one row per contact and survey. The rules, in the order they apply:
--   timing (seed survey_send_rules): the survey's trigger event (contact_first_seen, ticket_solved,
--     account_signup) happened between min_days_after and max_days_after whole days before list_date;
--   fatigue (survey_eligibility, seed survey_fatigue_rules): relational surveys go to the contacts eligible and
--     drawn in this quarter's relational sample, transactional ones to those eligible for a transactional survey
--     (both exclude Delighted unsubscribes);
--   bounces: no contact on Delighted's bounce list (a bounce is never undone in the data);
--   one transactional survey a contact a day: the lowest seed priority, then the latest trigger, then the name.
-- What was listed but not yet sent (a send list written today, its sends not landed yet) is not known here: the
-- outbound writer (outbound/send_lists.py) removes those with the delivery ledger.
with

rules as (

    select * from {{ ref('survey_send_rules') }}

),

eligibility as (

    select * from {{ ref('survey_eligibility') }}

),

sends as (

    select * from {{ ref('int_survey_sends_spaced') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

zendesk_organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

billing_accounts as (

    select * from {{ ref('int_billing_accounts_aggregated') }}

),

billing_history as (

    select * from {{ ref('int_account_billing_historized') }}

),

delighted_bounces as (

    select * from {{ ref('stg_delighted__bounces') }}

),

list_day as (

    select distinct cast(as_of_at as date) as list_date
    from eligibility

),

-- When each contact first appeared: its first send, response or Zendesk end-user record (as survey_eligibility
-- finds contacts).
first_seen as (

    select
        email,
        min(seen_at) as first_seen_at
    from (
        select
            email,
            sent_at as seen_at
        from sends
        union all
        select
            email,
            responded_at as seen_at
        from responses
        where email is not null
        union all
        select
            email,
            created_at as seen_at
        from zendesk_users
        where user_role = 'end-user' and email is not null
    ) as sightings
    group by email

),

bounces as (

    select
        email,
        max(bounced_at) as bounced_at
    from delighted_bounces
    where email is not null
    group by email

),

contact_first_seen_triggers as (

    select
        email,
        'contact_first_seen' as trigger_event,
        first_seen_at as trigger_at,
        cast(null as {{ dbt.type_bigint() }}) as ticket_id
    from first_seen

),

ticket_solved_triggers as (

    select
        zendesk_users.email,
        'ticket_solved' as trigger_event,
        tickets.solved_at as trigger_at,
        tickets.ticket_id
    from tickets
    inner join zendesk_users
        on tickets.requester_id = zendesk_users.user_id
    where tickets.solved_at is not null and not tickets.is_nps_followup and zendesk_users.email is not null

),

-- The account's survey contact for onboarding: its contact seen first (survey_eligibility.account_id is the
-- contact's latest account).
account_contacts as (

    select
        eligibility.account_id,
        eligibility.email,
        row_number() over (
            partition by eligibility.account_id order by first_seen.first_seen_at, eligibility.email
        ) as contact_rank
    from eligibility
    inner join first_seen
        on eligibility.email = first_seen.email
    where eligibility.account_id is not null

),

account_signup_triggers as (

    select
        account_contacts.email,
        'account_signup' as trigger_event,
        billing_accounts.first_customer_created_at as trigger_at,
        cast(null as {{ dbt.type_bigint() }}) as ticket_id
    from billing_accounts
    inner join account_contacts
        on billing_accounts.account_id = account_contacts.account_id and account_contacts.contact_rank = 1
    where billing_accounts.first_customer_created_at is not null

),

triggers as (

    select * from contact_first_seen_triggers
    union all
    select * from ticket_solved_triggers
    union all
    select * from account_signup_triggers

),

candidates as (

    select
        list_day.list_date,
        triggers.email,
        triggers.trigger_event,
        triggers.trigger_at,
        triggers.ticket_id,
        rules.survey_name,
        rules.survey_type,
        rules.survey_kind,
        rules.touchpoint,
        rules.channel,
        rules.survey_tool,
        rules.priority,
        rules.rule,
        rules.min_days_after,
        rules.max_days_after,
        {{ dbt.datediff('cast(triggers.trigger_at as date)', 'list_day.list_date', 'day') }} as days_since_trigger  -- noqa: LT05
    from triggers
    inner join rules
        on triggers.trigger_event = rules.trigger_event
    cross join list_day

),

timed as (

    select * from candidates
    where
        days_since_trigger >= min_days_after
        and (max_days_after is null or days_since_trigger <= max_days_after)

),

allowed as (

    select
        timed.*,
        eligibility.account_id,
        eligibility.sample_quarter,
        case
            when timed.survey_kind = 'relational' then eligibility.last_relational_sent_at
            else eligibility.last_transactional_sent_at
        end as last_sent_at
    from timed
    inner join eligibility
        on timed.email = eligibility.email
    left join bounces
        on timed.email = bounces.email
    where
        bounces.bounced_at is null
        and (
            (timed.survey_kind = 'relational' and eligibility.is_in_relational_sample)
            or (timed.survey_kind = 'transactional' and eligibility.is_eligible_transactional)
        )

),

ranked as (

    select
        *,
        row_number() over (
            partition by email, survey_kind order by priority asc, trigger_at desc, survey_name asc, ticket_id asc
        ) as kind_rank
    from allowed

),

organization_names as (

    select
        account_id,
        organization_name,
        row_number() over (partition by account_id order by updated_at desc, organization_id desc) as name_rank
    from zendesk_organizations
    where account_id is not null

),

current_plans as (

    select
        account_id,
        plan
    from billing_history
    where valid_to_date is null

),

final as (

    select
        ranked.list_date,
        ranked.email,
        ranked.survey_name,
        ranked.survey_type,
        ranked.survey_kind,
        ranked.touchpoint,
        ranked.channel,
        ranked.survey_tool,
        ranked.rule as reason,
        ranked.trigger_event,
        ranked.trigger_at,
        cast(ranked.days_since_trigger as integer) as days_since_trigger,
        ranked.ticket_id,
        ranked.account_id,
        organization_names.organization_name as account_name,
        current_plans.plan,
        ranked.last_sent_at,
        ranked.sample_quarter
    from ranked
    left join organization_names
        on ranked.account_id = organization_names.account_id and organization_names.name_rank = 1
    left join current_plans
        on ranked.account_id = current_plans.account_id
    where ranked.kind_rank = 1

)

select * from final
