-- Survey responses and sends whose account id is known to neither Stripe (customer metadata.account_id) nor
-- Zendesk (organization external_id): a typo in a hidden field or an export from another workspace. They stay in
-- the facts (nothing is dropped); this test warns so someone looks.
-- In Dagster it is a check of int_survey_events_resolved (`meta.dagster.ref`: the test reads more than one model).
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_survey_events_resolved'}}}) }}

with

survey_events as (

    select * from {{ ref('int_survey_events_resolved') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

zendesk_organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

known_accounts as (

    select account_id from stripe_customers
    where account_id is not null

    union

    select account_id from zendesk_organizations
    where account_id is not null

),

final as (

    select
        survey_events.event_type,
        survey_events.event_id,
        survey_events.account_id
    from survey_events
    left join known_accounts
        on survey_events.account_id = known_accounts.account_id
    where
        survey_events.account_id is not null
        and known_accounts.account_id is null

)

select * from final
