"""Typeform Responses API: `GET /forms/{form_id}/responses`, one dlt resource per form.

Newest first, `page_size` up to 1000, older pages with `before=<token>`; incremental on `submitted_at` through
`since` (inclusive: the last response of the previous run comes again and is merged away). A response lands in
the file of its `submitted_at` UTC day. Auth: `Authorization: Bearer <personal access token>`.
"""

from __future__ import annotations

from datetime import datetime

from dlt.sources import DltSource
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.rest_api import rest_api_source
from requests import Session

from ingestion.api.mirror import MIRROR_HINTS, iso, mapper, parse_time
from ingestion.api.paginators import TypeformBeforePaginator
from ingestion.api.settings import VendorSettings


def since_param(cursor: str | None) -> str | None:
    """Typeform wants `since` as UTC, to the second, without a zone: 2026-03-01T14:03:22."""
    moment = parse_time(cursor)
    return None if moment is None else iso(moment)[:19]


def endpoints(settings: VendorSettings) -> list[str]:
    return [f"/forms/{form_id}/responses" for form_id in settings.form_ids]


def typeform_source(settings: VendorSettings, session: Session, fetched_at: datetime) -> DltSource:
    start = None if settings.start is None else iso(settings.start)[:19] + "Z"
    resources = [
        {
            # One resource (and cursor) per form: forms are added or removed without touching the others' state.
            "name": f"responses_{form_id}",
            "endpoint": {
                "path": f"forms/{form_id}/responses",
                "params": {"page_size": settings.page_size},
                "data_selector": "items",
                "paginator": TypeformBeforePaginator(settings.page_size),
                "incremental": {
                    "start_param": "since",
                    "cursor_path": "submitted_at",
                    "initial_value": start,
                    "convert": since_param,
                    # No de-duplication at the boundary (the merge keeps one version); a response without
                    # submitted_at still lands, and the loader quarantines it with the reason.
                    "primary_key": [],
                    "on_cursor_value_missing": "include",
                    "lag": settings.lookback_seconds,
                },
            },
            "processing_steps": [{"map": mapper("typeform", "responses", "submitted_at", fetched_at)}],
        }
        for form_id in settings.form_ids
    ]
    return rest_api_source(
        {
            "client": {
                "base_url": settings.base_url + "/",
                "auth": BearerTokenAuth(token=settings.credentials[0].reveal()),
                "session": session,
            },
            "resource_defaults": MIRROR_HINTS,
            "resources": resources,
        },
        name="typeform",
    )
