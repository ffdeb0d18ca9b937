"""Segment: product usage as track events (high volume: read by DuckDB's own JSON reader)."""

from ingestion.entities import EntitySpec

ENTITIES = (
    EntitySpec(
        source="segment",
        entity="tracks",
        layout="segment_tracks",
        primary_key_fields=("messageId",),
        description="Segment track calls (messageId, event, userId, timestamp, context.groupId = account id).",
    ),
)
