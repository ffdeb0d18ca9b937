"""marts.nps_changes on a planted nps_by_period: which comparisons exist (the previous period, the same period a year
earlier, only where that period has responses), each value against the z-test written anew here from the answers
coded +1 / 0 / -1 (numpy and scipy, not analytics/significance.py), the p = 0.05 boundary, an idempotent re-run, and
the weekly digest reading its test from the mart."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest
from scipy.stats import norm

from analytics import nps_changes
from outbound import from_marts
from outbound.slack_messages import weekly_digest_blocks

D = date
# (grain, period_start, complete, segment_type, segment_value, promoters, passives, detractors)
PLANTED = [
    ("month", D(2025, 1, 1), True, "overall", "all", 20, 10, 10),
    ("month", D(2025, 2, 1), True, "overall", "all", 30, 5, 5),
    ("month", D(2025, 3, 1), True, "overall", "all", 0, 0, 0),  # sends only: no NPS, nothing to compare with
    ("month", D(2025, 4, 1), True, "overall", "all", 10, 5, 5),
    ("month", D(2026, 1, 1), True, "overall", "all", 30, 30, 40),
    ("month", D(2026, 2, 1), False, "overall", "all", 6, 2, 2),
    # z just under 1.96 (p = 0.050002) and just over (p = 0.049998), and no variance at all.
    ("month", D(2025, 6, 1), True, "plan", "enterprise", 30, 40, 30),
    ("month", D(2025, 7, 1), True, "plan", "enterprise", 53, 17, 30),
    ("month", D(2025, 6, 1), True, "plan", "starter", 8, 74, 18),
    ("month", D(2025, 7, 1), True, "plan", "starter", 24, 58, 18),
    ("month", D(2025, 6, 1), True, "plan", "free", 5, 0, 0),
    ("month", D(2025, 7, 1), True, "plan", "free", 7, 0, 0),
    ("week", D(2025, 3, 3), True, "overall", "all", 12, 3, 5),
    ("week", D(2026, 2, 23), True, "overall", "all", 4, 4, 2),
    ("week", D(2026, 3, 2), False, "overall", "all", 9, 6, 5),
    ("week", D(2026, 2, 23), True, "plan", "enterprise", 10, 5, 25),
    ("week", D(2026, 3, 2), False, "plan", "enterprise", 30, 5, 5),
    ("day", D(2023, 2, 28), True, "overall", "all", 3, 1, 1),
    ("day", D(2024, 2, 28), True, "overall", "all", 2, 2, 1),
    ("day", D(2024, 2, 29), True, "overall", "all", 1, 1, 3),
    # 5 answers a day: p < 0.05 (one side has no variance), yet too few to call the move real.
    ("day", D(2025, 5, 1), True, "overall", "all", 1, 0, 4),
    ("day", D(2025, 5, 2), True, "overall", "all", 5, 0, 0),
    ("quarter", D(2025, 1, 1), True, "overall", "all", 40, 20, 20),
    ("quarter", D(2025, 10, 1), True, "overall", "all", 50, 25, 25),
    ("quarter", D(2026, 1, 1), True, "overall", "all", 60, 20, 20),
]
COUNTS = {(r[0], r[1], r[3], r[4]): r[5:] for r in PLANTED}
COMPLETE = {(r[0], r[1], r[3], r[4]): r[2] for r in PLANTED}

# Worked out by hand from the calendar: (grain, later start, segment_type, segment_value, comparison, earlier start).
EXPECTED = {
    ("month", D(2025, 2, 1), "overall", "all", "previous_period", D(2025, 1, 1)),
    ("month", D(2026, 1, 1), "overall", "all", "year_ago", D(2025, 1, 1)),
    ("month", D(2026, 2, 1), "overall", "all", "previous_period", D(2026, 1, 1)),
    ("month", D(2026, 2, 1), "overall", "all", "year_ago", D(2025, 2, 1)),
    ("month", D(2025, 7, 1), "plan", "enterprise", "previous_period", D(2025, 6, 1)),
    ("month", D(2025, 7, 1), "plan", "starter", "previous_period", D(2025, 6, 1)),
    ("month", D(2025, 7, 1), "plan", "free", "previous_period", D(2025, 6, 1)),
    ("week", D(2026, 3, 2), "overall", "all", "previous_period", D(2026, 2, 23)),
    ("week", D(2026, 3, 2), "overall", "all", "year_ago", D(2025, 3, 3)),  # 52 weeks: Monday to Monday
    ("week", D(2026, 3, 2), "plan", "enterprise", "previous_period", D(2026, 2, 23)),
    ("day", D(2024, 2, 29), "overall", "all", "previous_period", D(2024, 2, 28)),
    ("day", D(2024, 2, 29), "overall", "all", "year_ago", D(2023, 2, 28)),
    ("day", D(2024, 2, 28), "overall", "all", "year_ago", D(2023, 2, 28)),
    ("day", D(2025, 5, 2), "overall", "all", "previous_period", D(2025, 5, 1)),
    ("quarter", D(2026, 1, 1), "overall", "all", "previous_period", D(2025, 10, 1)),
    ("quarter", D(2026, 1, 1), "overall", "all", "year_ago", D(2025, 1, 1)),
}


def plant(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(
        """
        create or replace table marts.nps_by_period (
            period_grain varchar, period_start date, is_complete_period boolean, segment_type varchar,
            segment_value varchar, responses bigint, promoters bigint, passives bigint, detractors bigint, nps double,
            nps_ci_low double, nps_ci_high double
        )
        """
    )
    con.executemany(
        "insert into marts.nps_by_period values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)",
        [
            (g, s, c, t, v, p + a + d, p, a, d, 100 * (p - d) / (p + a + d) if p + a + d else None)
            for g, s, c, t, v, p, a, d in PLANTED
        ],
    )


def reference(before: tuple[int, int, int], after: tuple[int, int, int]) -> dict[str, float | None]:
    """The test from the answers themselves: each NPS the mean of scores +1 / 0 / -1 (x 100), its variance the
    population variance of those scores over n, the two-sided normal p-value."""
    samples = [np.repeat([1.0, 0.0, -1.0], counts) for counts in (before, after)]
    means = [100 * sample.mean() for sample in samples]
    se = 100 * np.sqrt(sum(sample.var() / len(sample) for sample in samples))
    change = means[1] - means[0]
    z = change / se if se > 0 else None
    return {
        "nps_from": means[0],
        "nps_to": means[1],
        "change": change,
        "std_error": se,
        "ci_low": change - norm.ppf(0.975) * se,
        "ci_high": change + norm.ppf(0.975) * se,
        "z": z,
        "p_value": 2 * norm.sf(abs(z)) if z is not None else None,
    }


@pytest.fixture()
def built(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    plant(con)
    rows = nps_changes.build(con)
    yield con, rows
    con.close()


def mart(con: duckdb.DuckDBPyConnection) -> list[dict]:
    frame = con.execute("select * from marts.nps_changes").df()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_comparisons_exist_only_where_the_earlier_period_has_responses(built):
    con, rows = built
    columns = ["period_grain", "period_start", "segment_type", "segment_value", "comparison", "compared_period_start"]
    found = {tuple(r[c].date() if c.endswith("start") else r[c] for c in columns) for r in mart(con)}
    assert found == EXPECTED
    assert rows == len(EXPECTED)


def test_values_match_an_independent_z_test(built):
    con, _ = built
    for r in mart(con):
        later = (r["period_grain"], r["period_start"].date(), r["segment_type"], r["segment_value"])
        earlier = (later[0], r["compared_period_start"].date(), *later[2:])
        expected = reference(COUNTS[earlier], COUNTS[later])
        for column, value in expected.items():
            assert r[column] == (pytest.approx(value, abs=1e-9) if value is not None else None), (later, column)
        # Tested only with at least 30 responses (NPS_CHANGE_MIN_RESPONSES' default) in both periods.
        testable = min(sum(COUNTS[earlier]), sum(COUNTS[later])) >= 30
        assert r["is_testable"] is testable
        assert r["is_significant"] is bool(testable and expected["p_value"] is not None and expected["p_value"] < 0.05)
        assert (r["responses_from"], r["responses_to"]) == (sum(COUNTS[earlier]), sum(COUNTS[later]))
        assert r["both_periods_complete"] is (COMPLETE[earlier] and COMPLETE[later])


def test_p_value_boundary_and_worked_example(built):
    con, _ = built
    rows = {(r["period_grain"], r["segment_value"], r["comparison"], r["period_start"].date()): r for r in mart(con)}
    below = rows[("month", "enterprise", "previous_period", D(2025, 7, 1))]  # 30/40/30 -> 53/17/30
    above = rows[("month", "starter", "previous_period", D(2025, 7, 1))]  # 8/74/18 -> 24/58/18
    assert below["z"] == pytest.approx(1.96, abs=1e-4) and below["p_value"] == pytest.approx(0.05, abs=1e-5)
    assert below["p_value"] > 0.05 and below["is_significant"] is False
    assert above["z"] == pytest.approx(1.96, abs=1e-4) and above["p_value"] < 0.05 and above["is_significant"] is True
    # The worked example of docs/metrics.md: 20/10/10 -> 30/5/5.
    example = rows[("month", "all", "previous_period", D(2025, 2, 1))]
    assert (round(example["std_error"], 2), round(example["z"], 2), round(example["p_value"], 3)) == (
        17.12,
        2.19,
        0.028,
    )
    assert (round(example["ci_low"], 1), round(example["ci_high"], 1)) == (4.0, 71.0)
    # Every answer a promoter in both months: the change (0) is exact, nothing to test, never "real".
    exact = rows[("month", "free", "previous_period", D(2025, 7, 1))]
    assert (exact["change"], exact["std_error"], exact["z"], exact["p_value"], exact["is_significant"]) == (
        0.0,
        0.0,
        None,
        None,
        False,
    )


def test_a_rerun_writes_the_same_table(built):
    con, rows = built
    first = con.execute("select * from marts.nps_changes order by all").fetchall()
    assert nps_changes.build(con) == rows
    assert con.execute("select * from marts.nps_changes order by all").fetchall() == first
    comments = dict(
        con.execute("select column_name, comment from duckdb_columns() where table_name = 'nps_changes'").fetchall()
    )
    assert comments["p_value"].startswith("Two-sided p-value")
    assert [column for column, comment in comments.items() if not comment] == []  # every column described


def test_no_earlier_period_gives_an_empty_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    plant(con)
    con.execute("delete from marts.nps_by_period where period_start <> date '2025-01-01'")
    assert nps_changes.build(con) == 0
    assert con.execute("select count(*) from marts.nps_changes").fetchall() == [(0,)]
    types = dict(
        con.execute("select column_name, data_type from duckdb_columns() where table_name = 'nps_changes'").fetchall()
    )
    assert (types["period_start"], types["p_value"], types["is_significant"]) == ("DATE", "DOUBLE", "BOOLEAN")


def test_an_unknown_grain_is_named():
    with pytest.raises(ValueError, match=r"marts\.nps_by_period: unknown period_grain 'year'"):
        nps_changes.compared_start("year", [D(2025, 1, 1)], "previous_period")


def test_the_weekly_digest_reads_its_test_from_the_mart(built, monkeypatch):
    con, _ = built
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, survey_type varchar, "
        "nps_category varchar, response_date date)"
    )
    con.execute("create table marts.comment_classifications (response_id varchar, theme_label varchar)")
    con.execute(
        "create table marts.closed_loop_sla_weekly (week_start date, team varchar, nps_category varchar, "
        "target_due bigint, met_target bigint, met_fast_target bigint)"
    )
    monkeypatch.setattr(from_marts, "MOVER_MIN_RESPONSES", 10)
    digest = from_marts.weekly_digest(con, D(2026, 3, 2))
    overall = reference((4, 4, 2), (9, 6, 5))
    assert digest.nps == pytest.approx(20.0) and digest.responses == 20
    assert digest.nps_change == pytest.approx(overall["change"])
    assert digest.nps_change_p_value == pytest.approx(overall["p_value"])
    assert digest.nps_change == 0.0 and digest.nps_change_significant is False  # 20 -> 20: no move
    enterprise = reference((10, 5, 25), (30, 5, 5))
    [mover] = digest.movers
    assert (mover.segment_type, mover.segment_value, mover.responses) == ("plan", "enterprise", 40)
    assert mover.nps_change == pytest.approx(enterprise["change"]) and mover.significant is True
    assert mover.p_value == pytest.approx(enterprise["p_value"])
    # The message says whether each move is real, from the test (p-value at 3 decimals).
    blocks = weekly_digest_blocks(digest)
    assert ", +0.0 vs the previous week, p = 1.000: may be noise" in blocks[1]["text"]["text"]
    assert blocks[2]["text"]["text"] == (
        "*Movers*\n\u2022 plan enterprise: NPS +62.5 (+100.0, 40 responses, p < 0.001: a real move)"
    )


def test_too_few_responses_are_never_called_significant(tmp_path, monkeypatch):
    # The planted data has small periods whose p-value is below 0.05: significant only once the floor allows it.
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    plant(con)
    small_and_low = [
        r for r in (nps_changes.build(con), mart(con))[1] if min(r["responses_from"], r["responses_to"]) < 30
    ]
    assert small_and_low and not any(r["is_significant"] for r in small_and_low)
    monkeypatch.setenv("NPS_CHANGE_MIN_RESPONSES", "1")
    nps_changes.build(con)
    floor_one = {(r["period_grain"], r["period_start"], r["segment_value"], r["comparison"]): r for r in mart(con)}
    assert any(
        floor_one[(r["period_grain"], r["period_start"], r["segment_value"], r["comparison"])]["is_significant"]
        for r in small_and_low
        if r["p_value"] is not None and r["p_value"] < 0.05
    )
    con.close()
