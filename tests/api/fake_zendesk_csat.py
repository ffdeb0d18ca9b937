"""Zendesk satisfaction ratings as the fake vendor server plays them (`GET /api/v2/satisfaction_ratings`, legacy
CSAT): cursor pagination (`page[size]` at most 100, `page[after]`), the envelope `{satisfaction_ratings, meta:
{has_more, after_cursor, before_cursor}, links: {next, prev}}` where `links.next` is the full URL of the next page
keeping the filters; `start_time` / `end_time` (Unix seconds) filter on the rating's `updated_at`.

A rating given or changed also changes its ticket (`satisfaction_rating` on the ticket, `updated_at`), as on Zendesk.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from typing import TYPE_CHECKING

from tests.api.fake_vendors import Answer, iso_z, parse_iso

if TYPE_CHECKING:
    from tests.api.fake_vendors import Zendesk

PATH = "/api/v2/satisfaction_ratings"
MAX_PAGE_SIZE = 100


def rate(
    vendor: Zendesk,
    ticket_id: int,
    at: datetime,
    score: str,
    comment: str | None = None,
    assignee_id: int | None = 7001,
) -> dict:
    """Offer or answer the ticket's rating (a second call changes the same rating: bad to good, a comment)."""
    with vendor.lock:
        ticket = vendor.tickets[ticket_id]
        rating = next((r for r in vendor.satisfaction_ratings.values() if r["ticket_id"] == ticket_id), None)
        if rating is None:
            rating_id = vendor._next_id()
            rating = {
                "id": rating_id,
                "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{rating_id}.json",
                "assignee_id": assignee_id,
                "group_id": ticket["group_id"],
                "requester_id": ticket["requester_id"],
                "ticket_id": ticket_id,
                "score": score,
                "comment": comment,
                "reason": None,
                "reason_id": None,
                "reason_code": None,
                "created_at": iso_z(at),
                "updated_at": iso_z(at),
            }
            vendor.satisfaction_ratings[rating_id] = rating
        else:
            rating.update(score=score, comment=comment, updated_at=iso_z(at))
        ticket["satisfaction_rating"] = {
            "id": rating["id"],
            "score": score,
            "comment": comment,
            "reason": None,
        }
        ticket.update(updated_at=iso_z(at), generated_timestamp=int(at.timestamp()))
        return rating


def _key(rating: dict) -> tuple[int, int]:
    return (int(parse_iso(rating["updated_at"]).timestamp()), rating["id"])


def satisfaction_ratings_page(vendor: Zendesk, query: dict[str, list[str]]) -> Answer:
    size = query.get("page[size]", ["100"])[0]
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        return Answer(400, {"error": "InvalidPaginationParameter", "description": "page[size] must be 1-100"})
    ordered = sorted(vendor.satisfaction_ratings.values(), key=_key)
    if "start_time" in query:
        ordered = [r for r in ordered if _key(r)[0] >= int(query["start_time"][0])]
    if "end_time" in query:
        ordered = [r for r in ordered if _key(r)[0] <= int(query["end_time"][0])]
    if "page[after]" in query:
        after = tuple(json.loads(base64.urlsafe_b64decode(query["page[after]"][0].encode())))
        ordered = [r for r in ordered if _key(r) > after]
    page = copy.deepcopy(ordered[: int(size)])
    has_more = len(ordered) > int(size)
    after_cursor = base64.urlsafe_b64encode(json.dumps(list(_key(page[-1]))).encode()).decode() if page else None
    filters = "".join(f"&{name}={query[name][0]}" for name in ("start_time", "end_time") if name in query)
    return Answer(
        200,
        {
            "satisfaction_ratings": page,
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
            "links": {
                "next": f"{vendor.base_url}{PATH}?page[size]={size}&page[after]={after_cursor}{filters}"
                if has_more
                else None,
                "prev": None,
            },
        },
    )
