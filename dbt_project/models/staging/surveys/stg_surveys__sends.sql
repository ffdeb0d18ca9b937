with

source as (

    select * from {{ source('surveys', 'sends') }}

),

latest_versions as (

    {{ latest_versions('source', key="send_id") }}

),

final as (

    select
        {{ clean_text('send_id') }} as send_id,
        {{ clean_enum('survey_type') }} as survey_type,
        {{ clean_enum('survey_kind') }} as survey_kind,
        {{ clean_enum('channel') }} as channel,
        {{ clean_enum('touchpoint') }} as touchpoint,
        {{ clean_text('account_id') }} as account_id,
        {{ clean_email('email') }} as email,
        {{ to_utc_timestamp('sent_at') }} as sent_at
    from latest_versions

)

select * from final
