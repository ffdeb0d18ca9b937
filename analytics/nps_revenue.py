"""The revenue change associated with one NPS point, with its confidence interval.

For every horizon h (3, 6 and 12 months) and every account paying at the start of a cohort month whose latest
NPS answer in the 365 days before is known (intermediate.int_account_revenue_cohorts), an ordinary least squares
regression of the account's revenue growth over the next h months on its NPS score (0-10), controlling for:

- plan at the start of the month (one indicator per plan, the most common is the reference),
- tenure in full months at the start of the month,
- the cohort month (one indicator per month), so that seasonality and the company's overall growth are not
  credited to sentiment.

Two outcomes: `mrr_change_usd` (MRR after h months - starting MRR, USD) and `mrr_growth_pct`
(100 x (MRR after h months / starting MRR - 1)). The coefficient of the score is the revenue change associated
with one more point of NPS score, the other controls held equal. An account appears in several cohort months,
so its observations are not independent: standard errors are cluster-robust by account (the CR1 sandwich with
the usual small-sample factor), and the 95% interval uses Student's t with (accounts - 1) degrees of freedom.

Beside this primary interval (`interval_method` = cluster_ols_t), two checks for outcomes with heavy tails (in
dollars, a few large accounts that churn can dominate the fit): a pairs cluster bootstrap interval (whole accounts
resampled BOOTSTRAP_REPLICATIONS times with a fixed seed, so a re-run writes the same values; the percentile
interval of the score's coefficient) and a winsorised variant (the outcome clipped at its 1st and 99th percentile,
same regression and interval). docs/metrics.md says why the clustered OLS interval stays primary.

This is an association measured on observational data, not a causal effect: sentiment and revenue growth share
causes (a healthy account both expands and scores high). docs/metrics in docs/marts.md say so too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import sparse, stats

from analytics.tables import replace_table

HORIZONS = (3, 6, 12)
OUTCOMES = ("mrr_change_usd", "mrr_growth_pct")
CONFIDENCE = 0.95
MIN_OBSERVATIONS = 30  # fewer answered cohort rows than this: no estimate (the row says why)
MIN_ACCOUNTS = 10
BOOTSTRAP_REPLICATIONS = 999  # resamples of accounts for the cluster bootstrap interval
BOOTSTRAP_SEED = 20  # fixed: the same data always gives the same interval
WINSOR_QUANTILES = (0.01, 0.99)  # the winsorised variant clips the outcome at its 1st and 99th percentile
PRIMARY_METHOD = "cluster_ols_t"
TABLE = "marts.nps_revenue_per_point"
SOURCE = "intermediate.int_account_revenue_cohorts"


@dataclass(frozen=True)
class Estimate:
    horizon_months: int
    outcome: str
    estimate: float | None
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    observations: int
    accounts: int
    cohort_months: int
    r_squared: float | None
    mean_outcome: float | None
    note: str
    interval_method: str | None = None
    bootstrap_ci_low: float | None = None
    bootstrap_ci_high: float | None = None
    bootstrap_replications: int | None = None
    winsorised_estimate: float | None = None
    winsorised_ci_low: float | None = None
    winsorised_ci_high: float | None = None


def panel(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Cohort rows with an NPS score, with every horizon's MRR (null until observed)."""
    return con.execute(
        f"""
        select
            account_id, month_start, starting_mrr_usd, plan, tenure_months, nps_score,
            {", ".join(f"mrr_after_{h}m_usd" for h in HORIZONS)}
        from {SOURCE}
        where nps_score is not null
        order by month_start, account_id
        """
    ).df()


def estimate_all(
    frame: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS, outcomes: tuple[str, ...] = OUTCOMES
) -> list[Estimate]:
    """Every horizon x outcome (the mart); a subset when named (a simulation that needs one of them)."""
    return [_estimate(frame, horizon, outcome) for horizon in horizons for outcome in outcomes]


