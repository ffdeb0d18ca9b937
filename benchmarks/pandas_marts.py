"""The NPS and CES marts (nps_by_period, ces_by_period) in plain pandas, for the benchmark against DuckDB.

A direct translation of dbt_project/models/marts/nps_by_period.sql and ces_by_period.sql with the macros they
use (macros/nps.sql, segments.sql, dates.sql, median.sql): the same filters, the same segment unpivot
('overall' = 'all', a missing attribute = 'unknown'), the same UTC period grains (weeks from Monday), the same
adjusted-Wald interval and continuous medians, the same null handling, each respondent's latest response (ties: the
greatest response_id) and the same complete periods (last day on or before the latest response's day). The period
grains and segment types are read from the dbt project's vars, so both sides always compute the same rows.

`load_inputs` fetches the upstream tables once (only the columns needed); the two mart functions then work on
those DataFrames in memory with groupby / merge / melt / concat, no Python loops over rows.
`duckdb_seconds` times DuckDB running a model's compiled SQL; `compare` checks two results row for row.
"""

from __future__ import annotations

import time
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import yaml

from settings import DBT_PROJECT_DIR

KEYS = ["period_grain", "period_start", "segment_type", "segment_value"]
PERIOD_COLUMNS = ["period_grain", "period_start", "period_end", "is_complete_period", "segment_type", "segment_value"]
NPS_COLUMNS = [
    *PERIOD_COLUMNS,
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_ci_low",
    "nps_ci_high",
    "sends",
    "response_rate",
    "respondents",
    "respondent_promoters",
    "respondent_passives",
    "respondent_detractors",
    "respondent_nps",
    "respondent_nps_ci_low",
    "respondent_nps_ci_high",
]
CES_COLUMNS = [
    *PERIOD_COLUMNS,
    "responses",
    "ces_mean",
    "ces_easy_share",
    "median_first_reply_minutes",
    "median_resolution_minutes",
]
# compare(): floats agree when within this relative tolerance (or this absolute one, for values near zero).
REL_TOL = 1e-9
ABS_TOL = 1e-9


@cache
def dbt_vars() -> dict:
    """The `vars` of dbt_project.yml (period_grains, segment_types, ...): the marts' configuration."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def segment_types() -> list[str]:
    return list(dbt_vars()["segment_types"])


def period_grains() -> list[str]:
    return list(dbt_vars()["period_grains"])


def _attribute_columns(types: list[str]) -> list[str]:
    return [t for t in types if t != "overall"]


def load_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The upstream tables of the two marts as DataFrames, every row, only the columns the marts use."""
    attributes = ", ".join(_attribute_columns(segment_types()))
    queries = {
        "survey_responses": f"""
            select response_id, survey_type, responded_at, response_date, respondent_key, nps_category, is_promoter,
                   is_passive, is_detractor, score, ces_is_easy, ticket_id, {attributes}
            from marts.fct_survey_responses
        """,
        "survey_events": f"select event_type, survey_type, event_at, {attributes} "
        "from intermediate.int_survey_events_enriched",
        "support_tickets": "select ticket_id, ticket_category, first_reply_minutes, full_resolution_minutes "
        "from intermediate.int_support_tickets_measured",
        "responses_attributed": "select response_id, agent_id from intermediate.int_survey_responses_attributed",
    }
    return {name: con.execute(sql).df() for name, sql in queries.items()}


def _period_starts(timestamps: pd.Series) -> pd.DataFrame:
    """One column per period grain: the first day of the UTC period of each timestamp (macros/dates.sql)."""
    day = timestamps.dt.floor("D")
    starts = {
        "day": day,
        "week": day - pd.to_timedelta(day.dt.dayofweek, unit="D"),  # Monday = 0: ISO weeks
        "month": timestamps.dt.to_period("M").dt.start_time,
        "quarter": timestamps.dt.to_period("Q").dt.start_time,
    }
    return pd.DataFrame({grain: starts[grain].astype("datetime64[us]") for grain in period_grains()})


