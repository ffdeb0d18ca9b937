"""Delighted webhooks: signature check, validation, and the objects the landing files hold.

Delighted posts `{event_type, event_id, event_data}` for the events a team subscribes to (Integrations > Webhooks):
`survey_response.created` and `survey_response.updated` carry the survey response (person expanded, as
`GET /v1/survey_responses.json?expand[]=person` returns it); `unsubscribe.created` (named
`survey_response.unsubscribed` in some of Delighted's pages: both are accepted) carries the person who
unsubscribed. Each request is signed: `X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body,
keyed with the project's API key>`.

A response lands in `delighted/survey_responses/<day>.jsonl` on the UTC day of its `updated_at` (else
`created_at`), as the API connector files it, so an edit lands again and the later version counts; an unsubscribe
lands in `delighted/unsubscribes/<day>.jsonl` in the `GET /v1/unsubscribes.json` item shape (`person_id`, `email`,
`name`, `unsubscribed_at`; the time of receipt when the event carries none). Every object is checked with the
loader's own rules before it is accepted, so nothing acknowledged is quarantined later.
"""

from __future__ import annotations

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

SIGNATURE_HEADER = "X-Delighted-Webhook-Signature"
RESPONSES = get_entity("delighted", "survey_responses")
UNSUBSCRIBES = get_entity("delighted", "unsubscribes")
RESPONSE_EVENTS = ("survey_response.created", "survey_response.updated")
UNSUBSCRIBE_EVENTS = ("unsubscribe.created", "survey_response.unsubscribed")
LEDGER_NAME = "delighted_event_ids.txt"
REFUSED_NAME = "delighted_refused.jsonl"
# Ids go into the ledger (tab-separated) and the log: printable ASCII without spaces.
_ID = re.compile(r"[\x21-\x7e]{1,256}")


def sign(body: bytes, key: str) -> str:
    """Delighted's scheme: `sha256=` + hex(HMAC-SHA256(raw body, API key))."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, header: str | None, key: str) -> bool:
    if not header:
        return False
    given = header.strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, sign(body, key).encode("ascii"))


@dataclass(frozen=True)
class DelightedEvent:
    event_id: str
    event_type: str
    spec: EntitySpec
    day: date
    # The object written to the landing file (the API's shape).
    item: dict

    @property
    def ledger_note(self) -> str:
        key = self.item.get("id") if self.spec is RESPONSES else self.item.get("person_id")
        return f"{self.event_type}\t{key}"


@cache
def default_checker(entity: str) -> RecordChecker:
    """The loader's rules for a Delighted entity (dbt vars read once, when its first event arrives)."""
    from ingestion.contracts.check import RecordChecker

    return RecordChecker(get_entity("delighted", entity))


def _reject_constant(name: str) -> float:
    raise MalformedBody(f"{name} is not a JSON value")


def parse_event(
    body: bytes, today: date | None = None, checkers: dict[str, RecordChecker] | None = None
) -> DelightedEvent:
    """A verified webhook body as a landable event; raises `MalformedBody` or `InvalidEvent` naming the field."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBody(f"body is not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise InvalidEvent("body", "expected a JSON object (a Delighted webhook event)")
    event_id = payload.get("event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
        raise InvalidEvent("event_id", "missing, or not 1 to 256 printable characters without spaces")
    event_type = payload.get("event_type")
    if event_type not in RESPONSE_EVENTS + UNSUBSCRIBE_EVENTS:
        accepted = ", ".join(RESPONSE_EVENTS + UNSUBSCRIBE_EVENTS)
        raise InvalidEvent("event_type", f"{event_type!r} is not one of {accepted}")
    data = payload.get("event_data")
    if not isinstance(data, dict):
        raise InvalidEvent("event_data", "missing or not an object")
    now = datetime.now(UTC)
    if event_type in RESPONSE_EVENTS:
        spec, item = RESPONSES, data
        if not _ID.fullmatch(str(item.get("id") or "")) or isinstance(item.get("id"), dict | list | bool):
            raise InvalidEvent("event_data.id", "missing, or not an id")
    else:
        spec, item = UNSUBSCRIBES, to_unsubscribe(data, now)
        if not _ID.fullmatch(str(item.get("person_id") or "")):
            raise InvalidEvent("event_data.id", "the person's id is missing, or not an id")
    json_line(item)  # refuses text without a UTF-8 form before anything else reads it
    checker = (checkers or {}).get(spec.entity) or default_checker(spec.entity)
    reason, record_time = checker.check(item)
    if reason is not None:
        raise InvalidEvent(_field_of(reason), reason)
    day = _landing_day(item, record_time) if spec is RESPONSES else record_time.date()
    today = today or now.date()
    if day > today:
        raise InvalidEvent("event_data", f"lands on {day}, after today ({today}, UTC)")
    return DelightedEvent(event_id=event_id, event_type=event_type, spec=spec, day=day, item=item)


def _field_of(reason: str) -> str:
    """The field a contract reason names, as the webhook body has it."""
    words = reason.split(" ")
    if reason.startswith("missing required field"):
        return f"event_data.{words[3]}"
    return "event_data" if words[0] in ("key", "the") else f"event_data.{words[0]}"


def to_unsubscribe(data: dict, now: datetime) -> dict:
    """The person of an unsubscribe event as a `GET /v1/unsubscribes.json` item."""
    person = data.get("person") if isinstance(data.get("person"), dict) else data
    person_id = data.get("person_id", person.get("id"))
    return {
        "person_id": str(person_id) if isinstance(person_id, int | str) and not isinstance(person_id, bool) else None,
        "email": person.get("email"),
        "name": person.get("name"),
        "unsubscribed_at": data.get("unsubscribed_at", int(now.timestamp())),
    }


def _landing_day(item: dict, created: datetime) -> date:
    """The UTC day of `updated_at` (Unix seconds; the contract has checked it), else of `created_at`."""
    updated = item.get("updated_at")
    if isinstance(updated, int | float | str) and not isinstance(updated, bool) and str(updated).strip():
        try:
            return datetime.fromtimestamp(float(updated), UTC).date()
        except (ValueError, OverflowError, OSError):
            pass
    return created.date()


class DelightedLanding(DurableLanding):
    """The Delighted receiver's writer: `delighted/<entity>/<day>.jsonl`, ledger `delighted_event_ids.txt`."""

    def __init__(self, landing_dir: Path, state_dir: Path):
        super().__init__(landing_dir, state_dir, LEDGER_NAME, REFUSED_NAME)
