"""The backtest's metrics on hand-made scorings, checked against counts worked out independently."""

from __future__ import annotations

import math
from datetime import date
from itertools import product

import numpy as np
import pandas as pd
import pytest

from analytics import churn_backtest as cb


def pairwise_auc(labels: list[int], scores: list[float]) -> float:
    """AUC as the share of (churner, stayer) pairs ranked right, ties counting half."""
    pairs = [(p, n) for p, n in product(range(len(labels)), repeat=2) if labels[p] == 1 and labels[n] == 0]
    won = sum(1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs)
    return won / len(pairs)


def test_auc_counts_ranked_pairs_and_ties_half():
    labels = [1, 0, 1, 0, 0, 1, 0, 0]
    scores = [80.0, 80.0, 35.0, 10.0, 0.0, 0.0, 55.0, 0.0]
    assert cb.auc(np.array(labels), np.array(scores)) == pytest.approx(pairwise_auc(labels, scores))
    assert cb.auc(np.array([0, 0]), np.array([1.0, 2.0])) is None


def test_top_decile_precision_and_recall():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    scores = np.array([90, 5, 5, 5, 5, 5, 5, 5, 5, 5, 95, 5, 5, 5, 5, 5, 5, 5, 5, 0], dtype=float)
    # The top 10% of 20 accounts are the two highest scores (95 and 90): both churned, out of 3 churners.
    assert cb.top_share_precision_recall(labels, scores) == (1.0, pytest.approx(2 / 3))


