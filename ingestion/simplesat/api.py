"""SimpleSAT responses: `POST /api/v1/responses/search`, one explicit date window at a time.

The body names the window (`start_date`, `end_date`, ISO-8601 UTC, as the open Airbyte connector sends them;
the modified-date selector `date_type: modified` is unverified, see docs/api_sources.md); `page` and `page_size`
(at most 250) are query parameters, and the envelope `{count, next, previous, responses: [...]}` links the next
page in `next`, which is followed by re-sending the same body. An empty body returns only the last 30 days, so
no request goes without a window: a first sync (from `NPS_SIMPLESAT_START`, else 1 January two years back) and a
backfill walk windows of `NPS_SIMPLESAT_WINDOW_DAYS` (default 30) up to now; later runs start at the cursor (the
latest `modified` landed, minus `NPS_API_LOOKBACK_SECONDS`). A response lands in the file of its `modified` UTC
day (else `created`).
Auth: header `X-Simplesat-Token: <API key>` (Account settings > API key).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from dlt.sources import DltSource
from requests import Session

from ingestion.api.mirror import MIRROR_HINTS, iso, mapper, parse_time
from ingestion.api.settings import ConfigurationError, GetEnv, Secret, VendorApi, VendorSettings, required, text_setting

SEARCH_PATH = "/api/v1/responses/search"
DEFAULT_WINDOW_DAYS = 30


def first_start(settings: VendorSettings, fetched_at: datetime) -> datetime:
    """Where a first sync starts: the configured start, else 1 January two years back (the partitions' default)."""
    if settings.start is not None:
        return settings.start
    return datetime(fetched_at.year - 2, 1, 1, tzinfo=UTC)


def windows(start: datetime, end: datetime, days: int) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of `days` days (the last one shorter)."""
    step = timedelta(days=days)
    while start < end:
        yield start, min(start + step, end)
        start += step


def simplesat_source(settings: VendorSettings, session: Session, fetched_at: datetime) -> DltSource:
    token = settings.credentials[0].reveal()
    window_days = int(settings.extra.get("window_days", DEFAULT_WINDOW_DAYS))
    to_row = mapper("simplesat", "responses", "modified", fetched_at)

    def search(body: dict[str, Any]) -> Iterator[list[dict]]:
        url: str | None = settings.base_url + SEARCH_PATH
        params: dict[str, Any] | None = {"page": 1, "page_size": settings.page_size}
        while url:
            response = session.post(url, params=params, json=body, headers={"X-Simplesat-Token": token})
            response.raise_for_status()
            envelope = response.json()
            yield [obj for obj in envelope.get("responses") or [] if isinstance(obj, dict)]
            # `next` is the full URL of the next page (its page and page_size included): the body goes again.
            url, params = envelope.get("next"), None

    @dlt.resource(name="responses", **MIRROR_HINTS)
    def responses() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        cursor = parse_time(state.get("modified_cursor"))
        if cursor is None:
            start = first_start(settings, fetched_at)
        else:
            start = cursor - timedelta(seconds=settings.lookback_seconds or 0)
        latest = cursor
        for window_start, window_end in windows(start, fetched_at, window_days):
            body = {"start_date": iso(window_start)[:19] + "Z", "end_date": iso(window_end)[:19] + "Z"}
            body["date_type"] = "modified"
            for page in search(body):
                for obj in page:
                    moment = parse_time(obj.get("modified")) or parse_time(obj.get("created"))
                    if moment is not None and moment <= fetched_at and (latest is None or moment > latest):
                        latest = moment
                yield [to_row(obj) for obj in page]
        # Committed with the load only: a failed run keeps the previous cursor.
        if latest is not None:
            state["modified_cursor"] = iso(latest)

    @dlt.source(name="simplesat")
    def source():
        return responses

    return source()


def modified_between(
    settings: VendorSettings, session: Session, start: datetime, end: datetime
) -> tuple[int, list[dict]]:
    """One search page of the responses modified in [start, end] (the polling sensor's probe): the envelope's
    `count` and the first page's response objects. HTTP errors raise `requests.HTTPError`."""
    body = {"start_date": iso(start)[:19] + "Z", "end_date": iso(end)[:19] + "Z", "date_type": "modified"}
    response = session.post(
        settings.base_url + SEARCH_PATH,
        params={"page": 1, "page_size": settings.page_size},
        json=body,
        headers={"X-Simplesat-Token": settings.credentials[0].reveal()},
    )
    response.raise_for_status()
    envelope = response.json()
    page = [obj for obj in envelope.get("responses") or [] if isinstance(obj, dict)]
    return int(envelope.get("count") or len(page)), page


def endpoints(settings: VendorSettings) -> list[str]:
    return [SEARCH_PATH]


def read_settings(getenv: GetEnv) -> dict:
    token = required(getenv, "NPS_SIMPLESAT_API_KEY", "the SimpleSAT API key (Account settings > API key)")
    raw_days = (getenv("NPS_SIMPLESAT_WINDOW_DAYS") or "").strip()
    try:
        window_days = int(raw_days) if raw_days else DEFAULT_WINDOW_DAYS
    except ValueError:
        raise ConfigurationError(f"NPS_SIMPLESAT_WINDOW_DAYS must be a whole number, not {raw_days!r}") from None
    if window_days < 1:
        raise ConfigurationError(f"NPS_SIMPLESAT_WINDOW_DAYS must be at least 1, not {raw_days!r}")
    return {
        "base_url": text_setting(getenv, "NPS_SIMPLESAT_API_URL").rstrip("/"),
        "credentials": (Secret(token),),
        "extra": {"window_days": window_days},
    }


# SimpleSAT publishes no request rate; 60 a minute keeps a backfill polite. 250 responses a page at most.
API = VendorApi(
    source="simplesat",
    name="SimpleSAT",
    credential_variables="NPS_SIMPLESAT_API_KEY",
    requests_per_minute=60.0,
    max_page_size=250,
    read_settings=read_settings,
    build_source=simplesat_source,
    endpoints=endpoints,
)
