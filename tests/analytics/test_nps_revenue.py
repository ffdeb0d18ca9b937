"""The revenue-per-NPS-point regression on panels with a known, planted slope.

Coefficients are checked against scikit-learn's LinearRegression on a design built here with pandas, the
standard errors against a per-account loop, and the interval's coverage by simulation: a 95% interval must
contain the true slope in about 95% of samples even when an account's observations share a common shock
(where the textbook, non-clustered standard error would cover far less often).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from analytics import nps_revenue

PLAN_EFFECT = {"Starter": -40.0, "Growth": 0.0, "Business": 60.0}
MONTHS = pd.date_range("2025-01-01", periods=8, freq="MS")


def synthetic_panel(seed: int, slope: float, accounts: int = 150, account_shock: float = 120.0) -> pd.DataFrame:
    """Accounts observed in every cohort month; y (the 6-month MRR change) = slope x score + controls + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(accounts):
        plan = list(PLAN_EFFECT)[number % 3]
        joined = int(rng.integers(0, 30))
        shock = rng.normal(0, account_shock)  # shared by all of the account's observations
        usual_score = int(rng.integers(0, 11))  # and so is, roughly, what the account says
        for index, month in enumerate(MONTHS):
            score = int(np.clip(usual_score + rng.integers(-1, 2), 0, 10))
            tenure = joined + index
            change = slope * score + PLAN_EFFECT[plan] + 2.0 * tenure + 15.0 * index + shock + rng.normal(0, 60)
            starting = 500.0 + 10 * number % 300
            rows.append(
                {
                    "account_id": f"acc_{number:04d}",
                    "month_start": month.date(),
                    "starting_mrr_usd": starting,
                    "plan": plan,
                    "tenure_months": tenure,
                    "nps_score": score,
                    "mrr_after_3m_usd": None,
                    "mrr_after_6m_usd": starting + change,
                    "mrr_after_12m_usd": None,
                }
            )
    return pd.DataFrame(rows)


def by_key(estimates: list[nps_revenue.Estimate]) -> dict[tuple[int, str], nps_revenue.Estimate]:
    return {(e.horizon_months, e.outcome): e for e in estimates}


def test_the_slope_matches_an_independent_fit_and_the_interval_excludes_zero():
    panel = synthetic_panel(seed=1, slope=40.0)
    estimate = by_key(nps_revenue.estimate_all(panel))[(6, "mrr_change_usd")]

    y = panel.mrr_after_6m_usd - panel.starting_mrr_usd
    controls = pd.get_dummies(panel[["plan"]].assign(month=panel.month_start.astype(str)), drop_first=True)
    x = pd.concat([panel[["nps_score", "tenure_months"]], controls], axis=1).astype(float)
    reference = LinearRegression().fit(x, y)
    assert estimate.estimate == pytest.approx(reference.coef_[0], rel=1e-9)

    # Cluster-robust standard error, one account at a time.
    design = np.column_stack([np.ones(len(x)), x.to_numpy()])
    residuals = y.to_numpy() - reference.predict(x)
    bread = np.linalg.inv(design.T @ design)
    meat = np.zeros_like(bread)
    for account in panel.account_id.unique():
        rows = (panel.account_id == account).to_numpy()
        score = design[rows].T @ residuals[rows]
        meat += np.outer(score, score)
    n, k, groups = len(panel), design.shape[1], panel.account_id.nunique()
    variance = bread @ meat @ bread * groups / (groups - 1) * (n - 1) / (n - k)
    assert estimate.std_error == pytest.approx(np.sqrt(variance[1, 1]), rel=1e-9)

    assert estimate.ci_low < 40.0 < estimate.ci_high
    assert estimate.ci_low > 0
    assert (estimate.observations, estimate.accounts, estimate.cohort_months) == (1200, 150, 8)
    # Horizons without observed history are reported, with the reason, not estimated.
    missing = by_key(nps_revenue.estimate_all(panel))[(12, "mrr_change_usd")]
    assert missing.estimate is None and missing.observations == 0 and "not estimated" in missing.note


def test_the_interval_covers_the_true_slope_95_percent_of_the_time():
    samples = 200
    covered = bootstrap_covered = 0
    for seed in range(samples):
        estimate = by_key(nps_revenue.estimate_all(synthetic_panel(seed=seed, slope=25.0, accounts=60)))[
            (6, "mrr_change_usd")
        ]
        covered += estimate.ci_low <= 25.0 <= estimate.ci_high
        bootstrap_covered += estimate.bootstrap_ci_low <= 25.0 <= estimate.bootstrap_ci_high
    # Binomial(200, 0.95) lies in [181, 197] with probability above 99.5%.
    assert 181 <= covered <= 197, covered
    assert 181 <= bootstrap_covered <= 197, bootstrap_covered


def test_no_relation_gives_an_interval_around_zero():
    estimate = by_key(nps_revenue.estimate_all(synthetic_panel(seed=3, slope=0.0)))[(6, "mrr_change_usd")]
    assert estimate.ci_low < 0 < estimate.ci_high


