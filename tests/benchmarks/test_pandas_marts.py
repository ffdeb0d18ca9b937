"""The pandas marts of the benchmark compute exactly what dbt builds, and `compare` catches every difference."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from benchmarks import pandas_marts

KEYS = pandas_marts.KEYS


@pytest.fixture(scope="module")
def marts(full_run: Path) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """{mart: (built by dbt, computed by pandas)} on the small demo's full run."""
    with duckdb.connect(str(full_run), read_only=True) as con:
        inputs = pandas_marts.load_inputs(con)
        built = {mart: con.execute(f"select * from marts.{mart}").df() for mart in ("nps_by_period", "ces_by_period")}
    computed = {
        "nps_by_period": pandas_marts.nps_by_period(inputs),
        "ces_by_period": pandas_marts.ces_by_period(inputs),
    }
    return {mart: (built[mart], computed[mart]) for mart in built}


@pytest.mark.e2e
@pytest.mark.parametrize("mart", ["nps_by_period", "ces_by_period"])
def test_pandas_computes_the_dbt_mart_row_for_row(marts, mart):
    expected, actual = marts[mart]
    assert len(actual) == len(expected) > 0
    pandas_marts.compare(expected, actual, KEYS)
    # Every grain and segment type is there (not a comparison of two empty corners).
    assert set(actual["period_grain"]) == set(pandas_marts.period_grains())
    types = set(pandas_marts.segment_types()) | ({"ticket_category", "agent"} if mart == "ces_by_period" else set())
    assert set(actual["segment_type"]) == types


@pytest.mark.e2e
def test_the_comparison_covers_nulls_and_every_column(marts):
    nps, _ = marts["nps_by_period"]
    ces, _ = marts["ces_by_period"]
    # Rows with sends but no responses (null NPS) and with responses but no sends (null response rate).
    assert nps["nps"].isna().any() and nps["response_rate"].isna().any()
    assert ((nps["nps_ci_low"] > -100) & (nps["nps_ci_high"] < 100)).any()
    assert set(nps["segment_value"]) >= {"all"}
    assert ces["median_first_reply_minutes"].notna().any()


# compare() on a hand-made mart: each kind of difference is caught and named.


def _mart() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period_grain": ["day", "day", "week"],
            "period_start": pd.to_datetime(["2026-08-03", "2026-08-04", "2026-08-03"]).astype("datetime64[us]"),
            "segment_type": ["overall", "overall", "overall"],
            "segment_value": ["all", "all", "all"],
            "responses": np.array([2, 0, 2], dtype="int64"),
            "nps": [50.0, np.nan, 12.5],
        }
    )


def test_compare_accepts_the_same_rows_in_any_order_and_date_representation():
    expected = _mart()
    actual = expected.iloc[::-1].assign(period_start=lambda df: df["period_start"].dt.date)
    actual.loc[0, "nps"] = 50.0 * (1 + 1e-12)
    pandas_marts.compare(expected, actual, KEYS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda df: df.drop(index=1),
            "1 rows missing from actual, first: {'period_grain': 'day', 'period_start': '2026-08-04T00:00:00'",
        ),
        (lambda df: pd.concat([df, df.iloc[[0]].assign(segment_value="x")]), "1 rows not expected"),
        (lambda df: pd.concat([df, df.iloc[[0]]]), "actual has 1 duplicate keys"),
        (lambda df: df.assign(nps=[50.0 * (1 + 1e-8), np.nan, 12.5]), "'nps' differs at {'period_grain': 'day'"),
        (
            lambda df: df.assign(nps=[50.0, 0.0, 12.5]),
            "'nps' differs at {'period_grain': 'day', 'period_start': '2026-08-04T00:00:00'",
        ),
        (lambda df: df.assign(responses=[2, 0, 3]), "'responses' differs at {'period_grain': 'week'"),
        (lambda df: df.assign(responses=df["responses"].astype("float64")), "column 'responses'"),
        (lambda df: df[["period_grain", "period_start", "segment_type", "segment_value", "nps"]], "columns differ"),
    ],
)
def test_compare_names_the_first_difference(change, message):
    with pytest.raises(AssertionError) as raised:
        pandas_marts.compare(_mart(), change(_mart()), KEYS)
    assert message in str(raised.value)
