"""Delighted API v1: survey responses, unsubscribes and bounces, page by page (`page`, `per_page` up to 100).

Every list is a bare JSON array; the page after the last one is empty. Auth: HTTP Basic, the API key as user and
an empty password (Settings > API). Times are Unix seconds.
- survey_responses (`GET /survey_responses.json?expand[]=person`): a first sync reads everything (from
  `NPS_DELIGHTED_START` when set) in creation order. Later runs make two walks: new responses with
  `since=<latest created_at>`, and changed ones with `updated_since=<latest updated_at>&order=asc:updated_at`
  (`updated_at` is null until a response changes, so the changed walk alone would miss new responses). A response
  lands on the UTC day of its `updated_at`, else its `created_at`.
- unsubscribes, bounces (`GET /unsubscribes.json`, `/bounces.json`): `since=<latest unsubscribed_at / bounced_at>`;
  each lands on the day of that time.
Every cursor is committed with the load (a failed run keeps the previous ones) and read back
`NPS_API_LOOKBACK_SECONDS` early; `since` and `updated_since` are inclusive, so the boundary object comes again and
is merged away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import dlt
from dlt.sources import DltSource
from requests import Session

from ingestion.api.mirror import MIRROR_HINTS, mirror_row, parse_time
from ingestion.api.settings import GetEnv, Secret, VendorApi, VendorSettings, required, text_setting
from ingestion.registry import get_entity

RESPONSES_PATH = "/survey_responses.json"
UNSUBSCRIBES_PATH = "/unsubscribes.json"
BOUNCES_PATH = "/bounces.json"


def endpoints(settings: VendorSettings) -> list[str]:
    return [RESPONSES_PATH, UNSUBSCRIBES_PATH, BOUNCES_PATH]


def seconds(value: Any) -> int | None:
    """A Delighted time (Unix seconds) as an int; None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def delighted_source(settings: VendorSettings, session: Session, fetched_at: datetime) -> DltSource:
    auth = (settings.credentials[0].reveal(), "")
    start = None if settings.start is None else int(settings.start.timestamp())
    lookback = int(settings.lookback_seconds or 0)

    def pages(path: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        """Pages 1, 2, ... until the first empty one (the list is a bare array)."""
        page = 1
        while True:
            response = session.get(
                settings.base_url + path, params={**params, "page": page, "per_page": settings.page_size}, auth=auth
            )
            response.raise_for_status()
            objects = response.json()
            if not isinstance(objects, list) or not objects:
                return
            yield [obj for obj in objects if isinstance(obj, dict)]
            page += 1

    def rows(entity: str, objects: list[dict], changed: Callable[[dict], int | None]) -> list[dict]:
        spec = get_entity("delighted", entity)
        out = []
        for obj in objects:
            moment = changed(obj)
            at = None if moment is None else parse_time(moment)
            out.append(mirror_row(spec, obj, changed_at=at, fetched_at=fetched_at))
        return out

    def latest_time(obj: dict) -> int | None:
        return seconds(obj.get("updated_at")) or seconds(obj.get("created_at"))

    @dlt.resource(name="survey_responses", **MIRROR_HINTS)
    def survey_responses() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        created_cursor, updated_cursor = state.get("created_cursor"), state.get("updated_cursor")
        walks: list[dict[str, Any]] = []
        if created_cursor is None:
            walks.append({} if start is None else {"since": start})
        else:
            walks.append({"since": max(0, created_cursor - lookback)})
            walks.append({"updated_since": max(0, updated_cursor - lookback), "order": "asc:updated_at"})
        newest_created, newest_change = created_cursor, updated_cursor
        now = int(fetched_at.timestamp())
        for walk in walks:
            for page in pages(RESPONSES_PATH, {**walk, "expand[]": "person"}):
                for obj in page:
                    created, change = seconds(obj.get("created_at")), latest_time(obj)
                    # A time after the fetch is a broken clock: it lands (the loader quarantines it), never a cursor.
                    if created is not None and created <= now:
                        newest_created = max(created, newest_created or created)
                    if change is not None and change <= now:
                        newest_change = max(change, newest_change or change)
                yield rows("survey_responses", page, latest_time)
        # Committed with the load only: a failed run keeps the previous cursors.
        if newest_created is not None:
            state["created_cursor"] = newest_created
            state["updated_cursor"] = newest_change if newest_change is not None else newest_created

    def person_list(entity: str, path: str, time_field: str):
        @dlt.resource(name=entity, **MIRROR_HINTS)
        def listed() -> Iterator[list[dict]]:
            state = dlt.current.resource_state()
            cursor = state.get("cursor")
            since = start if cursor is None else max(0, cursor - lookback)
            newest, now = cursor, int(fetched_at.timestamp())
            for page in pages(path, {} if since is None else {"since": since}):
                for obj in page:
                    moment = seconds(obj.get(time_field))
                    if moment is not None and moment <= now:
                        newest = max(moment, newest or moment)
                yield rows(entity, page, lambda obj: seconds(obj.get(time_field)))
            if newest is not None:
                state["cursor"] = newest

        return listed

    @dlt.source(name="delighted")
    def source():
        return (
            survey_responses,
            person_list("unsubscribes", UNSUBSCRIBES_PATH, "unsubscribed_at"),
            person_list("bounces", BOUNCES_PATH, "bounced_at"),
        )

    return source()


def read_settings(getenv: GetEnv) -> dict:
    key = required(getenv, "NPS_DELIGHTED_API_KEY", "the Delighted API key (Settings > API)")
    return {
        "base_url": text_setting(getenv, "NPS_DELIGHTED_API_URL").rstrip("/"),
        "credentials": (Secret(key),),
    }


# Delighted publishes no fixed request rate (a 429 says how long to wait in Retry-After); 100 a page at most.
API = VendorApi(
    source="delighted",
    name="Delighted",
    credential_variables="NPS_DELIGHTED_API_KEY",
    requests_per_minute=120.0,
    max_page_size=100,
    read_settings=read_settings,
    build_source=delighted_source,
    endpoints=endpoints,
)
