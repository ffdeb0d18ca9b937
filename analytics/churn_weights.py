"""Suggested points for the churn-risk rules, fitted on the backtest's scoring days.

The seed's points (seeds/churn_risk_rules.csv, column weight) are reasoned, not fitted. Here each rule's share of
its points on a scoring day (1 when a plain rule applies; a `scale` rule's share of the way from lower_threshold to
threshold; 0 when it does not apply) is read for every account-month of the backtest (churn_backtest.scoring_frame),
and an L2-regularised logistic regression of the 90-day churn label on those shares is fitted on the earlier months
(the backtest's time split). A rule's coefficient is the log-odds of churn it adds at its full points; it is put on
the seed's point scale with the slope of a logistic regression of the label on today's risk_score over the same
months (log-odds per point), so that a suggested score keeps the tiers' thresholds at about the same odds. Intervals:
percentiles 2.5 and 97.5 over resamples of accounts (each drawn account brings all its months), fixed seed.

The suggested score (suggested points times shares, capped at 100, rounded) is compared with today's risk_score on
the later months; a team updates the seed's weights from marts.churn_rule_weights when it wins there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from analytics.tables import replace_table

TABLE = "marts.churn_rule_weights"
REGULARISATION_C = 1.0  # scikit-learn's inverse L2 strength on log-odds per full rule (shares are 0-1)
BOOTSTRAP_DRAWS = 200
BOOTSTRAP_SEED = 20260102
MIN_FIRED = 20  # a rule applying to fewer training account-months gets no suggestion (its points stay)
RULES_SQL = """
    select rule, operator, feature, lower_threshold, threshold, when_missing, weight
    from seeds.churn_risk_rules where kind = 'driver' order by rule
"""
COLUMNS = {
    "rule": "varchar",
    "operator": "varchar",
    "current_points": "double",
    "train_account_months": "integer",
    "fired_account_months": "integer",
    "churn_rate_when_fired": "double",
    "coefficient": "double",
    "coefficient_ci_low": "double",
    "coefficient_ci_high": "double",
    "suggested_points": "double",
    "suggested_points_ci_low": "double",
    "suggested_points_ci_high": "double",
    "first_train_month": "date",
    "first_test_month": "date",
}


def rules(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The driver rows of the seed as built in the warehouse."""
    return con.execute(RULES_SQL).df()


def add_shares(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, seed: pd.DataFrame) -> pd.DataFrame:
    """`frame` (the backtest's scoring frame) with a column share_<rule> per driver: its is_<rule>_driver flag
    times, for a `scale` rule, the share of macros/churn_rules.sql (churn_rule_scale), read from the day's signals
    (int_account_signals_daily). tests/analytics/test_churn_weights.py checks that the shares times the weights
    give back account_health's risk_score."""
    out = frame.copy()
    scale = seed[seed["operator"] == "scale"]
    for feature in scale["feature"]:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", feature):
            raise ValueError(f"seeds/churn_risk_rules.csv: feature {feature!r} is not a column name")
    if len(scale):
        features = sorted(set(scale["feature"]))
        con.register("_scoring_keys", out[["as_of_date", "account_id"]].drop_duplicates())
        try:
            values = con.execute(
                f"select k.as_of_date, k.account_id, {', '.join(f's.{f} as _value_{f}' for f in features)} "
                "from _scoring_keys as k left join intermediate.int_account_signals_daily as s "
                "on s.as_of_date = k.as_of_date and s.account_id = k.account_id"
            ).df()
        finally:
            con.unregister("_scoring_keys")
        values["as_of_date"] = pd.to_datetime(values["as_of_date"])
        out["_join_date"] = pd.to_datetime(out["as_of_date"])
        out = out.merge(
            values.rename(columns={"as_of_date": "_join_date"}), on=["_join_date", "account_id"], how="left"
        ).drop(columns="_join_date")
    for row in seed.itertuples():
        flag = out[f"is_{row.rule}_driver"].fillna(False).astype(float)
        if row.operator == "scale":
            lower, upper = float(row.lower_threshold), float(row.threshold)
            share = ((out[f"_value_{row.feature}"].astype(float) - lower) / (upper - lower)).clip(0.0, 1.0)
            flag = flag * share.fillna(1.0 if str(row.when_missing).lower() == "true" else 0.0)
        out[f"share_{row.rule}"] = flag
    return out.drop(columns=[c for c in out.columns if c.startswith("_value_")])


