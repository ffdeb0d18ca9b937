"""Zendesk incremental exports: tickets with their metric sets, users and organizations.

- tickets: `GET /api/v2/incremental/tickets/cursor.json?start_time=<epoch>&include=metric_sets`, then
  `cursor=<after_cursor>` until `end_of_stream`. The `metric_sets` side-load gives the Ticket Metrics of exactly
  the tickets that changed (the `/api/v2/ticket_metrics` list has no incremental filter). Incremental on the
  ticket's `generated_timestamp`.
- users: `GET /api/v2/incremental/users/cursor.json?start_time=<epoch>`, cursor-paginated the same way;
  incremental on `updated_at`.
- organizations: `GET /api/v2/incremental/organizations.json?start_time=<epoch>`, the time-based export:
  `next_page` until `end_of_stream`; incremental on `updated_at`.
- satisfaction_ratings: `GET /api/v2/satisfaction_ratings?start_time=<epoch>&page[size]=<n>` (cursor pagination,
  at most 100 a page): `links.next` while `meta.has_more`; incremental on `updated_at` (a rating changed from bad to
  good comes again, and staging keeps its latest version).
- csat_survey_responses (customizable CSAT): `GET /api/v2/guide/survey_responses?filter[created_at_start]=<epoch>
  &page[size]=<n>` (cursor pagination: `page[after]=<meta.after_cursor>` while `meta.has_more`). The filter is on
  the response's creation, and a response can change until its `expires_at`: the next run starts at the creation of
  the oldest response still open to change when this one fetched (else of the newest response). A response has no
  time of its own: it lands on the day of its latest answer `updated_at`.
Every object lands on the UTC day of its `updated_at`. Zendesk allows 10 incremental-export requests a minute.
Auth: HTTP basic, `<agent email>/token` and the API token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import dlt
from dlt.sources import DltSource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api import rest_api_source
from requests import Request, Response, Session

from ingestion.api.mirror import MIRROR_HINTS, mapper, mirror_row, parse_time
from ingestion.api.settings import GetEnv, Secret, VendorApi, VendorSettings, required
from ingestion.registry import get_entity

TICKETS_PATH = "api/v2/incremental/tickets/cursor.json"
USERS_PATH = "api/v2/incremental/users/cursor.json"
ORGANIZATIONS_PATH = "api/v2/incremental/organizations.json"
SATISFACTION_RATINGS_PATH = "api/v2/satisfaction_ratings"
SURVEY_RESPONSES_PATH = "api/v2/guide/survey_responses"
# Zendesk's cursor pagination answers at most 100 objects a page.
MAX_CURSOR_PAGE_SIZE = 100


def endpoints(settings: VendorSettings) -> list[str]:
    return [
        f"/{TICKETS_PATH}",
        f"/{USERS_PATH}",
        f"/{ORGANIZATIONS_PATH}",
        f"/{SATISFACTION_RATINGS_PATH}",
        f"/{SURVEY_RESPONSES_PATH}",
    ]


# Zendesk refuses a start_time less than a minute old ("Too recent start_time"); a cursor that recent is moved
# back (what is read again merges away).
MIN_START_AGE_SECONDS = 61


def epoch(cursor: Any) -> int:
    """A cursor (ISO-8601 text or Unix seconds) as the `start_time` Zendesk accepts: 1 (everything) when unset,
    never less than a minute ago."""
    moment = parse_time(cursor)
    if moment is None:
        return 1
    return max(1, min(int(moment.timestamp()), int(time.time()) - MIN_START_AGE_SECONDS))


def _tickets_resource(settings: VendorSettings, client: RESTClient, fetched_at: datetime):
    tickets, metrics = get_entity("zendesk", "tickets"), get_entity("zendesk", "ticket_metrics")
    start = None if settings.start is None else int(settings.start.timestamp())

    @dlt.resource(name="tickets", **MIRROR_HINTS)
    def ticket_export(
        # dlt's idiom: the incremental is the argument's default, bound to the pipeline state at run time.
        cursor=dlt.sources.incremental(  # noqa: B008
            "generated_timestamp",
            initial_value=start,
            primary_key=(),
            on_cursor_value_missing="include",
            lag=settings.lookback_seconds,
        ),
    ) -> Iterator[list[dict]]:
        # Rows carry the ticket's generated_timestamp for the cursor; metric sets carry none (not part of it).
        pages = client.paginate(
            TICKETS_PATH,
            params={"start_time": epoch(cursor.last_value), "include": "metric_sets", "per_page": settings.page_size},
            paginator=ZendeskCursorPaginator(),
            data_selector="tickets",
        )
        for page in pages:
            body = page.response.json()
            rows = []
            for ticket in page:
                row = mirror_row(tickets, ticket, changed_at=_updated(ticket), fetched_at=fetched_at)
                row["generated_timestamp"] = ticket.get("generated_timestamp") if isinstance(ticket, dict) else None
                rows.append(row)
            for metric_set in body.get("metric_sets") or []:
                rows.append(mirror_row(metrics, metric_set, changed_at=_updated(metric_set), fetched_at=fetched_at))
            yield rows

    return ticket_export


def _updated(obj: Any) -> datetime | None:
    return parse_time(obj.get("updated_at")) if isinstance(obj, dict) else None


def response_times(response: Any) -> tuple[datetime | None, datetime | None]:
    """A survey response's creation (its first answer's `created_at`) and last change (its latest answer's
    `updated_at`, else `created_at`): the object carries no time of its own."""
    answers = response.get("answers") if isinstance(response, dict) else None
    answers = [a for a in answers if isinstance(a, dict)] if isinstance(answers, list) else []
    created = [t for t in (parse_time(a.get("created_at")) for a in answers) if t is not None]
    changed = [t for t in (parse_time(a.get("updated_at") or a.get("created_at")) for a in answers) if t is not None]
    return min(created, default=None), max(changed, default=None)


def _survey_responses_resource(settings: VendorSettings, client: RESTClient, fetched_at: datetime):
    spec = get_entity("zendesk", "csat_survey_responses")
    initial = 1 if settings.start is None else max(1, int(settings.start.timestamp()))
    lookback = int(settings.lookback_seconds or 0)

    @dlt.resource(name="csat_survey_responses", **MIRROR_HINTS)
    def survey_responses() -> Iterator[list[dict]]:
        # The cursor is kept in the resource state, committed with the load (a failed run keeps the old one).
        state = dlt.current.resource_state()
        start = max(1, int(state.get("created_at_start", initial)) - lookback)
        open_to_change: datetime | None = None
        newest: datetime | None = None
        pages = client.paginate(
            SURVEY_RESPONSES_PATH,
            params={"filter[created_at_start]": start, "page[size]": min(settings.page_size, MAX_CURSOR_PAGE_SIZE)},
            paginator=ZendeskAfterCursorPaginator(),
            data_selector="survey_responses",
        )
        for page in pages:
            rows = []
            for response in page:
                created, changed = response_times(response)
                rows.append(mirror_row(spec, response, changed_at=changed, fetched_at=fetched_at))
                if created is None:
                    continue
                newest = created if newest is None else max(newest, created)
                expires = parse_time(response.get("expires_at"))
                if expires is None or expires > fetched_at:
                    open_to_change = created if open_to_change is None else min(open_to_change, created)
            yield rows
        resume = open_to_change or newest
        if resume is not None:
            state["created_at_start"] = max(1, int(resume.timestamp()))

    return survey_responses


def zendesk_source(settings: VendorSettings, session: Session, fetched_at: datetime) -> DltSource:
    auth = HttpBasicAuth(username=f"{settings.email}/token", password=settings.credentials[0].reveal())
    base_url = settings.base_url + "/"
    start = None if settings.start is None else settings.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    by_updated_at = {
        "start_param": "start_time",
        "cursor_path": "updated_at",
        "initial_value": start,
        "convert": epoch,
        "primary_key": [],
        "on_cursor_value_missing": "include",
        "lag": settings.lookback_seconds,
    }
    client = RESTClient(base_url=base_url, auth=auth, session=session)
    tickets = _tickets_resource(settings, client, fetched_at)
    survey_responses = _survey_responses_resource(settings, client, fetched_at)
    return rest_api_source(
        {
            "client": {"base_url": base_url, "auth": auth, "session": session},
            "resource_defaults": MIRROR_HINTS,
            "resources": [
                tickets,
                {
                    "name": "users",
                    "endpoint": {
                        "path": USERS_PATH,
                        "params": {"per_page": settings.page_size},
                        "data_selector": "users",
                        "paginator": ZendeskCursorPaginator(),
                        "incremental": by_updated_at,
                    },
                    "processing_steps": [{"map": mapper("zendesk", "users", "updated_at", fetched_at)}],
                },
                {
                    "name": "organizations",
                    "endpoint": {
                        "path": ORGANIZATIONS_PATH,
                        "data_selector": "organizations",
                        "paginator": ZendeskTimeExportPaginator(),
                        "incremental": by_updated_at,
                    },
                    "processing_steps": [{"map": mapper("zendesk", "organizations", "updated_at", fetched_at)}],
                },
                {
                    "name": "satisfaction_ratings",
                    "endpoint": {
                        "path": SATISFACTION_RATINGS_PATH,
                        "params": {"page[size]": min(settings.page_size, MAX_CURSOR_PAGE_SIZE)},
                        "data_selector": "satisfaction_ratings",
                        "paginator": ZendeskLinksPaginator(),
                        "incremental": by_updated_at,
                    },
                    "processing_steps": [{"map": mapper("zendesk", "satisfaction_ratings", "updated_at", fetched_at)}],
                },
                survey_responses,
            ],
        },
        name="zendesk",
    )


class ZendeskCursorPaginator(BasePaginator):
    """Zendesk cursor-based incremental exports: follow `after_cursor` until `end_of_stream`. The first request
    carries `start_time`; the following ones only `cursor` (Zendesk refuses both together)."""

    def __init__(self) -> None:
        super().__init__()
        self._cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        self._cursor = body.get("after_cursor")
        self._has_next_page = not body.get("end_of_stream", True) and bool(self._cursor)

    def update_request(self, request: Request) -> None:
        request.params.pop("start_time", None)
        request.params["cursor"] = self._cursor


class ZendeskTimeExportPaginator(BasePaginator):
    """Zendesk time-based incremental exports (organizations): follow `next_page` until `end_of_stream`.
    `next_page` is a full URL whose `start_time` is the page's `end_time`."""

    def __init__(self) -> None:
        super().__init__()
        self._next_page: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        next_page = body.get("next_page")
        if next_page and next_page == self._next_page and not body.get("end_of_stream", True):
            # A full page whose objects all share one second: the export cannot move on (Zendesk's documented
            # limit of time-based exports). Fail rather than loop or skip objects.
            raise RuntimeError(f"Zendesk time-based export does not advance past {next_page}")
        self._next_page = next_page
        self._has_next_page = not body.get("end_of_stream", True) and bool(next_page)

    def update_request(self, request: Request) -> None:
        parts = urlsplit(self._next_page or "")
        request.url = urlunsplit(parts._replace(query=""))
        request.params = dict(parse_qsl(parts.query, keep_blank_values=True))


