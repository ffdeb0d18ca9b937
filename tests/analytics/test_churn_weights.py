"""Suggested churn-rule points: the shares of each rule's points, the fit on planted log-odds, the time split."""

from __future__ import annotations

import math
from datetime import date
from itertools import product

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import churn_backtest as cb
from analytics import churn_weights as cw

SEED_COLUMNS = ["rule", "kind", "operator", "feature", "lower_threshold", "threshold", "when_missing", "weight"]


def seed_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def warehouse(seed: pd.DataFrame, signals: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema seeds; create schema intermediate")
    con.register("s", seed)
    con.execute("create table seeds.churn_risk_rules as select * from s")
    con.register("g", signals)
    con.execute("create table intermediate.int_account_signals_daily as select * from g")
    return con


def test_shares_give_back_the_score_of_the_seed():
    seed = seed_frame(
        [
            ("detractor", "driver", "<=", "latest_nps_score_365d", None, 6, "false", 35),
            ("depth", "driver", "scale", "latest_nps_score_365d", 7, 0, "false", 20),
            ("fall", "driver", "scale", "usage_decline_30d", 0.2, 0.8, "true", 20),
            ("high", "tier", None, None, None, 60, None, None),
        ]
    )
    day = date(2026, 3, 1)
    signals = pd.DataFrame(
        {
            "as_of_date": [day] * 4,
            "account_id": ["a", "b", "c", "d"],
            "latest_nps_score_365d": [3.0, 9.0, None, 0.0],
            "usage_decline_30d": [0.5, 0.1, None, 0.9],
        }
    )
    frame = pd.DataFrame(
        {
            "as_of_date": [pd.Timestamp(day)] * 4,
            "account_id": ["a", "b", "c", "d"],
            # The flags as account_health sets them (a scale rule applies when its share is above 0; a missing
            # value applies as when_missing says).
            "is_detractor_driver": [True, False, False, True],
            "is_depth_driver": [True, False, False, True],
            "is_fall_driver": [True, False, True, True],
        }
    )
    con = warehouse(seed, signals)
    rules = cw.rules(con)
    assert rules.rule.tolist() == ["depth", "detractor", "fall"]  # drivers only
    shares = cw.add_shares(con, frame, rules)
    # By hand: depth (7 - score) / 7; fall (decline - 0.2) / 0.6 clipped to 0-1, 1 when missing (when_missing).
    assert shares.share_depth.tolist() == pytest.approx([4 / 7, 0, 0, 1])
    assert shares.share_fall.tolist() == pytest.approx([0.5, 0, 1, 1])
    assert shares.share_detractor.tolist() == [1, 0, 0, 1]
    # 35 + 20 * 4/7 + 20 * 0.5 = 56.43 -> 56; 0; 20; 35 + 20 + 20 = 75. Rounded half away from zero, as SQL.
    points = dict(zip(rules.rule, rules.weight.astype(float), strict=True))
    assert cw.score(shares, points).tolist() == [56, 0, 20, 75]
    assert cw.score(shares.assign(share_fall=[0.0, 0.0, 0.525, 0.0]), points).tolist() == [46, 0, 11, 55]
    assert cw.score(shares, {**points, "detractor": 90}).tolist() == [100, 0, 20, 100]  # capped at 100


def planted(months: int, accounts: int, seed: int, truth: dict[str, float], intercept: float) -> pd.DataFrame:
    """Account-months whose churn log-odds are `intercept` + sum of truth[rule] x share (a known model)."""
    rng = np.random.default_rng(seed)
    rows = []
    for month, account in product(range(months), range(accounts)):
        shares = {rule: float(rng.random() < 0.25) for rule in ("a", "b")}
        shares["graded"] = float(rng.random()) if rng.random() < 0.3 else 0.0
        logit = intercept + sum(truth[rule] * shares[rule] for rule in shares)
        rows.append(
            {
                "as_of_date": date(2026, month + 1, 1),
                "account_id": f"acc_{account:03d}",
                "churned_within_90d": bool(rng.random() < 1 / (1 + math.exp(-logit))),
                **{f"share_{rule}": value for rule, value in shares.items()},
                **{f"is_{rule}_driver": value > 0 for rule, value in shares.items()},
                **{column: 0.0 for column in cb.NUMERIC},
                # Today's points: reasoned, and wrong for rule b (no effect) and for graded (twice its worth).
                "risk_score": round(20 * shares["a"] + 20 * shares["b"] + 20 * shares["graded"]),
            }
        )
    frame = pd.DataFrame(rows)
    frame["risk_tier"] = np.where(frame.risk_score >= 30, "medium", "low")
    return frame


TRUTH = {"a": 1.6, "b": 0.0, "graded": 0.8}
SEED = seed_frame(
    [
        ("a", "driver", ">=", "x", None, 1, "false", 20),
        ("b", "driver", ">=", "y", None, 1, "false", 20),
        ("graded", "driver", "scale", "z", 0, 1, "false", 20),
    ]
)


def test_the_fit_finds_planted_log_odds_and_puts_them_on_the_point_scale(monkeypatch):
    monkeypatch.setattr(cw, "BOOTSTRAP_DRAWS", 100)  # the backtest's own fit below: a shorter test
    frame = planted(months=10, accounts=400, seed=1, truth=TRUTH, intercept=-2.5)
    split = cb.first_test_month(frame)
    assert split == date(2026, 7, 1)
    weights = cw.fit(frame, SEED, split)
    table = weights.table.set_index("rule")
    assert set(table.train_account_months) == {6 * 400}
    for rule, value in TRUTH.items():
        # The planted log-odds lie inside the interval (a regularised fit shrinks a little towards 0).
        assert table.coefficient_ci_low[rule] <= value <= table.coefficient_ci_high[rule], rule
    assert abs(table.coefficient["a"] - 1.6) < 0.3 and abs(table.coefficient["b"]) < 0.3
    # Points per log-odds from an independent fit of the label on today's score (statsmodels, no penalty).
    import statsmodels.api as sm

    train = frame[frame.as_of_date < split]
    slope = (
        sm.Logit(train.churned_within_90d.astype(float), sm.add_constant(train.risk_score.astype(float)))
        .fit(disp=0)
        .params["risk_score"]
    )
    assert table.suggested_points["a"] == pytest.approx(round(table.coefficient["a"] / slope), abs=1)
    assert table.suggested_points["a"] > table.suggested_points["graded"] > table.suggested_points["b"]
    assert table.suggested_points_ci_low["b"] < 0 < table.suggested_points_ci_high["b"]
    assert table.current_points.tolist() == [20, 20, 20]
    # The suggested points rank the later months better than today's (b is noise at 20 points today).
    test = frame[frame.as_of_date >= split]
    labels = test.churned_within_90d.to_numpy(int)
    assert cb.auc(labels, cw.score(test, weights.suggested)) > cb.auc(labels, test.risk_score.to_numpy(float))
    result = cb.run(frame, SEED).frame().set_index(["model", "evaluation", "metric"])
    assert result.loc[("suggested_weights", "test_months", "auc"), "value"] == pytest.approx(
        cb.auc(labels, cw.score(test, weights.suggested))
    )
    assert result.loc[("suggested_weights", "train_months", "accounts"), "value"] == 6 * 400


def test_the_fit_never_reads_the_test_months_and_is_deterministic():
    frame = planted(months=5, accounts=200, seed=2, truth=TRUTH, intercept=-2.5)
    split = date(2026, 4, 1)
    once = cw.fit(frame, SEED, split, draws=20).table
    scrambled = frame.copy()
    later = scrambled.as_of_date >= split
    scrambled.loc[later, "churned_within_90d"] = ~scrambled.loc[later, "churned_within_90d"]
    scrambled.loc[later, "share_b"] = 1.0
    pd.testing.assert_frame_equal(once, cw.fit(scrambled, SEED, split, draws=20).table)
    pd.testing.assert_frame_equal(once, cw.fit(frame, SEED, split, draws=20).table)


def test_a_rule_with_little_evidence_keeps_its_points():
    frame = planted(months=5, accounts=200, seed=3, truth=TRUTH, intercept=-2.5)
    frame["share_b"] = 0.0
    frame.loc[frame.index[: cw.MIN_FIRED - 1], "share_b"] = 1.0  # fewer than MIN_FIRED training rows
    weights = cw.fit(frame, SEED, date(2026, 4, 1), draws=20)
    row = weights.table.set_index("rule").loc["b"]
    assert row.fired_account_months == cw.MIN_FIRED - 1 and pd.isna(row.suggested_points)
    assert weights.suggested["b"] == 20
    one_label = frame.assign(churned_within_90d=False)
    assert cw.fit(one_label, SEED, date(2026, 4, 1)) is None
    assert cw.fit(frame, SEED, None) is None


def test_the_table_is_written_with_its_columns():
    frame = planted(months=5, accounts=200, seed=4, truth=TRUTH, intercept=-2.5)
    con = duckdb.connect()
    con.execute("create schema marts")
    assert cw.write(con, cw.fit(frame, SEED, date(2026, 4, 1), draws=20)) == 3
    columns = [row[0] for row in con.execute("describe marts.churn_rule_weights").fetchall()]
    assert columns == list(cw.COLUMNS)
    assert cw.write(con, None) == 0
