"""Survey-tool exports (SimpleSAT / Delighted shape): responses and the sends behind response rates."""

from ingestion.entities import EntitySpec, RowRule, is_timestamp, plausible_time
from ingestion.expectations import AccountRef, in_set, iso_time, record_suite, whole_number_between

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
    plausible_time("responded_at", "responded_at"),
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
        quality=record_suite(
            "response_id",
            "responded_at",
            iso_time("r.responded_at"),
            key_sql="r.response_id",
            columns={
                "survey_type": "lower(trim(r.survey_type))",
                **{
                    f"{kind}_score": f"case when lower(trim(r.survey_type)) = '{kind}' "
                    "then try_cast(trim(r.score) as double) end"
                    for kind in SCORE_SCALES
                },
            },
            expectations=(
                in_set("survey_type", list(SCORE_SCALES)),
                *(whole_number_between(f"{kind}_score", low, high) for kind, (low, high) in SCORE_SCALES.items()),
            ),
            account=AccountRef("nullif(trim(r.account_id), '')"),
        ),
        description="Survey export rows (NPS, CES 1-7, CSAT) from SimpleSAT or Delighted, columns kept as text.",
    ),
    EntitySpec(
        source="surveys",
        entity="sends",
        layout="csv",
        csv_columns=SEND_COLUMNS,
        rules=(KNOWN_TYPE, is_timestamp("sent_at"), plausible_time("sent_at", "sent_at")),
        quality=record_suite(
            "send_id",
            "sent_at",
            iso_time("r.sent_at"),
            key_sql="r.send_id",
            columns={"survey_type": "lower(trim(r.survey_type))"},
            expectations=(in_set("survey_type", list(SCORE_SCALES)),),
            account=AccountRef("nullif(trim(r.account_id), '')"),
        ),
        description="Survey sends (email, in-app, SMS): the denominator of response rates.",
    ),
)