def test_growth_percent_is_the_relative_change():
    panel = synthetic_panel(seed=4, slope=40.0)
    estimate = by_key(nps_revenue.estimate_all(panel))[(6, "mrr_growth_pct")]
    y = 100 * (panel.mrr_after_6m_usd / panel.starting_mrr_usd - 1)
    controls = pd.get_dummies(panel[["plan"]].assign(month=panel.month_start.astype(str)), drop_first=True)
    x = pd.concat([panel[["nps_score", "tenure_months"]], controls], axis=1).astype(float)
    assert estimate.estimate == pytest.approx(LinearRegression().fit(x, y).coef_[0], rel=1e-9)
    assert estimate.mean_outcome == pytest.approx(y.mean())


def test_too_few_observations_are_not_estimated():
    panel = synthetic_panel(seed=5, slope=40.0, accounts=3)
    estimate = by_key(nps_revenue.estimate_all(panel))[(6, "mrr_change_usd")]
    assert estimate.estimate is None and estimate.ci_low is None
    assert estimate.observations == 24 and estimate.accounts == 3
    assert "needs 30" in estimate.note


def test_write_replaces_the_table_and_reruns_change_nothing():
    estimates = nps_revenue.estimate_all(synthetic_panel(seed=6, slope=40.0))
    with duckdb.connect() as con:
        assert nps_revenue.write(con, estimates) == 6
        first = con.execute(f"select * from {nps_revenue.TABLE} order by all").fetchall()
        nps_revenue.write(con, estimates)
        second = con.execute(f"select * from {nps_revenue.TABLE} order by all").fetchall()
    assert first == second and len(first) == 6
    row = {(r[0], r[1]): r for r in first}[(6, "mrr_change_usd")]
    assert row[2] == pytest.approx(by_key(estimates)[(6, "mrr_change_usd")].estimate)


def reference_design(panel: pd.DataFrame) -> pd.DataFrame:
    controls = pd.get_dummies(panel[["plan"]].assign(month=panel.month_start.astype(str)), drop_first=True)
    return pd.concat([panel[["nps_score", "tenure_months"]], controls], axis=1).astype(float)


def test_the_bootstrap_resamples_whole_accounts_with_a_fixed_seed(monkeypatch):
    monkeypatch.setattr(nps_revenue, "BOOTSTRAP_REPLICATIONS", 40)
    panel = synthetic_panel(seed=7, slope=30.0, accounts=40)
    estimate = by_key(nps_revenue.estimate_all(panel))[(6, "mrr_change_usd")]

    # The same draws (the documented seed, accounts in order of first appearance), refitted with scikit-learn on
    # the rows of the drawn accounts, an account drawn twice copied twice.
    accounts = list(panel.account_id.unique())
    draws = np.random.default_rng(nps_revenue.BOOTSTRAP_SEED).multinomial(
        len(accounts), np.full(len(accounts), 1 / len(accounts)), size=40
    )
    slopes = []
    for counts in draws:
        chosen = [account for account, count in zip(accounts, counts, strict=True) for _ in range(count)]
        sample = pd.concat([panel[panel.account_id == account] for account in chosen], ignore_index=True)
        y = sample.mrr_after_6m_usd - sample.starting_mrr_usd
        slopes.append(LinearRegression().fit(reference_design(sample), y).coef_[0])
    low, high = np.quantile(slopes, [0.025, 0.975])
    assert estimate.bootstrap_ci_low == pytest.approx(low, rel=1e-7)
    assert estimate.bootstrap_ci_high == pytest.approx(high, rel=1e-7)
    assert estimate.bootstrap_replications == 40 and estimate.interval_method == "cluster_ols_t"
    # Deterministic: a second run draws the same accounts.
    assert by_key(nps_revenue.estimate_all(panel))[(6, "mrr_change_usd")] == estimate


def test_the_winsorised_variant_clips_the_outcome_at_its_1st_and_99th_percentile():
    panel = synthetic_panel(seed=8, slope=30.0)
    big = panel.account_id == "acc_0007"  # a large churner: loses 20 000 a month on every row
    panel.loc[big, "mrr_after_6m_usd"] = panel.loc[big, "starting_mrr_usd"] - 20_000.0
    estimate = by_key(nps_revenue.estimate_all(panel))[(6, "mrr_change_usd")]
    y = (panel.mrr_after_6m_usd - panel.starting_mrr_usd).to_numpy()
    clipped = np.clip(y, np.percentile(y, 1), np.percentile(y, 99))
    assert clipped.min() > -20_000
    reference = LinearRegression().fit(reference_design(panel), clipped).coef_[0]
    assert estimate.winsorised_estimate == pytest.approx(reference, rel=1e-9)
    middle = (estimate.winsorised_ci_low + estimate.winsorised_ci_high) / 2
    assert middle == pytest.approx(reference, rel=1e-9) and estimate.winsorised_ci_low < reference
