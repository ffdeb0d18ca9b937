"""Typeform: survey responses as the Responses API returns them."""

from ingestion.entities import EntitySpec, not_in_future, required

ENTITIES = (
    EntitySpec(
        source="typeform",
        entity="responses",
        layout="json_object",
        primary_key_fields=("response_id", "token"),
        rules=(*required("submitted_at"), not_in_future("payload ->> '$.submitted_at'", "submitted_at")),
        description=(
            "Typeform Responses API items (answers[], hidden fields account_id, email, touchpoint, "
            "survey_kind), one per line, kept whole."
        ),
    ),
)
