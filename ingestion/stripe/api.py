"""Stripe list endpoints (customers, subscriptions, invoices, charges, products, coupons) and, for changes, the
Events API.

`GET /v1/<objects>?limit=100&created[gte]=<cursor>`, newest first, next page `starting_after=<last id>` while
`has_more`; subscriptions with `status=all` (the default leaves out canceled ones) and their discounts expanded.
A list only finds objects *created* since the cursor, so changes to older objects (a cancellation, a paid invoice,
a refund) come from `GET /v1/events?created[gte]=<cursor>&types[]=...`: each event holds the object as it was after
the change, and it lands on the event's day. List objects have no update time: they land on their `created` day, as
of the fetch.
Products (the catalog: the plan names) are few and carry an `updated` time: the whole list is read on every run
(`GET /v1/products`, active and archived alike) and each version lands on its `updated` day, so a renamed or
archived product is seen without events. Coupons too (`GET /v1/coupons`), each on its `created` day: a Discount
names its coupon by id from 2025-09-30.clover, and staging reads the terms here.
Auth: `Authorization: Bearer <secret or restricted key>`.
Every request names its API version (`Stripe-Version`, NPS_STRIPE_API_VERSION, default the newest version staging
is tested on): an upgrade of the account's default version in the Dashboard then never changes the shape of what
the lists return. Events are the exception Stripe documents: an event's object keeps the shape of the version in
effect when the event was created (its `api_version`), whatever the request asks; staging reads both shapes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dlt.sources import DltSource
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.rest_api import rest_api_source
from requests import Request, Response, Session

from ingestion.api.mirror import MIRROR_HINTS, mapper, mirror_row, parse_time
from ingestion.api.settings import ConfigurationError, GetEnv, Secret, VendorApi, VendorSettings, required, text_setting
from ingestion.registry import get_entity

LISTS = {
    "customers": {"path": "v1/customers", "params": {}},
    # Discounts are ids unless expanded (from 2025-03-31.basil the only place they are; before it `discount` holds
    # one): expand the subscription's and each item's, 4 levels, Stripe's limit. Events cannot expand: staging
    # prices an id from the Discount object landed under it (stg_stripe__subscription_discounts).
    "subscriptions": {
        "path": "v1/subscriptions",
        "params": {"status": "all", "expand[]": ["data.discounts", "data.items.data.discounts"]},
    },
    "invoices": {"path": "v1/invoices", "params": {}},
    "charges": {"path": "v1/charges", "params": {}},
}
# Read whole on every run (a catalog is small): products land on their `updated` day (API reference: "The Product
# object"); coupons, whose terms never change, on their `created` day ("The Coupon object"; from 2025-09-30.clover a
# Discount names only its coupon's id, and events cannot expand it).
CATALOG = {
    "products": {"path": "v1/products", "params": {}, "landed_on": "updated"},
    "coupons": {"path": "v1/coupons", "params": {}, "landed_on": "created"},
}
# Event types that carry a changed customer, subscription, invoice or charge (creations come from the lists).
EVENT_TYPES = [
    "customer.updated",
    "customer.deleted",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.updated",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.marked_uncollectible",
    "invoice.voided",
    "charge.updated",
    "charge.captured",
    "charge.refunded",
    "charge.failed",
    "charge.succeeded",
]
# A Stripe API version as the `Stripe-Version` header takes it: `2024-06-20`, `2025-09-30.clover`.
API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")
# The `object` field of an event's data.object -> the entity it lands in.
OBJECT_ENTITIES = {"customer": "customers", "subscription": "subscriptions", "invoice": "invoices", "charge": "charges"}


def endpoints(settings: VendorSettings) -> list[str]:
    paths = [f"/{spec['path']}" for spec in (*LISTS.values(), *CATALOG.values())]
    return [*paths, "/v1/events"] if settings.stripe_events else paths


def _event_row(fetched_at: datetime):
    specs = {kind: get_entity("stripe", entity) for kind, entity in OBJECT_ENTITIES.items()}

    def to_row(event: dict) -> dict | None:
        obj = (event.get("data") or {}).get("object") if isinstance(event, dict) else None
        spec = specs.get(obj.get("object")) if isinstance(obj, dict) else None
        if spec is None:
            return None
        row = mirror_row(spec, obj, changed_at=parse_time(event.get("created")), fetched_at=fetched_at)
        # The events' cursor is the event's time, kept as the rows' `created` (dlt declares the cursor column).
        row["created"] = event.get("created")
        return row

    return to_row


def stripe_source(settings: VendorSettings, session: Session, fetched_at: datetime) -> DltSource:
    start = None if settings.start is None else int(settings.start.timestamp())
    incremental = {
        "start_param": "created[gte]",
        "cursor_path": "created",
        "initial_value": start,
        "primary_key": [],
        "on_cursor_value_missing": "include",
        "lag": settings.lookback_seconds,
    }
    resources: list[dict] = [
        {
            "name": entity,
            "endpoint": {
                "path": spec["path"],
                "params": {"limit": settings.page_size, **spec["params"]},
                "data_selector": "data",
                "paginator": StripeListPaginator(),
                "incremental": incremental,
            },
            "processing_steps": [{"map": mapper("stripe", entity, "created", fetched_at, version_is_fetch=True)}],
        }
        for entity, spec in LISTS.items()
    ]
    resources += [
        {
            "name": entity,
            "endpoint": {
                "path": spec["path"],
                "params": {"limit": settings.page_size, **spec["params"]},
                "data_selector": "data",
                "paginator": StripeListPaginator(),
            },
            "processing_steps": [{"map": mapper("stripe", entity, spec["landed_on"], fetched_at)}],
        }
        for entity, spec in CATALOG.items()
    ]
    if settings.stripe_events:
        resources.append(
            {
                "name": "events",
                "endpoint": {
                    "path": "v1/events",
                    "params": {"limit": settings.page_size, "types[]": EVENT_TYPES},
                    "data_selector": "data",
                    "paginator": StripeListPaginator(),
                    # Stripe keeps events for 30 days: the first run reads what is there (later history than
                    # the lists' created days), the next ones what came since.
                    "incremental": {**incremental, "initial_value": start},
                },
                "processing_steps": [{"map": _event_row(fetched_at)}, {"filter": lambda row: row is not None}],
            }
        )
    return rest_api_source(
        {
            "client": {
                "base_url": settings.base_url + "/",
                "auth": BearerTokenAuth(token=settings.credentials[0].reveal()),
                "session": session,
                **({"headers": {"Stripe-Version": version}} if (version := settings.extra.get("api_version")) else {}),
            },
            "resource_defaults": MIRROR_HINTS,
            "resources": resources,
        },
        name="stripe",
    )


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


def read_settings(getenv: GetEnv) -> dict:
    key = required(getenv, "NPS_STRIPE_API_KEY", "a Stripe secret or restricted key with read access")
    events = text_setting(getenv, "NPS_STRIPE_EVENTS").lower() not in ("0", "false", "no", "off")
    version = text_setting(getenv, "NPS_STRIPE_API_VERSION")
    if version == "account":
        version = ""
    elif not API_VERSION.fullmatch(version):
        raise ConfigurationError(
            f"NPS_STRIPE_API_VERSION={version!r} is not a Stripe API version (YYYY-MM-DD or YYYY-MM-DD.<name>, "
            "e.g. 2025-09-30.clover); `account` sends none, so the account's default version applies"
        )
    return {
        "base_url": text_setting(getenv, "NPS_STRIPE_API_URL").rstrip("/"),
        "credentials": (Secret(key),),
        "stripe_events": events,
        "extra": {"api_version": version},
    }


# Stripe allows 25 requests a second in test mode (100 live); 100 objects a page at most.
API = VendorApi(
    source="stripe",
    name="Stripe",
    credential_variables="NPS_STRIPE_API_KEY",
    requests_per_minute=1200.0,
    max_page_size=100,
    read_settings=read_settings,
    build_source=stripe_source,
    endpoints=endpoints,
)
