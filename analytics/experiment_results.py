"""Experiments (A/B tests): every variant of seed experiments compared with its experiment's control, with a
two-sample test and a 95% interval of the difference (docs/metrics.md "Experiments").

Units: intermediate.int_experiment_units (sends by their `variant` column; detractor follow-up cases by the
`nps_variant_<variant>` tag of their Zendesk ticket). Metrics, one row each per experiment and variant:

- `response_rate` (send experiments): answered sends / sends;
- `recovery_rate` (follow-up cases): cases whose respondent's next NPS answer is 7-10 / cases with a next answer;
- `mean_next_score` (follow-up cases): the mean of that next answer, 0-10.

Against the control: a rate's difference by the two-proportion z-test (pooled variance; statsmodels
proportions_ztest) and Newcombe's hybrid score interval (statsmodels confint_proportions_2indep, method newcomb);
a mean's difference by Welch's t-test and its interval (unequal variances, Welch-Satterthwaite degrees of freedom;
statsmodels CompareMeans). Randomised, so a difference is the variant's effect; no correction for testing several
variants or metrics at once (docs/metrics.md says how to read that).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from analytics.significance import LEVEL
from analytics.tables import replace_table

TABLE = "marts.experiment_results"
METRICS = {"send": ("response_rate",), "followup_case": ("recovery_rate", "mean_next_score")}
DIGITS = 9  # results rounded: the same input gives the same table to the last digit

COLUMNS = {
    "experiment": "varchar",
    "applies_to": "varchar",
    "variant": "varchar",
    "is_control": "boolean",
    "metric": "varchar",
    "units": "bigint",
    "observed": "bigint",
    "successes": "bigint",
    "value": "double",
    "std_dev": "double",
    "control_variant": "varchar",
    "control_observed": "bigint",
    "control_value": "double",
    "difference": "double",
    "ci_low": "double",
    "ci_high": "double",
    "statistic": "double",
    "p_value": "double",
    "test": "varchar",
    "is_significant": "boolean",
    "note": "varchar",
}

VARIANTS_SQL = "select experiment, applies_to, variant, is_control from seeds.experiments order by experiment, variant"
UNITS_SQL = """
select experiment, variant, unit_id, is_answered, next_score, is_recovered
from intermediate.int_experiment_units
order by experiment, variant, unit_id
"""


def _outcomes(units: pd.DataFrame, metric: str) -> np.ndarray:
    """The observed outcomes of `units` for `metric`: 0/1 for a rate, the score for a mean."""
    column = {"response_rate": "is_answered", "recovery_rate": "is_recovered", "mean_next_score": "next_score"}[metric]
    values = units[column].dropna()
    return values.astype(float).to_numpy()


def _describe(values: np.ndarray, metric: str) -> dict:
    row: dict = {"observed": len(values)}
    if metric != "mean_next_score":
        row["successes"] = int(values.sum())
    if len(values):
        row["value"] = float(values.mean())
    if metric == "mean_next_score" and len(values) > 1:
        row["std_dev"] = float(values.std(ddof=1))
    return row


def compare_rates(successes: int, observed: int, control_successes: int, control_observed: int) -> dict:
    """Two-proportion z-test (pooled) and Newcombe's interval of p - p_control; p_value None when every unit of
    both groups has the same outcome (the pooled variance is 0)."""
    difference = successes / observed - control_successes / control_observed
    low, high = confint_proportions_2indep(
        successes, observed, control_successes, control_observed, method="newcomb", compare="diff", alpha=0.05
    )
    row = {"difference": difference, "ci_low": float(low), "ci_high": float(high), "test": "two_proportion_z"}
    pooled = (successes + control_successes) / (observed + control_observed)
    if 0 < pooled < 1:
        statistic, p_value = proportions_ztest([successes, control_successes], [observed, control_observed])
        row |= {"statistic": float(statistic), "p_value": float(p_value)}
    return row


def compare_means(values: np.ndarray, control: np.ndarray) -> dict:
    """Welch's t-test and interval of mean - mean_control; None when either group has under 2 units or both have
    no variance."""
    row: dict = {"difference": float(values.mean() - control.mean()), "test": "welch_t"}
    if len(values) < 2 or len(control) < 2 or (values.var() == 0 and control.var() == 0):
        return row | {"note": "needs 2 or more units with a next answer in both groups and some variance"}
    compared = CompareMeans(DescrStatsW(values), DescrStatsW(control))
    statistic, p_value, _ = compared.ttest_ind(usevar="unequal")
    low, high = compared.tconfint_diff(alpha=0.05, usevar="unequal")
    return row | {
        "statistic": float(statistic),
        "p_value": float(p_value),
        "ci_low": float(low),
        "ci_high": float(high),
    }


def results(variants: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """The mart's rows: per experiment, variant (every one of the seed, with or without units) and metric."""
    rows = []
    for experiment, declared in variants.groupby("experiment", sort=True):
        applies_to = declared.applies_to.iloc[0]
        control = declared[declared.is_control].variant.iloc[0]
        of = {name: units[(units.experiment == experiment) & (units.variant == name)] for name in declared.variant}
        for metric in METRICS[applies_to]:
            baseline = _outcomes(of[control], metric)
            for item in declared.sort_values("variant").itertuples(index=False):
                values = _outcomes(of[item.variant], metric)
                row = {name: None for name in COLUMNS} | {
                    "experiment": experiment,
                    "applies_to": applies_to,
                    "variant": item.variant,
                    "is_control": bool(item.is_control),
                    "metric": metric,
                    "units": len(of[item.variant]),
                    "control_variant": control,
                    "control_observed": len(baseline),
                    "control_value": float(baseline.mean()) if len(baseline) else None,
                }
                row |= _describe(values, metric)
                if item.is_control:
                    rows.append(row)
                    continue
                if not len(values) or not len(baseline):
                    row["note"] = "no units with this outcome in the variant or the control"
                elif metric == "mean_next_score":
                    row |= compare_means(values, baseline)
                else:
                    row |= compare_rates(int(values.sum()), len(values), int(baseline.sum()), len(baseline))
                if row["p_value"] is not None:
                    row["is_significant"] = row["p_value"] < LEVEL
                rows.append(row)
    result = pd.DataFrame(rows, columns=list(COLUMNS))
    for name, sql_type in COLUMNS.items():
        if sql_type == "double":
            result[name] = pd.to_numeric(result[name], errors="coerce").round(DIGITS)
    return result


def build(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the mart from seeds.experiments and intermediate.int_experiment_units."""
    variants = con.execute(VARIANTS_SQL).df()
    units = con.execute(UNITS_SQL).df()
    frame = results(variants, units)
    return replace_table(con, TABLE, frame, COLUMNS, order_by="experiment, metric, is_control desc, variant")
