"""nps_rolling on the small demo's full run, against the trailing NPS computed in plain Python: for every day, window
and segment, each respondent's latest answer in the window (tests/e2e/reference.py reads the answers and who gave
them from the landing files). The account attributes at response time (plan, mrr_band, region, tenure_band) come
from fct_survey_responses, the only input the reference does not rebuild; the windows, the latest answers, the
counts and the interval are all recomputed here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e import reference
from tests.e2e.test_marts import query, same

pytestmark = pytest.mark.e2e

WINDOWS = (30, 90)
ANSWER_SEGMENTS = ("channel", "survey_kind", "touchpoint")
ACCOUNT_SEGMENTS = ("plan", "mrr_band", "region", "tenure_band")
COLUMNS = ("window_start", "is_full_window", "responses", "respondents", "promoters", "passives", "detractors")
COLUMNS += ("nps", "nps_ci_low", "nps_ci_high")


@pytest.fixture(scope="module")
def ref(small_landing: Path) -> reference.Reference:
    return reference.build(small_landing)


def expected_rows(ref: reference.Reference, account_segments: dict[str, dict[str, str]]) -> dict[tuple, dict]:
    """(as_of_date, window_days, segment_type, segment_value) -> the row, for every day from the first NPS answer to
    the data's as-of date whose window holds an answer of the segment."""
    answers = [r for r in ref.responses if r.survey_type == "nps" and 0 <= r.score <= 10]
    segmented: dict[tuple[str, str], list[reference.Response]] = defaultdict(list)
    for answer in answers:
        segmented[("overall", "all")].append(answer)
        for name in ANSWER_SEGMENTS:
            segmented[(name, getattr(answer, name) or "unknown")].append(answer)
        for name in ACCOUNT_SEGMENTS:
            segmented[(name, account_segments[answer.response_id][name] or "unknown")].append(answer)
    first = min(answer.responded_at.date() for answer in answers)
    rows = {}
    day = first
    while day <= ref.as_of():
        for window in WINDOWS:
            start = day - timedelta(days=window - 1)
            for segment, members in segmented.items():
                inside = [a for a in members if start <= a.responded_at.date() <= day]
                if not inside:
                    continue
                latest: dict[tuple, reference.Response] = {}
                for answer in inside:
                    who = ref.respondent(answer)
                    kept = latest.get(who)
                    if kept is None or (answer.responded_at, answer.response_id) > (
                        kept.responded_at,
                        kept.response_id,
                    ):
                        latest[who] = answer
                scores = [answer.score for answer in latest.values()]
                n, promoters, detractors = len(scores), sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
                low, high = reference.nps_interval(promoters, detractors, n)
                rows[(day, window, *segment)] = {
                    "window_start": start,
                    "is_full_window": start >= first,
                    "responses": len(inside),
                    "respondents": n,
                    "promoters": promoters,
                    "passives": n - promoters - detractors,
                    "detractors": detractors,
                    "nps": 100 * (promoters - detractors) / n,
                    "nps_ci_low": low,
                    "nps_ci_high": high,
                }
        day += timedelta(days=1)
    return rows


def test_every_row_matches_the_trailing_nps_computed_independently(full_run: Path, ref: reference.Reference):
    account_segments = {
        row["response_id"]: row
        for row in query(
            full_run,
            "select response_id, plan, mrr_band, region, tenure_band from marts.fct_survey_responses "
            "where survey_type = 'nps'",
        )
    }
    expected = expected_rows(ref, account_segments)
    rows = query(full_run, "select * from marts.nps_rolling")
    actual = {(r["as_of_date"], r["window_days"], r["segment_type"], r["segment_value"]): r for r in rows}
    assert len(actual) == len(rows)
    assert set(actual) == set(expected)
    mismatches = [
        (key, column, actual[key][column], expected[key][column])
        for key in expected
        for column in COLUMNS
        if not same(actual[key][column], expected[key][column])
    ]
    assert mismatches == []


def test_the_data_is_rich_enough_to_test_the_windows(full_run: Path, ref: reference.Reference):
    """The comparison above means something: respondents answer more than once within 90 days, windows differ,
    and the last day has rows in every segment type."""
    rows = query(full_run, "select * from marts.nps_rolling")
    assert any(r["respondents"] < r["responses"] for r in rows if r["window_days"] == 90)
    overall = {(r["as_of_date"], r["window_days"]): r for r in rows if r["segment_type"] == "overall"}
    assert any(overall[(day, 30)]["respondents"] != overall[(day, 90)]["respondents"] for day, _ in overall)
    last_day = {r["segment_type"] for r in rows if r["as_of_date"] == ref.as_of()}
    assert last_day == {"overall", *ANSWER_SEGMENTS, *ACCOUNT_SEGMENTS}
    assert {r["is_full_window"] for r in rows} == {True, False}
    assert max(r["as_of_date"] for r in rows) == ref.as_of() > date(2026, 1, 1)
