with

source as (

    select * from {{ source('typeform', 'responses') }}

),

latest_versions as (

    {{ latest_versions('source') }}

),

-- Position (1-based) in `answers` of the fields whose `ref` holds the NPS score and reason.
answers_located as (

    select
        record_id,
        payload,
        {{ json_position_where('payload', '$.answers', '$.field.ref', var('typeform_nps_score_ref')) }}
            as score_answer_position,
        {{ json_position_where('payload', '$.answers', '$.field.ref', var('typeform_nps_reason_ref')) }}
            as reason_answer_position
    from latest_versions

),

answers_picked as (

    select
        record_id,
        payload,
        {{ json_element_at('payload', '$.answers', 'score_answer_position') }} as score_answer,
        {{ json_element_at('payload', '$.answers', 'reason_answer_position') }} as reason_answer
    from answers_located

),

final as (

    select
        record_id as response_id,
        'nps' as survey_type,
        try_cast({{ json_text('score_answer', '$.number') }} as integer) as score,
        {{ clean_text(json_text('reason_answer', '$.text')) }} as comment,
        {{ clean_text(json_text('payload', '$.hidden.account_id')) }} as account_id,
        {{ clean_email(json_text('payload', '$.hidden.email')) }} as email,
        {{ clean_enum(json_text('payload', '$.hidden.survey_kind')) }} as survey_kind,
        {{ clean_enum(json_text('payload', '$.hidden.touchpoint')) }} as touchpoint,
        -- Typeform surveys go out as email links unless the link says otherwise.
        coalesce({{ clean_enum(json_text('payload', '$.hidden.channel')) }}, 'email') as channel,
        try_cast({{ clean_text(json_text('payload', '$.hidden.ticket_id')) }} as bigint) as ticket_id,
        {{ to_utc_timestamp(json_text('payload', '$.landed_at')) }} as landed_at,
        {{ to_utc_timestamp(json_text('payload', '$.submitted_at')) }} as submitted_at
    from answers_picked

)

select * from final
