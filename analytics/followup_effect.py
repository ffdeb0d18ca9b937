"""Does closing the loop work? Detractors contacted within 4 hours, within 24 hours, and later or never, compared on
what happened next, each fast group against the "later or never" detractors of the same plan, MRR band and score.

Units: every NPS detractor response of marts.closed_loop whose contact group is known (not still inside its 24-hour
target window: target_status 'pending'). Contact group from closed_loop.hours_to_first_outreach (the follow-up
ticket's first agent reply): `within_4h` when <= 4 hours, `within_24h` when <= 24 hours, else `later_or_never`
(never reached out, or later). Outcomes, each over the units where it is observed:

- `next_score`: the respondent's next NPS answer (fct_survey_responses.respondent_key: the person who answered and
  was contacted, not a colleague of the same account), 0-10;
- `next_nps`: 100 x (promoter - detractor) of that next answer, averaged: the NPS of the next answers, in points;
- `churn_90d`: the account paid on the response date and its MRR went to 0 within the 90 days after
  (int_account_billing_historized, the label of analytics/churn_backtest.py); observed once those 90 days are landed;
- `nrr_6m`: sum(MRR 6 months after the response date) / sum(MRR on the response date), accounts paying then;
  observed once that day is landed.

Comparison: exact matching on strata (plan, MRR band at the response, score 0-6). For a fast group g, the strata
with both g units and `later_or_never` units count; each stratum weighs its g units (the effect on the treated,
ATT). In a cell (group, stratum) the value is R = sum(y) / sum(x) (x = 1 for a mean, the starting MRR for NRR);
difference = sum_s w_s (R_gs - R_cs), w_s = n_gs / sum(n_g). Its variance is the cluster-robust (by account, else
respondent) sandwich of that linear estimator: each unit's influence w_s (y - R x) / sum(x) of its cell (negative
for the comparison) times sqrt(1 / (1 - sum (x / sum x)^2)) of its cell (sqrt(n / (n - 1)) for a mean of n units),
summed per cluster, squared, summed; a cell of one unit adds w_s^2 s^2 with s^2 the pooled within-cell variance of
(y - R x) / x. 95% interval by the normal approximation; its coverage is measured in
tests/analytics/test_followup_effect_coverage.py. Observational: who is contacted fast is not random
(docs/metrics.md).
"""

from __future__ import annotations

import math
from collections import defaultdict

import duckdb
import pandas as pd
from scipy import stats

from analytics.significance import Z_95
from analytics.tables import replace_table

TABLE = "marts.followup_effect"
FAST_HOURS, TARGET_HOURS = 4, 24  # closed_loop's targets (dbt vars followup_fast_target_hours, followup_target_hours)
GROUPS = ("within_4h", "within_24h", "later_or_never")
COMPARISON = "later_or_never"
OUTCOMES = ("next_score", "next_nps", "churn_90d", "nrr_6m")
CHURN_DAYS, NRR_MONTHS = 90, 6
DIGITS = 9  # results rounded: the same input gives the same table to the last digit

COLUMNS = {
    "contact_group": "varchar",
    "outcome": "varchar",
    "units": "bigint",
    "accounts": "bigint",
    "value": "double",
    "matched_units": "bigint",
    "strata": "bigint",
    "comparison_units": "bigint",
    "matched_value": "double",
    "comparison_value": "double",
    "difference": "double",
    "std_error": "double",
    "ci_low": "double",
    "ci_high": "double",
    "p_value": "double",
}

