"""A local HTTP server playing Typeform, Zendesk and Stripe (and SimpleSAT, tests/api/fake_simplesat.py): their
pagination, auth, answers and limits.

Each vendor holds its objects in memory in the vendor's own shapes and answers like the real API (newest first and
`before` for Typeform; cursor and time-based incremental exports for Zendesk; `has_more`/`starting_after` lists and
events for Stripe). Faults are queued per path: a 429 with `Retry-After`, a 500, a connection reset in the middle
of a body. An optional limit (requests per window) answers 429 when the client goes too fast. Every request is
recorded (path, query, time, status) for the tests to assert on.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    at: float
    status: int = 0
    authorization: bool = False
    # POST: the JSON body sent (SimpleSAT's search).
    body: Any = None
    # The `Stripe-Version` header, when one was sent.
    stripe_version: str | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    path: str  # prefix of the request path
    kind: str  # "429" | "500" | "reset" | "401" (the credentials refused on that request)
    retry_after: str | None = None
    on_request: int = 1  # the n-th matching request (1 = the next one) ...
    times: int = 1  # ... and this many in a row
    seen: int = 0


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Vendor:
    """Base: subclasses check credentials and answer GET requests."""

    name = "vendor"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base_url = ""

    def authorized(self, headers) -> bool:
        raise NotImplementedError

    def refused(self, headers) -> Answer | None:
        """An answer for a request the vendor refuses before reading it (a bad header); None: none."""
        return None

    def unauthorized(self) -> Answer:
        raise NotImplementedError

    def get(self, path: str, query: dict[str, list[str]]) -> Answer:
        raise NotImplementedError

    def post(self, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        return Answer(405, {"detail": 'Method "POST" not allowed.'})


# --- Typeform ---------------------------------------------------------------------------------------------------


class Typeform(Vendor):
    name = "typeform"

    def __init__(self, token: str = "tfp_good_token_123456") -> None:
        super().__init__()
        self.token = token
        self.forms: dict[str, list[dict]] = {}
        self._serial = 0

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> Answer:
        return Answer(
            401,
            {"code": "AUTHENTICATION_FAILED", "description": "Authentication credentials not found on the Request"},
        )

    def add_response(self, form_id: str, submitted_at: datetime, score: int, account: str = "acc_00001") -> dict:
        with self.lock:
            self._serial += 1
            token = f"t{self._serial:05d}{form_id.lower()}xyz"
            item = {
                "landing_id": token,
                "token": token,
                "response_id": token,
                "response_type": "completed",
                "landed_at": iso_z(submitted_at - timedelta(seconds=31)),
                "submitted_at": iso_z(submitted_at),
                "metadata": {
                    "user_agent": "Mozilla/5.0",
                    "platform": "other",
                    "referer": f"https://acme.typeform.com/to/{form_id}",
                    "network_id": "e0e0e0e0e0",
                    "browser": "default",
                },
                "hidden": {
                    "account_id": account,
                    "email": f"user{self._serial}@acme.com",
                    "touchpoint": "relationship",
                    "survey_kind": "relational",
                },
                "calculated": {"score": 0},
                "answers": [
                    {
                        "field": {"id": "Hk3sP0qWa", "ref": "nps_score", "type": "nps"},
                        "type": "number",
                        "number": score,
                    },
                    {
                        "field": {"id": "Qz8LmN2xR", "ref": "nps_reason", "type": "long_text"},
                        "type": "text",
                        "text": f"Reason {self._serial}",
                    },
                ],
            }
            self.forms.setdefault(form_id, []).append(item)
            return item

    def all_items(self) -> list[dict]:
        return [item for items in self.forms.values() for item in items]

    def get(self, path: str, query: dict[str, list[str]]) -> Answer:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "forms" or parts[2] != "responses":
            return Answer(404, {"code": "NOT_FOUND", "description": "Endpoint not found"})
        with self.lock:
            if parts[1] not in self.forms:
                return Answer(404, {"code": "FORM_NOT_FOUND", "description": "Non existing form"})
            items = sorted(self.forms[parts[1]], key=lambda i: (i["submitted_at"], i["token"]), reverse=True)
            page_size = min(int(query.get("page_size", ["25"])[0]), 1000)
            if "since" in query:
                since = parse_iso(query["since"][0])
                items = [i for i in items if parse_iso(i["submitted_at"]) >= since]
            if "before" in query:
                tokens = [i["token"] for i in items]
                before = query["before"][0]
                items = items[tokens.index(before) + 1 :] if before in tokens else []
            page = copy.deepcopy(items[:page_size])
            return Answer(
                200,
                {"total_items": len(items), "page_count": max(1, math.ceil(len(items) / page_size)), "items": page},
            )


# --- Zendesk ----------------------------------------------------------------------------------------------------


def _cursor(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _uncursor(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text.encode()))


class Zendesk(Vendor):
    name = "zendesk"

    def __init__(self, email: str = "agent@acme.com", token: str = "zd_good_token_abcdef") -> None:
        super().__init__()
        self.email, self.token = email, token
        self.tickets: dict[int, dict] = {}
        self.metric_sets: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.organizations: dict[int, dict] = {}
        # Satisfaction ratings (tests/api/fake_zendesk_csat.py).
        self.satisfaction_ratings: dict[int, dict] = {}
        # CSAT survey responses, by id (tests/api/fake_zendesk_csat_survey.py).
        self.csat_survey_responses: dict[str, dict] = {}
        # The time-based export answers at most this many organizations per page (1000 on the real API).
        self.organizations_page_size = 1000
        self._ids = 1000

    def authorized(self, headers) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return headers.get("Authorization") == f"Basic {expected}"

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": "Couldn't authenticate you"})

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def add_organization(self, at: datetime, account: str) -> dict:
        with self.lock:
            org_id = self._next_id()
            org = {
                "id": org_id,
                "url": f"https://acme.zendesk.com/api/v2/organizations/{org_id}.json",
                "name": f"Org {account}",
                "shared_tickets": False,
                "shared_comments": False,
                "external_id": account,
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
                "domain_names": [],
                "details": "",
                "notes": "",
                "group_id": None,
                "tags": [],
                "organization_fields": {},
            }
            self.organizations[org_id] = org
            return org

    def add_user(self, at: datetime, organization_id: int | None) -> dict:
        with self.lock:
            user_id = self._next_id()
            user = {
                "id": user_id,
                "url": f"https://acme.zendesk.com/api/v2/users/{user_id}.json",
                "name": f"User {user_id}",
                "email": f"user{user_id}@acme.com",
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
                "time_zone": "UTC",
                "locale": "en-US",
                "organization_id": organization_id,
                "role": "end-user",
                "verified": True,
                "active": True,
                "tags": [],
                "user_fields": {},
            }
            self.users[user_id] = user
            return user

    def add_ticket(self, at: datetime, requester_id: int, organization_id: int | None) -> dict:
        with self.lock:
            ticket_id = self._next_id()
            ticket = {
                "id": ticket_id,
                "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
                "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
                "generated_timestamp": int(at.timestamp()),
                "type": "question",
                "subject": f"Help with {ticket_id}",
                "raw_subject": f"Help with {ticket_id}",
                "description": "Something is off.",
                "priority": "normal",
                "status": "new",
                "requester_id": requester_id,
                "submitter_id": requester_id,
                "assignee_id": None,
                "organization_id": organization_id,
                "group_id": 360001,
                "tags": ["billing"],
                "custom_fields": [],
                "satisfaction_rating": None,
                "ticket_form_id": 360002,
                "brand_id": 360003,
                "is_public": True,
            }
            self.tickets[ticket_id] = ticket
            self.metric_sets[ticket_id] = {
                "id": ticket_id + 500000,
                "url": f"https://acme.zendesk.com/api/v2/ticket_metrics/{ticket_id + 500000}.json",
                "ticket_id": ticket_id,
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
                "group_stations": 1,
                "assignee_stations": 0,
                "reopens": 0,
                "replies": 0,
                "solved_at": None,
                "reply_time_in_minutes": {"calendar": None, "business": None},
                "full_resolution_time_in_minutes": {"calendar": None, "business": None},
                "agent_wait_time_in_minutes": {"calendar": None, "business": None},
                "requester_wait_time_in_minutes": {"calendar": None, "business": None},
                "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
            }
            return ticket

    def solve_ticket(self, ticket_id: int, at: datetime) -> dict:
        with self.lock:
            ticket = self.tickets[ticket_id]
            ticket.update(status="solved", updated_at=iso_z(at), generated_timestamp=int(at.timestamp()))
            created = parse_iso(ticket["created_at"])
            minutes = int((at - created).total_seconds() // 60)
            self.metric_sets[ticket_id].update(
                updated_at=iso_z(at),
                solved_at=iso_z(at),
                replies=1,
                reply_time_in_minutes={"calendar": minutes, "business": minutes},
                full_resolution_time_in_minutes={"calendar": minutes, "business": minutes},
            )
            return ticket

    def get(self, path: str, query: dict[str, list[str]]) -> Answer:
        with self.lock:
            if path == "/api/v2/incremental/tickets/cursor.json":
                return self._cursor_export(
                    "tickets", self.tickets, query, key=lambda t: (t["generated_timestamp"], t["id"]), sideload=True
                )
            if path == "/api/v2/incremental/users/cursor.json":
                return self._cursor_export(
                    "users", self.users, query, key=lambda u: (int(parse_iso(u["updated_at"]).timestamp()), u["id"])
                )
            if path == "/api/v2/incremental/organizations.json":
                return self._time_export(query)
            if path == "/api/v2/satisfaction_ratings":
                from tests.api.fake_zendesk_csat import satisfaction_ratings_page

                return satisfaction_ratings_page(self, query)
            if path == "/api/v2/guide/survey_responses":
                from tests.api.fake_zendesk_csat_survey import survey_responses_page

                return survey_responses_page(self, query)
        return Answer(404, {"error": "InvalidEndpoint", "description": "Not found"})

    @staticmethod
    def too_recent() -> Answer:
        return Answer(
            422, {"error": "InvalidValue", "description": "Too recent start_time. Use a start_time older than 1 minute"}
        )

    def _cursor_export(self, name, store, query, key, sideload=False) -> Answer:
        per_page = min(int(query.get("per_page", ["1000"])[0]), 1000)
        ordered = sorted(store.values(), key=key)
        if "cursor" in query:
            after = tuple(_uncursor(query["cursor"][0])["after"])
            remaining = [o for o in ordered if key(o) > after]
        elif "start_time" in query:
            start = int(query["start_time"][0])
            if start > time.time() - 60:
                return self.too_recent()
            remaining = [o for o in ordered if key(o)[0] >= start]
        else:
            return Answer(400, {"error": "InvalidValue", "description": "start_time or cursor is required"})
        page = copy.deepcopy(remaining[:per_page])
        last = key(page[-1]) if page else (int(time.time()) - 60, 0)
        after_cursor = _cursor({"after": list(last)})
        body = {
            name: page,
            "after_url": f"{self.base_url}/api/v2/incremental/{name}/cursor.json?cursor={after_cursor}",
            "after_cursor": after_cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": len(remaining) <= per_page,
        }
        if sideload and "metric_sets" in query.get("include", [""])[0].split(","):
            body["metric_sets"] = [
                copy.deepcopy(self.metric_sets[t["id"]]) for t in page if t["id"] in self.metric_sets
            ]
        return Answer(200, body)

    def _time_export(self, query) -> Answer:
        if "start_time" not in query:
            return Answer(400, {"error": "InvalidValue", "description": "start_time is required"})
        start = int(query["start_time"][0])
        if start > time.time() - 60:
            return self.too_recent()

        def key(org):
            return (int(parse_iso(org["updated_at"]).timestamp()), org["id"])

        remaining = [o for o in sorted(self.organizations.values(), key=key) if key(o)[0] >= start]
        page = copy.deepcopy(remaining[: self.organizations_page_size])
        end_time = key(page[-1])[0] if page else start
        return Answer(
            200,
            {
                "organizations": page,
                "count": len(page),
                "end_time": end_time,
                "next_page": f"{self.base_url}/api/v2/incremental/organizations.json?start_time={end_time}",
                "end_of_stream": len(remaining) < self.organizations_page_size,
            },
        )


# --- Stripe -----------------------------------------------------------------------------------------------------


class Stripe(Vendor):
    name = "stripe"
    KINDS = ("customers", "subscriptions", "invoices", "charges", "products", "coupons")

    def __init__(self, key: str = "sk_test_good_key_0123456789") -> None:
        super().__init__()
        self.key = key
        self.objects: dict[str, dict[str, dict]] = {kind: {} for kind in self.KINDS}
        self.events: list[dict] = []
        self._serial = 0

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Answer:
        return Answer(
            401,
            {"error": {"message": "Invalid API Key provided: sk_test_****0000", "type": "invalid_request_error"}},
        )

    def refused(self, headers) -> Answer | None:
        # Stripe answers 400 to a `Stripe-Version` that names no API version ("Versioning" in the API reference).
        version = headers.get("Stripe-Version")
        if version is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version):
            message = f"Invalid Stripe API version: {version}"
            return Answer(400, {"error": {"message": message, "type": "invalid_request_error"}})
        return None

    def _id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_{self._serial:08d}AbC"

    def add_customer(self, created: datetime, account: str) -> dict:
        with self.lock:
            obj = {
                "id": self._id("cus"),
                "object": "customer",
                "address": {
                    "city": "Lyon",
                    "country": "FR",
                    "line1": "1 rue X",
                    "line2": None,
                    "postal_code": "69001",
                    "state": None,
                },
                "balance": 0,
                "created": int(created.timestamp()),
                "currency": "eur",
                "delinquent": False,
                "description": None,
                "email": f"billing@{account}.example",
                "invoice_prefix": "ABC123",
                "livemode": False,
                "metadata": {"account_id": account},
                "name": account,
                "preferred_locales": ["fr"],
                "tax_exempt": "none",
            }
            self.objects["customers"][obj["id"]] = obj
            return obj

    def add_product(self, created: datetime, name: str, *, active: bool = True) -> dict:
        """A Product as `GET /v1/products` returns it (API reference, "The Product object")."""
        with self.lock:
            ts = int(created.timestamp())
            obj = {
                "id": self._id("prod"),
                "object": "product",
                "active": active,
                "created": ts,
                "default_price": None,
                "description": None,
                "images": [],
                "marketing_features": [],
                "livemode": False,
                "metadata": {},
                "name": name,
                "package_dimensions": None,
                "shippable": None,
                "statement_descriptor": None,
                "tax_code": None,
                "type": "service",
                "unit_label": None,
                "updated": ts,
                "url": None,
            }
            self.objects["products"][obj["id"]] = obj
            return obj

    def update_product(self, product_id: str, at: datetime, **fields: Any) -> dict:
        """A change in the Dashboard: Stripe moves `updated`."""
        with self.lock:
            obj = self.objects["products"][product_id]
            obj.update(fields, updated=int(at.timestamp()))
            return obj

    def add_subscription(self, created: datetime, customer: str, unit_amount: int = 4900) -> dict:
        with self.lock:
            sub_id = self._id("sub")
            ts = int(created.timestamp())
            obj = {
                "id": sub_id,
                "object": "subscription",
                "billing_cycle_anchor": ts,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "collection_method": "charge_automatically",
                "created": ts,
                "currency": "eur",
                "current_period_end": ts + 30 * 86400,
                "current_period_start": ts,
                "customer": customer,
                "discounts": [],
                "ended_at": None,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": self._id("si"),
                            "object": "subscription_item",
                            "created": ts,
                            "metadata": {},
                            "price": {
                                "id": "price_pro_monthly",
                                "object": "price",
                                "currency": "eur",
                                "lookup_key": "pro_monthly",
                                "nickname": "Pro",
                                "product": "prod_pro",
                                "recurring": {"interval": "month", "interval_count": 1},
                                "unit_amount": unit_amount,
                            },
                            "quantity": 1,
                            "subscription": sub_id,
                            "discounts": [],
                        }
                    ],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "livemode": False,
                "metadata": {},
                "start_date": ts,
                "status": "active",
                "trial_end": None,
                "trial_start": None,
            }
            self.objects["subscriptions"][sub_id] = obj
            return obj

    def add_coupon(self, created: datetime, coupon_id: str, **terms: Any) -> dict:
        """A Coupon as `GET /v1/coupons` returns it (API reference, "The Coupon object")."""
        with self.lock:
            obj = {
                "id": coupon_id,
                "object": "coupon",
                "amount_off": None,
                "created": int(created.timestamp()),
                "currency": None,
                "duration": "forever",
                "duration_in_months": None,
                "livemode": False,
                "max_redemptions": None,
                "metadata": {},
                "name": None,
                "percent_off": None,
                "redeem_by": None,
                "times_redeemed": 1,
                "valid": True,
                **terms,
            }
            self.objects["coupons"][coupon_id] = obj
            return obj

    def add_discount(
        self, sub_id: str, coupon: dict, start: datetime, *, item: bool = False, clover: bool = False
    ) -> dict:
        """A Discount (API reference, "The Discount object") on the subscription, or on its first item: the Coupon
        embedded (2025-03-31.basil), or from 2025-09-30.clover `source: {type: coupon, coupon: <id>}` (the coupon
        is not expanded, in lists and events alike). Kept whole here; lists show its id unless expanded, events
        always."""
        with self.lock:
            sub = self.objects["subscriptions"][sub_id]
            first_item = sub["items"]["data"][0]
            source = {"source": {"type": "coupon", "coupon": coupon["id"]}} if clover else {"coupon": coupon}
            obj = {
                "id": self._id("di"),
                "object": "discount",
                "checkout_session": None,
                **source,
                "customer": sub["customer"],
                "end": None,
                "invoice": None,
                "invoice_item": None,
                "promotion_code": None,
                "start": int(start.timestamp()),
                "subscription": sub_id,
                "subscription_item": first_item["id"] if item else None,
            }
            (first_item if item else sub)["discounts"].append(obj)
            return obj

    @staticmethod
    def as_listed(obj: dict, expand: list[str]) -> dict:
        """A subscription as Stripe serves it: each `discounts` list holds ids unless its path was expanded."""
        obj = copy.deepcopy(obj)
        if obj.get("object") != "subscription":
            return obj

        def ids(discounts: list) -> list:
            return [d["id"] if isinstance(d, dict) else d for d in discounts]

        if "data.discounts" not in expand:
            obj["discounts"] = ids(obj.get("discounts") or [])
        if "data.items.data.discounts" not in expand:
            for item in obj["items"]["data"]:
                item["discounts"] = ids(item.get("discounts") or [])
        return obj

    def add_invoice(self, created: datetime, customer: str, subscription: str, amount: int = 4900) -> dict:
        with self.lock:
            ts = int(created.timestamp())
            obj = {
                "id": self._id("in"),
                "object": "invoice",
                "amount_due": amount,
                "amount_paid": amount,
                "amount_remaining": 0,
                "attempt_count": 1,
                "billing_reason": "subscription_cycle",
                "created": ts,
                "currency": "eur",
                "customer": customer,
                "livemode": False,
                "metadata": {},
                "paid": True,
                "period_start": ts,
                "period_end": ts + 30 * 86400,
                "status": "paid",
                "status_transitions": {"finalized_at": ts, "paid_at": ts + 60},
                "subscription": subscription,
                "total": amount,
            }
            self.objects["invoices"][obj["id"]] = obj
            return obj

    def add_charge(self, created: datetime, customer: str, invoice: str, amount: int = 4900) -> dict:
        with self.lock:
            obj = {
                "id": self._id("ch"),
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "created": int(created.timestamp()),
                "currency": "eur",
                "customer": customer,
                "description": None,
                "failure_code": None,
                "failure_message": None,
                "invoice": invoice,
                "livemode": False,
                "metadata": {},
                "paid": True,
                "refunded": False,
                "status": "succeeded",
            }
            self.objects["charges"][obj["id"]] = obj
            return obj

    def change(self, kind: str, object_id: str, at: datetime, event_type: str, **fields: Any) -> dict:
        """Change an object and record the event Stripe would send, holding the object after the change."""
        with self.lock:
            obj = self.objects[kind][object_id]
            obj.update(fields)
            self.events.append(
                {
                    "id": self._id("evt"),
                    "object": "event",
                    "api_version": "2024-06-20",
                    "created": int(at.timestamp()),
                    # An event's object is never expanded: a subscription's discounts are ids.
                    "data": {"object": self.as_listed(obj, []), "previous_attributes": {k: None for k in fields}},
                    "livemode": False,
                    "pending_webhooks": 0,
                    "request": {"id": None, "idempotency_key": None},
                    "type": event_type,
                }
            )
            return obj

    def get(self, path: str, query: dict[str, list[str]]) -> Answer:
        kind = path.removeprefix("/v1/")
        with self.lock:
            if kind == "events":
                items = list(self.events)
                types = query.get("types[]")
                if types:
                    items = [e for e in items if e["type"] in types]
            elif kind in self.objects:
                items = list(self.objects[kind].values())
                if kind == "subscriptions" and query.get("status", [""])[0] != "all":
                    # As Stripe does: without status=all, canceled subscriptions are left out.
                    items = [s for s in items if s["status"] != "canceled"]
                if kind == "products" and "active" in query:
                    # `active` filters; without it Stripe lists active and archived products alike.
                    items = [p for p in items if str(p["active"]).lower() == query["active"][0]]
            else:
                return Answer(
                    404,
                    {"error": {"message": f"Unrecognized request URL (GET: {path}).", "type": "invalid_request_error"}},
                )
            for op, test in (("gte", int.__ge__), ("gt", int.__gt__), ("lte", int.__le__), ("lt", int.__lt__)):
                if f"created[{op}]" in query:
                    bound = int(query[f"created[{op}]"][0])
                    items = [i for i in items if test(i["created"], bound)]
            items.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
            if "starting_after" in query:
                ids = [i["id"] for i in items]
                after = query["starting_after"][0]
                if after not in ids:
                    return Answer(
                        400, {"error": {"message": f"No such object: '{after}'", "type": "invalid_request_error"}}
                    )
                items = items[ids.index(after) + 1 :]
            limit = min(max(int(query.get("limit", ["10"])[0]), 1), 100)
            expand = query.get("expand[]", [])
            too_deep = [path for path in expand if path.count(".") >= 4]
            if too_deep:
                message = f"You cannot expand more than 4 levels of a property. Property: {too_deep[0]}"
                return Answer(400, {"error": {"message": message, "type": "invalid_request_error"}})
            page = [self.as_listed(i, expand) for i in items[:limit]]
            return Answer(200, {"object": "list", "url": path, "has_more": len(items) > limit, "data": page})


# --- the server -------------------------------------------------------------------------------------------------


class FakeVendorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, vendor: Vendor):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.vendor = vendor
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        vendor.base_url = self.url
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        # (max requests, window seconds): more in any window answers 429 with Retry-After, as the vendor does.
        self.rate_limit: tuple[int, float] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeVendorServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address) -> None:
        # A client closing its pooled connections (or a reset this server made) is not an error here.
        pass

    def fail(
        self, path: str, kind: str, *, retry_after: str | None = None, on_request: int = 1, times: int = 1
    ) -> Fault:
        fault = Fault(path=path, kind=kind, retry_after=retry_after, on_request=on_request, times=times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def calls(self, path_prefix: str = "") -> list[Seen]:
        with self._lock:
            return [seen for seen in self.requests if seen.path.startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            hit = None
            for fault in self.faults:
                if path.startswith(fault.path):
                    fault.seen += 1
                    if hit is None and fault.on_request <= fault.seen < fault.on_request + fault.times:
                        hit = fault
        return hit

    def _over_limit(self, now: float) -> bool:
        if self.rate_limit is None:
            return False
        limit, window = self.rate_limit
        with self._lock:
            recent = [s for s in self.requests if now - s.at < window and s.status != 429]
        return len(recent) > limit


class _Handler(BaseHTTPRequestHandler):
    server: FakeVendorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.do_GET(method="POST", body=body)

    def do_GET(self, method: str = "GET", body: Any = None) -> None:
        parts = urlsplit(self.path)
        seen = Seen(method, parts.path, parse_qs(parts.query, keep_blank_values=True), time.monotonic(), body=body)
        server, vendor = self.server, self.server.vendor
        seen.authorization = "Authorization" in self.headers or "X-Simplesat-Token" in self.headers
        seen.stripe_version = self.headers.get("Stripe-Version")
        with server._lock:
            server.requests.append(seen)
        fault = server._fault_for(parts.path)
        if server._over_limit(seen.at):
            answer = Answer(429, {"error": "rate limited"}, {"Retry-After": "1"})
        elif fault is not None and fault.kind == "429":
            answer = Answer(429, {"error": "TooManyRequests"}, {"Retry-After": fault.retry_after or "1"})
        elif fault is not None and fault.kind == "500":
            answer = Answer(500, {"error": "InternalServerError"})
        elif (fault is not None and fault.kind == "401") or not vendor.authorized(self.headers):
            answer = vendor.unauthorized()
        elif (refusal := vendor.refused(self.headers)) is not None:
            answer = refusal
        elif method == "POST":
            answer = vendor.post(parts.path, seen.query, body)
        else:
            answer = vendor.get(parts.path, seen.query)
        seen.status = answer.status
        body = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if fault is not None and fault.kind == "reset":
            # Half the body, then a TCP reset: the client sees the connection die in the middle of the page.
            seen.status = -1
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.end_headers()
        self.wfile.write(body)
