"""Zendesk satisfaction ratings and SimpleSAT CSAT answers, as the vendors' APIs return them, through the real
loader and dbt into csat_by_period.

Zendesk: tickets carrying `satisfaction_rating` {id, score, comment, reason} (Tickets API) and the Satisfaction
Ratings API objects (id, ticket_id, score good/bad/offered/unoffered, group_id and assignee_id at rating time,
created_at, updated_at); a rating changed from bad to good lands again on its change day; a ticket rated with no
rating object loaded counts from the ticket. SimpleSAT: CSAT survey responses (1-5) about Zendesk tickets
(`ticket.external_id`), with a primary team member or none. The expected figures are computed here from the
landing files by the documented rules (docs/metrics.md "CSAT"), not by the models.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from statistics import median

import duckdb
import pytest

from settings import DBT_PROJECT_DIR
from tests.e2e.landing_files import write_jsonl
from tests.ingestion.catalogue import satisfaction_rating, simplesat, simplesat_answer

pytestmark = pytest.mark.e2e

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


def csat_response(number, choice, created, ticket_id, member, email):
    obj = simplesat(
        number,
        "csat",
        choice,
        survey={"id": 12, "name": "Support CSAT", "metric": "csat"},
        created=created,
        modified=created,
        answers=[simplesat_answer("csat", choice, 100 * number)],
    )
    obj["customer"] = {**obj["customer"], "email": email}
    obj["ticket"] = None if ticket_id is None else {**obj["ticket"], "external_id": str(ticket_id)}
    obj["team_members"] = None if member is None else [{**obj["team_members"][0], "external_id": member}]
    return obj


def good(rating_id):
    return {"id": rating_id, "score": "good", "comment": "Thanks", "reason": None}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("zendesk_csat")
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
    write_jsonl(
        landing,
        "simplesat",
        "responses",
        "2026-03-04",
        [
            csat_response(91, "5", "2026-03-04T10:00:00Z", 1001, "71", "ana@a.example"),
            csat_response(92, "3", "2026-03-06T10:00:00Z", 1008, None, "bo@b.example"),
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


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("zendesk_csat_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 4, 6))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def read(landing: Path, source: str, entity: str) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((landing / source / entity).glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def latest(objects: list[dict], time_field: str) -> dict:
    by_id: dict = {}
    for obj in objects:  # files in day order, lines in order: a later equal time wins
        if obj["id"] not in by_id or obj[time_field] >= by_id[obj["id"]][time_field]:
            by_id[obj["id"]] = obj
    return by_id


def expected_ratings(landing: Path) -> list[dict]:
    """Every rating as docs/metrics.md counts it: (source, month, answered, satisfied, offered, segments)."""
    ticket_versions = read(landing, "zendesk", "tickets")
    tickets = latest(ticket_versions, "updated_at")
    category = {t: ("refund_related" if "refund" in v["tags"] else "other") for t, v in tickets.items()}
    account = {t: ORGS[v["organization_id"]] for t, v in tickets.items()}
    plan = {"acc_a": "none", "acc_b": "unknown"}
    objects = latest(read(landing, "zendesk", "satisfaction_ratings"), "updated_at")
    by_ticket = {r["ticket_id"]: r for r in objects.values()}
    ratings = []
    for ticket_id, current in tickets.items():
        obj = by_ticket.get(ticket_id)
        score = obj["score"] if obj else (current["satisfaction_rating"] or {}).get("score")
        if score not in ("offered", "good", "bad"):
            continue
        if obj:
            at, group, agent = obj["created_at"], obj["group_id"], obj["assignee_id"]
        else:
            rating_id = current["satisfaction_rating"]["id"]
            at = min(
                v["updated_at"]
                for v in ticket_versions
                if v["id"] == ticket_id and (v["satisfaction_rating"] or {}).get("id") == rating_id
            )
            group, agent = current["group_id"], current["assignee_id"]
        ratings.append(
            {
                "source": "zendesk",
                "at": at,
                "offered": True,
                "answered": score != "offered",
                "satisfied": score == "good",
                "ticket": ticket_id,
                "group": str(group),
                "agent": str(agent),
                "ticket_category": category[ticket_id],
                "plan": plan[account[ticket_id]],
            }
        )
    user_account = {e: ORGS[o] for o, e in USERS.values()}
    for response in latest(read(landing, "simplesat", "responses"), "modified").values():
        choice = int(response["answers"][0]["choice"])
        ticket_id = int(response["ticket"]["external_id"]) if response["ticket"] else None
        member = response["team_members"][0]["external_id"] if response["team_members"] else None
        known = ticket_id in tickets
        ratings.append(
            {
                "source": "simplesat",
                "at": response["created"],
                "offered": None,
                "answered": True,
                "satisfied": 4 <= choice <= 5,
                "ticket": ticket_id,
                "group": str(tickets[ticket_id]["group_id"]) if known else "unknown",
                "agent": member or (str(tickets[ticket_id]["assignee_id"]) if known else "unknown"),
                "ticket_category": category[ticket_id] if known else "no_ticket",
                "plan": plan.get(user_account.get(response["customer"]["email"]), "unknown"),
            }
        )
    return ratings


def expected_month_rows(landing: Path) -> dict[tuple, tuple]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in expected_ratings(landing):
        month = datetime.fromisoformat(r["at"].replace("Z", "+00:00")).date().replace(day=1)
        for source in (r["source"], "all"):
            groups[(month, source, "overall", "all")].append(r)
            for segment in ("group", "agent", "ticket_category", "plan"):
                groups[(month, source, segment, r[segment])].append(r)
    result = {}
    for key, members in groups.items():
        offered = sum(1 for r in members if r["offered"])
        answered = sum(1 for r in members if r["answered"])
        satisfied = sum(1 for r in members if r["answered"] and r["satisfied"])
        offered_answered = sum(1 for r in members if r["offered"] and r["answered"])
        result[key] = (
            offered or None,
            answered,
            satisfied,
            None if answered == 0 else pytest.approx(100.0 * satisfied / answered),
            None if not offered else pytest.approx(offered_answered / offered),
        )
    return result


def test_the_reference_reads_the_files_as_written(landing):
    ratings = expected_ratings(landing)
    zendesk = sorted(
        (r["ticket"], r["answered"], r["satisfied"], r["agent"]) for r in ratings if r["source"] == "zendesk"
    )
    # 1002 changed from bad to good counts once, as good; 1004 keeps its agent at rating time; 1006 unoffered is out.
    assert zendesk == [
        (1001, True, True, "71"),
        (1002, True, True, "72"),
        (1003, False, False, "71"),
        (1004, True, False, "72"),
        (1005, True, True, "71"),
        (1007, False, False, "72"),
    ]
    assert sorted((r["ticket"] or 0, r["satisfied"], r["agent"]) for r in ratings if r["source"] == "simplesat") == [
        (0, False, "unknown"),
        (1001, True, "71"),
        (1002, True, "72"),
        (1008, False, "74"),
    ]


def test_csat_by_month_matches_the_landing_files(warehouse, landing):
    got = {
        (row[0], row[1], row[2], row[3]): row[4:]
        for row in rows(
            warehouse,
            "select period_start, source, segment_type, segment_value, offered, answered, satisfied, csat, "
            "response_rate from marts.csat_by_period where period_grain = 'month'",
        )
    }
    expected = expected_month_rows(landing)
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert got[key] == values, key
    march = got[(date(2026, 3, 1), "zendesk", "overall", "all")]
    assert march[:3] == (4, 3, 2)  # 1001 good, 1002 bad->good, 1003 offered, 1004 bad


def test_the_interval_is_adjusted_wald(warehouse, landing):
    bounds = rows(
        warehouse,
        "select answered, satisfied, csat_ci_low, csat_ci_high from marts.csat_by_period where answered > 0",
    )
    assert len(bounds) > 50
    for answered, satisfied, low, high in bounds:
        n = answered + 4
        p = (satisfied + 2) / n
        se = math.sqrt(p * (1 - p) / n)
        assert (low, high) == (
            pytest.approx(max(0, 100 * (p - 1.96 * se))),
            pytest.approx(min(100, 100 * (p + 1.96 * se))),
        )
    # Every source in the first quarter: Zendesk 1001 good, 1002 good (was bad), 1004 bad; SimpleSAT a 5 and a 3.
    assert rows(
        warehouse,
        "select answered, satisfied, round(csat_ci_low, 2), round(csat_ci_high, 2) from marts.csat_by_period where "
        "period_grain = 'quarter' and period_start = date '2026-01-01' and source = 'all' and segment_type = 'overall'",
    ) == [(5, 3, 23.09, 88.02)]


def test_business_minutes_of_the_rated_tickets(warehouse, landing):
    metrics = {m["ticket_id"]: m for m in read(landing, "zendesk", "ticket_metrics")}
    answered = {
        r["ticket"]
        for r in expected_ratings(landing)
        if r["source"] == "zendesk" and r["answered"] and r["at"] < "2026-04"
    }
    assert rows(
        warehouse,
        "select median_first_reply_business_minutes, median_resolution_business_minutes from marts.csat_by_period "
        "where period_grain = 'month' and period_start = date '2026-03-01' and source = 'zendesk' "
        "and segment_type = 'overall'",
    ) == [
        (
            median(metrics[t]["reply_time_in_minutes"]["business"] for t in answered),
            median(metrics[t]["full_resolution_time_in_minutes"]["business"] for t in answered),
        )
    ]
    assert rows(
        warehouse,
        "select ticket_id, first_reply_business_minutes, full_resolution_business_minutes, assignee_id "
        "from intermediate.int_support_tickets_measured where ticket_id = 1004",
    ) == [(1004, 120, 900, 73)]


def test_the_csat_unit_tests_pass(warehouse, tmp_path):
    # The dbt unit tests of the CSAT models (offered-only not answered, bad changed to good counted once as good),
    # on a copy of this warehouse, whose tables give the column types of the mocked models.
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "test", "--profiles-dir", ".", "--target-path", str(tmp_path / "target")]
    command += ["--select", "int_csat_ratings_unioned,test_type:unit", "csat_by_period,test_type:unit"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(copy), "DO_NOT_TRACK": "1"}
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"].split(".")[-1]: r["status"] for r in results}
    assert statuses == {
        "csat_zendesk_rating_changed_from_bad_to_good_counts_once_as_good": "pass",
        "csat_offered_only_is_not_answered": "pass",
    }
