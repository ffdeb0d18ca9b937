-- Survey responses from Typeform (NPS), SimpleSAT (NPS, CSAT, CES: the survey's metric), Delighted (NPS, CSAT,
-- CES: the response's survey_type) and the survey tool export (NPS, CES, CSAT) in one shape,
-- with the score categories. The account id here is the one the response carried, if any.
with

typeform_responses as (

    select * from {{ ref('stg_typeform__responses') }}

),

simplesat_responses as (

    select * from {{ ref('stg_simplesat__responses') }}

),

delighted_responses as (

    select * from {{ ref('stg_delighted__survey_responses') }}

),

survey_export_responses as (

    select * from {{ ref('stg_surveys__responses') }}

),

unioned as (

    select
        response_id,
        'typeform' as source,
        survey_type,
        survey_kind,
        score,
        comment,
        email,
        account_id as provided_account_id,
        ticket_id,
        cast(null as {{ dbt.type_string() }}) as customer_external_id,
        cast(null as {{ dbt.type_string() }}) as customer_company,
        channel,
        touchpoint,
        submitted_at as responded_at
    from typeform_responses

    union all

    select
        -- SimpleSAT's and Delighted's ids are numbers that can meet: prefixed with their source.
        'simplesat-' || response_id as response_id,
        'simplesat' as source,
        survey_type,
        survey_kind,
        score,
        comment,
        email,
        -- SimpleSAT customers carry the help desk's person id, not an account id: the account comes from the
        -- ticket, the help-desk user id, the email or the company (int_survey_events_resolved).
        cast(null as {{ dbt.type_string() }}) as provided_account_id,
        -- The help desk's ticket number: the Zendesk ticket id when it is a number.
        try_cast(ticket_external_id as bigint) as ticket_id,
        -- The help desk's id of the person (the Zendesk user id) and the company they typed or the help desk set.
        customer_external_id,
        customer_company,
        channel,
        cast(null as {{ dbt.type_string() }}) as touchpoint,
        created_at as responded_at
    from simplesat_responses
    where survey_type in ('nps', 'csat', 'ces')

    union all

    select
        'delighted-' || response_id as response_id,
        'delighted' as source,
        survey_type,
        -- Delighted records neither the kind of survey nor a ticket or channel.
        cast(null as {{ dbt.type_string() }}) as survey_kind,
        score,
        comment,
        email,
        -- The person property the team keeps our account id in (dbt var delighted_account_id_property); without
        -- it the account comes from the email, as for the other sources.
        account_id as provided_account_id,
        cast(null as bigint) as ticket_id,
        cast(null as {{ dbt.type_string() }}) as customer_external_id,
        cast(null as {{ dbt.type_string() }}) as customer_company,
        cast(null as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as touchpoint,
        created_at as responded_at
    from delighted_responses
    -- eNPS (employees), 5-star, Smileys, Thumbs and PMF are counted by no mart.
    where survey_type in ('nps', 'csat', 'ces')

    union all

    select
        response_id,
        'survey_export' as source,
        survey_type,
        survey_kind,
        score,
        comment,
        email,
        account_id as provided_account_id,
        ticket_id,
        cast(null as {{ dbt.type_string() }}) as customer_external_id,
        cast(null as {{ dbt.type_string() }}) as customer_company,
        channel,
        touchpoint,
        responded_at
    from survey_export_responses

),

categorized as (

    select
        *,
        case when survey_type = 'nps' then {{ nps_category('score') }} end as nps_category,
        case when survey_type = 'ces' then {{ ces_is_easy('score') }} end as ces_is_easy
    from unioned

),

final as (

    select
        response_id,
        source,
        survey_type,
        survey_kind,
        score,
        nps_category,
        case when survey_type = 'nps' then coalesce(nps_category = 'promoter', false) end as is_promoter,
        case when survey_type = 'nps' then coalesce(nps_category = 'passive', false) end as is_passive,
        case when survey_type = 'nps' then coalesce(nps_category = 'detractor', false) end as is_detractor,
        ces_is_easy,
        comment,
        email,
        provided_account_id,
        ticket_id,
        customer_external_id,
        customer_company,
        channel,
        touchpoint,
        responded_at,
        cast(responded_at as date) as response_date
    from categorized

)

select * from final
