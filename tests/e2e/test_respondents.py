"""Respondent-level NPS and complete periods through the real loader and dbt, on a small survey export that plants
the cases analysts ask about: one person answering twice in a month (the email in two cases), answers without an
email tied to their account, answers with neither, two answers of one person in the same second, and data that
ends one day before the month does. Expected values come from tests/e2e/reference.py (plain Python on the landing
files) and, for the planted month, by hand."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from tests.e2e import reference
from tests.e2e.test_marts import NPS_COLUMNS, query, same

pytestmark = pytest.mark.e2e

COLUMNS = ("response_id", "survey_type", "survey_kind", "score", "comment", "email", "account_id", "ticket_id")
COLUMNS += ("channel", "touchpoint", "responded_at")
# (response_id, survey_type, score, email, account_id, channel, responded_at)
ANSWERS = [
    ("feb_ann", "nps", 8, "ann@example.com", "acc_1", "email", "2026-02-27T09:00:00Z"),
    ("mar_ann_1", "nps", 10, "Ann@Example.COM", "acc_1", "email", "2026-03-02T10:00:00Z"),
    ("mar_ann_2", "nps", 3, "ann@example.com", "acc_1", "in_app", "2026-03-20T10:00:00Z"),
    ("mar_acc2_1", "nps", 9, "", "acc_2", "in_app", "2026-03-05T09:00:00Z"),
    ("mar_acc2_2", "nps", 7, "", "acc_2", "in_app", "2026-03-06T09:00:00Z"),
    ("mar_dave", "nps", 10, "dave@example.com", "acc_2", "email", "2026-03-08T09:00:00Z"),
    ("mar_anon_1", "nps", 10, "", "", "sms", "2026-03-07T09:00:00Z"),
    ("mar_anon_2", "nps", 0, "", "", "sms", "2026-03-07T09:00:00Z"),
    ("mar_bob_a", "nps", 10, "bob@example.com", "acc_3", "email", "2026-03-10T12:00:00Z"),
    ("mar_bob_b", "nps", 6, "bob@example.com", "acc_3", "email", "2026-03-10T12:00:00Z"),
    # The latest answer of all, a CES one: the data's as-of date is 2026-03-30, one day before March ends.
    ("mar_ces", "ces", 5, "carl@example.com", "acc_4", "email", "2026-03-30T08:00:00Z"),
]


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("respondents")
    by_day: dict[str, list[dict]] = {}
    for response_id, survey_type, score, email, account_id, channel, responded_at in ANSWERS:
        row = dict.fromkeys(COLUMNS, "")
        row.update(response_id=response_id, survey_type=survey_type, survey_kind="relational", score=str(score))
        row.update(email=email, account_id=account_id, channel=channel, touchpoint="relationship")
        row.update(responded_at=responded_at)
        by_day.setdefault(responded_at[:10], []).append(row)
    folder = landing / "surveys" / "responses"
    folder.mkdir(parents=True)
    for day, rows in by_day.items():
        with (folder / f"{day}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("respondents_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 2, 27), date(2026, 3, 30))
    return warehouse


def test_nps_by_period_matches_the_reference_in_every_cell(warehouse: Path, landing: Path):
    ref = reference.build(landing)
    assert ref.as_of() == date(2026, 3, 30)
    segment_types = ("overall", "channel", "survey_kind", "touchpoint")
    expected = reference.nps_by_period(ref, segment_types)
    rows = query(
        warehouse,
        "select * from marts.nps_by_period where segment_type in ('overall', 'channel', 'survey_kind', 'touchpoint')",
    )
    actual = {(r["period_grain"], r["period_start"], r["segment_type"], r["segment_value"]): r for r in rows}
    assert set(actual) == set(expected)
    mismatches = [
        (key, column, actual[key][column], expected[key][column])
        for key in expected
        for column in NPS_COLUMNS
        if not same(actual[key][column], expected[key][column])
    ]
    assert mismatches == []


def test_the_planted_month_by_hand(warehouse: Path):
    """March: 9 NPS answers from 6 respondents. ann (two spellings of one email) counts by her later 3; acc_2's two
    answers without an email by the later 7, and dave, with an email on the same account, apart; the two anonymous
    answers are two respondents; bob's two answers in the same second by the greater id (mar_bob_b, a 6).
    Respondents: promoters dave and anon_1, passive acc_2, detractors ann, anon_2 and bob: NPS 100 * (2 - 3) / 6."""
    [march] = query(
        warehouse,
        "select * from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-03-01'",
    )
    assert (march["responses"], march["promoters"], march["passives"], march["detractors"]) == (9, 5, 1, 3)
    assert (
        march["respondents"],
        march["respondent_promoters"],
        march["respondent_passives"],
        march["respondent_detractors"],
    ) == (6, 2, 1, 3)
    assert march["respondent_nps"] == pytest.approx(-100 / 6)
    assert (march["period_end"], march["is_complete_period"]) == (date(2026, 3, 31), False)
    [february] = query(
        warehouse,
        "select period_end, is_complete_period, respondents from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'overall' and period_start = date '2026-02-01'",
    )
    assert february == {"period_end": date(2026, 2, 28), "is_complete_period": True, "respondents": 1}
    keys = {
        r["response_id"]: r["respondent_key"]
        for r in query(warehouse, "select response_id, respondent_key from marts.fct_survey_responses")
    }
    assert keys["mar_ann_1"] == keys["mar_ann_2"] == "email:ann@example.com"
    assert keys["mar_acc2_1"] == keys["mar_acc2_2"] == "account_id:acc_2"
    assert keys["mar_anon_1"] == "response_id:mar_anon_1" and keys["mar_ces"] is None


def test_ces_complete_periods_use_the_same_as_of_date(warehouse: Path):
    rows = query(
        warehouse,
        "select period_grain, period_start, period_end, is_complete_period from marts.ces_by_period "
        "where segment_type = 'overall' order by 1, 2",
    )
    assert [(r["period_grain"], r["period_end"], r["is_complete_period"]) for r in rows] == [
        ("day", date(2026, 3, 30), True),
        ("month", date(2026, 3, 31), False),
        ("quarter", date(2026, 3, 31), False),
        ("week", date(2026, 4, 5), False),
    ]
    [summary] = query(warehouse, "select last_response_date from marts.program_summary")
    assert summary["last_response_date"] == date(2026, 3, 30)