UNITS_SQL = f"""
with

detractors as (
    select
        closed_loop.response_id,
        closed_loop.response_date,
        closed_loop.score,
        closed_loop.account_id,
        closed_loop.hours_to_first_outreach,
        closed_loop.target_status,
        responses.respondent_key,
        coalesce(responses.plan, 'unknown') as plan,
        coalesce(responses.mrr_band, 'unknown') as mrr_band
    from marts.closed_loop
    inner join marts.fct_survey_responses as responses
        on closed_loop.response_id = responses.response_id
    where closed_loop.nps_category = 'detractor'
),

next_answers as (
    select
        response_id,
        lead(score) over by_respondent as next_score
    from marts.fct_survey_responses
    where respondent_key is not null
    window by_respondent as (partition by respondent_key order by responded_at, response_id)
),

billing as (
    select account_id, valid_from_date, valid_to_date, mrr_usd
    from intermediate.int_account_billing_historized
),

as_of as (
    select max(valid_from_date) as as_of_date from billing
),

dated as (
    select
        detractors.*,
        next_answers.next_score,
        as_of.as_of_date,
        cast(detractors.response_date + interval {CHURN_DAYS} day as date) as churn_horizon_date,
        cast(detractors.response_date + interval {NRR_MONTHS} month as date) as nrr_horizon_date
    from detractors
    cross join as_of
    left join next_answers
        on detractors.response_id = next_answers.response_id
)

select
    dated.*,
    starting.mrr_usd as starting_mrr_usd,
    coalesce(after_6m.mrr_usd, 0) as mrr_after_6m_usd,
    exists (
        select 1 from billing
        where
            billing.account_id = dated.account_id
            and billing.mrr_usd = 0
            and billing.valid_from_date > dated.response_date
            and billing.valid_from_date <= dated.churn_horizon_date
    ) as churned_within_90d
from dated
left join billing as starting
    on
        dated.account_id = starting.account_id
        and dated.response_date >= starting.valid_from_date
        and (starting.valid_to_date is null or dated.response_date < starting.valid_to_date)
left join billing as after_6m
    on
        dated.account_id = after_6m.account_id
        and dated.nrr_horizon_date >= after_6m.valid_from_date
        and (after_6m.valid_to_date is null or dated.nrr_horizon_date < after_6m.valid_to_date)
order by dated.response_id
"""


def contact_group(hours: float | None, target_status: str) -> str | None:
    """The contact group of a detractor response; None while it is still inside its 24-hour window."""
    if hours is not None and not math.isnan(hours):
        return "within_4h" if hours <= FAST_HOURS else "within_24h" if hours <= TARGET_HOURS else COMPARISON
    return None if target_status == "pending" else COMPARISON


