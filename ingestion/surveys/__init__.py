"""Survey-tool exports (CSV): responses and the sends behind response rates."""

from ingestion.contracts.fields import columns, integer, iso_time, lower, text
from ingestion.entities import AccountRef, EntitySpec, RowRule

# The scale of each survey type: NPS 0-10, CES 1-7 (7 = very easy), CSAT 1-5.
SCORE_SCALES = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}
SURVEY_TYPES = tuple(SCORE_SCALES)
_TYPE = "lower(trim(survey_type))"
_SCORE = "try_cast(trim(score) as integer)"
_LOW = "case " + " ".join(f"when {_TYPE} = '{t}' then {lo}" for t, (lo, _) in SCORE_SCALES.items()) + " end"
_HIGH = "case " + " ".join(f"when {_TYPE} = '{t}' then {hi}" for t, (_, hi) in SCORE_SCALES.items()) + " end"
# The score's type is the contract's (a whole number); its scale depends on the survey type.
SCORE_ON_SCALE = RowRule(
    bad_when=f"{_SCORE} not between {_LOW} and {_HIGH}",
    reason=f"'score ' || trim(score) || ' is outside ' || {_LOW} || '-' || {_HIGH} || ' for ' || {_TYPE}",
    description="`score` is on the scale of `survey_type`: NPS 0-10, CES 1-7, CSAT 1-5",
)

RESPONSE_COLUMNS = (
    "response_id",
    "survey_type",
    "survey_kind",
    "score",
    "comment",
    "email",
    "account_id",
    "ticket_id",
    "channel",
    "touchpoint",
    "responded_at",
)
SEND_COLUMNS = (
    "send_id",
    "survey_type",
    "survey_kind",
    "channel",
    "touchpoint",
    "account_id",
    "email",
    "sent_at",
    "variant",  # optional: the experiment variant of the send (seed experiments), e.g. a subject line
)

MODES = ("file",)
ENTITIES = (
    EntitySpec(
        source="surveys",
        entity="responses",
        layout="csv",
        csv_columns=RESPONSE_COLUMNS,
        fields=columns(
            text("response_id"),
            lower("survey_type", SURVEY_TYPES, on_unknown="reject", required=True),
            lower("survey_kind"),
            integer("score", bits=32, required=True),
            text("comment"),
            lower("email"),
            text("account_id"),
            integer("ticket_id"),
            lower("channel"),
            lower("touchpoint"),
            iso_time("responded_at", required=True, time_role="record"),
        ),
        rules=(SCORE_ON_SCALE,),
        key_name="response_id",
        record_time="responded_at",
        account=AccountRef("account_id"),
        description="Survey responses (NPS, CES 1-7, CSAT) in this project's own CSV import format, kept as text.",
    ),
    EntitySpec(
        source="surveys",
        entity="sends",
        layout="csv",
        csv_columns=SEND_COLUMNS,
        fields=columns(
            text("send_id"),
            lower("survey_type", SURVEY_TYPES, on_unknown="reject", required=True),
            lower("survey_kind"),
            lower("channel"),
            lower("touchpoint"),
            text("account_id"),
            lower("email"),
            iso_time("sent_at", required=True, time_role="record"),
            lower("variant"),
        ),
        optional_csv_columns=("variant",),
        key_name="send_id",
        record_time="sent_at",
        account=AccountRef("account_id"),
        description="Survey sends (email, in-app, SMS): the denominator of response rates.",
    ),
)
