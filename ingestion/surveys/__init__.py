"""Survey-tool exports (SimpleSAT / Delighted shape): responses and the sends behind response rates."""

from ingestion.entities import EntitySpec

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
)

ENTITIES = (
    EntitySpec(
        source="surveys",
        entity="responses",
        layout="csv",
        csv_columns=RESPONSE_COLUMNS,
        description="Survey export rows (NPS, CES 1-7, CSAT) from SimpleSAT or Delighted, columns kept as text.",
    ),
    EntitySpec(
        source="surveys",
        entity="sends",
        layout="csv",
        csv_columns=SEND_COLUMNS,
        description="Survey sends (email, in-app, SMS): the denominator of response rates.",
    ),
)