def units(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per detractor response of known contact group: its stratum, cluster and outcomes (None when not
    observed), in response_id order."""
    frame = con.execute(UNITS_SQL).df()
    rows = []
    for row in frame.itertuples(index=False):
        group = contact_group(row.hours_to_first_outreach, row.target_status)
        if group is None:
            continue
        paying = not pd.isna(row.starting_mrr_usd) and row.starting_mrr_usd > 0
        next_score = None if pd.isna(row.next_score) else int(row.next_score)
        as_of = row.as_of_date
        rows.append(
            {
                "response_id": row.response_id,
                "contact_group": group,
                "stratum": (row.plan, row.mrr_band, int(row.score)),
                "account_id": row.account_id,
                "cluster": row.account_id if isinstance(row.account_id, str) else f"respondent {row.respondent_key}",
                "next_score": next_score,
                "next_nps": None if next_score is None else 100 * (next_score >= 9) - 100 * (next_score <= 6),
                "churn_90d": float(row.churned_within_90d) if paying and row.churn_horizon_date <= as_of else None,
                "nrr_6m": float(row.mrr_after_6m_usd) if paying and row.nrr_horizon_date <= as_of else None,
                "starting_mrr_usd": float(row.starting_mrr_usd) if paying else None,
            }
        )
    return pd.DataFrame(rows)


def _observations(frame: pd.DataFrame, outcome: str) -> list[tuple[str, tuple, str, str | None, float, float]]:
    """(group, stratum, cluster, account, y, x) of the units where `outcome` is observed; x = 1 but for NRR."""
    if frame.empty:
        return []
    observed = frame[frame[outcome].notna()]
    weight = observed.starting_mrr_usd if outcome == "nrr_6m" else pd.Series(1.0, index=observed.index)
    return [
        (row.contact_group, row.stratum, row.cluster, row.account_id, float(row[outcome]), float(x))
        for (_, row), x in zip(observed.iterrows(), weight, strict=True)
    ]


def _row(group: str, outcome: str, observations: list) -> dict:
    cells: dict[tuple[str, tuple], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for g, stratum, _, _, y, x in observations:
        cell = cells[(g, stratum)]
        cell[0], cell[1], cell[2] = cell[0] + y, cell[1] + x, cell[2] + 1
    own = [o for o in observations if o[0] == group]
    row = {name: None for name in COLUMNS} | {"contact_group": group, "outcome": outcome, "units": len(own)}
    row["accounts"] = len({o[3] for o in own if isinstance(o[3], str)})
    if own:
        row["value"] = sum(o[4] for o in own) / sum(o[5] for o in own)
    if group == COMPARISON:
        return row
    matched = sorted({s for g, s in cells if g == group} & {s for g, s in cells if g == COMPARISON})
    total = sum(cells[(group, s)][2] for s in matched)
    row |= {"matched_units": total, "strata": len(matched)}
    row["comparison_units"] = sum(cells[(COMPARISON, s)][2] for s in matched)
    if not total:
        return row
    weights = {s: cells[(group, s)][2] / total for s in matched}
    ratio = {key: cell[0] / cell[1] for key, cell in cells.items()}
    row["matched_value"] = sum(weights[s] * ratio[(group, s)] for s in matched)
    row["comparison_value"] = sum(weights[s] * ratio[(COMPARISON, s)] for s in matched)
    row["difference"] = row["matched_value"] - row["comparison_value"]
    variance = _variance(group, observations, cells, weights, ratio)
    if variance is not None:
        row["std_error"] = math.sqrt(variance)
        row["ci_low"] = row["difference"] - Z_95 * row["std_error"]
        row["ci_high"] = row["difference"] + Z_95 * row["std_error"]
        if row["std_error"] > 0:
            row["p_value"] = float(2 * stats.norm.sf(abs(row["difference"]) / row["std_error"]))
    return row


def _variance(group: str, observations: list, cells: dict, weights: dict, ratio: dict) -> float | None:
    """Cluster-robust variance of the difference, each cell's residuals scaled by sqrt(n / (n - 1)) (the unbiased
    within-cell variance of a stratified mean). A cell of one unit has no residual: its R = y / x takes the pooled
    within-cell variance of (y - R x) / x (over the matched cells of two units or more, of both groups; relative, as
    an MRR residual grows with the MRR), times w_s^2, as an independent term. None under two clusters."""
    influence: dict[str, float] = defaultdict(float)
    residuals = freedom = 0.0  # pooled: squared relative residuals and n - 1, over the cells of two units or more
    singles = []
    squares: dict[tuple[str, tuple], float] = defaultdict(float)  # sum of x^2 per cell
    for g, stratum, _, _, _, x in observations:
        squares[(g, stratum)] += x * x
    for g, stratum, cluster, _, y, x in observations:
        if stratum not in weights or g not in (group, COMPARISON):
            continue
        total, count = cells[(g, stratum)][1], cells[(g, stratum)][2]
        # The unbiased variance of a weighted mean with weights x / sum(x): 1 / (1 - sum of squared weights); for a
        # plain mean (x = 1) n / (n - 1).
        concentration = squares[(g, stratum)] / (total * total)
        influence[cluster] += 0.0  # a cluster with single-unit cells only still counts
        if count == 1:
            singles.append(weights[stratum])
            continue
        residual = y - ratio[(g, stratum)] * x
        sign = 1.0 if g == group else -1.0
        correction = math.sqrt(1.0 / (1.0 - concentration)) if concentration < 1 else 0.0
        influence[cluster] += sign * weights[stratum] * residual / total * correction
        residuals += (residual / x) ** 2
        freedom += (count - 1) / count
    if len(influence) < 2:
        return None
    pooled = residuals / freedom if freedom else 0.0
    return math.fsum(u * u for u in sorted(influence.values())) + math.fsum(pooled * c * c for c in singles)


def effects(frame: pd.DataFrame) -> pd.DataFrame:
    """The mart's rows, one per contact group and outcome, from the frame of `units`."""
    rows = []
    for outcome in OUTCOMES:
        observations = _observations(frame, outcome)
        rows.extend(_row(group, outcome, observations) for group in GROUPS)
    result = pd.DataFrame(rows, columns=list(COLUMNS))
    for name, sql_type in COLUMNS.items():
        if sql_type == "double":
            result[name] = pd.to_numeric(result[name], errors="coerce").round(DIGITS)
    return result


def write(con: duckdb.DuckDBPyConnection, result: pd.DataFrame) -> int:
    return replace_table(con, TABLE, result, COLUMNS, order_by="outcome, contact_group")


def build(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the mart from closed_loop, fct_survey_responses and int_account_billing_historized."""
    return write(con, effects(units(con)))