def _segmented_by_period(frame: pd.DataFrame, timestamp: str, types: list[str], measures: list[str]) -> pd.DataFrame:
    """`frame` unpivoted to one row per input row, segment type and period grain (unpivot_segments x
    period_grains): the KEYS plus `measures`."""
    grains = period_grains()
    wide = pd.concat(
        [
            frame[measures],
            frame[_attribute_columns(types)].astype("str").assign(overall="all"),  # cast(... as string)
            _period_starts(frame[timestamp]),
        ],
        axis=1,
    )
    segmented = wide.melt(
        id_vars=measures + grains, value_vars=types, var_name="segment_type", value_name="segment_value"
    )
    segmented["segment_value"] = segmented["segment_value"].fillna("unknown")
    return segmented.melt(
        id_vars=[*measures, "segment_type", "segment_value"],
        value_vars=grains,
        var_name="period_grain",
        value_name="period_start",
    )


def _with_period_end(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """`frame` (with KEYS) plus period_end, the period's last day, and is_complete_period: period_end on or before
    the data's as-of date (macros/dates.sql)."""
    start = pd.to_datetime(frame["period_start"]).astype("datetime64[us]")
    grain = frame["period_grain"]
    ends = {
        "day": start,
        "week": start + pd.Timedelta(days=6),
        "month": start + pd.offsets.MonthEnd(0),
        "quarter": start + pd.offsets.QuarterEnd(0),
    }
    end = start.copy()
    for name, value in ends.items():
        end = end.where(grain != name, value)
    return frame.assign(period_end=end.astype("datetime64[us]"), is_complete_period=end <= as_of)


def _as_of(responses: pd.DataFrame) -> pd.Timestamp:
    """The data's as-of date: the latest response_date of any survey type."""
    return pd.Timestamp(responses["response_date"].max())


def _as_flag(column: pd.Series) -> pd.Series:
    """A nullable boolean as plain bool, null counting as false (`count(case when x then 1 end)`)."""
    return column.fillna(False).astype(bool)


def _nps_ci_bound(promoters: pd.Series, detractors: pd.Series, responses: pd.Series, sign: float) -> pd.Series:
    """The adjusted-Wald bound of macros/nps.sql, clipped to [-100, 100]; null without responses."""
    n_adj = responses.astype("float64") + 3.0
    p_adj = (promoters.astype("float64") + 0.75) / n_adj
    d_adj = (detractors.astype("float64") + 0.75) / n_adj
    se = np.sqrt((p_adj + d_adj - (p_adj - d_adj) * (p_adj - d_adj)) / n_adj)
    bound = 100.0 * ((p_adj - d_adj) + sign * 1.96 * se)
    return bound.clip(-100.0, 100.0).where(responses > 0)


def nps_by_period(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """marts.nps_by_period: NPS responses and sends per period grain, period start and segment."""
    types = segment_types()
    responses = inputs["survey_responses"]
    as_of = _as_of(responses)
    responses = responses[
        (responses["survey_type"] == "nps") & responses["nps_category"].notna() & responses["responded_at"].notna()
    ].assign(
        is_promoter=lambda df: _as_flag(df["is_promoter"]),
        is_passive=lambda df: _as_flag(df["is_passive"]),
        is_detractor=lambda df: _as_flag(df["is_detractor"]),
    )
    sends = inputs["survey_events"]
    sends = sends[(sends["event_type"] == "send") & (sends["survey_type"] == "nps") & sends["event_at"].notna()]

    response_counts = (
        _segmented_by_period(responses, "responded_at", types, ["is_promoter", "is_passive", "is_detractor"])
        .groupby(KEYS)
        .agg(
            responses=("is_promoter", "size"),
            promoters=("is_promoter", "sum"),
            passives=("is_passive", "sum"),
            detractors=("is_detractor", "sum"),
        )
    )
    send_counts = _segmented_by_period(sends, "event_at", types, []).groupby(KEYS).size().rename("sends")
    # Each respondent's latest response per period and segment (ties: the greatest response_id).
    latest = (
        _segmented_by_period(
            responses,
            "responded_at",
            types,
            ["response_id", "respondent_key", "responded_at", "is_promoter", "is_passive", "is_detractor"],
        )
        .sort_values(["responded_at", "response_id"], ascending=False)
        .drop_duplicates([*KEYS, "respondent_key"])
    )
    respondent_counts = latest.groupby(KEYS).agg(
        respondents=("is_promoter", "size"),
        respondent_promoters=("is_promoter", "sum"),
        respondent_passives=("is_passive", "sum"),
        respondent_detractors=("is_detractor", "sum"),
    )

    # Every period and segment with responses or sends: an outer join on the keys, missing counts 0.
    counts = (
        pd.concat([response_counts, send_counts, respondent_counts], axis=1).fillna(0).astype("int64").reset_index()
    )
    n, p, d = counts["responses"], counts["promoters"], counts["detractors"]
    counts["nps"] = (100 * (p - d).astype("float64") / n).where(n > 0)
    counts["nps_ci_low"] = _nps_ci_bound(p, d, n, -1.0)
    counts["nps_ci_high"] = _nps_ci_bound(p, d, n, +1.0)
    counts["response_rate"] = (n.astype("float64") / counts["sends"]).where(counts["sends"] > 0)
    m, p, d = counts["respondents"], counts["respondent_promoters"], counts["respondent_detractors"]
    counts["respondent_nps"] = (100 * (p - d).astype("float64") / m).where(m > 0)
    counts["respondent_nps_ci_low"] = _nps_ci_bound(p, d, m, -1.0)
    counts["respondent_nps_ci_high"] = _nps_ci_bound(p, d, m, +1.0)
    return _with_period_end(counts, as_of)[NPS_COLUMNS]


def ces_by_period(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """marts.ces_by_period: CES responses per period grain, period start and segment (nps_by_period's segments
    plus ticket_category and agent), with the medians of the distinct linked tickets' reply and resolution minutes."""
    types = [*segment_types(), "ticket_category", "agent"]
    responses = inputs["survey_responses"]
    as_of = _as_of(responses)
    responses = responses[
        (responses["survey_type"] == "ces") & responses["score"].notna() & responses["responded_at"].notna()
    ]
    tickets = inputs["support_tickets"]
    # SQL never joins a null ticket_id; pandas would match null keys with each other.
    tickets = tickets.loc[
        tickets["ticket_id"].notna(),
        ["ticket_id", "ticket_category", "first_reply_minutes", "full_resolution_minutes"],
    ]
    agents = inputs["responses_attributed"].rename(columns={"agent_id": "agent"})
    ces = (responses.merge(tickets, on="ticket_id", how="left").merge(agents, on="response_id", how="left")).assign(
        ticket_category=lambda df: df["ticket_category"].fillna("no_ticket"),
        agent=lambda df: df["agent"].fillna("unknown"),
        score=lambda df: df["score"].astype("float64"),
        ces_is_easy=lambda df: _as_flag(df["ces_is_easy"]).astype("int64"),
        first_reply_minutes=lambda df: df["first_reply_minutes"].astype("float64"),
        full_resolution_minutes=lambda df: df["full_resolution_minutes"].astype("float64"),
    )
    periodized = _segmented_by_period(
        ces,
        "responded_at",
        types,
        ["score", "ces_is_easy", "ticket_id", "first_reply_minutes", "full_resolution_minutes"],
    )
    response_stats = periodized.groupby(KEYS).agg(
        responses=("score", "size"), ces_mean=("score", "mean"), ces_easy_share=("ces_is_easy", "mean")
    )
    # A ticket answered by several CES responses counts once in the medians (nulls left out, as SQL's).
    ticket_stats = (
        periodized.loc[
            periodized["ticket_id"].notna(), [*KEYS, "ticket_id", "first_reply_minutes", "full_resolution_minutes"]
        ]
        .drop_duplicates()
        .groupby(KEYS)
        .agg(
            median_first_reply_minutes=("first_reply_minutes", "median"),
            median_resolution_minutes=("full_resolution_minutes", "median"),
        )
    )
    return _with_period_end(response_stats.join(ticket_stats, how="left").reset_index(), as_of)[CES_COLUMNS]


def duckdb_seconds(con: duckdb.DuckDBPyConnection, sql: str, repeats: int = 1) -> float:
    """Wall seconds DuckDB takes to materialize `sql` (a model's compiled SQL) into a temporary table, which
    works on a read-only connection; the fastest of `repeats` runs. The table is dropped afterwards."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        con.execute(f"create or replace temp table benchmark_mart as\n{sql}")
        timings.append(time.perf_counter() - started)
    con.execute("drop table if exists temp.benchmark_mart")
    return min(timings)


def _kind(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_integer_dtype(column):
        return "int"
    if pd.api.types.is_float_dtype(column):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "other"  # strings, and dates as Python objects


def _comparable(column: pd.Series) -> pd.Series:
    """Dates and timestamps in one representation, so that equal values compare equal whatever their unit."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[us]")
    if column.dtype == object and column.map(lambda v: hasattr(v, "isoformat")).any():
        return pd.to_datetime(column).astype("datetime64[us]")
    if pd.api.types.is_string_dtype(column):
        return column.astype(object)
    return column


def _same(expected: pd.Series, actual: pd.Series, kind: str) -> np.ndarray:
    """Element-wise agreement: null == null; floats within REL_TOL (ABS_TOL near zero); anything else exact."""
    expected_null = expected.isna().to_numpy()
    actual_null = actual.isna().to_numpy()
    same = expected_null & actual_null
    both = ~expected_null & ~actual_null
    if kind == "float":
        e = expected.to_numpy(dtype="float64", na_value=np.nan)[both]
        a = actual.to_numpy(dtype="float64", na_value=np.nan)[both]
        tolerance = np.maximum(REL_TOL * np.maximum(np.abs(e), np.abs(a)), ABS_TOL)
        same[both] = np.abs(e - a) <= tolerance
    else:
        e = expected.to_numpy(dtype=object)[both]
        a = actual.to_numpy(dtype=object)[both]
        same[both] = (e == a).astype(bool)
    return same


def _plain(value: object) -> object:
    """NumPy scalars as Python ones and timestamps as ISO text, for readable messages."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def compare(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str]) -> None:
    """Raise AssertionError unless `actual` has the columns of `expected` and the same rows, matched on `keys`:
    integers, strings, dates and booleans exactly (and of the same kind), floats within a relative 1e-9,
    null equal to null. The message names the first difference (in key order)."""
    if list(actual.columns) != list(expected.columns):
        raise AssertionError(f"columns differ: expected {list(expected.columns)}, actual {list(actual.columns)}")
    for column in expected.columns:
        expected_kind, actual_kind = _kind(expected[column]), _kind(actual[column])
        if expected_kind != actual_kind and {expected_kind, actual_kind} != {"datetime", "other"}:
            raise AssertionError(
                f"column {column!r}: expected {expected[column].dtype} values, actual {actual[column].dtype}"
            )
    for name, frame in (("expected", expected), ("actual", actual)):
        duplicated = frame.duplicated(keys)
        if duplicated.any():
            key = {key: _plain(value) for key, value in frame.loc[duplicated, keys].iloc[0].items()}
            raise AssertionError(f"{name} has {int(duplicated.sum())} duplicate keys, first: {key}")

    def normalized(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{key: _comparable(frame[key]) for key in keys})

    merged = normalized(expected).merge(
        normalized(actual), on=keys, how="outer", suffixes=("__expected", "__actual"), indicator=True, sort=True
    )
    for side, what in (("left_only", "missing from actual"), ("right_only", "not expected (extra in actual)")):
        rows = merged[merged["_merge"] == side]
        if len(rows):
            first = {key: _plain(value) for key, value in rows[keys].iloc[0].items()}
            raise AssertionError(f"{len(rows)} rows {what}, first: {first}")
    merged = merged.reset_index(drop=True)
    values = [column for column in expected.columns if column not in keys]
    mismatches = {
        column: ~_same(
            _comparable(merged[f"{column}__expected"]),
            _comparable(merged[f"{column}__actual"]),
            _kind(expected[column]),
        )
        for column in values
    }
    differing = np.logical_or.reduce(list(mismatches.values())) if values else np.zeros(len(merged), bool)
    if differing.any():
        row = int(np.flatnonzero(differing)[0])
        column = next(column for column in values if mismatches[column][row])
        expected_value, actual_value = (_plain(merged.at[row, f"{column}__{side}"]) for side in ("expected", "actual"))
        key = {key: _plain(value) for key, value in merged.loc[row, keys].items()}
        raise AssertionError(
            f"{column!r} differs at {key}: expected {expected_value!r}, actual "
            f"{actual_value!r} ({int(mismatches[column].sum())} rows differ in {column!r}, "
            f"{int(differing.sum())} rows in all)"
        )
    assert len(expected) == len(actual) == len(merged), (len(expected), len(actual), len(merged))
