"""Typeform Responses API: `GET /forms/{form_id}/responses`, one dlt resource per form.

Newest first, `page_size` up to 1000, older pages with `before=<token>`; incremental on `submitted_at` through
`since` (inclusive: the last response of the previous run comes again and is merged away). A response lands in
the file of its `submitted_at` UTC day. Auth: `Authorization: Bearer <personal access token>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dlt.sources import DltSource
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api import rest_api_source
from requests import Request, Response, Session

from ingestion.api.mirror import MIRROR_HINTS, iso, mapper, parse_time
from ingestion.api.settings import ConfigurationError, GetEnv, Secret, VendorApi, VendorSettings, required, text_setting


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


class TypeformBeforePaginator(BasePaginator):
    """Typeform Responses API: newest first; the next (older) page is `before=<token of the last item>`.
    The last page is the one with fewer than `page_size` items (or none)."""

    def __init__(self, page_size: int):
        super().__init__()
        self.page_size = page_size
        self._before: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        items = response.json().get("items") or []
        last_token = items[-1].get("token") if items and isinstance(items[-1], dict) else None
        self._before = last_token
        self._has_next_page = len(items) >= self.page_size and bool(last_token)

    def update_request(self, request: Request) -> None:
        request.params["before"] = self._before


def read_settings(getenv: GetEnv) -> dict:
    token = required(getenv, "NPS_TYPEFORM_TOKEN", "a Typeform personal access token with responses:read")
    forms = required(getenv, "NPS_TYPEFORM_FORM_IDS", "the ids of the forms to pull, comma-separated")
    form_ids = tuple(form.strip() for form in forms.split(",") if form.strip())
    for form_id in form_ids:
        if not form_id.isalnum():
            raise ConfigurationError(f"NPS_TYPEFORM_FORM_IDS: {form_id!r} is not a Typeform form id")
    return {
        "base_url": text_setting(getenv, "NPS_TYPEFORM_API_URL").rstrip("/"),
        "credentials": (Secret(token),),
        "form_ids": form_ids,
    }


# Typeform's Responses API allows 2 requests a second; 1,000 responses a page at most.
API = VendorApi(
    source="typeform",
    name="Typeform",
    credential_variables="NPS_TYPEFORM_TOKEN",
    requests_per_minute=100.0,
    max_page_size=1000,
    read_settings=read_settings,
    build_source=typeform_source,
    endpoints=endpoints,
)
