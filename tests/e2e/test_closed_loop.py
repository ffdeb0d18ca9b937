"""closed_loop, closed_loop_sla_weekly, survey_fatigue_violations and survey_eligibility on the small demo,
checked against computations made here from the landing files."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.e2e import reference

pytestmark = pytest.mark.e2e

FOLLOWUP_FIELD = 360_001_234_568  # dbt var zendesk_nps_response_field_id
FAST, TARGET = timedelta(hours=4), timedelta(hours=24)


def fetch(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def status(outreach, deadline, as_of) -> str:
    if outreach is not None and outreach <= deadline:
        return "met"
    return "missed" if outreach is not None or deadline <= as_of else "pending"


def test_follow_ups_and_targets_match_the_landing_files(full_run: Path, small_landing: Path):
    answers = [
        r for r in reference.build(small_landing).responses if r.survey_type == "nps" and (r.score <= 6 or r.score >= 9)
    ]
    tickets = reference.latest(small_landing, "zendesk", "tickets")
    metrics = reference.latest(small_landing, "zendesk", "ticket_metrics", key="ticket_id")
    by_response = {}
    for ticket in tickets.values():
        fields = {f["id"]: f["value"] for f in ticket.get("custom_fields") or []}
        if fields.get(FOLLOWUP_FIELD):
            by_response.setdefault(fields[FOLLOWUP_FIELD], []).append(ticket)
    all_responses = reference.build(small_landing).responses
    as_of = max(
        [r.responded_at for r in all_responses] + [reference.parse_time(t["created_at"]) for t in tickets.values()]
    )

    rows = {row["response_id"]: row for row in fetch(full_run, "select * from marts.closed_loop")}
    assert set(rows) == {a.response_id for a in answers}
    counts = defaultdict(int)
    for answer in answers:
        row = rows[answer.response_id]
        found = sorted(by_response.get(answer.response_id, []), key=lambda t: (t["created_at"], t["id"]))
        ticket = found[0] if found else None
        assert row["followup_ticket_id"] == (ticket["id"] if ticket else None)
        outreach = None
        if ticket and str(ticket["id"]) in metrics:
            minutes = metrics[str(ticket["id"])]["reply_time_in_minutes"]["calendar"]
            outreach = reference.parse_time(ticket["created_at"]) + timedelta(minutes=minutes)
        expected_fast = status(outreach, answer.responded_at + FAST, as_of)
        expected_target = status(outreach, answer.responded_at + TARGET, as_of)
        assert (row["fast_target_status"], row["target_status"]) == (expected_fast, expected_target), answer
        if outreach is not None:
            hours = (outreach - answer.responded_at).total_seconds() / 3600
            assert row["hours_to_first_outreach"] == pytest.approx(hours)
            assert row["team"] == "Customer success"
        counts[(row["nps_category"], expected_target)] += 1
    # The demo plants it: most detractors hear back within a day, a few are missed, promoters are thanked less.
    detractors = sum(n for (category, _), n in counts.items() if category == "detractor")
    assert counts[("detractor", "met")] > 0.6 * detractors
    assert counts[("detractor", "missed")] > 0

    # The weekly roll-up sums the rows: team 'all', detractors.
    weekly = fetch(
        full_run,
        "select * from marts.closed_loop_sla_weekly where team = 'all' and nps_category = 'detractor'",
    )
    due = sum(row["target_due"] for row in weekly)
    met = sum(row["met_target"] for row in weekly)
    assert due == counts[("detractor", "met")] + counts[("detractor", "missed")]
    assert met == counts[("detractor", "met")]
    for row in weekly:
        if row["target_due"]:
            assert row["target_attainment"] == pytest.approx(row["met_target"] / row["target_due"])


def test_fatigue_violations_and_eligibility_match_the_sends(full_run: Path, small_landing: Path):
    sends = list(reference.csv_latest(small_landing, "surveys", "sends", "send_id").values())
    rules = {"relational": 90, "transactional": 60}
    by_contact = defaultdict(list)
    for send in sends:
        if send["email"]:
            by_contact[(send["email"].strip().lower(), send["survey_kind"])].append(send)
    expected = set()
    last_sent = defaultdict(dict)
    for (email, kind), group in by_contact.items():
        group.sort(key=lambda s: (reference.parse_time(s["sent_at"]), s["send_id"]))
        for previous, send in itertools.pairwise(group):
            gap = reference.parse_time(send["sent_at"]) - reference.parse_time(previous["sent_at"])
            if gap < timedelta(days=rules[kind]):
                expected.add(send["send_id"])
        last_sent[email][kind] = reference.parse_time(group[-1]["sent_at"])
    violations = fetch(full_run, "select * from marts.survey_fatigue_violations")
    assert {row["send_id"] for row in violations} == expected
    assert expected, "the demo's CES after every solved ticket breaks the 60-day transactional rule"

    eligibility = fetch(full_run, "select * from marts.survey_eligibility")
    as_of = eligibility[0]["as_of_at"].replace(tzinfo=UTC)  # DuckDB timestamps are UTC, without a zone
    by_email = {row["email"]: row for row in eligibility}
    for email, kinds in last_sent.items():
        row = by_email[email]
        for kind, days in rules.items():
            sent = kinds.get(kind)
            assert row[f"is_eligible_{kind}"] == (sent is None or sent + timedelta(days=days) <= as_of), (email, kind)
    eligible = [row for row in eligibility if row["is_eligible_relational"]]
    sampled = [row for row in eligibility if row["is_in_relational_sample"]]
    assert len(sampled) == math.ceil(0.25 * len(eligible))
    assert all(row["is_eligible_relational"] for row in sampled)


def test_activation_follows_the_key_events_in_the_usage_files(full_run: Path, small_landing: Path):
    key_events = {"*": {"Invite Sent"}, "Enterprise": {"Integration Connected"}}  # seed activation_events
    first: dict[tuple[str, str], object] = {}
    for _, _, event in reference.json_versions(small_landing, "segment", "tracks"):
        account = (event.get("context") or {}).get("groupId")
        at = reference.parse_time(event["timestamp"])
        key = (account, event["event"])
        if account and (key not in first or at < first[key]):
            first[key] = at
    rows = fetch(full_run, "select * from marts.account_activation")
    assert {row["activation_status"] for row in rows} >= {"activated", "unknown"}
    for row in rows:
        events = key_events.get(row["plan_at_signup"], key_events["*"])
        times = [first[(row["account_id"], name)] for name in events if (row["account_id"], name) in first]
        expected = min(times) if times else None
        got = row["first_key_event_at"]
        assert (got.replace(tzinfo=UTC) if got else None) == expected, row["account_id"]
        if expected is not None:
            signup = row["signup_at"].replace(tzinfo=UTC)
            days = max(0.0, (expected - signup).total_seconds() / 86400)
            assert row["days_to_activation"] == pytest.approx(days, abs=1 / 86400)  # whole seconds
            if row["activation_status"] != "unknown":
                assert row["activation_status"] == ("activated" if days <= 30 else "late")
