"""marts.followup_effect on planted input tables, against figures worked out by hand (docs/metrics.md "Follow-up
effect"): the contact-group boundaries, the respondent's (not the account's) next answer, a pending response left
out, a unit without an account unmatched, two detractors of one account in one cluster, and horizons not yet landed.

Stratum S = (Starter, 100-499, score 3). within_4h: a1 (account A, next 10). within_24h: c1 (C, exactly 24 h, next
8; MRR 200 -> 300) and d1 (no account: its own stratum, next 9). later_or_never: a3 (A, a colleague of a1 with no
answer of their own after), b1 (B, next 6, churns on Feb 1), g1 (G, next 8). All answered on 2026-01-10.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import duckdb
import pytest

from analytics import followup_effect

Z = 1.959963984540054

CLOSED_LOOP = [
    # response_id, account_id, hours_to_first_outreach, target_status
    ("a1", "acc_a", 2.0, "met"),
    ("a3", "acc_a", None, "missed"),
    ("b1", "acc_b", 30.0, "missed"),
    ("b2", "acc_b", None, "pending"),  # b1's next answer, a detractor too, still inside its 24 hours
    ("c1", "acc_c", 24.0, "met"),
    ("d1", None, 5.0, "met"),
    ("g1", "acc_g", None, "missed"),
]
RESPONSES = [
    # response_id, respondent, account, responded_at, score
    ("a1", "ann", "acc_a", "2026-01-10 10:00", 3),
    ("a3", "al", "acc_a", "2026-01-10 10:00", 3),
    ("a2", "ann", "acc_a", "2026-02-01 10:00", 10),  # account A's next answer: not al's
    ("b1", "bo", "acc_b", "2026-01-10 10:00", 3),
    ("b2", "bo", "acc_b", "2026-02-01 10:00", 6),
    ("c1", "cy", "acc_c", "2026-01-10 10:00", 3),
    ("c2", "cy", "acc_c", "2026-02-01 10:00", 8),
    ("d1", "dee", None, "2026-01-10 10:00", 3),
    ("d2", "dee", None, "2026-02-01 10:00", 9),
    ("g1", "gil", "acc_g", "2026-01-10 10:00", 3),
    ("g2", "gil", "acc_g", "2026-02-01 10:00", 8),
]
BILLING = [
    ("acc_a", "2025-12-01", None, 100),
    ("acc_b", "2025-12-01", "2026-02-01", 100),
    ("acc_b", "2026-02-01", None, 0),
    ("acc_c", "2025-12-01", "2026-03-01", 200),
    ("acc_c", "2026-03-01", None, 300),
    ("acc_g", "2025-12-01", None, 100),
    ("acc_z", "2026-07-15", None, 50),  # the latest billing day: 90 days and 6 months after Jan 10 are landed
]


def warehouse(billing=BILLING) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts; create schema intermediate")
    con.execute(
        "create table marts.closed_loop (response_id varchar, response_date date, nps_category varchar, "
        "score integer, account_id varchar, hours_to_first_outreach double, target_status varchar)"
    )
    scores = {r[0]: r[4] for r in RESPONSES}
    for response_id, account, hours, status in CLOSED_LOOP:
        day = "2026-02-01" if response_id == "b2" else "2026-01-10"
        con.execute(
            "insert into marts.closed_loop values (?, ?, 'detractor', ?, ?, ?, ?)",
            [response_id, day, scores[response_id], account, hours, status],
        )
    con.execute("insert into marts.closed_loop values ('a2', '2026-02-01', 'promoter', 10, 'acc_a', null, 'met')")
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, respondent_key varchar, account_id varchar, "
        "responded_at timestamp, score integer, plan varchar, mrr_band varchar)"
    )
    for response_id, person, account, at, score in RESPONSES:
        plan, band = ("Starter", "100-499") if account else (None, None)
        con.execute(
            "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?)",
            [response_id, f"email:{person}", account, datetime.fromisoformat(at), score, plan, band],
        )
    con.execute("insert into marts.fct_survey_responses values ('ces1', null, 'acc_a', '2026-01-20', 2, null, null)")
    con.execute(
        "create table intermediate.int_account_billing_historized "
        "(account_id varchar, valid_from_date date, valid_to_date date, mrr_usd double)"
    )
    for account, start, end, mrr in billing:
        con.execute(
            "insert into intermediate.int_account_billing_historized values (?, ?, ?, ?)",
            [account, date.fromisoformat(start), None if end is None else date.fromisoformat(end), mrr],
        )
    return con


def mart(con) -> dict[tuple[str, str], dict]:
    cursor = con.execute("select * from marts.followup_effect")
    names = [c[0] for c in cursor.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


@pytest.mark.parametrize(
    ("hours", "status", "group"),
    [
        (0.5, "met", "within_4h"),
        (4.0, "met", "within_4h"),  # exactly 4 h
        (4.0001, "met", "within_24h"),
        (24.0, "met", "within_24h"),  # exactly 24 h
        (24.0001, "missed", "later_or_never"),
        (None, "missed", "later_or_never"),  # never contacted
        (float("nan"), "missed", "later_or_never"),
        (None, "pending", None),  # still inside its 24 hours: left out
    ],
)
def test_contact_groups_at_their_boundaries(hours, status, group):
    assert followup_effect.contact_group(hours, status) == group


def test_every_figure_by_hand():
    con = warehouse()
    assert followup_effect.build(con) == 12
    rows = mart(con)
    later = {o: rows[("later_or_never", o)] for o in followup_effect.OUTCOMES}
    # Comparison: next answers 6 (b1) and 8 (g1), a3's colleague's answer does not count; churn b1 only.
    assert (later["next_score"]["units"], later["next_score"]["value"]) == (2, 7.0)
    assert (later["next_nps"]["value"], later["churn_90d"]["value"]) == (-50.0, pytest.approx(1 / 3))
    assert (later["churn_90d"]["units"], later["churn_90d"]["accounts"]) == (3, 3)
    assert later["nrr_6m"]["value"] == pytest.approx(200 / 300)
    assert later["next_score"]["difference"] is None

    # Variance (docs/metrics.md): influences in cells of n >= 2 units scaled by sqrt(n / (n - 1)), summed per
    # cluster and squared; a single-unit cell (every fast cell here) adds w^2 s^2, s^2 the pooled within-cell
    # variance of (y - R x) / x over the cells of two or more (here the comparison cell only, n - 1 degrees of
    # freedom).
    # next_score: comparison b1 6, g1 8, R 7; influences -(-1) / 2 * sqrt(2) and -(1) / 2 * sqrt(2), squared sum 1;
    # s^2 = (1 + 1) / 1 = 2 for the single fast unit: 1 + 2 = 3.
    se_next = math.sqrt(3)
    # next_nps: comparison -100 and 0, R -50, residuals -/+50: squared influences 2 * (25 * sqrt(2))^2 = 2500;
    # s^2 = 5000 / 1.
    se_nps = math.sqrt(2500 + 5000)
    # churn: comparison a3 0, b1 1, g1 0, R 1/3, residuals -1/3, 2/3, -1/3; influences (-residual / 3) *
    # sqrt(3 / 2): squared sum 1.5 * 6 / 81 = 1/9 (a1 and a3 share cluster A, a1 adds no influence); s^2 = (6 / 9)
    # / 2 = 1/3: 1/9 + 1/3.
    se_churn = math.sqrt(1 / 9 + 1 / 3)
    # NRR: comparison x 100, 100, 100 and y 100, 0, 100, R 2/3, residuals 100/3, -200/3, 100/3: influences (-residual
    # / 300) * sqrt(3 / 2), squared sum 1/9; s^2 of the residuals relative to x: (1 + 4 + 1) / 9 / 2 = 1/3, whatever
    # the fast unit's x (a1 100, c1 200).
    se_nrr_a = se_nrr_c = math.sqrt(1 / 9 + 1 / 3)
    expected = {
        ("within_4h", "next_score"): (1, 1, 10.0, 1, 1, 2, 10.0, 7.0, 3.0, se_next),
        ("within_24h", "next_score"): (2, 1, 8.5, 1, 1, 2, 8.0, 7.0, 1.0, se_next),
        ("within_4h", "next_nps"): (1, 1, 100.0, 1, 1, 2, 100.0, -50.0, 150.0, se_nps),
        ("within_24h", "next_nps"): (2, 1, 50.0, 1, 1, 2, 0.0, -50.0, 50.0, se_nps),
        ("within_4h", "churn_90d"): (1, 1, 0.0, 1, 1, 3, 0.0, 1 / 3, -1 / 3, se_churn),
        ("within_24h", "churn_90d"): (1, 1, 0.0, 1, 1, 3, 0.0, 1 / 3, -1 / 3, se_churn),
        ("within_4h", "nrr_6m"): (1, 1, 1.0, 1, 1, 3, 1.0, 2 / 3, 1 / 3, se_nrr_a),
        ("within_24h", "nrr_6m"): (1, 1, 1.5, 1, 1, 3, 1.5, 2 / 3, 1.5 - 2 / 3, se_nrr_c),
    }
    columns = ("units", "accounts", "value", "matched_units", "strata", "comparison_units")
    columns += ("matched_value", "comparison_value", "difference", "std_error")
    for key, values in expected.items():
        row = rows[key]
        for column, value in zip(columns, values, strict=True):
            assert row[column] == pytest.approx(value, abs=1e-9), (key, column)
        assert row["ci_low"] == pytest.approx(row["difference"] - Z * row["std_error"], abs=1e-8)
        assert row["ci_high"] == pytest.approx(row["difference"] + Z * row["std_error"], abs=1e-8)
        z = row["difference"] / row["std_error"]
        assert row["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-8)  # from rounded inputs


def test_horizons_not_yet_landed_are_not_observed():
    con = warehouse([b for b in BILLING if b[0] != "acc_z"])  # billing ends on 2026-03-01: before Apr 10
    followup_effect.build(con)
    rows = mart(con)
    for group in followup_effect.GROUPS:
        assert rows[(group, "churn_90d")]["units"] == 0 and rows[(group, "nrr_6m")]["units"] == 0
        assert rows[(group, "churn_90d")]["value"] is None
    assert rows[("within_4h", "churn_90d")]["matched_units"] == 0
    assert rows[("within_4h", "churn_90d")]["difference"] is None
    assert rows[("within_4h", "next_score")]["difference"] == 3.0  # the next answers do not wait for billing


def test_the_same_input_writes_the_same_table():
    con = warehouse()
    followup_effect.build(con)
    first = con.execute("select * from marts.followup_effect order by all").fetchall()
    followup_effect.build(con)
    assert con.execute("select * from marts.followup_effect order by all").fetchall() == first
    comments = dict(
        con.execute("select column_name, comment from duckdb_columns() where table_name = 'followup_effect'").fetchall()
    )
    assert comments["contact_group"].startswith("within_4h")
