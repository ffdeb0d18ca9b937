-- Whether each known contact may be surveyed now under the fatigue rules, and this quarter's random sample.
-- Contacts: every email seen on a survey send, a survey response or a Zendesk end-user. "Now" is as_of_at, the
-- latest send or response in the data. A contact is eligible for a kind (relational, transactional) when its
-- last send of that kind is at least the kind's min_days_between (seed survey_fatigue_rules, rule '*') before
-- as_of_at, or when it never got one. The relational sample: var survey_sample_share (default 25%) of the
-- contacts eligible for a relational survey, chosen by the md5 of var survey_sample_seed, the quarter and the
-- email: the same inputs always give the same sample, and each quarter draws a new one. A contact on Delighted's
-- unsubscribe list is eligible for no survey (an unsubscribe is never undone in the data: Delighted lists no
-- resubscribe).
with

sends as (

    select * from {{ ref('int_survey_sends_spaced') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

delighted_unsubscribes as (

    select * from {{ ref('stg_delighted__unsubscribes') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

zendesk_organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

rules as (

    select * from {{ ref('survey_fatigue_rules') }}
    where survey_type = '*'

),

as_of as (

    select max(seen_at) as as_of_at
    from (
        select max(sent_at) as seen_at from sends
        union all
        select max(responded_at) as seen_at from responses
    ) as latest

),

sightings as (

    select
        email,
        account_id,
        sent_at as seen_at
    from sends
    union all
    select
        email,
        account_id,
        responded_at as seen_at
    from responses
    where email is not null
    union all
    select
        zendesk_users.email,
        zendesk_organizations.account_id,
        zendesk_users.created_at as seen_at
    from zendesk_users
    left join zendesk_organizations
        on zendesk_users.organization_id = zendesk_organizations.organization_id
    where zendesk_users.user_role = 'end-user' and zendesk_users.email is not null

),

contacts as (

    select
        email,
        account_id,
        row_number() over (
            partition by email order by case when account_id is null then 1 else 0 end, seen_at desc
        ) as sighting_rank
    from sightings

),

unsubscribes as (

    select
        email,
        max(unsubscribed_at) as unsubscribed_at
    from delighted_unsubscribes
    where email is not null
    group by email

),

last_sends as (

    select
        email,
        max(case when survey_kind = 'relational' then sent_at end) as last_relational_sent_at,
        max(case when survey_kind = 'transactional' then sent_at end) as last_transactional_sent_at,
        count(case when survey_kind = 'relational' then 1 end) as relational_sends,
        count(case when survey_kind = 'transactional' then 1 end) as transactional_sends
    from sends
    group by email

),

eligibility as (

    select
        contacts.email,
        contacts.account_id,
        as_of.as_of_at,
        last_sends.last_relational_sent_at,
        last_sends.last_transactional_sent_at,
        coalesce(last_sends.relational_sends, 0) as relational_sends,
        coalesce(last_sends.transactional_sends, 0) as transactional_sends,
        {{ dbt.dateadd('day', 'relational_rule.min_days_between', 'last_sends.last_relational_sent_at') }}
            as relational_eligible_from,
        {{ dbt.dateadd('day', 'transactional_rule.min_days_between', 'last_sends.last_transactional_sent_at') }}
            as transactional_eligible_from,
        cast({{ dbt.date_trunc('quarter', 'as_of.as_of_at') }} as date) as sample_quarter,
        unsubscribes.unsubscribed_at
    from contacts
    cross join as_of
    left join last_sends
        on contacts.email = last_sends.email
    left join unsubscribes
        on contacts.email = unsubscribes.email
    left join rules as relational_rule
        on relational_rule.survey_kind = 'relational'
    left join rules as transactional_rule
        on transactional_rule.survey_kind = 'transactional'
    where contacts.sighting_rank = 1

),

flagged as (

    select
        *,
        unsubscribed_at is null and coalesce(relational_eligible_from <= as_of_at, true) as is_eligible_relational,
        unsubscribed_at is null
        and coalesce(transactional_eligible_from <= as_of_at, true) as is_eligible_transactional,
        {{ dbt.hash(
            dbt.concat(["'" ~ var('survey_sample_seed') ~ "|'", 'cast(sample_quarter as ' ~ dbt.type_string() ~ ')', "'|'", 'email'])
        ) }} as sample_hash
    from eligibility

),

sampled as (

    select
        *,
        case
            when is_eligible_relational
                then row_number() over (partition by is_eligible_relational order by sample_hash, email)
        end as sample_position,
        sum(case when is_eligible_relational then 1 else 0 end) over () as eligible_relational_contacts
    from flagged

),

final as (

    select
        email,
        account_id,
        as_of_at,
        last_relational_sent_at,
        last_transactional_sent_at,
        cast(relational_sends as bigint) as relational_sends,
        cast(transactional_sends as bigint) as transactional_sends,
        relational_eligible_from,
        transactional_eligible_from,
        unsubscribed_at,
        is_eligible_relational,
        is_eligible_transactional,
        sample_quarter,
        coalesce(
            sample_position <= ceiling({{ var('survey_sample_share') }} * eligible_relational_contacts), false
        ) as is_in_relational_sample
    from sampled

)

select * from final
