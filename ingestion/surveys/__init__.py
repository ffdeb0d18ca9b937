"""Survey-tool exports (SimpleSAT / Delighted shape): responses and the sends behind response rates."""

from ingestion.entities import EntitySpec, RowRule, is_timestamp, not_in_future

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
# The scale of each survey type: NPS 0-10, CES 1-7 (7 = very easy), CSAT 1-5.
SCORE_SCALES = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}
_TYPE = "lower(trim(survey_type))"
_SCALE_LOW = "case " + " ".join(f"when {_TYPE} = '{t}' then {lo}" for t, (lo, _) in SCORE_SCALES.items()) + " end"
_SCALE_HIGH = "case " + " ".join(f"when {_TYPE} = '{t}' then {hi}" for t, (_, hi) in SCORE_SCALES.items()) + " end"
KNOWN_TYPE = RowRule(
    bad_when=f"{_TYPE} is null or {_TYPE} not in ({', '.join(repr(t) for t in SCORE_SCALES)})",
    reason="'survey_type ' || coalesce('\"' || survey_type || '\"', 'is empty') || ' is not one of nps, ces, csat'",
)
RESPONSE_RULES = (
    KNOWN_TYPE,
    RowRule(bad_when="score is null", reason="'score is missing'"),
    RowRule(
        bad_when="not regexp_full_match(trim(score), '-?[0-9]+')",
        reason="'score \"' || score || '\" is not a whole number'",
    ),
    RowRule(
        bad_when=f"cast(trim(score) as hugeint) not between {_SCALE_LOW} and {_SCALE_HIGH}",
        reason=(
            f"'score ' || trim(score) || ' is outside ' || {_SCALE_LOW} || '-' || {_SCALE_HIGH} || ' for ' || {_TYPE}"
        ),
    ),
    is_timestamp("responded_at"),
    not_in_future("responded_at", "responded_at"),
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
)

ENTITIES = (
    EntitySpec(
        source="surveys",
        entity="responses",
        layout="csv",
        csv_columns=RESPONSE_COLUMNS,
        rules=RESPONSE_RULES,
        description="Survey export rows (NPS, CES 1-7, CSAT) from SimpleSAT or Delighted, columns kept as text.",
    ),
    EntitySpec(
        source="surveys",
        entity="sends",
        layout="csv",
        csv_columns=SEND_COLUMNS,
        rules=(KNOWN_TYPE, is_timestamp("sent_at"), not_in_future("sent_at", "sent_at")),
        description="Survey sends (email, in-app, SMS): the denominator of response rates.",
    ),
)
