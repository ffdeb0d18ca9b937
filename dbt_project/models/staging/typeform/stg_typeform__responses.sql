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
        list_position(
            json_extract_string(payload, '$.answers[*].field.ref'), '{{ var("typeform_nps_score_ref") }}'
        ) as score_answer_position,
        list_position(
            json_extract_string(payload, '$.answers[*].field.ref'), '{{ var("typeform_nps_reason_ref") }}'
        ) as reason_answer_position
    from latest_versions

),

answers_picked as (

    select
        record_id,
        payload,
        json_extract(payload, '$.answers[' || (score_answer_position - 1) || ']') as score_answer,
        json_extract(payload, '$.answers[' || (reason_answer_position - 1) || ']') as reason_answer
    from answers_located

),

final as (

    select
        record_id as response_id,
        'nps' as survey_type,
        try_cast(score_answer ->> '$.number' as integer) as score,
        {{ clean_text("reason_answer ->> '$.text'") }} as comment,
        {{ clean_text("payload ->> '$.hidden.account_id'") }} as account_id,
        {{ clean_email("payload ->> '$.hidden.email'") }} as email,
        {{ clean_enum("payload ->> '$.hidden.survey_kind'") }} as survey_kind,
        {{ clean_enum("payload ->> '$.hidden.touchpoint'") }} as touchpoint,
        -- Typeform surveys go out as email links unless the link says otherwise.
        coalesce({{ clean_enum("payload ->> '$.hidden.channel'") }}, 'email') as channel,
        try_cast({{ clean_text("payload ->> '$.hidden.ticket_id'") }} as bigint) as ticket_id,
        {{ to_utc_timestamp("payload ->> '$.landed_at'") }} as landed_at,
        {{ to_utc_timestamp("payload ->> '$.submitted_at'") }} as submitted_at
    from answers_picked

)

select * from final
