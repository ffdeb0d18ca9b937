"""How well the churn-risk score predicted churn, and a logistic-regression challenger.

For the first day of every month whose next 90 days are fully observed, each paying account in
marts.account_health is scored with what was known that day and labelled churned when its MRR went to 0
within the next 90 days. The rules (risk_score) are evaluated on every such month; the challenger, a
scikit-learn logistic regression on the same day's features, is trained on the earlier months and both are
compared on the later ones (a time-based split, never a random one). The rules stay the default unless the
challenger beats them on the later months by MIN_AUC_GAIN. The seed's rules with points fitted on the earlier
months (analytics/churn_weights.py) are scored on the later ones too (model suggested_weights).

The result is one long table (one metric per row) so that BI tools can filter it: see docs/marts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics import churn_weights
from analytics.tables import inputs_fingerprint, replace_table

HORIZON_DAYS = 90
TRAIN_SHARE = 0.6  # the earliest 60% of scoring months train the challenger
MIN_AUC_GAIN = 0.02
TOP_SHARE = 0.10  # the top decile by score
BOOTSTRAP_DRAWS = 1000  # resamples of accounts for the AUC's 95% interval
BOOTSTRAP_SEED = 20260101  # fixed: the interval is the same on every run
TABLE = "marts.churn_risk_backtest"

# The challenger reads every driver flag of account_health (is_<rule>_driver: one per row of the seed).
FLAG_PREFIX, FLAG_SUFFIX = "is_", "_driver"
NUMERIC = [
    "latest_nps_score",
    "usage_change_30d",
    "events_last_30d",
    "tickets_last_30d",
    "refund_tickets_last_90d",
    "failed_charges_last_30d",
    "mrr_usd",
]

SCORING_SQL = f"""
with

scoring_days as (
    select * from marts.account_health
    where
        extract(day from as_of_date) = 1
        and as_of_date + interval {HORIZON_DAYS} day <= (select max(as_of_date) from marts.account_health)
),

churn_dates as (
    select account_id, valid_from_date as churned_on
    from intermediate.int_account_billing_historized
    where mrr_usd = 0
)

select
    scoring_days.*,
    exists (
        select 1 from churn_dates
        where
            churn_dates.account_id = scoring_days.account_id
            and churn_dates.churned_on > scoring_days.as_of_date
            and churn_dates.churned_on <= scoring_days.as_of_date + interval {HORIZON_DAYS} day
    ) as churned_within_90d
