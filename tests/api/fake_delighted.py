"""Delighted API v1 as the fake vendor server plays it: `GET /v1/survey_responses.json`, `/v1/unsubscribes.json`,
`/v1/bounces.json`.

Lists are bare JSON arrays, `page` (from 1) and `per_page` (default 20, at most 100: more is answered 400, the
reference documents no larger page), and the page after the last one is an empty array. Survey responses: `since` /
`until` on `created_at`, `updated_since` on `updated_at` (null until a response changes, so a never-changed
response is not in it), `order` (`asc` by creation, the default, `desc`, `asc:updated_at`, `desc:updated_at`),
`expand[]=person` for the person object instead of its id. Unsubscribes and bounces: `since` / `until` on their
time, oldest first. HTTP Basic with the API key as user and an empty password; 401 otherwise.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from tests.api.fake_vendors import Answer, Vendor
from tests.ingestion.catalogue_delighted import delighted_bounce, delighted_response, delighted_unsubscribe

RESPONSES = "/v1/survey_responses.json"
UNSUBSCRIBES = "/v1/unsubscribes.json"
BOUNCES = "/v1/bounces.json"
MAX_PER_PAGE = 100


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


class Delighted(Vendor):
    name = "delighted"

    def __init__(self, key: str = "dlt_good_key_0123456789abcdef") -> None:
        super().__init__()
        self.key = key
        self.people: dict[str, dict] = {}
        # Stored unexpanded (person = its id), as Delighted keeps them.
        self.responses: dict[str, dict] = {}
        self.unsubscribes: dict[str, dict] = {}
        self.bounces: dict[str, dict] = {}
        self._serial = 0

    def authorized(self, headers) -> bool:
        header = headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.key and password == ""

    def unauthorized(self) -> Answer:
        return Answer(401, {"status": 401, "message": "Invalid API key"})

    # --- what the account holds ---------------------------------------------------------------------------------

    def add_response(self, created: datetime, survey_type: str = "nps", score: int = 9, email: str = "") -> dict:
        """A new response by a new person (tests/ingestion/catalogue_delighted.py's objects)."""
        with self.lock:
            self._serial += 1
            number = 80_000 + self._serial
            person = {
                "id": str(number + 100_000),
                "email": email or f"person{number}@acme.example",
                "name": f"Person {number}",
                "created_at": unix(created) - 86_400,
            }
            self.people[person["id"]] = person
            obj = delighted_response(
                str(number),
                survey_type,
                score,
                person=person["id"],
                created_at=unix(created),
                person_properties={"Account ID": f"acc_{number % 7}", "Plan": "Pro"},
            )
            self.responses[obj["id"]] = obj
            return self.render(obj, expand=True)

    def update(self, response_id: str, at: datetime, score: int) -> dict:
        """A response changed in Delighted (its score edited): `updated_at` moves."""
        with self.lock:
            obj = self.responses[response_id]
            obj.update(score=score, updated_at=unix(at))
            return self.render(obj, expand=True)

    def unsubscribe(self, person_id: str, at: datetime, email: str) -> dict:
        with self.lock:
            obj = delighted_unsubscribe(person_id, email, unsubscribed_at=unix(at))
            self.unsubscribes[person_id] = obj
            return dict(obj)

    def bounce(self, person_id: str, at: datetime, email: str) -> dict:
        with self.lock:
            obj = delighted_bounce(person_id, email, bounced_at=unix(at))
            self.bounces[person_id] = obj
            return dict(obj)

    def render(self, obj: dict, expand: bool) -> dict:
        out = dict(obj)
        if expand:
            out["person"] = dict(self.people[obj["person"]])
        return out

    # --- the API --------------------------------------------------------------------------------------------------

    def get(self, path: str, query: dict[str, list[str]]) -> Answer:
        def param(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        try:
            page = int(param("page") or 1)
            per_page = int(param("per_page") or 20)
            since, until = (int(param(n)) if param(n) else None for n in ("since", "until"))
            updated_since = int(param("updated_since")) if param("updated_since") else None
        except ValueError:
            return Answer(400, {"status": 400, "message": "Invalid parameter"})
        if per_page > MAX_PER_PAGE or per_page < 1 or page < 1:
            return Answer(400, {"status": 400, "message": f"per_page must be between 1 and {MAX_PER_PAGE}"})

        def window(value: int | None) -> bool:
            return value is not None and (since is None or value >= since) and (until is None or value <= until)

        with self.lock:
            if path == RESPONSES:
                order = param("order") or "asc"
                if order not in ("asc", "desc", "asc:updated_at", "desc:updated_at"):
                    return Answer(400, {"status": 400, "message": "Invalid order"})
                expand = "person" in query.get("expand[]", [])
                chosen = [
                    r
                    for r in self.responses.values()
                    if window(r["created_at"])
                    and (updated_since is None or (r["updated_at"] is not None and r["updated_at"] >= updated_since))
                ]
                by = "updated_at" if order.endswith("updated_at") else "created_at"
                chosen.sort(key=lambda r: (r[by] or 0, int(r["id"])), reverse=order.startswith("desc"))
                listed: list[Any] = [self.render(r, expand) for r in chosen]
            elif path in (UNSUBSCRIBES, BOUNCES):
                held, at = (
                    (self.unsubscribes, "unsubscribed_at") if path == UNSUBSCRIBES else (self.bounces, "bounced_at")
                )
                listed = sorted(
                    (dict(o) for o in held.values() if window(o[at])), key=lambda o: (o[at], o["person_id"])
                )
            else:
                return Answer(404, {"status": 404, "message": "Not found"})
        return Answer(200, listed[(page - 1) * per_page : page * per_page])
