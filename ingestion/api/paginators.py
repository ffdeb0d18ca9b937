"""The vendors' pagination, as dlt paginators (the stock ones do not stop where these APIs say they end)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response


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


class StripeListPaginator(BasePaginator):
    """Stripe list endpoints: `has_more`, and the next page is `starting_after=<id of the last object>`."""

    def __init__(self) -> None:
        super().__init__()
        self._last_id: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        objects = body.get("data") or []
        self._last_id = objects[-1].get("id") if objects and isinstance(objects[-1], dict) else None
        self._has_next_page = bool(body.get("has_more")) and bool(self._last_id)

    def update_request(self, request: Request) -> None:
        request.params["starting_after"] = self._last_id


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