def score(frame: pd.DataFrame, points: dict[str, float]) -> np.ndarray:
    """The risk score of `points` per rule on the frame's shares: min(100, sum), rounded (as account_health)."""
    total = np.minimum(100.0, sum(frame[f"share_{rule}"].to_numpy(float) * value for rule, value in points.items()))
    return np.sign(total) * np.floor(np.abs(total) + 0.5)  # half away from zero, as SQL round


def _fit(shares: np.ndarray, labels: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients per rule (log-odds at full points) and the log-odds per point of today's score."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000).fit(shares, labels)
    # Per 100 points, so that the solver works on a unit scale; unpenalised in effect.
    slope = LogisticRegression(C=1e6, max_iter=2000).fit(risk.reshape(-1, 1) / 100.0, labels).coef_[0, 0] / 100.0
    return model.coef_[0], float(slope)


def _percentile(values: np.ndarray, q: float) -> float | None:
    """The q-th percentile of the resampled values, NaN (a resample whose score slope was not positive) ignored;
    None without resamples."""
    return float(np.nanpercentile(values, q)) if len(values) else None


@dataclass
class Weights:
    table: pd.DataFrame  # one row per rule: COLUMNS
    suggested: dict[str, float]  # rule -> points (the current points where there is no suggestion)
    current: dict[str, float]
    split: object  # the first test month, or None


def fit(frame: pd.DataFrame, seed: pd.DataFrame, split, draws: int | None = None) -> Weights | None:
    """Fit on the rows before `split` (a scoring month), `draws` resamples (BOOTSTRAP_DRAWS by default) for the
    intervals; None when they do not hold both labels. With `draws=0` (the backtest, which needs only the
    suggested points) no resample is fitted and the intervals are null."""
    draws = BOOTSTRAP_DRAWS if draws is None else draws
    current = {row.rule: float(row.weight or 0.0) for row in seed.itertuples()}
    train = frame[frame["as_of_date"] < split] if split is not None else frame.iloc[0:0]
    if split is None or train["churned_within_90d"].nunique() < 2:
        return None
    names = list(current)
    shares = train[[f"share_{rule}" for rule in names]].to_numpy(float)
    labels = train["churned_within_90d"].to_numpy(int)
    risk = train["risk_score"].to_numpy(float)
    coefficient, slope = _fit(shares, labels, risk)
    accounts, codes = np.unique(train["account_id"].to_numpy(), return_inverse=True)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    members = [np.flatnonzero(codes == a) for a in range(len(accounts))]
    coefficients, points = [], []
    for _ in range(draws):
        rows = np.concatenate([members[a] for a in rng.integers(0, len(accounts), len(accounts))])
        if len(set(labels[rows].tolist())) < 2:
            continue
        b, s = _fit(shares[rows], labels[rows], risk[rows])
        coefficients.append(b)
        points.append(b / s if s > 0 else np.full_like(b, np.nan))
    coefficients = np.array(coefficients).reshape(-1, len(names))
    points = np.array(points).reshape(-1, len(names))
    fired = (shares > 0).sum(axis=0)
    table, suggested = [], {}
    for i, rule in enumerate(names):
        enough = fired[i] >= MIN_FIRED and slope > 0
        value = max(0.0, round(coefficient[i] / slope)) if enough else None
        suggested[rule] = value if value is not None else current[rule]
        table.append(
            {
                "rule": rule,
                "operator": seed.loc[seed["rule"] == rule, "operator"].iloc[0],
                "current_points": current[rule],
                "train_account_months": len(train),
                "fired_account_months": int(fired[i]),
                "churn_rate_when_fired": float(labels[shares[:, i] > 0].mean()) if fired[i] else None,
                "coefficient": float(coefficient[i]),
                "coefficient_ci_low": _percentile(coefficients[:, i], 2.5),
                "coefficient_ci_high": _percentile(coefficients[:, i], 97.5),
                "suggested_points": value,
                "suggested_points_ci_low": _percentile(points[:, i], 2.5) if enough else None,
                "suggested_points_ci_high": _percentile(points[:, i], 97.5) if enough else None,
                "first_train_month": min(train["as_of_date"]),
                "first_test_month": split,
            }
        )
    return Weights(pd.DataFrame(table, columns=list(COLUMNS)), suggested, current, split)


def write(con: duckdb.DuckDBPyConnection, weights: Weights | None) -> int:
    """Replace the table in one statement; empty while the backtest has no two labelled periods."""
    table = weights.table if weights is not None else pd.DataFrame(columns=list(COLUMNS))
    return replace_table(con, TABLE, table, COLUMNS)
