"""Typeform webhooks: signature check, validation, conversion to a Responses API item.

A webhook's `form_response` becomes one line of `typeform/responses/<YYYY-MM-DD>.jsonl` (the UTC day of
`submitted_at`), in the Responses API item shape the loader already reads (docs/sources.md), written by the durable
writer of `ingestion.webhooks.durable` (fsynced line, then ledger entry, before the 200).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.entities import EntitySpec
from ingestion.registry import get_entity
from ingestion.webhooks.durable import DurableLanding, InvalidEvent, MalformedBody, json_line

if TYPE_CHECKING:
    from ingestion.contracts.check import RecordChecker

SIGNATURE_HEADER = "Typeform-Signature"
RESPONSES = get_entity("typeform", "responses")
LEDGER_NAME = "typeform_event_ids.txt"
# Signed events refused for their content, kept with the reason (one JSON line each) for someone to look at.
REFUSED_NAME = "typeform_refused.jsonl"
# Event ids go into the ledger (tab-separated) and the log: printable ASCII without spaces. Typeform's are ULIDs.
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,256}")


def sign(body: bytes, secret: str) -> str:
    """Typeform's scheme: `sha256=` + base64(HMAC-SHA256(raw body, secret))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    if not header:
        return False
    return hmac.compare_digest(header.strip().encode("utf-8", "surrogateescape"), sign(body, secret).encode("ascii"))


@dataclass(frozen=True)
class TypeformEvent:
    event_id: str
    form_id: str
    token: str
    submitted_day: date
    # The Responses API item written to the landing file.
    item: dict
    spec: EntitySpec = RESPONSES

    @property
    def day(self) -> date:
        return self.submitted_day

    @property
    def ledger_note(self) -> str:
        return f"{self.form_id}\t{self.token}"


def _reject_constant(name: str) -> float:
    raise MalformedBody(f"{name} is not a JSON value")


@cache
def default_checker() -> RecordChecker:
    """The loader's rules for Typeform responses (dbt vars read once, when the first event arrives)."""
    from ingestion.contracts.check import RecordChecker

    return RecordChecker(RESPONSES)


def parse_event(body: bytes, today: date | None = None, checker: RecordChecker | None = None) -> TypeformEvent:
    """A verified webhook body as a landable event; raises `MalformedBody` or `InvalidEvent`. The response item is
    checked with the loader's own rules (the entity's contract) before it is accepted, so nothing acknowledged is
    quarantined later."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBody(f"body is not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise InvalidEvent("body", "expected a JSON object (a Typeform webhook event)")

    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise InvalidEvent("event_id", "missing, or not 1 to 256 printable characters without spaces")
    event_type = payload.get("event_type", "form_response")
    if event_type != "form_response":
        raise InvalidEvent("event_type", "only form_response events are accepted")
    form_response = payload.get("form_response")
    if not isinstance(form_response, dict):
        raise InvalidEvent("form_response", "missing or not an object")
    token = form_response.get("token")
    if not isinstance(token, str) or not _EVENT_ID.fullmatch(token):
        # The token is the response's primary key, and goes into the ledger: Typeform's are short and alphanumeric.
        raise InvalidEvent("form_response.token", "missing, or not 1 to 256 printable characters without spaces")
    for name, kind in (("hidden", dict), ("answers", list), ("calculated", dict), ("variables", list)):
        if form_response.get(name) is not None and not isinstance(form_response[name], kind):
            raise InvalidEvent(f"form_response.{name}", f"expected {'an object' if kind is dict else 'a list'}")
    item = to_response_item(form_response)
    json_line(item)  # refuses text without a UTF-8 form before anything else reads it
    reason, submitted_at = (checker or default_checker()).check(item)
    if reason is not None:
        raise InvalidEvent(_field_of(reason), reason)
    today = today or datetime.now(UTC).date()
    if submitted_at.date() > today:
        # A file dated after today (UTC) would make `make run` stop; Typeform retries, so it lands on its day.
        raise InvalidEvent(
            "form_response.submitted_at", f"{form_response['submitted_at']} is after today ({today}, UTC)"
        )
    form_id = form_response.get("form_id")
    return TypeformEvent(
        event_id=event_id,
        form_id=form_id if isinstance(form_id, str) and _EVENT_ID.fullmatch(form_id) else "-",
        token=token,
        submitted_day=submitted_at.date(),
        item=item,
    )


def _field_of(reason: str) -> str:
    """The field a contract reason names, as the webhook body has it."""
    words = reason.split(" ")
    if reason.startswith("missing required field"):
        return f"form_response.{words[3]}"
    if reason.startswith(("answer to the", "the answer to the")):
        return "form_response.answers"
    return "form_response" if words[0] in ("key", "the") else f"form_response.{words[0]}"


def to_response_item(form_response: dict) -> dict:
    """The Responses API `items[]` shape (docs/sources.md). A webhook carries no `metadata` (user agent, referer),
    so it is empty; `form_id` and the form `definition` are not part of an item and are left out (the ledger
    keeps the form id); `ending.ref` is the item's `thankyou_screen_ref`."""
    token = form_response["token"]
    item = {
        "landing_id": token,
        "token": token,
        "response_id": token,
        "response_type": "completed",
        "landed_at": form_response.get("landed_at"),
        "submitted_at": form_response.get("submitted_at"),
        "metadata": {},
        "hidden": form_response.get("hidden") or {},
    }
    for name in ("calculated", "variables"):
        if form_response.get(name) is not None:
            item[name] = form_response[name]
    ending = form_response.get("ending")
    if isinstance(ending, dict) and isinstance(ending.get("ref"), str):
        item["thankyou_screen_ref"] = ending["ref"]
    item["answers"] = form_response.get("answers") or []
    return item


class TypeformLanding(DurableLanding):
    """The Typeform receiver's writer: `typeform/responses/<day>.jsonl`, ledger `typeform_event_ids.txt`."""

    def __init__(self, landing_dir: Path, state_dir: Path):
        super().__init__(landing_dir, state_dir, LEDGER_NAME, REFUSED_NAME)
