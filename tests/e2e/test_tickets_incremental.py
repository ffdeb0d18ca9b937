"""stg_zendesk__tickets, incremental on the partition window, built window by window (out of order, re-run, a
day re-landed) equals the latest version per ticket computed here from the raw rows, and a --full-refresh.

A module of its own so that pytest-xdist (--dist loadscope) runs it beside test_backfill_and_reruns.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e


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
