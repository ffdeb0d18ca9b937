with

source as (

    select * from {{ source('surveys', 'sends') }}

),

versions_ranked as (

    select
        *,
        row_number() over (
            partition by send_id
            order by _partition_date desc, _line_number desc
        ) as version_rank
    from source

),

latest_versions as (

    select * from versions_ranked
    where version_rank = 1

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
