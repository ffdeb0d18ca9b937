"""Typeform: survey responses as the Responses API returns them."""

from ingestion.entities import EntitySpec, RowRule, names, plausible_time, required
from ingestion.expectations import AccountRef, iso_time, record_suite, whole_number_between

# The answer to Typeform's NPS question type (`field.type = "nps"`), as JSON, or NULL when unanswered.
NPS_ANSWER = "list_filter(json_extract(payload, '$.answers[*]'), lambda a: a ->> '$.field.type' = 'nps')[1]"
NPS_SCORE_RULE = RowRule(
    bad_when=(
        f"{NPS_ANSWER} is not null and coalesce(not (json_type({NPS_ANSWER}, '$.number') in ('UBIGINT', 'BIGINT') "
        f"and try_cast({NPS_ANSWER} ->> '$.number' as integer) between 0 and 10), true)"
    ),
    reason=(
        f"'NPS answer ' || coalesce(json_extract({NPS_ANSWER}, '$.number')::varchar, 'null') "
        "|| ' is not a whole number from 0 to 10'"
    ),
)

# Top-level fields of a Responses API item; anything else is kept in `payload` and reported as drift.
RESPONSE_FIELDS = names(
    """
    landing_id token response_id response_type landed_at submitted_at metadata hidden calculated variables
    answers definition tags thankyou_screen_ref
    """
)

ENTITIES = (
    EntitySpec(
        source="typeform",
        entity="responses",
        layout="json_object",
        known_fields=RESPONSE_FIELDS,
        primary_key_fields=("response_id", "token"),
        rules=(
            *required("submitted_at"),
            plausible_time("payload ->> '$.submitted_at'", "submitted_at"),
            NPS_SCORE_RULE,
        ),
        quality=record_suite(
            "response_id",
            "submitted_at",
            iso_time("r.payload ->> '$.submitted_at'"),
            columns={
                "nps_score": f"try_cast(json_extract({NPS_ANSWER.replace('payload', 'r.payload')}, '$.number') "
                "as double)"
            },
            expectations=(whole_number_between("nps_score", 0, 10),),
            account=AccountRef("nullif(trim(r.payload ->> '$.hidden.account_id'), '')"),
        ),
        description=(
            "Typeform Responses API items (answers[], hidden fields account_id, email, touchpoint, "
            "survey_kind), one per line, kept whole."
        ),
    ),
)
