"""The backtest's metrics on hand-made scorings, checked against counts worked out independently."""

from __future__ import annotations

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
