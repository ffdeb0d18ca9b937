"""The whole graph materialized on a small generated dataset, checked against an independent reference."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.e2e import reference

pytestmark = pytest.mark.e2e

NPS_COLUMNS = (
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "sends",
    "response_rate",
    "respondents",
    "respondent_promoters",
    "respondent_passives",
    "respondent_detractors",
    "respondent_nps",
    "respondent_nps_ci_low",
    "respondent_nps_ci_high",
    "period_end",
    "is_complete_period",
)
CES_COLUMNS = (
    "responses",
    "ces_mean",
    "ces_easy_share",
    "median_first_reply_minutes",
    "median_resolution_minutes",
    "period_end",
    "is_complete_period",
)


def query(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def same(actual, expected) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, bool | date):
        return type(actual) is type(expected) and actual == expected
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture(scope="module")
def ref(small_landing: Path) -> reference.Reference:
    return reference.build(small_landing)


def test_dataset_is_big_enough_to_mean_something(ref):
    nps = [r for r in ref.responses if r.survey_type == "nps"]
    assert len(nps) >= 100
    assert len([r for r in ref.responses if r.survey_type == "ces"]) >= 30
    assert {r.channel for r in nps} >= {"email", "in_app"}


def test_nps_by_period_matches_reference(full_run, ref):
    segment_types = ("overall", "channel", "survey_kind", "touchpoint")
    expected = reference.nps_by_period(ref, segment_types)
    rows = query(
        full_run,
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


def test_the_demo_exercises_respondents_and_partial_periods(ref):
    """The comparison above means something: some respondents answer more than once in a period (so respondent and
    response figures differ), and the latest week and quarter are incomplete while earlier ones are complete (the
    demo ends on 31 October, so October itself is complete)."""
    expected = reference.nps_by_period(ref, ("overall",))
    assert any(cell["respondents"] < cell["responses"] for cell in expected.values())
    assert any(cell["respondent_nps"] != cell["nps"] for cell in expected.values())
    for grain in ("week", "quarter"):
        flags = [cell["is_complete_period"] for key, cell in sorted(expected.items()) if key[0] == grain]
        assert flags[-1] is False and True in flags, grain


def test_every_segmentation_partitions_the_overall_numbers(full_run):
    rows = query(
        full_run,
        """
        select s.period_grain, s.period_start, s.segment_type,
               sum(s.responses) as responses, sum(s.promoters) as promoters, sum(s.sends) as sends,
               any_value(o.responses) as overall_responses, any_value(o.promoters) as overall_promoters,
               any_value(o.sends) as overall_sends
        from marts.nps_by_period as s
        join marts.nps_by_period as o
            on o.period_grain = s.period_grain and o.period_start = s.period_start and o.segment_type = 'overall'
        group by all
        """,
    )
    segment_types = {r["segment_type"] for r in rows}
    assert segment_types == {
        "overall",
        "plan",
        "mrr_band",
        "region",
        "tenure_band",
        "channel",
        "survey_kind",
        "touchpoint",
    }
    broken = [
        r
        for r in rows
        if (r["responses"], r["promoters"], r["sends"])
        != (r["overall_responses"], r["overall_promoters"], r["overall_sends"])
    ]
    assert broken == []


def test_nps_row_invariants(full_run):
    bad = query(
        full_run,
        """
        select * from marts.nps_by_period
        where promoters + passives + detractors <> responses
           or (responses > 0 and not nps_ci_low < nps_ci_high)
           or (responses = 0 and (nps is not null or nps_ci_low is not null))
           or nps_ci_low < -100 or nps_ci_high > 100
           or (period_grain = 'week' and dayofweek(period_start) <> 1)
        """,
    )
    assert bad == []


def test_ces_by_period_matches_reference(full_run, ref, small_landing):
    expected = reference.ces_by_period(ref, small_landing)
    rows = query(full_run, "select * from marts.ces_by_period where segment_type in ('overall', 'ticket_category')")
    actual = {(r["period_grain"], r["period_start"], r["segment_type"], r["segment_value"]): r for r in rows}
    assert set(actual) == set(expected)
    mismatches = [
        (key, column, actual[key][column], expected[key][column])
        for key in expected
        for column in CES_COLUMNS
        if not same(actual[key][column], expected[key][column])
    ]
    assert mismatches == []
    assert {key[3] for key in expected if key[2] == "ticket_category"} == {"refund_related", "other"}


def test_every_response_is_kept_and_tied_to_the_right_account(full_run, ref):
    rows = query(
        full_run,
        "select response_id, survey_type, score, account_id, account_match_method from marts.fct_survey_responses",
    )
    actual = {r["response_id"]: r for r in rows}
    assert len(rows) == len(actual) == len(ref.responses)
    assert set(actual) == {r.response_id for r in ref.responses}
    wrong = [
        (r.response_id, actual[r.response_id]["account_id"], ref.resolve(r))
        for r in ref.responses
        if actual[r.response_id]["account_id"] != ref.resolve(r)
        or actual[r.response_id]["score"] != r.score
        or actual[r.response_id]["survey_type"] != r.survey_type
    ]
    assert wrong == []
    unmatched = [r for r in rows if r["account_id"] is None]
    assert unmatched, "the demo plants responses that match no account"
    assert all(r["account_match_method"] == "unmatched" for r in unmatched)


def test_program_summary_is_the_all_time_number(full_run, ref):
    nps = [r for r in ref.responses if r.survey_type == "nps"]
    promoters = sum(r.score >= 9 for r in nps)
    detractors = sum(r.score <= 6 for r in nps)
    [summary] = query(full_run, "select * from marts.program_summary")
    assert summary["responses"] == len(nps)
    assert same(summary["nps"], 100 * (promoters - detractors) / len(nps))
    low, high = reference.nps_interval(promoters, detractors, len(nps))
    assert same(summary["nps_ci_low"], low) and same(summary["nps_ci_high"], high)
    assert summary["nps_sends"] == len(ref.nps_sends)
    assert same(summary["response_rate"], len(nps) / len(ref.nps_sends))
    ces = [r.score for r in ref.responses if r.survey_type == "ces"]
    assert same(summary["ces_mean"], sum(ces) / len(ces))
    assert summary["unmatched_responses"] == sum(ref.resolve(r) is None for r in ref.responses)


def test_run_metadata_carries_row_counts_and_the_overall_nps(full_run_result, ref):
    """What the Dagster UI plots run after run: each table's row count, and the overall NPS with its interval."""
    warehouse, result = full_run_result
    materializations = {
        event.asset_key.path[-1]: event.metadata
        for event in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
    }
    for mart in ("nps_by_period", "ces_by_period", "account_health", "int_usage_daily"):
        [row] = query(warehouse, f"select count(*) as n from {_schema_of(mart)}.{mart}")
        assert materializations[mart]["dagster/row_count"].value == row["n"], mart
    nps = [r for r in ref.responses if r.survey_type == "nps"]
    promoters = sum(r.score >= 9 for r in nps)
    detractors = sum(r.score <= 6 for r in nps)
    low, high = reference.nps_interval(promoters, detractors, len(nps))
    summary = materializations["program_summary"]
    assert summary["responses"].value == len(nps)
    assert same(summary["nps"].value, 100 * (promoters - detractors) / len(nps))
    assert same(summary["nps_ci_low"].value, low) and same(summary["nps_ci_high"].value, high)


def _schema_of(model: str) -> str:
    return "intermediate" if model.startswith("int_") else "marts"
