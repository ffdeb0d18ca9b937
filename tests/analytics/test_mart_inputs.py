"""A Python mart is not computed again when its inputs, its code and its libraries are unchanged
(analytics/tables.py): the fingerprint, the record kept beside the mart, and the churn backtest read back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import churn_backtest as cb
from analytics import churn_weights as cw
from analytics.tables import INPUTS_TABLE, inputs_fingerprint, unchanged_inputs, write_with_inputs
from tests.analytics.test_churn_weights import SEED, TRUTH, planted

CODE = [Path(cb.__file__)]


def fingerprint(frame: pd.DataFrame) -> str:
    return inputs_fingerprint([frame], CODE, ["numpy"])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=30),
    position=st.integers(min_value=0),
)
def test_the_fingerprint_changes_with_any_value_and_only_then(values, position):
    frame = pd.DataFrame({"x": values, "label": [i % 2 == 0 for i in range(len(values))]})
    assert fingerprint(frame) == fingerprint(frame.copy())
    changed = frame.copy()
    row = position % len(values)
    changed.loc[row, "x"] = values[row] + 1.0 if abs(values[row]) < 1e6 else 0.5
    if changed.loc[row, "x"] != values[row]:
        assert fingerprint(changed) != fingerprint(frame)
    flipped = frame.copy()
    flipped.loc[row, "label"] = not frame.loc[row, "label"]
    assert fingerprint(flipped) != fingerprint(frame)


def test_the_fingerprint_follows_column_names_types_code_and_libraries(tmp_path):
    frame = pd.DataFrame({"x": [1, 2, 3]})
    base = fingerprint(frame)
    assert fingerprint(frame.rename(columns={"x": "y"})) != base
    assert fingerprint(frame.astype("int32")) != base
    assert fingerprint(frame.iloc[:2]) != base
    other_code = tmp_path / "other.py"
    other_code.write_text(CODE[0].read_text() + "\n# changed\n")
    assert inputs_fingerprint([frame], [other_code], ["numpy"]) != base
    assert inputs_fingerprint([frame], CODE, ["numpy", "pandas"]) != base


def test_a_mart_is_kept_only_while_its_recorded_inputs_match(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    table = "marts.example"

    def write(value: int):
        def replace() -> int:
            con.execute("create schema if not exists marts")
            con.execute(f"create or replace table {table} as select {value} as v")
            return 1

        return replace

    assert not unchanged_inputs(con, table, "a")  # nothing recorded yet
    write_with_inputs(con, table, "a", write(1))
    assert unchanged_inputs(con, table, "a") and not unchanged_inputs(con, table, "b")
    write_with_inputs(con, table, "b", write(2))
    assert unchanged_inputs(con, table, "b") and not unchanged_inputs(con, table, "a")
    assert con.execute(f"select count(*) from {INPUTS_TABLE}").fetchone()[0] == 1

    # A write that stops half-way leaves no record: the next run computes again, whatever its inputs.
    def fails() -> int:
        con.execute(f"create or replace table {table} as select 3 as v")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        write_with_inputs(con, table, "a", fails)
    assert not unchanged_inputs(con, table, "a") and not unchanged_inputs(con, table, "b")
    # A mart dropped (a warehouse rebuilt by hand) is computed again even with its record left.
    write_with_inputs(con, table, "c", write(4))
    con.execute(f"drop table {table}")
    assert not unchanged_inputs(con, table, "c")


def test_the_backtest_read_back_is_the_backtest_written(tmp_path, monkeypatch):
    monkeypatch.setattr(cw, "BOOTSTRAP_DRAWS", 20)
    monkeypatch.setattr(cb, "BOOTSTRAP_DRAWS", 50)
    frame = planted(months=8, accounts=150, seed=5, truth=TRUTH, intercept=-2.0)
    backtest = cb.run(frame, SEED)
    assert backtest.rules_test_auc is not None and backtest.challenger_test_auc is not None
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    cb.write(con, backtest)
    again = cb.Backtest.from_table(con)
    assert again.rules_test_auc == pytest.approx(backtest.rules_test_auc)
    assert again.challenger_test_auc == pytest.approx(backtest.challenger_test_auc)
    assert again.default_model == backtest.default_model
    written, read = backtest.frame(), again.frame()
    assert len(read) == len(written)
    assert np.allclose(read.value.to_numpy(float), written.value.to_numpy(float))
    assert read.model.tolist() == written.model.tolist() and read.metric.tolist() == written.metric.tolist()