from scoring_days
order by as_of_date, account_id
"""


def scoring_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every (first-of-month, paying account) with its score, features and 90-day churn label."""
    return con.execute(SCORING_SQL).df()


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels.tolist())) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def bootstrap_auc_interval(
    labels: np.ndarray,
    scores: np.ndarray,
    accounts: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """95% percentile interval of the AUC over `draws` resamples of accounts (with replacement, each drawn account
    bringing all its rows: an account scored in many months is one unit, its months are not independent).
    Deterministic: a fixed seed, accounts in sorted order. None when the AUC is undefined."""
    if len(set(labels.tolist())) < 2:
        return None
    names, codes = np.unique(accounts, return_inverse=True)
    # Tie groups of the scores, in ascending order: the AUC of any weighting needs only per-group sums.
    _, group = np.unique(scores, return_inverse=True)
    positive = labels.astype(bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        # A row weighs as many times as its account was drawn: the AUC of the resample, rows repeated.
        weights = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))[codes]
        area = weighted_auc(group, positive, weights)
        if area is not None:
            values.append(area)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def weighted_auc(group: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> float | None:
    """AUC with row weights, from the rows' tie groups (ascending score ranks): the weighted share of
    (churner, stayer) pairs where the churner scores higher, ties counting half."""
    size = group.max() + 1
    churners = np.bincount(group[positive], weights=weights[positive], minlength=size)
    stayers = np.bincount(group[~positive], weights=weights[~positive], minlength=size)
    total_churners, total_stayers = churners.sum(), stayers.sum()
    if total_churners == 0 or total_stayers == 0:
        return None
    below = np.cumsum(stayers) - stayers
    return float((churners * (below + 0.5 * stayers)).sum() / (total_churners * total_stayers))


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    return float(low), float(high)


def top_share_precision_recall(labels: np.ndarray, scores: np.ndarray, share: float = TOP_SHARE) -> tuple[float, float]:
    """Precision and recall among the top `share` of accounts by score (ties at the cut broken by position,
    which is account order: deterministic)."""
    count = max(1, round(len(scores) * share))
    order = np.argsort(-scores, kind="stable")[:count]
    hits = labels[order].sum()
    return float(hits / count), float(hits / labels.sum()) if labels.sum() else 0.0


def driver_flags(frame: pd.DataFrame) -> list[str]:
    """The is_<rule>_driver columns of account_health, in name order (the seed decides which there are)."""
    return sorted(c for c in frame.columns if c.startswith(FLAG_PREFIX) and c.endswith(FLAG_SUFFIX))


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The challenger's inputs: driver flags, numeric features (missing -> 0 plus a missing flag), logs."""
    x = frame[driver_flags(frame)].astype(float)
    for column in NUMERIC:
        values = frame[column].astype(float)
        x[f"{column}_missing"] = values.isna().astype(float)
        filled = values.fillna(0.0)
        if column in ("events_last_30d", "mrr_usd"):
            filled = np.log1p(filled.clip(lower=0))
        x[column] = filled
    return x


@dataclass
class Backtest:
    rows: list[dict]
    rules_test_auc: float | None
    challenger_test_auc: float | None
    default_model: str

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["model", "evaluation", "scoring_month", "risk_tier", "metric", "value"])

    @classmethod
    def from_table(cls, con: duckdb.DuckDBPyConnection) -> Backtest:
        """The backtest as `write` left it in the warehouse (the mart is not computed again on unchanged inputs)."""
        table = con.execute(f"select * from {TABLE}").df()

        def test_auc(model: str) -> float | None:
            hit = table[(table.model == model) & (table.evaluation == "test_months") & (table.metric == "auc")]
            return float(hit.value.iloc[0]) if len(hit) else None

        default = table[(table.evaluation == "decision") & (table.metric == "is_default")].model
        rows = table.astype(object).where(table.notna(), None).to_dict("records")
        return cls(
            rows, test_auc("rules"), test_auc("logistic_regression"), default.iloc[0] if len(default) else "rules"
        )


def fingerprint(frame: pd.DataFrame, seed: pd.DataFrame) -> str:
    """What the backtest and the fitted weights are computed from: the scoring frame with its shares, the seed's
    rules, this code and the libraries that fit (analytics/tables.py, inputs_fingerprint). Most days it is the
    previous day's: the frame gains a month only when a month's 90 days are over."""
    code = [Path(__file__), Path(churn_weights.__file__)]
    return inputs_fingerprint([frame, seed], code, ["scikit-learn", "numpy", "scipy", "pandas"])


def first_test_month(frame: pd.DataFrame):
    """The time split: the scoring month after the earliest TRAIN_SHARE of months (None with fewer than two)."""
    months = sorted(frame["as_of_date"].unique())
    return months[max(1, int(len(months) * TRAIN_SHARE))] if len(months) > 1 else None


