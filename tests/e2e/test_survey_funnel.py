"""survey_funnel on the small demo, against a computation in plain Python from the landing files: the latest
version of each send with its lifecycle, each send's first answer (a CSV response naming it, else the respondent's
next answer of the survey type before their next send of it, within 30 days), the sends at risk 3 days after the
send, every count, rate and interval of every row. The account attributes at the send (plan, MRR band, region,
tenure band) come from int_survey_events_enriched, checked against the landing files by its own tests. Then the
effect the demo plants (demo/send_lifecycle.py: 8% of the reminded sends that would have stayed unanswered answer)
is recovered: the reminded email sends at risk answer more often, by the planted amount within the interval."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from demo.send_lifecycle import REMINDER_LIFT
from tests.e2e import reference
from tests.e2e.test_marts import query, same

pytestmark = pytest.mark.e2e

WINDOW = timedelta(days=30)
REMINDER_AFTER = timedelta(days=3)
SEGMENT_TYPES = ("overall", "plan", "mrr_band", "region", "tenure_band", "channel", "survey_kind", "touchpoint")
LIFECYCLE = ("delivered_at", "opened_at", "reminded_at", "bounced_at", "unsubscribed_at")
Z_95 = 1.959963984540054


def respondent(email: str | None, account: str | None, own_id: str) -> tuple[str, str]:
    email = (email or "").strip().lower()
    if email:
        return ("email", email)
    return ("account", account) if account else ("id", own_id)


def lift_interval(yes: tuple[int, int], no: tuple[int, int]) -> tuple[float, float, float]:
    """(lift, low, high) of the reminded (answered, sends) against the unreminded: the raw difference, and the
    Agresti-Caffo interval (one answer and one silence added to each group), clipped to [-1, 1]."""
    a1, a0 = (yes[0] + 1) / (yes[1] + 2), (no[0] + 1) / (no[1] + 2)
    half = Z_95 * math.sqrt(a1 * (1 - a1) / (yes[1] + 2) + a0 * (1 - a0) / (no[1] + 2))
    return yes[0] / yes[1] - no[0] / no[1], max(-1.0, a1 - a0 - half), min(1.0, a1 - a0 + half)


def first_answers(ref: reference.Reference, landing: Path, sends: list[dict]) -> dict[str, reference.Response]:
    named = {
        row["response_id"]: row["send_id"]
        for row in reference.csv_latest(landing, "surveys", "responses", "response_id").values()
    }
    by_send: dict[str, list[reference.Response]] = defaultdict(list)
    by_respondent: dict[tuple, list[reference.Response]] = defaultdict(list)
    for response in ref.responses:
        if named.get(response.response_id):
            by_send[named[response.response_id]].append(response)
        else:
            key = respondent(response.email, ref.resolve(response), response.response_id)
            by_respondent[(response.survey_type, key)].append(response)
    series: dict[tuple, list[dict]] = defaultdict(list)
    for send in sends:
        series[(send["survey_type"], send["key"])].append(send)
    result = {}
    for (survey_type, key), group in series.items():
        group.sort(key=lambda send: (send["at"], send["send_id"]))
        for position, send in enumerate(group):
            following = group[position + 1]["at"] if position + 1 < len(group) else None
            candidates = [r for r in by_send[send["send_id"]] if r.survey_type == survey_type] + [
                r for r in by_respondent[(survey_type, key)] if following is None or r.responded_at < following
            ]
            within = [r for r in candidates if send["at"] <= r.responded_at < send["at"] + WINDOW]
            if within:
                result[send["send_id"]] = min(within, key=lambda r: (r.responded_at, r.response_id))
    return result


@pytest.fixture(scope="module")
def expected(small_landing: Path, full_run: Path) -> dict[tuple, dict]:
    ref = reference.build(small_landing)
    attributes = {
        row["event_id"]: row
        for row in query(
            full_run,
            "select event_id, plan, mrr_band, region, tenure_band, account_id "
            "from intermediate.int_survey_events_enriched where event_type = 'send'",
        )
    }
    sends = []
    for row in reference.csv_latest(small_landing, "surveys", "sends", "send_id").values():
        built = attributes[row["send_id"]]
        times = {event: reference.parse_time(row[event]) if row[event] else None for event in LIFECYCLE}
        sends.append(
            {
                **row,
                **times,
                "survey_type": row["survey_type"].lower(),
                "at": reference.parse_time(row["sent_at"]),
                "key": respondent(row["email"], built["account_id"], row["send_id"]),
                "built": built,
            }
        )
    answers = first_answers(ref, small_landing, sends)
    as_of = ref.as_of()
    cells: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for send in sends:
        answer = answers.get(send["send_id"])
        at_risk = (
            send["bounced_at"] is None
            and (send["at"] + REMINDER_AFTER).date() <= as_of
            and (answer is None or answer.responded_at >= send["at"] + REMINDER_AFTER)
        )
        reminded = send["reminded_at"] is not None
        values = {
            "overall": "all",
            **{name: send["built"][name] or "unknown" for name in ("plan", "mrr_band", "region", "tenure_band")},
            **{name: send[name] or "unknown" for name in ("channel", "survey_kind", "touchpoint")},
        }
        month = send["at"].date().replace(day=1)
        for segment_type in SEGMENT_TYPES:
            cell = cells[(month, send["survey_type"], segment_type, values[segment_type])]
            cell["sent"] += 1
            cell["delivered"] += send["delivered_at"] is not None and send["bounced_at"] is None
            cell["opened"] += send["opened_at"] is not None
            cell["bounced"] += send["bounced_at"] is not None
            cell["unsubscribed"] += send["unsubscribed_at"] is not None
            cell["responded"] += answer is not None
            cell["reminded"] += reminded
            group = "at_risk_reminded" if reminded else "at_risk_unreminded"
            if at_risk:
                cell[group] += 1
                cell[f"{group}_responded"] += answer is not None
    rows = {}
    for key, cell in cells.items():
        row = {name: cell[name] for name in ("sent", "delivered", "opened", "bounced", "unsubscribed", "responded")}
        for name in ("reminded", "at_risk_reminded", "at_risk_reminded_responded"):
            row[name] = cell[name]
        row["at_risk_unreminded"] = cell["at_risk_unreminded"]
        row["at_risk_unreminded_responded"] = cell["at_risk_unreminded_responded"]
        row["response_rate"] = cell["responded"] / cell["sent"]
        yes = (cell["at_risk_reminded_responded"], cell["at_risk_reminded"])
        no = (cell["at_risk_unreminded_responded"], cell["at_risk_unreminded"])
        row["reminded_response_rate"] = yes[0] / yes[1] if yes[1] else None
        row["unreminded_response_rate"] = no[0] / no[1] if no[1] else None
        lift = lift_interval(yes, no) if yes[1] and no[1] else (None, None, None)
        row["reminder_lift"], row["reminder_lift_ci_low"], row["reminder_lift_ci_high"] = lift
        row["month_end"] = reference.period_end(key[0], "month")
        row["is_complete_period"] = row["month_end"] <= as_of
        rows[key] = row
    return rows


@pytest.fixture(scope="module")
def mart(full_run: Path) -> dict[tuple, dict]:
    return {
        (row["month_start"], row["survey_type"], row["segment_type"], row["segment_value"]): row
        for row in query(full_run, "select * from marts.survey_funnel")
    }


def test_every_row_and_value_matches_the_landing_files(mart, expected):
    assert set(mart) == set(expected)
    columns = next(iter(expected.values())).keys()
    mismatches = [
        (key, column, mart[key][column], row[column])
        for key, row in expected.items()
        for column in columns
        if not same(mart[key][column], row[column])
    ]
    assert mismatches == []
    # The demo exercises every part of the funnel, the send id link and the respondent link alike.
    overall = [row for key, row in expected.items() if key[2] == "overall"]
    for name in ("bounced", "unsubscribed", "opened", "reminded", "at_risk_reminded", "at_risk_unreminded"):
        assert sum(row[name] for row in overall) > 0, name


def test_answers_are_linked_by_send_id_and_by_respondent(full_run: Path):
    methods = {
        row["link_method"]: row["n"]
        for row in query(
            full_run,
            "select link_method, count(*) as n from intermediate.int_survey_sends_answered group by 1",
        )
    }
    assert methods.get("send_id", 0) > 0 and methods.get("respondent", 0) > 0


def test_the_planted_reminder_effect_is_recovered_within_its_interval(mart):
    """Email sends at risk, pooled over the months and survey types of the mart: the reminded answer more often, and
    the difference's interval holds the planted effect (REMINDER_LIFT of the sends the natural answers leave
    unanswered). About 75 sends a group on the small demo: the interval is about +/-7 points wide here; the demo
    generator's test checks the effect on a larger demo (tests/ingestion/test_demo_generator.py)."""
    email = [row for key, row in mart.items() if key[2:] == ("channel", "email")]
    yes = (sum(r["at_risk_reminded_responded"] for r in email), sum(r["at_risk_reminded"] for r in email))
    no = (sum(r["at_risk_unreminded_responded"] for r in email), sum(r["at_risk_unreminded"] for r in email))
    lift, low, high = lift_interval(yes, no)
    planted = REMINDER_LIFT * (1 - no[0] / no[1])
    assert yes[1] >= 50 and no[1] >= 50
    assert low <= planted <= high, (yes, no, lift, low, high)
    assert lift > 0, (yes, no, lift, low, high)
