"""Zendesk: tickets from the incremental export, ticket metrics, users and organizations."""

from ingestion.entities import EntitySpec, required

ENTITIES = (
    EntitySpec(
        source="zendesk",
        entity="tickets",
        layout="json_object",
        rules=required("created_at", "updated_at"),
        description="Zendesk tickets from the incremental export; a ticket recurs on each day it changed.",
    ),
    EntitySpec(
        source="zendesk",
        entity="ticket_metrics",
        layout="json_object",
        rules=required("ticket_id"),
        description="Zendesk Ticket Metrics objects (first reply, resolution times, reopens).",
    ),
    EntitySpec(
        source="zendesk",
        entity="users",
        layout="json_object",
        description="Zendesk users (end users with email and organization_id).",
    ),
    EntitySpec(
        source="zendesk",
        entity="organizations",
        layout="json_object",
        description="Zendesk organizations; external_id is the account id.",
    ),
)