def run(frame: pd.DataFrame, seed: pd.DataFrame | None = None) -> Backtest:
    """The backtest of `frame` (scoring_frame). With the seed's driver rows (churn_weights.rules) and the frame's
    shares (churn_weights.add_shares), also the suggested points of churn_weights.fit scored on the test months
    (model suggested_weights)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows: list[dict] = []

    def add(model, evaluation, metric, value, month=None, tier=None):
        if value is not None:
            rows.append(
                {
                    "model": model,
                    "evaluation": evaluation,
                    "scoring_month": month,
                    "risk_tier": tier,
                    "metric": metric,
                    "value": float(value),
                }
            )

    def evaluate(
        model: str, evaluation: str, labels: np.ndarray, scores: np.ndarray, month=None, accounts=None
    ) -> float | None:
        area = auc(labels, scores)
        if accounts is not None and area is not None:
            low, high = bootstrap_auc_interval(labels, scores, accounts)
            add(model, evaluation, "auc_ci_low", low, month)
            add(model, evaluation, "auc_ci_high", high, month)
        precision, recall = top_share_precision_recall(labels, scores)
        add(model, evaluation, "accounts", len(labels), month)
        add(model, evaluation, "churned", labels.sum(), month)
        add(model, evaluation, "auc", area, month)
        add(model, evaluation, "precision_top_decile", precision, month)
        add(model, evaluation, "recall_top_decile", recall, month)
        return area

    if frame.empty:
        return Backtest(rows, None, None, "rules")
    labels = frame["churned_within_90d"].to_numpy(dtype=int)
    rules = frame["risk_score"].to_numpy(dtype=float)
    evaluate("rules", "all_months", labels, rules, accounts=frame["account_id"].to_numpy())
    for month, group in frame.groupby("as_of_date"):
        evaluate(
            "rules",
            "month",
            group["churned_within_90d"].to_numpy(dtype=int),
            group["risk_score"].to_numpy(float),
            month,
        )
    # Calibration: the observed churn of each tier (all months), with its Wilson interval, beside the tier's mean
    # score. `accounts` counts account-months (an account is scored once a month).
    for tier, group in frame.groupby("risk_tier"):
        churned = int(group["churned_within_90d"].sum())
        low, high = wilson_interval(churned, len(group))
        add("rules", "calibration", "accounts", len(group), tier=tier)
        add("rules", "calibration", "churned", churned, tier=tier)
        add("rules", "calibration", "churn_rate", churned / len(group), tier=tier)
        add("rules", "calibration", "churn_rate_ci_low", low, tier=tier)
        add("rules", "calibration", "churn_rate_ci_high", high, tier=tier)
        add("rules", "calibration", "avg_risk_score", group["risk_score"].mean(), tier=tier)

    split = first_test_month(frame)
    rules_test_auc = challenger_test_auc = None
    if split is not None:
        train, test = frame[frame["as_of_date"] < split], frame[frame["as_of_date"] >= split]
        test_labels = test["churned_within_90d"].to_numpy(dtype=int)
        # Test-month rows carry the first test month in scoring_month.
        test_accounts = test["account_id"].to_numpy()
        rules_test_auc = evaluate(
            "rules", "test_months", test_labels, test["risk_score"].to_numpy(float), split, test_accounts
        )
        if train["churned_within_90d"].nunique() == 2 and not test.empty:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
            model.fit(features(train), train["churned_within_90d"].astype(int))
            probabilities = model.predict_proba(features(test))[:, 1]
            challenger_test_auc = evaluate(
                "logistic_regression", "test_months", test_labels, probabilities, split, test_accounts
            )
            add("logistic_regression", "train_months", "accounts", len(train), split)
        # The suggested points only: their intervals are the weights mart's (churn_rule_weights), not refitted here.
        weights = churn_weights.fit(frame, seed, split, draws=0) if seed is not None and not test.empty else None
        if weights is not None:
            suggested = churn_weights.score(test, weights.suggested)
            evaluate("suggested_weights", "test_months", test_labels, suggested, split, test_accounts)
            add("suggested_weights", "train_months", "accounts", len(train), split)
    challenger_wins = (
        rules_test_auc is not None
        and challenger_test_auc is not None
        and challenger_test_auc >= rules_test_auc + MIN_AUC_GAIN
    )
    default_model = "logistic_regression" if challenger_wins else "rules"
    add(default_model, "decision", "is_default", 1)
    return Backtest(rows, rules_test_auc, challenger_test_auc, default_model)


def write(con: duckdb.DuckDBPyConnection, backtest: Backtest) -> int:
    """Replace the backtest table in one statement (readers never see a half-written table)."""
    columns = {
        "model": "varchar",
        "evaluation": "varchar",
        "scoring_month": "date",
        "risk_tier": "varchar",
        "metric": "varchar",
        "value": "double",
    }
    return replace_table(con, TABLE, backtest.frame(), columns)
