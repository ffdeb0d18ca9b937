-- Every survey response and every survey send, with the account it belongs to, the first of these that finds one:
--   1. the account id the response/send carried ('provided');
--   2. SimpleSAT only: the help-desk ticket the response is about (ticket.external_id, the Zendesk ticket id) ->
--      the ticket's organization -> its external_id ('zendesk_ticket');
--   3. SimpleSAT only: the customer's help-desk user id (customer.external_id, the Zendesk user id) -> the user's
--      organization -> its external_id ('zendesk_user_id');
--   4. the respondent email through Zendesk users -> organization.external_id ('zendesk_email');
--   5. the email through Stripe customers -> metadata.account_id ('stripe_email');
--   6. SimpleSAT only: customer.company, trimmed and case-insensitive, naming Zendesk organizations that all carry
--      one account id; when no Zendesk organization has that name, Stripe customers (not deleted) that all carry
--      one account id ('company_name'). A name shared by organizations of several accounts, or by one without an
--      account id, matches nothing: never a guess;
--   7. else no account ('unmatched'; the row is kept with a null account_id).
-- Why this order: an id the survey carries is ours. The ticket's organization is where the help desk filed that very
-- conversation (a person may change or share organizations; the ticket keeps the one it was about). A user id
-- names one person exactly, where an email may map to several accounts (the smallest is taken). An email beats a
-- company name, free text typed by a person that only identifies an account when it is unique.
-- Emails compare case-insensitively; an email that maps to several accounts takes the smallest account_id.
with

survey_responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

survey_sends as (

    select * from {{ ref('stg_surveys__sends') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

zendesk_organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

zendesk_tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

survey_events as (

    select
        'response' as event_type,
        response_id as event_id,
        survey_type,
        survey_kind,
        channel,
        touchpoint,
        provided_account_id,
        email,
        -- The help-desk ids and the company name tie SimpleSAT responses only (the other sources' ticket_id is
        -- not used to find the account).
        case when source = 'simplesat' then ticket_id end as help_desk_ticket_id,
        try_cast(trim(customer_external_id) as bigint) as help_desk_user_id,
        nullif(lower(trim(customer_company)), '') as company_key,
        responded_at as event_at
    from survey_responses

    union all

    select
        'send' as event_type,
        send_id as event_id,
        survey_type,
        survey_kind,
        channel,
        touchpoint,
        account_id as provided_account_id,
        email,
        cast(null as bigint) as help_desk_ticket_id,
        cast(null as bigint) as help_desk_user_id,
        cast(null as {{ dbt.type_string() }}) as company_key,
        sent_at as event_at
    from survey_sends

),

ticket_accounts as (

    select
        zendesk_tickets.ticket_id,
        zendesk_organizations.account_id
    from zendesk_tickets
    inner join zendesk_organizations
        on zendesk_tickets.organization_id = zendesk_organizations.organization_id
    where zendesk_organizations.account_id is not null

),

user_accounts as (

    select
        zendesk_users.user_id,
        zendesk_organizations.account_id
    from zendesk_users
    inner join zendesk_organizations
        on zendesk_users.organization_id = zendesk_organizations.organization_id
    where zendesk_organizations.account_id is not null

),

zendesk_email_accounts as (

    select
        lower(trim(zendesk_users.email)) as email_key,
        min(zendesk_organizations.account_id) as account_id
    from zendesk_users
    inner join zendesk_organizations
        on zendesk_users.organization_id = zendesk_organizations.organization_id
    where
        zendesk_users.email is not null
        and zendesk_organizations.account_id is not null
    group by lower(trim(zendesk_users.email))

),

stripe_email_accounts as (

    select
        lower(trim(email)) as email_key,
        min(account_id) as account_id
    from stripe_customers
    where
        email is not null
        and account_id is not null
        and not is_deleted
    group by lower(trim(email))

),

-- Per company name: the one account its Zendesk organizations carry, null when they carry several or one carries
-- none (ambiguous).
zendesk_company_names as (

    select
        lower(trim(organization_name)) as company_key,
        case
            when count(distinct account_id) = 1 and count(account_id) = count(*) then min(account_id)
        end as account_id
    from zendesk_organizations
    where organization_name is not null
    group by lower(trim(organization_name))

),

stripe_company_names as (

    select
        nullif(lower(trim(customer_name)), '') as company_key,
        case
            when count(distinct account_id) = 1 and count(account_id) = count(*) then min(account_id)
        end as account_id
    from stripe_customers
    where
        nullif(trim(customer_name), '') is not null
        and not is_deleted
    group by nullif(lower(trim(customer_name)), '')

),

-- Zendesk's organizations decide a name they know (even to say it is ambiguous); Stripe only a name they do not.
company_accounts as (

    select
        coalesce(zendesk_company_names.company_key, stripe_company_names.company_key) as company_key,
        case
            when zendesk_company_names.company_key is not null then zendesk_company_names.account_id
            else stripe_company_names.account_id
        end as account_id
    from zendesk_company_names
    full outer join stripe_company_names
        on zendesk_company_names.company_key = stripe_company_names.company_key

),

final as (

    select
        survey_events.event_type,
        survey_events.event_id,
        survey_events.survey_type,
        survey_events.survey_kind,
        survey_events.channel,
        survey_events.touchpoint,
        survey_events.email,
        survey_events.event_at,
        coalesce(
            survey_events.provided_account_id,
            ticket_accounts.account_id,
            user_accounts.account_id,
            zendesk_email_accounts.account_id,
            stripe_email_accounts.account_id,
            company_accounts.account_id
        ) as account_id,
        case
            when survey_events.provided_account_id is not null then 'provided'
            when ticket_accounts.account_id is not null then 'zendesk_ticket'
            when user_accounts.account_id is not null then 'zendesk_user_id'
            when zendesk_email_accounts.account_id is not null then 'zendesk_email'
            when stripe_email_accounts.account_id is not null then 'stripe_email'
            when company_accounts.account_id is not null then 'company_name'
            else 'unmatched'
        end as account_match_method
    from survey_events
    left join ticket_accounts
        on survey_events.help_desk_ticket_id = ticket_accounts.ticket_id
    left join user_accounts
        on survey_events.help_desk_user_id = user_accounts.user_id
    left join zendesk_email_accounts
        on lower(trim(survey_events.email)) = zendesk_email_accounts.email_key
    left join stripe_email_accounts
        on lower(trim(survey_events.email)) = stripe_email_accounts.email_key
    left join company_accounts
        on survey_events.company_key = company_accounts.company_key

)

select * from final
