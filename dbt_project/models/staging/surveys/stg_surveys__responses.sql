with

source as (

    select * from {{ source('surveys', 'responses') }}

),

versions_ranked as (

    select
        *,
        row_number() over (
            partition by response_id
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
