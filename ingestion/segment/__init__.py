"""Segment: product usage as track events (high volume: read by DuckDB's own JSON reader)."""

from ingestion.entities import EntitySpec, RowRule, is_timestamp, not_in_future

ENTITIES = (
    EntitySpec(
        source="segment",
        entity="tracks",
        layout="segment_tracks",
        primary_key_fields=("messageId",),
        rules=(
            RowRule(bad_when="event is null", reason="'missing required field event'"),
            is_timestamp("event_timestamp"),
            not_in_future("event_timestamp", "timestamp"),
        ),
        description="Segment track calls (messageId, event, userId, timestamp, context.groupId = account id).",
    ),
)
