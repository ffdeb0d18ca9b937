"""marts.experiment_results on the demo that plants the effects (demo/experiments.py), through the loader, dbt and the
Python mart, against every row computed again in plain Python from the landing files (tests/e2e/experiments_reference.py):
the subject line `subject_question` is answered more often, the script `script_listen_first` recovers more
detractors and raises their next score, and a fast first reply (`timing_within_4h`) raises the next score."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from analytics import experiment_results
from tests.e2e import experiments_reference as ref

pytestmark = pytest.mark.e2e


def fetch(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def expected(churn_run: Path) -> tuple[list[dict], dict]:
    units = ref.units(churn_run.parent / "landing")
    return units, ref.results(units)


def close(actual, wanted) -> bool:
    if wanted is None or (isinstance(wanted, float) and math.isnan(wanted)):
        return actual is None
    return actual == pytest.approx(float(wanted), abs=1e-7)


def test_the_units_are_those_of_the_landing_files(churn_run: Path, expected):
    units, _ = expected
    stored = fetch(
        churn_run, "select experiment, variant, unit_id, is_answered, next_score from intermediate.int_experiment_units"
    )
    assert sorted((u["experiment"], u["variant"], u["unit_id"], u["is_answered"], u["next_score"]) for u in units) == (
        sorted((u["experiment"], u["variant"], u["unit_id"], u["is_answered"], u["next_score"]) for u in stored)
    )
    # Every follow-up case of the demo is in both follow-up experiments, each with one variant.
    cases = [u for u in units if u["applies_to"] == "followup_case"]
    assert len(cases) > 500 and len({(u["experiment"], u["unit_id"]) for u in cases}) == len(cases)


def test_every_row_matches_the_reference(churn_run: Path, expected):
    _, wanted = expected
    rows = fetch(churn_run, f"select * from {experiment_results.TABLE}")
    assert {(r["experiment"], r["variant"], r["metric"]) for r in rows} == set(wanted)
    for row in rows:
        reference_row = wanted[(row["experiment"], row["variant"], row["metric"])]
        for column in ("units", "observed"):
            assert row[column] == reference_row[column], (row, column)
        for column in ("value", "difference", "ci_low", "ci_high", "statistic", "p_value"):
            assert close(row[column], reference_row.get(column)), (row, column, reference_row.get(column))
        if row["is_control"]:
            assert row["difference"] is None and row["p_value"] is None and row["test"] is None
        else:
            assert row["is_significant"] == (row["p_value"] < 0.05)


def test_the_planted_effects_are_found(churn_run: Path):
    rows = {
        (r["variant"], r["metric"]): r
        for r in fetch(churn_run, f"select * from {experiment_results.TABLE} where not is_control")
    }
    planted = [
        ("subject_question", "response_rate", 0.10),  # 10 points more answered
        ("script_listen_first", "mean_next_score", None),  # 2 points on the next answer, less at the cap of 10
        ("script_listen_first", "recovery_rate", None),
        ("timing_within_4h", "mean_next_score", None),  # 3 points for a reply within 4 h, which it makes likelier
    ]
    for variant, metric, size in planted:
        row = rows[(variant, metric)]
        assert row["is_significant"] and row["difference"] > 0 and row["ci_low"] > 0, row
        if size is not None:
            assert row["ci_low"] <= size <= row["ci_high"], row
    # The timing variant did reply faster: its cases' first replies came within 4 hours more often.
    speed = fetch(
        churn_run,
        """
        select variant, avg(case when hours_to_first_outreach <= 4 then 1.0 else 0.0 end) as fast_share
        from intermediate.int_experiment_units where experiment = 'followup_timing' group by variant
        """,
    )
    shares = {r["variant"]: r["fast_share"] for r in speed}
    assert shares["timing_within_4h"] > shares["timing_standard"] + 0.2


def test_rebuilding_changes_nothing(churn_run: Path, tmp_path: Path):
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(churn_run.read_bytes())
    with duckdb.connect(str(copy)) as con:
        before = con.execute(f"select * from {experiment_results.TABLE} order by all").fetchall()
        assert experiment_results.build(con) == len(before)
        assert con.execute(f"select * from {experiment_results.TABLE} order by all").fetchall() == before
