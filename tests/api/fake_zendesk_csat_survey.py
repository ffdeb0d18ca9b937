"""Zendesk CSAT survey responses (customizable CSAT) as the fake vendor server plays List Survey Responses
(`GET /api/v2/guide/survey_responses`): `filter[created_at_start]` / `filter[created_at_end]` (Unix seconds, on the
response's creation) and `filter[subject_zrns]`; cursor pagination (`page[size]` at most 100, `page[after]`), the
envelope `{survey_responses, meta: {has_more, after_cursor, before_cursor}, links: {next, prev}}`.

A response is the reference's example object: the rating answer (`rating_scale`) and the comment answer (open-ended,
or skipped); it can be changed until its `expires_at`, which changes its answers' `updated_at`.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tests.api.fake_vendors import Answer, iso_z, parse_iso
from tests.ingestion.catalogue_zendesk_csat import comment_answer, csat_survey_response, rating_answer

if TYPE_CHECKING:
    from tests.api.fake_vendors import Zendesk

PATH = "/api/v2/guide/survey_responses"
MAX_PAGE_SIZE = 100
# How long a responder may change a response (the fake's choice: the reference gives `expires_at`, not the window).
EDIT_WINDOW = timedelta(days=7)


def respond(vendor: Zendesk, ticket_id: int, at: datetime, rating: int, comment: str | None = None) -> dict:
    """Answer the ticket's CSAT survey (5-point scale), or change the answer already given."""
    with vendor.lock:
        response = next(
            (r for r in vendor.csat_survey_responses.values() if r["subjects"][0]["id"] == str(ticket_id)), None
        )
        if response is None:
            response_id = f"01J{vendor._next_id():023d}"
            response = csat_survey_response(
                response_id,
                ticket_id,
                [rating_answer(rating, iso_z(at), points=5), comment_answer(comment, iso_z(at))],
                expires_at=iso_z(at + EDIT_WINDOW),
                responder_id=vendor.tickets[ticket_id]["requester_id"],
            )
            vendor.csat_survey_responses[response_id] = response
        else:
            created = response["answers"][0]["created_at"]
            response["answers"] = [
                rating_answer(rating, created, iso_z(at), points=5),
                comment_answer(comment, created) | {"updated_at": iso_z(at)},
            ]
        return response


def _key(response: dict) -> tuple[int, str]:
    return (int(parse_iso(min(a["created_at"] for a in response["answers"])).timestamp()), response["id"])


def survey_responses_page(vendor: Zendesk, query: dict[str, list[str]]) -> Answer:
    size = query.get("page[size]", ["100"])[0]
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        return Answer(400, {"error": "InvalidPaginationParameter", "description": "page[size] must be 1-100"})
    ordered = sorted(vendor.csat_survey_responses.values(), key=_key)
    for name in ("filter[created_at_start]", "filter[created_at_end]"):
        if name in query and not query[name][0].isdigit():
            return Answer(400, {"error": "InvalidFilter", "description": f"{name} must be a Unix epoch time"})
    if "filter[created_at_start]" in query:
        ordered = [r for r in ordered if _key(r)[0] >= int(query["filter[created_at_start]"][0])]
    if "filter[created_at_end]" in query:
        ordered = [r for r in ordered if _key(r)[0] <= int(query["filter[created_at_end]"][0])]
    if "filter[subject_zrns]" in query:
        wanted = set(query["filter[subject_zrns]"][0].split(","))
        ordered = [r for r in ordered if wanted & set(r["subject_zrns"])]
    if "page[after]" in query:
        after = tuple(json.loads(base64.urlsafe_b64decode(query["page[after]"][0].encode())))
        ordered = [r for r in ordered if _key(r) > after]
    page = copy.deepcopy(ordered[: int(size)])
    has_more = len(ordered) > int(size)
    after_cursor = base64.urlsafe_b64encode(json.dumps(list(_key(page[-1]))).encode()).decode() if page else None
    filters = "".join(f"&{name}={query[name][0]}" for name in query if name.startswith("filter["))
    return Answer(
        200,
        {
            "survey_responses": page,
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
            "links": {
                "next": f"{vendor.base_url}{PATH}?page[size]={size}&page[after]={after_cursor}{filters}"
                if has_more
                else None,
                "prev": None,
            },
        },
    )