def _estimate(frame: pd.DataFrame, horizon: int, outcome: str) -> Estimate:
    later = frame[f"mrr_after_{horizon}m_usd"]
    data = frame[later.notna()].copy()
    data["y"] = (
        later[later.notna()] - data.starting_mrr_usd
        if outcome == "mrr_change_usd"
        else 100.0 * (later[later.notna()] / data.starting_mrr_usd - 1.0)
    )
    observations, accounts, months = len(data), data.account_id.nunique(), data.month_start.nunique()
    empty = Estimate(horizon, outcome, None, None, None, None, None, observations, accounts, months, None, None, "")
    if observations < MIN_OBSERVATIONS or accounts < MIN_ACCOUNTS:
        return _replace(
            empty,
            note=f"not estimated: {observations} observations of {accounts} accounts with {horizon} months observed "
            f"(needs {MIN_OBSERVATIONS} and {MIN_ACCOUNTS})",
        )
    design = _design(data).to_numpy(dtype=float)
    y = data.y.to_numpy(dtype=float)
    groups = pd.factorize(data.account_id)[0]
    # statsmodels' cluster-robust covariance (CR1: G/(G-1) x (N-1)/(N-K)), clusters = accounts.
    fit = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": groups})
    residuals = fit.resid
    std_error = float(fit.bse[1])
    slope = float(fit.params[1])
    degrees = accounts - 1
    quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, degrees))
    margin = quantile * std_error
    low, high = np.quantile(y, WINSOR_QUANTILES)
    winsorised = sm.OLS(np.clip(y, low, high), design).fit(cov_type="cluster", cov_kwds={"groups": groups})
    boot_low, boot_high = np.quantile(bootstrap_slopes(design, y, groups), [0.5 - CONFIDENCE / 2, 0.5 + CONFIDENCE / 2])
    p_value = float(2 * stats.t.sf(abs(slope / std_error), degrees)) if std_error > 0 else None
    total = float(((y - y.mean()) ** 2).sum())
    return Estimate(
        horizon_months=horizon,
        outcome=outcome,
        estimate=slope,
        std_error=std_error,
        ci_low=slope - margin,
        ci_high=slope + margin,
        p_value=p_value,
        observations=observations,
        accounts=accounts,
        cohort_months=months,
        r_squared=1.0 - float((residuals**2).sum()) / total if total > 0 else None,
        mean_outcome=float(y.mean()),
        note="controls: plan, tenure_months, cohort month; standard errors clustered by account",
        interval_method=PRIMARY_METHOD,
        bootstrap_ci_low=float(boot_low),
        bootstrap_ci_high=float(boot_high),
        bootstrap_replications=BOOTSTRAP_REPLICATIONS,
        winsorised_estimate=float(winsorised.params[1]),
        winsorised_ci_low=float(winsorised.params[1] - quantile * winsorised.bse[1]),
        winsorised_ci_high=float(winsorised.params[1] + quantile * winsorised.bse[1]),
    )


def bootstrap_slopes(design: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The score's OLS coefficient (column 1) on BOOTSTRAP_REPLICATIONS resamples of whole accounts (pairs
    cluster bootstrap: an account drawn twice counts twice), drawn with a fixed seed. Each resample's X'X and X'y
    are sums of the drawn accounts' own X_g'X_g and X_g'y_g, so no resample copies the rows; a resample that
    misses a plan or month gets the minimum-norm solution (the score's coefficient is still identified)."""
    clusters, columns = int(groups.max()) + 1, design.shape[1]
    rows = np.arange(len(groups))
    indicator = sparse.csr_matrix((np.ones(len(groups)), (groups, rows)), shape=(clusters, len(groups)))
    cross = np.stack([indicator @ (design * design[:, [k]]) for k in range(columns)], axis=1)  # G x K x K
    moment = indicator @ (design * y[:, None])  # G x K
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=BOOTSTRAP_REPLICATIONS).astype(float)
    gram = (draws @ cross.reshape(clusters, -1)).reshape(-1, columns, columns)
    right = (draws @ moment)[..., None]
    try:
        return np.linalg.solve(gram, right)[:, 1, 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(gram, hermitian=True) @ right)[:, 1, 0]


def _design(data: pd.DataFrame) -> pd.DataFrame:
    """Intercept, the NPS score (column 1), tenure, and indicators for plan and cohort month (first dropped)."""
    columns = {"intercept": np.ones(len(data)), "nps_score": data.nps_score.astype(float).to_numpy()}
    columns["tenure_months"] = data.tenure_months.astype(float).fillna(0).to_numpy()
    design = pd.DataFrame(columns, index=data.index)
    for name in ("plan", "month_start"):
        values = data[name].astype(str)
        reference = values.value_counts().index[0]
        for level in sorted(set(values) - {reference}):
            design[f"{name}={level}"] = (values == level).astype(float).to_numpy()
    # A control that does not vary (one plan, or the same tenure for everyone) would make the design singular.
    varying = [column for column in design.columns[2:] if design[column].std() > 0]
    return design[["intercept", "nps_score", *varying]]


def _replace(estimate: Estimate, **changes) -> Estimate:
    return Estimate(**{**asdict(estimate), **changes})


def frame_of(estimates: list[Estimate]) -> pd.DataFrame:
    return pd.DataFrame([asdict(estimate) for estimate in estimates])


def write(con: duckdb.DuckDBPyConnection, estimates: list[Estimate]) -> int:
    """Replace the mart in one statement; re-running on the same data writes the same rows."""
    columns = {
        "horizon_months": "integer",
        "outcome": "varchar",
        "estimate": "double",
        "std_error": "double",
        "ci_low": "double",
        "ci_high": "double",
        "p_value": "double",
        "observations": "bigint",
        "accounts": "bigint",
        "cohort_months": "integer",
        "r_squared": "double",
        "mean_outcome": "double",
        "note": "varchar",
        "interval_method": "varchar",
        "bootstrap_ci_low": "double",
        "bootstrap_ci_high": "double",
        "bootstrap_replications": "integer",
        "winsorised_estimate": "double",
        "winsorised_ci_low": "double",
        "winsorised_ci_high": "double",
    }
    return replace_table(con, TABLE, frame_of(estimates), columns, order_by="horizon_months, outcome")
