"""Zendesk: tickets from the incremental export, ticket metrics, users, organizations and satisfaction ratings
(Support API)."""

from ingestion.contracts.fields import (
    ElementWhere,
    Var,
    count,
    in_element,
    integer,
    iso_time,
    lower,
    text,
    text_list,
)
from ingestion.entities import AccountRef, EntitySpec, names

TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
# A satisfaction rating's state: asked and not answered (offered), not asked (unoffered), or the answer.
RATING_SCORES = ("offered", "unoffered", "good", "bad")
# The survey response a follow-up ticket answers: the value of the ticket's custom field whose id is the dbt var.
NPS_RESPONSE_FIELD = ElementWhere("custom_fields", "id", Var("zendesk_nps_response_field_id"), "custom field")
ORGANIZATION = AccountRef("organization_id", domain="zendesk_organization")

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
SATISFACTION_RATING_FIELDS = names(
    """
    id url assignee_id group_id requester_id ticket_id score comment reason reason_id reason_code created_at
    updated_at
    """
)
# Every object carries these; `updated_at` orders the versions of an object in staging.
_TIMES = (iso_time("created_at", required=True, time_role="record"), iso_time("updated_at", time_role="record"))

# Read from landing files, or from the vendor API by the connector in api.py (NPS_SOURCE_MODE_ZENDESK=api).
MODES = ("file", "api")
ENTITIES = (
    EntitySpec(
        source="zendesk",
        entity="tickets",
        layout="json_object",
        known_fields=TICKET_FIELDS,
        fields=(
            integer("id"),
            lower("status", TICKET_STATUSES),
            lower("type"),
            lower("priority"),
            text("subject"),
            integer("organization_id"),
            integer("requester_id"),
            integer("group_id"),
            integer("assignee_id"),
            lower("via.channel"),
            text_list("tags"),
            *in_element(NPS_RESPONSE_FIELD, "nps_response_field", text("value")),
            # The ticket's current satisfaction rating (null where CSAT is off; only a score when not answered).
            integer("satisfaction_rating.id"),
            lower("satisfaction_rating.score", RATING_SCORES),
            text("satisfaction_rating.comment"),
            text("satisfaction_rating.reason"),
            iso_time("created_at", required=True, time_role="record"),
            iso_time("updated_at", required=True, time_role="record"),
        ),
        key_name="ticket_id",
        record_time="created_at",
        account=ORGANIZATION,
        description="Zendesk tickets from the incremental export; a ticket recurs on each day it changed.",
    ),
    EntitySpec(
        source="zendesk",
        entity="ticket_metrics",
        layout="json_object",
        known_fields=TICKET_METRIC_FIELDS,
        fields=(
            integer("id"),
            integer("ticket_id", required=True),
            count("reopens"),
            count("replies"),
            count("reply_time_in_minutes.calendar"),
            count("reply_time_in_minutes.business"),
            count("full_resolution_time_in_minutes.calendar"),
            count("full_resolution_time_in_minutes.business"),
            iso_time("solved_at", time_role="record"),
            *_TIMES,
        ),
        key_name="ticket_metric_id",
        record_time="created_at",
        description="Zendesk Ticket Metrics objects (first reply, resolution times, reopens).",
    ),
    EntitySpec(
        source="zendesk",
        entity="users",
        layout="json_object",
        known_fields=USER_FIELDS,
        fields=(integer("id"), lower("email"), integer("organization_id"), lower("role"), *_TIMES),
        key_name="user_id",
        record_time="created_at",
        account=ORGANIZATION,
        description="Zendesk users (end users with email and organization_id).",
    ),
    EntitySpec(
        source="zendesk",
        entity="organizations",
        layout="json_object",
        known_fields=ORGANIZATION_FIELDS,
        fields=(integer("id"), text("name"), text("external_id"), *_TIMES),
        key_name="organization_id",
        record_time="created_at",
        description="Zendesk organizations; external_id is the account id.",
    ),
    EntitySpec(
        source="zendesk",
        entity="satisfaction_ratings",
        layout="json_object",
        known_fields=SATISFACTION_RATING_FIELDS,
        fields=(
            integer("id"),
            integer("ticket_id", required=True),
            lower("score", RATING_SCORES, required=True),
            # The ticket's group and assignee when it was rated (the ticket's may have changed since).
            integer("group_id"),
            integer("assignee_id"),
            integer("requester_id"),
            text("comment"),
            text("reason"),
            integer("reason_code"),
            *_TIMES,
        ),
        key_name="satisfaction_rating_id",
        record_time="created_at",
        description="Zendesk satisfaction ratings (legacy CSAT): offered, or answered good / bad, per ticket.",
    ),
)
