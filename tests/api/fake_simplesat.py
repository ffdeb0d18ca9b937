"""SimpleSAT as the fake vendor server plays it (API v1): `POST /api/v1/responses/search` with a JSON body.

The body's `start_date`/`end_date` window filters on `created`, or on `modified` with `date_type: modified`; an
empty body returns only the last 30 days. `page`/`page_size` (at most 250) are query parameters; the envelope is
`{count, next, previous, responses}` and `next` is the full URL of the next page, whose body must be sent again
(a page asked without the body falls back to the 30-day default, as the API does). 401 without the right
`X-Simplesat-Token`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.fake_vendors import Answer, Vendor, iso_z, parse_iso
from tests.ingestion.catalogue import simplesat, simplesat_answer

SEARCH = "/api/v1/responses/search"
MAX_PAGE_SIZE = 250
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class SimpleSat(Vendor):
    name = "simplesat"

    def __init__(self, key: str = "ssat_good_key_0123456789") -> None:
        super().__init__()
        self.key = key
        self.responses: dict[int, dict] = {}
        self._serial = 0

    def authorized(self, headers) -> bool:
        return headers.get("X-Simplesat-Token") == self.key

    def unauthorized(self) -> Answer:
        return Answer(401, {"detail": "Invalid token."})

    def add_response(self, created: datetime, metric: str = "nps", choice: str = "9", email: str = "") -> dict:
        """A response object as the search returns it (tests/ingestion/catalogue.py `simplesat`)."""
        with self.lock:
            self._serial += 1
            number = 70_000 + self._serial
            obj = simplesat(
                number,
                metric,
                choice,
                created=iso_z(created),
                modified=iso_z(created),
                answers=[simplesat_answer(metric, choice, 10 * number)],
            )
            obj["customer"] = {**obj["customer"], "email": email or f"person{number}@acme.example"}
            self.responses[number] = obj
            return obj

    def modify(self, response_id: int, at: datetime, choice: str) -> dict:
        """A response edited in SimpleSAT: its choice changes and `modified` moves."""
        with self.lock:
            obj = self.responses[response_id]
            obj["answers"][0] = {**obj["answers"][0], "choice": choice, "choice_label": choice}
            obj["modified"] = iso_z(at)
            return obj

    def post(self, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        if path != SEARCH:
            return Answer(404, {"detail": "Not found."})
        body = body if isinstance(body, dict) else {}
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", ["100"])[0])
        if size > MAX_PAGE_SIZE:
            return Answer(400, {"page_size": [f"Ensure this value is less than or equal to {MAX_PAGE_SIZE}."]})
        field = "modified" if body.get("date_type") == "modified" else "created"
        if body.get("start_date") or body.get("end_date"):
            start = parse_iso(body["start_date"]) if body.get("start_date") else datetime.min.replace(tzinfo=UTC)
            end = parse_iso(body["end_date"]) if body.get("end_date") else datetime.now(UTC)
        else:
            # No window: the last 30 days only.
            end = datetime.now(UTC)
            start = end - timedelta(days=30)
        with self.lock:
            matching = sorted(
                (dict(r) for r in self.responses.values() if start <= parse_iso(r[field]) <= end),
                key=lambda r: r["id"],
            )
        chunk = matching[(page - 1) * size : page * size]

        def link(number: int) -> str:
            return f"{self.base_url}{SEARCH}?page={number}&page_size={size}"

        return Answer(
            200,
            {
                "count": len(matching),
                "next": link(page + 1) if page * size < len(matching) else None,
                "previous": link(page - 1) if page > 1 else None,
                "responses": chunk,
            },
        )
