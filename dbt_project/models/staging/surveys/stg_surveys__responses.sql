with

source as (

    select * from {{ source('surveys', 'responses') }}

),

latest_versions as (

    {{ latest_versions('source', key="response_id") }}

),

final as (

    select
        {{ clean_text('response_id') }} as response_id,
        {{ clean_enum('survey_type') }} as survey_type,
        {{ clean_enum('survey_kind') }} as survey_kind,
        try_cast({{ clean_text('score') }} as integer) as score,
        {{ clean_text('comment') }} as comment,
        {{ clean_email('email') }} as email,
        {{ clean_text('account_id') }} as account_id,
        try_cast({{ clean_text('ticket_id') }} as bigint) as ticket_id,
        {{ clean_enum('channel') }} as channel,
        {{ clean_enum('touchpoint') }} as touchpoint,
        {{ to_utc_timestamp('responded_at') }} as responded_at
    from latest_versions

)

select * from final
