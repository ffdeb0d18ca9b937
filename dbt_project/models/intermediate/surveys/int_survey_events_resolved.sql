-- Every survey response and every survey send, with the account it belongs to:
--   1. the account id the response/send carried ('provided');
--   2. else the respondent email through Zendesk users -> organization.external_id ('zendesk_email');
--   3. else the email through Stripe customers -> metadata.account_id ('stripe_email');
--   4. else no account ('unmatched'; the row is kept with a null account_id).
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
        sent_at as event_at
    from survey_sends

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
            zendesk_email_accounts.account_id,
            stripe_email_accounts.account_id
        ) as account_id,
        case
            when survey_events.provided_account_id is not null then 'provided'
            when zendesk_email_accounts.account_id is not null then 'zendesk_email'
            when stripe_email_accounts.account_id is not null then 'stripe_email'
            else 'unmatched'
        end as account_match_method
    from survey_events
    left join zendesk_email_accounts
        on lower(trim(survey_events.email)) = zendesk_email_accounts.email_key
    left join stripe_email_accounts
        on lower(trim(survey_events.email)) = stripe_email_accounts.email_key

)

select * from final
