"""Segment: product usage as track events (high volume: read by DuckDB's own JSON reader)."""

from ingestion.entities import EntitySpec, RowRule, is_timestamp, plausible_time
from ingestion.expectations import AccountRef, iso_time, not_null, record_suite

ENTITIES = (
    EntitySpec(
        source="segment",
        entity="tracks",
        layout="segment_tracks",
        primary_key_fields=("messageId",),
        # Segment's own service drops re-sent messageIds within about 24 hours; a client that never got its
        # acknowledgement may re-send a queued event days later. 30 days covers that, at a daily cost of a
        # month of keys rather than the whole history.
        resend_window_days=30,
        rules=(
            RowRule(bad_when="event is null", reason="'missing required field event'"),
            is_timestamp("event_timestamp"),
            plausible_time("event_timestamp", "timestamp"),
        ),
        quality=record_suite(
            "message_id",
            "event_timestamp",
            iso_time("r.event_timestamp"),
            key_sql="r.message_id",
            columns={"event": "r.event"},
            expectations=(not_null("event"),),
            account=AccountRef("r.account_id"),
        ),
        description="Segment track calls (messageId, event, userId, timestamp, context.groupId = account id).",
    ),
)
