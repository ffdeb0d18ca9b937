"""Voluntary and involuntary churn in nps_revenue, on a planted set of monthly MRR rows (int tables), built by dbt
(int_account_revenue_cohorts, nps_revenue, their data and unit tests and contract) and recomputed here by the rule of
docs/metrics.md: an account at MRR 0 at a horizon's end takes the churn type of its latest churn month."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

MONTHS = [date(2026, m, 1) for m in range(1, 8)]  # January to July 2026; data up to 31 July
AS_OF = date(2026, 7, 31)
# account: (NPS category, MRR at the end of each month, churn type of each churn month)
PLANTED = {
    "d1": ("detractor", [100, 100, 0, 0, 0, 0, 0], {3: "voluntary"}),
    "d2": ("detractor", [200, 0, 0, 0, 0, 0, 0], {2: "voluntary"}),
    "d3": ("detractor", [50] * 7, {}),
    "d4": ("detractor", [80, 80, 80, 0, 0, 0, 0], {4: "involuntary"}),
    "p1": ("promoter", [100] * 7, {}),
    "p2": ("promoter", [300, 300, 0, 0, 0, 0, 0], {3: "involuntary"}),
    "p3": ("promoter", [150, 150, 150, 150, 200, 200, 200], {}),
    "n1": ("no_response", [70, 70, 0, 0, 0, 0, 0], {3: "unknown"}),
    # Canceled in February, back in March, payment failed in April: its latest churn is involuntary.
    "r1": ("passive", [90, 0, 90, 0, 0, 0, 0], {2: "voluntary", 4: "involuntary"}),
    # Canceled in February, back in April: not churned three months after February.
    "x1": ("passive", [60, 0, 0, 60, 60, 60, 60], {2: "voluntary"}),
}
SCORES = {"detractor": 3, "passive": 7, "promoter": 10}
HORIZONS = (3, 6, 12)


def plant(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_account_mrr_monthly (account_id varchar, month_start date, mrr_usd double, "
        "previous_mrr_usd double, movement_usd double, movement varchar, churn_type varchar, refunds_usd double, "
        "refunded_charges bigint)"
    )
    con.execute(
        "create table intermediate.int_account_billing_historized (account_id varchar, valid_from_date date, "
        "valid_to_date date, plan varchar, mrr_usd double)"
    )
    con.execute(
        "create table intermediate.int_billing_accounts_aggregated (account_id varchar, "
        "first_customer_created_at timestamp, region varchar)"
    )
    con.execute(
        "create table intermediate.int_account_nps_history (account_id varchar, response_id varchar, "
        "responded_at timestamp, response_date date, score integer, nps_category varchar)"
    )
    for account, (category, mrr, churn_types) in PLANTED.items():
        previous = 0
        for month, value in zip(MONTHS, mrr, strict=True):
            is_churn = previous > 0 and value == 0
            assert is_churn == (month.month in churn_types), (account, month)  # the plan is consistent
            con.execute(
                "insert into intermediate.int_account_mrr_monthly values (?, ?, ?, ?, ?, ?, ?, 0, 0)",
                [account, month, value, previous, value - previous, "churn" if is_churn else "other",
                 churn_types.get(month.month)],
            )  # fmt: skip
            previous = value
        con.execute(
            "insert into intermediate.int_account_billing_historized values (?, '2025-12-01', null, 'Pro', ?)",
            [account, mrr[-1]],
        )
        con.execute(
            "insert into intermediate.int_billing_accounts_aggregated values (?, '2025-12-01 08:00:00', 'EMEA')",
            [account],
        )
        if category in SCORES:
            con.execute(
                "insert into intermediate.int_account_nps_history values (?, ?, '2025-12-15 10:00:00', "
                "'2025-12-15', ?, ?)",
                [account, f"r_{account}", SCORES[category], category],
            )
    # The latest billing change is the as-of date: horizons ending by 31 July are observed.
    con.execute("insert into intermediate.int_account_billing_historized values ('zz', ?, null, 'none', 0)", [AS_OF])


@pytest.fixture(scope="module")
def warehouse(dbt_manifest, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("churn_type_by_nps")
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        plant(con)
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "build", "--profiles-dir", ".", "--target-path", str(root / "target")]
    command += ["--select", "int_account_revenue_cohorts", "nps_revenue"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:]
    # The dbt unit tests of both models ran on these tables too (their hand-computed churn types included).
    ran = json.loads((root / "target" / "run_results.json").read_text())["results"]
    unit_tests = {r["unique_id"].rsplit(".", 1)[-1] for r in ran if r["unique_id"].startswith("unit_test.")}
    assert {"revenue_cohorts_follow_the_horizons", "nps_revenue_retention_and_weighting"} <= unit_tests
    assert {r["status"] for r in ran} == {"success", "pass"}
    return warehouse


def expected_rows() -> dict[tuple[date, str], dict[str, float | None]]:
    """Per cohort month and NPS category (and 'all'): the churn split, recomputed from PLANTED."""
    totals: dict[tuple[date, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for category, mrr, churn_types in PLANTED.values():
        for start in range(1, len(MONTHS)):
            starting = mrr[start - 1]
            if starting <= 0:
                continue  # not in the cohort: not paying on the last day of the month before
            for key in ((MONTHS[start], category), (MONTHS[start], "all")):
                totals[key]["accounts"] += 1
                for h in HORIZONS:
                    end = start + h - 1
                    if end >= len(MONTHS):
                        continue  # the horizon's last day is after the data
                    totals[key][f"observed_{h}"] += 1
                    if mrr[end] == 0:
                        latest = max(m for m in churn_types if m - 1 <= end)
                        kind = churn_types[latest]
                        totals[key][f"{kind}_{h}"] += 1
                        totals[key][f"{kind}_mrr_{h}"] += starting
    expected = {}
    for key, counts in totals.items():
        row: dict[str, float | None] = {"accounts": counts["accounts"]}
        for h in HORIZONS:
            observed = counts[f"observed_{h}"]
            for kind in ("voluntary", "involuntary"):
                row[f"{kind}_churn_rate_{h}m"] = round(counts[f"{kind}_{h}"] / observed, 6) if observed else None
                row[f"{kind}_churned_mrr_{h}m_usd"] = counts[f"{kind}_mrr_{h}"] if observed else None
        expected[key] = row
    return expected


def test_churn_by_type_and_nps_category_matches_the_planted_months(warehouse):
    expected = expected_rows()
    columns = list(next(iter(expected.values())))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute(
            f"select month_start, nps_category, {', '.join(columns)} from marts.nps_revenue "
            "where segment_type = 'overall'"
        ).fetchall()
    got = {(row[0], row[1]): dict(zip(columns, row[2:], strict=True)) for row in stored}
    assert set(got) == set(expected)
    for key, row in expected.items():
        assert got[key] == pytest.approx(row), key


def test_february_cohort_by_hand(warehouse):
    """Three months after February (to 30 April): detractors d1 and d2 canceled (100 + 200 USD), d4's payment
    failed (80); promoter p2's payment failed (300); passive r1 canceled, came back and its payment failed (90),
    x1 canceled and came back; n1 churned without a known reason (unknown: in churn_rate_3m only)."""
    sql = (
        "select nps_category, churn_rate_3m, voluntary_churn_rate_3m, involuntary_churn_rate_3m, "
        "voluntary_churned_mrr_3m_usd, involuntary_churned_mrr_3m_usd from marts.nps_revenue "
        "where segment_type = 'overall' and month_start = '2026-02-01'"
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = {row[0]: row[1:] for row in con.execute(sql).fetchall()}
    assert rows == {
        "detractor": (0.75, 0.5, 0.25, 300.0, 80.0),
        "promoter": (pytest.approx(0.333333), 0.0, pytest.approx(0.333333), 0.0, 300.0),
        "passive": (0.5, 0.0, 0.5, 0.0, 90.0),
        "no_response": (1.0, 0.0, 0.0, 0.0, 0.0),
        "all": (0.6, 0.2, 0.3, 300.0, 470.0),
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        types = con.execute(
            "select account_id, churn_type_after_3m, churn_type_after_6m from intermediate.int_account_revenue_cohorts "
            "where month_start = '2026-02-01' order by 1"
        ).fetchall()
    assert types == [
        ("d1", "voluntary", "voluntary"),
        ("d2", "voluntary", "voluntary"),
        ("d3", None, None),
        ("d4", "involuntary", "involuntary"),
        ("n1", "unknown", "unknown"),
        ("p1", None, None),
        ("p2", "involuntary", "involuntary"),
        ("p3", None, None),
        ("r1", "involuntary", "involuntary"),
        ("x1", None, None),
    ]