def scoring(months: int, accounts: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for month, account in product(range(months), range(accounts)):
        detractor = rng.random() < 0.2
        usage = rng.normal(-0.3 if detractor else 0.0, 0.2)
        churned = rng.random() < (0.4 if usage < -0.3 else 0.03)
        risk = 35 * detractor + 25 * (usage <= -0.2)
        rows.append(
            {
                "as_of_date": date(2026, month + 1, 1),
                "account_id": f"acc_{account}",
                "risk_score": risk,
                "risk_tier": "high" if risk >= 60 else "medium" if risk >= 30 else "low",
                "churned_within_90d": churned,
                **{f"is_{rule}_driver": False for rule in ("nps_drop", "failed_payments", "no_recent_nps")},
                "is_detractor_driver": detractor,
                "is_usage_decline_driver": usage <= -0.2,
                **{column: 0.0 for column in cb.NUMERIC},
                "usage_change_30d": usage,
                "latest_nps_score": 3.0 if detractor else 9.0,
            }
        )
    return pd.DataFrame(rows)


def test_backtest_reports_rules_per_month_calibration_and_a_time_split_challenger():
    frame = scoring(months=10, accounts=200, seed=1)
    result = cb.run(frame).frame()
    metric = result.set_index(["model", "evaluation", "scoring_month", "risk_tier", "metric"])["value"]
    overall = cb.run(frame)
    assert metric[("rules", "all_months", None, None, "auc")] == pytest.approx(
        pairwise_auc(frame.churned_within_90d.astype(int).tolist(), frame.risk_score.astype(float).tolist())
    )
    assert metric[("rules", "all_months", None, None, "accounts")] == 2000
    # Calibration: observed churn per tier, counted directly.
    for tier, group in frame.groupby("risk_tier"):
        assert metric[("rules", "calibration", None, tier, "churn_rate")] == pytest.approx(
            group.churned_within_90d.mean()
        )
    # One row set per month, and the challenger is trained on months 1-6 and tested on 7-10 only.
    assert len(result[(result.evaluation == "month") & (result.metric == "auc")]) == 10
    split = date(2026, 7, 1)
    test = frame[frame.as_of_date >= split]
    assert metric[("rules", "test_months", split, None, "accounts")] == len(test)
    assert metric[("logistic_regression", "train_months", split, None, "accounts")] == 1200
    # The model sees the continuous usage change the rules cut at -20%, so it ranks better here.
    assert overall.challenger_test_auc > overall.rules_test_auc
    assert overall.default_model == (
        "logistic_regression" if overall.challenger_test_auc >= overall.rules_test_auc + cb.MIN_AUC_GAIN else "rules"
    )
    assert result[result.metric == "is_default"].model.tolist() == [overall.default_model]


def test_the_challenger_reads_every_driver_flag_of_the_seed():
    frame = scoring(months=1, accounts=3, seed=3).assign(is_cancellation_requested_driver=True)
    assert cb.driver_flags(frame) == [
        "is_cancellation_requested_driver",
        "is_detractor_driver",
        "is_failed_payments_driver",
        "is_no_recent_nps_driver",
        "is_nps_drop_driver",
        "is_usage_decline_driver",
    ]


def test_rules_stay_default_when_the_challenger_does_not_win_by_the_margin():
    frame = scoring(months=6, accounts=100, seed=2)
    # Make the rules perfect: score = label. No model can beat an AUC of 1.
    frame["risk_score"] = frame.churned_within_90d.astype(int) * 100
    backtest = cb.run(frame)
    assert backtest.rules_test_auc == 1.0
    assert backtest.default_model == "rules"


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval, from its formula (Wilson 1927; Brown, Cai and DasGupta 2001)."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return centre - half, centre + half


def test_calibration_per_tier_has_wilson_intervals_and_the_mean_score():
    frame = scoring(months=4, accounts=150, seed=4)
    metric = cb.run(frame).frame().set_index(["model", "evaluation", "scoring_month", "risk_tier", "metric"])["value"]
    for tier, group in frame.groupby("risk_tier"):
        low, high = wilson(int(group.churned_within_90d.sum()), len(group))
        assert metric[("rules", "calibration", None, tier, "churn_rate_ci_low")] == pytest.approx(low, abs=1e-12)
        assert metric[("rules", "calibration", None, tier, "churn_rate_ci_high")] == pytest.approx(high, abs=1e-12)
        assert metric[("rules", "calibration", None, tier, "avg_risk_score")] == pytest.approx(group.risk_score.mean())
    assert wilson(0, 20)[0] == pytest.approx(0.0, abs=1e-12) and cb.wilson_interval(0, 20)[1] == pytest.approx(
        wilson(0, 20)[1]
    )


def test_the_auc_interval_resamples_accounts_and_is_deterministic():
    rng = np.random.default_rng(5)
    labels = (rng.random(120) < 0.3).astype(int)
    scores = rng.normal(labels * 0.8, 1.0)
    accounts = np.array([f"acc_{i:03d}" for i in range(120)])
    once = cb.bootstrap_auc_interval(labels, scores, accounts, draws=400)
    assert once == cb.bootstrap_auc_interval(labels, scores, accounts, draws=400)
    low, high = once
    assert low < cb.auc(labels, scores) < high
    # Each account scored in 6 months with the same values: the months add no information, so resampling
    # accounts gives exactly the same interval (a row bootstrap would be about sqrt(6) narrower).
    repeated = cb.bootstrap_auc_interval(np.repeat(labels, 6), np.repeat(scores, 6), np.repeat(accounts, 6), draws=400)
    assert repeated == pytest.approx(once, abs=1e-12)


def test_the_auc_interval_covers_the_population_auc():
    """Binormal scores (stayers N(0, 1), churners N(1, 1)): the population AUC is Phi(1 / sqrt(2)). Over 60
    independent samples of 150 accounts the 95% interval covers it at least 51 times (expected 57)."""
    truth = 0.5 * (1 + math.erf(1 / math.sqrt(2) / math.sqrt(2)))
    rng = np.random.default_rng(6)
    covered = 0
    for sample in range(60):
        labels = (rng.random(150) < 0.3).astype(int)
        scores = rng.normal(labels * 1.0, 1.0)
        low, high = cb.bootstrap_auc_interval(labels, scores, np.arange(150), draws=300, seed=sample)
        covered += low <= truth <= high
    assert covered >= 51, covered


def test_weighted_auc_counts_weighted_pairs():
    labels = [1, 0, 1, 0, 0, 1, 0, 0]
    scores = [80.0, 80.0, 35.0, 10.0, 0.0, 0.0, 55.0, 0.0]
    weights = [2, 1, 0, 3, 1, 1, 2, 1]
    # Repeating each row as many times as its weight, then counting pairs.
    repeated_labels = [lab for lab, w in zip(labels, weights, strict=True) for _ in range(w)]
    repeated_scores = [s for s, w in zip(scores, weights, strict=True) for _ in range(w)]
    group = np.unique(scores, return_inverse=True)[1]
    assert cb.weighted_auc(group, np.array(labels, dtype=bool), np.array(weights)) == pytest.approx(
        pairwise_auc(repeated_labels, repeated_scores)
    )
