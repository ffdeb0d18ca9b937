"""Is the change real? For every period and segment of marts.nps_by_period, the NPS change against the previous
period and against the same period a year earlier, with the two-sample test of analytics/significance.py.

One row per period_grain x period_start x segment_type x segment_value x comparison where both periods have NPS
responses (response-level counts, as nps_by_period.nps):

- `previous_period`: the period just before (the day, week, month or quarter before), whether or not it is complete;
- `year_ago`: the same period a year earlier: the same calendar date, month or quarter one year before (29 February
  compares to 28 February), and for weeks the week 52 weeks (364 days) before, so that a Monday stays a Monday.

A period without a row in nps_by_period, or with no response, has no comparison: never a comparison with zero.
`both_periods_complete` is true when both periods are complete (nps_by_period.is_complete_period); the report and
the digest read complete periods only.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

import settings
from analytics.significance import LEVEL, change_test
from analytics.tables import replace_table

TABLE = "marts.nps_changes"
MIN_RESPONSES_VARIABLE = "NPS_CHANGE_MIN_RESPONSES"
SOURCE = "marts.nps_by_period"
COMPARISONS = ("previous_period", "year_ago")
KEY = ["period_grain", "period_start", "segment_type", "segment_value"]

COLUMNS = {
    "period_grain": "varchar",
    "period_start": "date",
    "segment_type": "varchar",
    "segment_value": "varchar",
    "comparison": "varchar",
    "compared_period_start": "date",
    "nps_from": "double",
    "nps_to": "double",
    "change": "double",
    "std_error": "double",
    "ci_low": "double",
    "ci_high": "double",
    "z": "double",
    "p_value": "double",
    "is_testable": "boolean",
    "is_significant": "boolean",
    "responses_from": "bigint",
    "responses_to": "bigint",
    "both_periods_complete": "boolean",
}


def compared_start(grain: str, period_start: pd.Series, comparison: str) -> pd.Series:
    """The start of the period each of `period_start` (of `grain`) is compared with."""
    starts = pd.to_datetime(period_start)
    if comparison == "previous_period":
        step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1)}
        step["quarter"] = pd.DateOffset(months=3)
    elif comparison == "year_ago":
        step = {grain_: pd.DateOffset(years=1) for grain_ in ("day", "month", "quarter")}
        step["week"] = pd.DateOffset(weeks=52)
    else:
        raise ValueError(f"unknown comparison {comparison!r}: expected one of {', '.join(COMPARISONS)}")
    if grain not in step:
        raise ValueError(f"{SOURCE}: unknown period_grain {grain!r}: expected day, week, month or quarter")
    return (starts - step[grain]).dt.date


def min_responses() -> int:
    """The responses each period needs before a change is tested (`NPS_CHANGE_MIN_RESPONSES`, default 30): with a
    handful of answers, one of them has no variance and the normal approximation calls noise real."""
    return settings.whole_number(MIN_RESPONSES_VARIABLE, minimum=1)


def periods(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The periods and segments of nps_by_period that have NPS responses, with their counts."""
    return con.execute(
        f"""
        select period_grain, period_start, segment_type, segment_value, is_complete_period,
            responses, promoters, detractors
        from {SOURCE}
        where responses > 0
        """
    ).df()


def changes(frame: pd.DataFrame, minimum: int = 1) -> pd.DataFrame:
    """The comparisons of `frame` (the columns of `periods`), one row per period, segment and comparison; a change
    is significant only when both periods have at least `minimum` responses."""
    if frame.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    frame = frame.assign(period_start=pd.to_datetime(frame.period_start).dt.date)
    parts = []
    for comparison in COMPARISONS:
        current = frame.copy()
        current["compared_period_start"] = pd.concat(
            [compared_start(grain, rows.period_start, comparison) for grain, rows in frame.groupby("period_grain")]
        ).reindex(frame.index)
        earlier = frame.rename(columns={"period_start": "compared_period_start"})
        joined = current.merge(
            earlier,
            on=["period_grain", "compared_period_start", "segment_type", "segment_value"],
            suffixes=("_to", "_from"),
            validate="many_to_one",  # 28 and 29 February both compare to 28 February
        )
        if joined.empty:
            continue
        test = change_test(
            (joined.promoters_from, joined.detractors_from, joined.responses_from),
            (joined.promoters_to, joined.detractors_to, joined.responses_to),
        )
        result = joined[[*KEY, "compared_period_start", "responses_from", "responses_to"]].assign(
            comparison=comparison, **test
        )
        result["is_testable"] = (joined.responses_from >= minimum) & (joined.responses_to >= minimum)
        result["is_significant"] = result.is_testable & (np.nan_to_num(result.p_value, nan=1.0) < LEVEL)
        complete = joined.is_complete_period_from.astype(bool) & joined.is_complete_period_to.astype(bool)
        result["both_periods_complete"] = complete
        parts.append(result)
    if not parts:
        return changes(frame.iloc[0:0], minimum)
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]


def write(con: duckdb.DuckDBPyConnection, result: pd.DataFrame) -> int:
    return replace_table(
        con,
        TABLE,
        result,
        COLUMNS,
        order_by="period_grain, period_start, segment_type, segment_value, comparison",
    )


def build(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the mart from nps_by_period (the whole table: it is small, and the same input gives the same
    table)."""
    return write(con, changes(periods(con), min_responses()))
