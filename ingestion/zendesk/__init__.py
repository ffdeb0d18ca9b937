"""Zendesk: tickets from the incremental export, ticket metrics, users and organizations."""

from ingestion.entities import EntitySpec, names, plausible_time, required, whole_numbers
from ingestion.expectations import AccountRef, in_set, iso_time, not_null, record_suite

TICKET_STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]
ORGANIZATION = AccountRef("r.payload ->> '$.organization_id'", domain="zendesk_organization")

# Top-level fields of each Zendesk object (Support API); anything else is kept in `payload` and reported as drift.
TICKET_FIELDS = names(
    """
    id url external_id via created_at updated_at generated_timestamp type subject raw_subject description
    priority status recipient requester_id submitter_id assignee_id organization_id group_id
    collaborator_ids follower_ids email_cc_ids forum_topic_id problem_id has_incidents is_public due_at tags
    custom_fields custom_status_id satisfaction_rating sharing_agreement_ids fields followup_ids
    ticket_form_id brand_id allow_channelback allow_attachments from_messaging_channel encoded_id event_type
    """
)
TICKET_METRIC_FIELDS = names(
    """
    id url ticket_id created_at updated_at group_stations assignee_stations reopens replies
    assignee_updated_at requester_updated_at status_updated_at initially_assigned_at assigned_at solved_at
    latest_comment_added_at reply_time_in_minutes reply_time_in_seconds first_resolution_time_in_minutes
    full_resolution_time_in_minutes agent_wait_time_in_minutes requester_wait_time_in_minutes
    on_hold_time_in_minutes custom_status_updated_at
    """
)
USER_FIELDS = names(
    """
    id url name email created_at updated_at time_zone iana_time_zone phone shared_phone_number photo
    locale_id locale organization_id role verified external_id tags alias active shared shared_agent
    last_login_at two_factor_auth_enabled signature details notes role_type custom_role_id moderator
    ticket_restriction only_private_comments restricted_agent suspended default_group_id report_csv
    user_fields
    """
)
ORGANIZATION_FIELDS = names(
    """
    id url name shared_tickets shared_comments external_id created_at updated_at domain_names details notes
    group_id tags organization_fields
    """
)

ENTITIES = (
    EntitySpec(
        source="zendesk",
        entity="tickets",
        layout="json_object",
        known_fields=TICKET_FIELDS,
        rules=(
            *required("created_at", "updated_at"),
            plausible_time("payload ->> '$.created_at'", "created_at"),
            plausible_time("payload ->> '$.updated_at'", "updated_at"),
            *whole_numbers("id", "organization_id", "requester_id"),
        ),
        quality=record_suite(
            "ticket_id",
            "created_at",
            iso_time("r.payload ->> '$.created_at'"),
            columns={"status": "r.payload ->> '$.status'"},
            expectations=(
                in_set("status", TICKET_STATUSES, severity="warning", what="`status` is a Zendesk ticket status."),
            ),
            account=ORGANIZATION,
        ),
        description="Zendesk tickets from the incremental export; a ticket recurs on each day it changed.",
    ),
    EntitySpec(
        source="zendesk",
        entity="ticket_metrics",
        layout="json_object",
        known_fields=TICKET_METRIC_FIELDS,
        rules=(
            *required("ticket_id", "created_at"),
            plausible_time("payload ->> '$.created_at'", "created_at"),
            *whole_numbers(
                "id",
                "ticket_id",
                "reopens",
                "replies",
                "reply_time_in_minutes.calendar",
                "reply_time_in_minutes.business",
                "full_resolution_time_in_minutes.calendar",
                "full_resolution_time_in_minutes.business",
            ),
        ),
        quality=record_suite(
            "ticket_metric_id",
            "created_at",
            iso_time("r.payload ->> '$.created_at'"),
            columns={"ticket_id": "try_cast(r.payload ->> '$.ticket_id' as bigint)"},
            expectations=(not_null("ticket_id"),),
        ),
        description="Zendesk Ticket Metrics objects (first reply, resolution times, reopens).",
    ),
    EntitySpec(
        source="zendesk",
        entity="users",
        layout="json_object",
        known_fields=USER_FIELDS,
        rules=(
            *required("created_at"),
            plausible_time("payload ->> '$.created_at'", "created_at"),
            *whole_numbers("id", "organization_id"),
        ),
        quality=record_suite("user_id", "created_at", iso_time("r.payload ->> '$.created_at'"), account=ORGANIZATION),
        description="Zendesk users (end users with email and organization_id).",
    ),
    EntitySpec(
        source="zendesk",
        entity="organizations",
        layout="json_object",
        known_fields=ORGANIZATION_FIELDS,
        rules=(
            *required("created_at"),
            plausible_time("payload ->> '$.created_at'", "created_at"),
            *whole_numbers("id"),
        ),
        quality=record_suite("organization_id", "created_at", iso_time("r.payload ->> '$.created_at'")),
        description="Zendesk organizations; external_id is the account id.",
    ),
)
