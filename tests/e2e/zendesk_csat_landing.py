"""The landing files of tests/e2e/test_zendesk_csat.py: Zendesk tickets with `satisfaction_rating`, Satisfaction
Ratings API objects, CSAT survey responses (customizable CSAT), ticket metrics, users and organizations; SimpleSAT
CSAT and CES responses about those tickets; one Stripe customer. Shapes from the vendors' API references
(tests/ingestion/catalogue.py, tests/ingestion/catalogue_zendesk_csat.py)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.landing_files import write_jsonl
from tests.ingestion.catalogue import satisfaction_rating, simplesat, simplesat_answer
from tests.ingestion.catalogue_zendesk_csat import comment_answer, csat_survey_response, rating_answer

ORGS = {361: "acc_a", 362: "acc_b"}  # acc_a has a Stripe customer (plan 'none'), acc_b none (plan 'unknown')
USERS = {5001: (361, "ana@a.example"), 5002: (362, "bo@b.example")}


def ticket(ticket_id, at, org, group, assignee, tags=("billing",), rating=None):
    return {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "status": "solved",
        "organization_id": org,
        "requester_id": 5001 if org == 361 else 5002,
        "group_id": group,
        "assignee_id": assignee,
        "tags": list(tags),
        "via": {"channel": "email"},
        "satisfaction_rating": rating,
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": at,
    }


def rating(rating_id, ticket_id, score, at, group, assignee, updated=None, **changes):
    return satisfaction_rating(
        rating_id,
        ticket_id=ticket_id,
        score=score,
        group_id=group,
        assignee_id=assignee,
        requester_id=5001,
        created_at=at,
        updated_at=updated or at,
        **changes,
    )


def metric(ticket_id, reply, resolution):
    return {
        "id": 800000 + ticket_id,
        "ticket_id": ticket_id,
        "reopens": 0,
        "replies": 1,
        "reply_time_in_minutes": {"calendar": reply * 3, "business": reply},
        "full_resolution_time_in_minutes": {"calendar": resolution * 3, "business": resolution},
        "solved_at": "2026-03-01T20:00:00Z",
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T20:00:00Z",
    }


def csat_response(number, choice, created, ticket_id, member, email, metric="csat"):
    obj = simplesat(
        number,
        metric,
        choice,
        survey={"id": 12, "name": f"Support {metric.upper()}", "metric": metric},
        created=created,
        modified=created,
        answers=[simplesat_answer(metric, choice, 100 * number)],
    )
    obj["customer"] = {**obj["customer"], "email": email}
    obj["ticket"] = None if ticket_id is None else {**obj["ticket"], "external_id": str(ticket_id)}
    obj["team_members"] = None if member is None else [{**obj["team_members"][0], "external_id": member}]
    return obj


def survey_response(response_id, ticket_id, rating, at, updated=None, points=None, comment=None, **answer):
    """A CSAT survey response (List Survey Responses): the rating answer given at `at`, changed at `updated`."""
    answers = [rating_answer(rating, at, updated, points, **answer), comment_answer(comment, updated or at)]
    return csat_survey_response(response_id, ticket_id, answers, expires_at="2026-04-30T00:00:00.000Z")


def good(rating_id):
    return {"id": rating_id, "score": "good", "comment": "Thanks", "reason": None}


def write_landing(landing: Path) -> Path:
    """The landing folder of tests/e2e/test_zendesk_csat.py: vendor-shaped Zendesk, SimpleSAT and Stripe objects."""
    customer = {
        "id": "cus_A",
        "object": "customer",
        "created": 1767225600,
        "currency": "usd",
        "address": None,
        "email": "billing@a.example",
        "livemode": False,
        "metadata": {"account_id": "acc_a"},
        "name": "A",
    }
    write_jsonl(landing, "stripe", "customers", "2026-03-01", [customer])
    orgs = [
        {
            "id": o,
            "name": a,
            "external_id": a,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        for o, a in ORGS.items()
    ]
    write_jsonl(landing, "zendesk", "organizations", "2026-03-01", orgs)
    users = [
        {
            "id": u,
            "email": e,
            "organization_id": o,
            "role": "end-user",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        for u, (o, e) in USERS.items()
    ]
    write_jsonl(landing, "zendesk", "users", "2026-03-01", users)
    write_jsonl(
        landing,
        "zendesk",
        "ticket_metrics",
        "2026-03-01",
        [
            metric(t, r, s)
            for t, r, s in [
                (1001, 30, 300),
                (1002, 60, 90),
                (1003, 10, 50),
                (1004, 120, 900),
                (1005, 45, 400),
                (1008, 20, 100),
            ]
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-02",
        [
            ticket(1001, "2026-03-02T10:00:00Z", 361, 11, 71, ("refund",), good(5001)),
            ticket(
                1002,
                "2026-03-02T11:00:00Z",
                361,
                11,
                72,
                rating={"id": 5002, "score": "bad", "comment": None, "reason": "Took too long"},
            ),
            ticket(1003, "2026-03-02T12:00:00Z", 362, 12, 71, rating={"id": 5003, "score": "offered"}),
            ticket(1006, "2026-03-02T13:00:00Z", 362, 12, 72, rating={"score": "unoffered"}),
            ticket(1008, "2026-03-02T14:00:00Z", 361, 12, 74),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "satisfaction_ratings",
        "2026-03-02",
        [
            rating(5001, 1001, "good", "2026-03-02T10:00:00Z", 11, 71, comment="Thanks"),
            rating(5002, 1002, "bad", "2026-03-02T11:00:00Z", 11, 72, reason="Took too long", reason_code=7),
            rating(5003, 1003, "offered", "2026-03-02T12:00:00Z", 12, 71),
        ],
    )
    # The requester of 1002 changes the rating to good three days later: both objects land again.
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-05",
        [
            ticket(1002, "2026-03-05T09:00:00Z", 361, 11, 72, rating=good(5002)),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "satisfaction_ratings",
        "2026-03-05",
        [
            rating(
                5002, 1002, "good", "2026-03-02T11:00:00Z", 11, 72, updated="2026-03-05T09:00:00Z", comment="Thanks"
            ),
        ],
    )
    # 1004 rated bad while with agent 72; reassigned to 73 afterwards (the rating keeps 72).
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-10",
        [
            ticket(1004, "2026-03-10T08:00:00Z", 362, 12, 72, rating={"id": 5004, "score": "bad"}),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "satisfaction_ratings",
        "2026-03-10",
        [
            rating(5004, 1004, "bad", "2026-03-10T08:00:00Z", 12, 72),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-12",
        [
            ticket(1004, "2026-03-12T08:00:00Z", 362, 12, 73, rating={"id": 5004, "score": "bad"}),
        ],
    )
    # 1005: rated good, seen only on the ticket (no rating object loaded); 1007 offered in April.
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-04-02",
        [
            ticket(1005, "2026-04-02T09:00:00Z", 361, 11, 71, rating=good(5005)),
            ticket(1007, "2026-04-02T10:00:00Z", 361, 11, 72, rating={"id": 5007, "score": "offered"}),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-04-04",
        [
            ticket(1005, "2026-04-04T09:00:00Z", 361, 11, 71, ("refund",), good(5005)),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "satisfaction_ratings",
        "2026-04-03",
        [
            rating(5007, 1007, "offered", "2026-04-03T10:00:00Z", 11, 72),
        ],
    )
    # Customizable CSAT in April. 1007 (offered) answered 2 of 5 and 1005 (good on the ticket) 3 of 3: each counts
    # once, as its survey response. 1010 answered 4 then changed to 1 the next day (lands again); a conversation
    # (no ticket) rated 5, Zendesk's category given.
    write_jsonl(
        landing,
        "zendesk",
        "csat_survey_responses",
        "2026-04-04",
        [
            survey_response("01JR7000000000000000000007", 1007, 2, "2026-04-03T12:00:00Z", points=5),
            survey_response("01JR5000000000000000000005", 1005, 3, "2026-04-04T10:00:00Z", points=3, comment="Fine"),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "csat_survey_responses",
        "2026-04-05",
        [
            survey_response("01JRA000000000000000000010", 1010, 4, "2026-04-05T10:00:00Z"),
            survey_response(
                "01JRC00000000000000000000C", None, 5, "2026-04-05T11:00:00Z", comment="Great", rating_category="good"
            ),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "csat_survey_responses",
        "2026-04-06",
        [
            survey_response("01JRA000000000000000000010", 1010, 1, "2026-04-05T10:00:00Z", "2026-04-06T09:00:00Z"),
        ],
    )
    write_jsonl(
        landing,
        "simplesat",
        "responses",
        "2026-03-04",
        [
            csat_response(91, "5", "2026-03-04T10:00:00Z", 1001, "71", "ana@a.example"),
            csat_response(92, "3", "2026-03-06T10:00:00Z", 1008, None, "bo@b.example"),
            # CES answers (1-7) count in ces_by_period, by agent: the team member, else the ticket's assignee.
            csat_response(95, "6", "2026-03-07T10:00:00Z", 1001, "71", "ana@a.example", metric="ces"),
            csat_response(96, "2", "2026-03-07T11:00:00Z", 1004, None, "bo@b.example", metric="ces"),
            csat_response(97, "5", "2026-03-07T12:00:00Z", None, None, "ana@a.example", metric="ces"),
        ],
    )
    write_jsonl(
        landing,
        "simplesat",
        "responses",
        "2026-04-05",
        [
            csat_response(93, "4", "2026-04-05T10:00:00Z", 1002, "72", "ana@a.example"),
            csat_response(94, "2", "2026-04-06T10:00:00Z", None, None, "nobody@c.example"),
        ],
    )
    return landing