class ZendeskLinksPaginator(BasePaginator):
    """Zendesk cursor pagination of list endpoints (satisfaction ratings): follow `links.next` while `meta.has_more`.
    `links.next` is a full URL that keeps the filters (`start_time`) and carries `page[after]`."""

    def __init__(self) -> None:
        super().__init__()
        self._next: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        self._next = (body.get("links") or {}).get("next")
        self._has_next_page = bool((body.get("meta") or {}).get("has_more")) and bool(self._next)

    def update_request(self, request: Request) -> None:
        parts = urlsplit(self._next or "")
        request.url = urlunsplit(parts._replace(query=""))
        request.params = dict(parse_qsl(parts.query, keep_blank_values=True))


class ZendeskAfterCursorPaginator(BasePaginator):
    """Zendesk cursor pagination by `page[after]` (survey responses): while `meta.has_more`, the same request again
    with `page[after]` set to `meta.after_cursor` (the filters and `page[size]` kept)."""

    def __init__(self) -> None:
        super().__init__()
        self._cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        meta = response.json().get("meta") or {}
        self._cursor = meta.get("after_cursor")
        self._has_next_page = bool(meta.get("has_more")) and bool(self._cursor)

    def update_request(self, request: Request) -> None:
        request.params["page[after]"] = self._cursor


def read_settings(getenv: GetEnv) -> dict:
    email = required(getenv, "NPS_ZENDESK_EMAIL", "the email of the agent who owns the API token")
    token = required(getenv, "NPS_ZENDESK_API_TOKEN", "a Zendesk API token (Admin Center > Apps and integrations)")
    base = (getenv("NPS_ZENDESK_API_URL") or "").strip()
    if not base:
        subdomain = required(
            getenv, "NPS_ZENDESK_SUBDOMAIN", "the subdomain (acme for acme.zendesk.com), or NPS_ZENDESK_API_URL"
        )
        base = f"https://{subdomain}.zendesk.com"
    return {"base_url": base.rstrip("/"), "credentials": (Secret(token),), "email": email}


# Zendesk allows 10 incremental-export requests a minute; 1,000 objects a page at most.
API = VendorApi(
    source="zendesk",
    name="Zendesk",
    credential_variables="NPS_ZENDESK_EMAIL and NPS_ZENDESK_API_TOKEN",
    requests_per_minute=9.0,
    max_page_size=1000,
    read_settings=read_settings,
    build_source=zendesk_source,
    endpoints=endpoints,
)
