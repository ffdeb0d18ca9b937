"""Backfills of date ranges and re-runs give exactly the marts of one full run; nothing is duplicated."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
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
    pipeline.run(warehouse, small_landing, middle, days[-3])
    pipeline.run(warehouse, small_landing, days[0], middle - timedelta(days=1))
    pipeline.run(warehouse, small_landing, middle - timedelta(days=10), middle + timedelta(days=10))
    pipeline.run(warehouse, small_landing, days[-2], days[-2])
    pipeline.run(warehouse, small_landing, days[-1], days[-1])
    assert table_hashes(warehouse, "marts") == table_hashes(full_run, "marts")
    assert table_hashes(warehouse, "intermediate") == table_hashes(full_run, "intermediate")
    assert all(count == 0 for count in raw_key_duplicates(warehouse).values())


def test_rerunning_everything_changes_nothing(pipeline, small_landing, full_run, tmp_path):
    warehouse = tmp_path / "rerun.duckdb"
    shutil.copy(full_run, warehouse)
    before_marts, before_raw = table_hashes(warehouse, "marts"), raw_key_duplicates(warehouse)
    raw_counts_before = {t: table_hashes(warehouse, t.split(".")[0])[t.split(".")[1]][0] for t in before_raw}
    days = dates_present(small_landing, ENTITIES)
    pipeline.run(warehouse, small_landing, days[0], days[-1])
    assert table_hashes(warehouse, "marts") == before_marts
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


def latest_tickets_from_raw(versions: list[tuple]) -> set[tuple]:
    """(ticket_id, status, satisfaction_rating_id, satisfaction_rating_seen_at, updated_at) per ticket, in plain
    Python over the raw versions (record_id, _partition_date, _line_number, payload): the version with the latest
    updated_at, then partition, then line; the rating first seen at the earliest version carrying the latest's id."""

    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)

    by_ticket: dict[str, list[tuple]] = {}
    for record_id, day, line, payload in versions:
        ticket = json.loads(payload)
        rating = (ticket.get("satisfaction_rating") or {}).get("id")
        by_ticket.setdefault(record_id, []).append((utc(ticket["updated_at"]), day, line, ticket["status"], rating))
    expected = set()
    for record_id, rows in by_ticket.items():
        updated_at, _, _, status, rating = max(rows)
        seen = min(row[0] for row in rows if row[4] == rating) if rating is not None else None
        expected.add((int(record_id), status, rating, seen, updated_at))
    return expected


def test_zendesk_tickets_built_window_by_window_equal_a_full_refresh(full_run, tmp_path):
    """stg_zendesk__tickets is incremental on the partition window. Its raw days are loaded and built window by
    window as the pipeline does: the second half first, then the older first half, a re-run of a window over the
    middle, then the last two days, the last one re-landed with a changed version. Each step gives the latest
    version per ticket of the raw days loaded so far (computed here in Python), and the end equals a --full-refresh
    in every column."""
    warehouse = tmp_path / "tickets.duckdb"
    shutil.copy(full_run, warehouse)
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    columns = "ticket_id, status, satisfaction_rating_id, satisfaction_rating_seen_at, updated_at"

    def build(first: date | None = None, last: date | None = None, *args: str) -> None:
        window = ["--vars", json.dumps({"min_date": first.isoformat(), "max_date": last.isoformat()})] if first else []
        command = [str(Path(sys.executable).parent / "dbt"), "run", "--profiles-dir", ".", "-q"]
        command += ["--target-path", str(tmp_path / "target"), "--select", "stg_zendesk__tickets", *window, *args]
        subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, check=True)

    def load_and_build(first: date, last: date) -> None:
        """The raw loader replaces the window's days, then the run builds the window."""
        with duckdb.connect(str(warehouse)) as con:
            con.execute("delete from raw_zendesk.tickets where _partition_date between ? and ?", [first, last])
            con.execute(
                "insert into raw_zendesk.tickets select * from main.landed where _partition_date between ? and ?",
                [first, last],
            )
        build(first, last)

    def table(select: str = "*") -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(f"select {select} from staging.stg_zendesk__tickets order by ticket_id").fetchall()

    def expected() -> set[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            raw = "select record_id, _partition_date, _line_number, payload from raw_zendesk.tickets"
            return latest_tickets_from_raw(con.execute(raw).fetchall())

    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table main.landed as select * from raw_zendesk.tickets")
        days = [day for (day,) in con.execute("select distinct _partition_date from main.landed order by 1").fetchall()]
        middle = days[len(days) // 2]
        # The boundary is exercised: tickets with a version before the middle have a newer one after it.
        [(spanning,)] = con.execute(
            "select count(*) from (select record_id from main.landed group by record_id "
            "having min(_partition_date) < ? and max(_partition_date) >= ?)",
            [middle, middle],
        ).fetchall()
        assert spanning > 10
        con.execute("delete from raw_zendesk.tickets")
        con.execute("drop table staging.stg_zendesk__tickets")

    load_and_build(middle, days[-3])
    assert set(table(columns)) == expected()
    load_and_build(days[0], middle - timedelta(days=1))
    assert set(table(columns)) == expected()
    before = table()
    build(middle - timedelta(days=10), middle + timedelta(days=10))
    assert table() == before
    load_and_build(days[-2], days[-1])
    # The last day re-landed with a ticket's version changed (same updated_at): the new content wins.
    with duckdb.connect(str(warehouse)) as con:
        [(changed,)] = con.execute(
            "select min(record_id) from main.landed where _partition_date = ? and payload ->> 'status' <> 'hold'",
            [days[-1]],
        ).fetchall()
        con.execute(
            'update main.landed set payload = json_merge_patch(payload, \'{"status": "hold"}\') '
            "where _partition_date = ? and record_id = ?",
            [days[-1], changed],
        )

    def status_of_changed() -> list[str]:
        return [row[1] for row in table("cast(ticket_id as varchar), status") if row[0] == changed]

    assert status_of_changed() != ["hold"]
    load_and_build(days[-1], days[-1])
    incremental = table()
    assert set(table(columns)) == expected()
    assert status_of_changed() == ["hold"]
    build(None, None, "--full-refresh")
    assert table() == incremental
