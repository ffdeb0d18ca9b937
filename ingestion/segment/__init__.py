"""Segment: product usage as track events (high volume: read by DuckDB's own JSON reader into raw columns).

The raw columns and the track-spec fields they come from (https://segment.com/docs/connections/spec/track/):
message_id <- messageId, event, user_id <- userId, anonymous_id <- anonymousId, account_id <- context.groupId,
event_timestamp <- timestamp, properties, context. The contract names the raw columns.
"""

from ingestion.contracts.fields import columns, iso_time, json_object, text
from ingestion.entities import AccountRef, EntitySpec

# Read from landing files, or mirrored from Segment's S3 destination (NPS_SOURCE_MODE_SEGMENT=s3).
MODES = ("file", "s3")
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
        fields=columns(
            text("event", required=True),
            text("user_id"),
            text("anonymous_id"),
            text("account_id"),
            iso_time("event_timestamp", required=True, time_role="event"),
            json_object("properties"),
            json_object("context"),
        ),
        key_name="message_id",
        record_time="event_timestamp",
        account=AccountRef("account_id"),
        description="Segment track calls (messageId, event, userId, timestamp, context.groupId = account id).",
    ),
)
