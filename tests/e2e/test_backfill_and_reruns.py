"""Backfills of date ranges and re-runs give exactly the marts of one full run; nothing is duplicated."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import dates_present
from ingestion.registry import ENTITIES
from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


def table_hashes(warehouse: Path, schema: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content hash of every table in a schema (load columns excluded)."""
    hashes = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
        ).fetchall()
        for (table,) in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "and column_name not in ('_loaded_at', '_batch_id') order by ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            rows = con.execute(f'select {", ".join(columns)} from {schema}."{table}"').fetchall()
            digest = hashlib.sha256("\n".join(sorted(repr(row) for row in rows)).encode()).hexdigest()
            hashes[table] = (len(rows), digest)
    return hashes


def raw_key_duplicates(warehouse: Path) -> dict[str, int]:
    checks = {f"raw_{spec.source}.{spec.entity}": spec for spec in ENTITIES}
    found = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, spec in checks.items():
            if spec.layout == "csv":
                key = spec.csv_columns[0]
            else:
                key = "record_id" if spec.layout == "json_object" else "message_id"
            partition = "" if spec.layout == "segment_tracks" else ", _partition_date"
            found[table] = con.execute(f"select count(*) - count(distinct ({key}{partition})) from {table}").fetchall()[
                0
            ][0]
    return found


def test_backfill_in_pieces_matches_the_full_run(pipeline, small_landing, full_run, tmp_path):
    days = dates_present(small_landing, ENTITIES)
    middle = days[len(days) // 2]
    warehouse = tmp_path / "backfilled.duckdb"
    # An analyst backfills the second half first (but its last two days), then the first half, then an overlapping
    # window again; the daily schedule then runs the last two days one at a time, each moving the as-of date.
    windows = [
        (middle, days[-3]),
        (days[0], middle - timedelta(days=1)),
        (middle - timedelta(days=10), middle + timedelta(days=10)),
        (days[-2], days[-2]),
        (days[-1], days[-1]),
    ]
    runs = [pipeline.run(warehouse, small_landing, first, last).run_id for first, last in windows]
    assert table_hashes(warehouse, "marts") == table_hashes(full_run, "marts")
    assert table_hashes(warehouse, "intermediate") == table_hashes(full_run, "intermediate")
    assert all(count == 0 for count in raw_key_duplicates(warehouse).values())
    # dbt parsed the whole project in the first run only (dbt's log in each run's target folder, rotated at 10 MB):
    # every later run, each with a new window, started from the warehouse's kept parse and re-parsed only the few
    # files that read the window (orchestration/defs/dbt/parse.py), of the project's 266.
    for run_id in runs[1:]:
        log = "".join(path.read_text() for path in (DBT_PROJECT_DIR / "target" / f"run-{run_id}").glob("dbt.log*"))
        assert "Unable to do partial parsing" not in log and "Starting full parse" not in log
        changed = [
            int(n)
            for n in re.findall(r"Partial parsing enabled: 0 files deleted, 0 files added, (\d+) files changed", log)
        ]
        assert changed and max(changed) <= 10, changed


def test_rerunning_everything_changes_nothing(pipeline, small_landing, full_run, tmp_path):
    warehouse = tmp_path / "rerun.duckdb"
    shutil.copy(full_run, warehouse)
    before_marts, before_raw = table_hashes(warehouse, "marts"), raw_key_duplicates(warehouse)
    raw_counts_before = {t: table_hashes(warehouse, t.split(".")[0])[t.split(".")[1]][0] for t in before_raw}
    days = dates_present(small_landing, ENTITIES)
    result = pipeline.run(warehouse, small_landing, days[0], days[-1])
    assert table_hashes(warehouse, "marts") == before_marts
    # The churn marts were not computed again: their inputs' fingerprint is the full run's (analytics/tables.py).
    for name in ("churn_risk_backtest", "churn_rule_weights"):
        [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["marts", name]]
        assert event.materialization.metadata["inputs_unchanged"].value is True, name
    raw_counts_after = {t: table_hashes(warehouse, t.split(".")[0])[t.split(".")[1]][0] for t in before_raw}
    assert raw_counts_after == raw_counts_before
    assert all(count == 0 for count in raw_key_duplicates(warehouse).values())


def test_weekly_usage_follows_the_as_of_date_across_days_without_events(full_run, tmp_path):
    """int_account_usage_weekly measures the current week on the as-of date (the latest activity date). History up
    to a Wednesday, then four days without any event, then a run for the next week's window: the Wednesday's week
    must be measured again on its Sunday, exactly as a full build of the same inputs does."""
    warehouse = tmp_path / "gap.duckdb"
    shutil.copy(full_run, warehouse)
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}

    def build(*args: str) -> None:
        dbt = Path(sys.executable).parent / "dbt"
        # Its own target folder: the project's target/ holds the parse the Dagster definitions read.
        target = ["--target-path", str(tmp_path / "target")]
        command = [
            str(dbt),
            "build",
            "--profiles-dir",
            ".",
            "-q",
            *target,
            "--select",
            "int_account_usage_weekly",
            *args,
        ]
        subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, check=True)

    def weeks() -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute("select * from intermediate.int_account_usage_weekly order by 1, 2").fetchall()

    with duckdb.connect(str(warehouse)) as con:
        [(last_day,)] = con.execute("select max(activity_date) from intermediate.int_usage_daily").fetchall()
        monday = last_day - timedelta(days=last_day.weekday())
        wednesday = monday - timedelta(days=5)
        con.execute(
            "create table main.held_back_daily as select * from intermediate.int_usage_daily where activity_date >= ?",
            [monday],
        )
        con.execute(
            "create table main.held_back_weekly as select * from intermediate.int_usage_weekly where week_start >= ?",
            [monday],
        )
        con.execute("delete from intermediate.int_usage_daily where activity_date > ?", [wednesday])
        con.execute("delete from intermediate.int_usage_weekly where week_start >= ?", [monday])
    build("--full-refresh")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select max(measured_on) from intermediate.int_account_usage_weekly").fetchall() == [
            (wednesday,)
        ]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into intermediate.int_usage_daily select * from main.held_back_daily")
        con.execute("insert into intermediate.int_usage_weekly select * from main.held_back_weekly")
    build("--vars", json.dumps({"min_date": monday.isoformat(), "max_date": last_day.isoformat()}))
    incremental = weeks()
    build("--full-refresh")
    assert incremental == weeks()
    sunday = wednesday + timedelta(days=4)
    assert {row[2] for row in incremental if row[1] == wednesday - timedelta(days=2)} == {sunday}
