"""Survey-tool exports (CSV): responses and the sends behind response rates."""

from ingestion.contracts.fields import columns, integer, iso_time, lower, text
from ingestion.contracts.render import typed
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
    "send_id",
)
# Columns added after the first version of the format: a file may leave them out.
RESPONSE_OPTIONAL_COLUMNS = ("send_id",)
# The lifecycle of a send, where the sending tool reports it (docs/sources.md); added after the first version.
SEND_LIFECYCLE = ("delivered_at", "opened_at", "reminded_at", "bounced_at", "unsubscribed_at")
SEND_COLUMNS = (
    "send_id",
    "survey_type",
    "survey_kind",
    "channel",
    "touchpoint",
    "account_id",
    "email",
    "sent_at",
    *SEND_LIFECYCLE,
    "variant",  # optional: the experiment variant of the send (seed experiments), e.g. a subject line
)
SEND_FIELDS = columns(
    text("send_id"),
    lower("survey_type", SURVEY_TYPES, on_unknown="reject", required=True),
    lower("survey_kind"),
    lower("channel"),
    lower("touchpoint"),
    text("account_id"),
    lower("email"),
    iso_time("sent_at", required=True, time_role="record"),
    *(iso_time(name) for name in SEND_LIFECYCLE),
    lower("variant"),
)
_SENT = typed("duckdb", SEND_FIELDS[7])


def _not_before_send(index: int) -> RowRule:
    """A lifecycle time of the send (delivered, opened, reminded, bounced, unsubscribed) is not before `sent_at`."""
    name, value = SEND_FIELDS[index].name, typed("duckdb", SEND_FIELDS[index])
    return RowRule(
        bad_when=f"coalesce(({value}) < ({_SENT}), false)",
        reason=f"'{name} ' || trim({name}) || ' is before sent_at ' || trim(sent_at)",
        description=f"`{name}` is not before `sent_at`",
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
            text("send_id"),
        ),
        csv_optional_columns=RESPONSE_OPTIONAL_COLUMNS,
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
        csv_optional_columns=(*SEND_LIFECYCLE, "variant"),
        fields=SEND_FIELDS,
        rules=tuple(_not_before_send(index) for index in range(8, 8 + len(SEND_LIFECYCLE))),
        key_name="send_id",
        record_time="sent_at",
        account=AccountRef("account_id"),
        description=(
            "Survey sends (email, in-app, SMS): the denominator of response rates, with their lifecycle where the "
            "sending tool reports it (delivered, opened, reminded, bounced, unsubscribed)."
        ),
    ),
)
