"""stg_zendesk__tickets and stg_zendesk__ticket_metrics, incremental on the partition window, built window by window
(out of order, re-run, a day re-landed) equal the latest version per ticket computed here from the raw rows, and a
--full-refresh.

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


def utc(text: str) -> datetime:
    """Zendesk's ISO-8601 UTC time as the naive UTC timestamp staging holds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def latest_tickets_from_raw(versions: list[tuple]) -> set[tuple]:
    """(ticket_id, status, satisfaction_rating_id, satisfaction_rating_seen_at, updated_at) per ticket, in plain
    Python over the raw versions (record_id, _partition_date, _line_number, payload): the version with the latest
    updated_at, then partition, then line; the rating first seen at the earliest version carrying the latest's id."""

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


def latest_metrics_from_raw(versions: list[tuple]) -> set[tuple]:
    """(ticket_id, ticket_metric_id, replies, first_reply_minutes, first_reply_loaded_on, updated_at) per ticket, in
    plain Python over the raw metric-set versions: the version with the latest updated_at, then partition, then line,
    per the payload's ticket_id; the first reply known from the earliest landing day of a version carrying one."""

    by_ticket: dict[int, list[tuple]] = {}
    for _, day, line, payload in versions:
        metrics = json.loads(payload)
        reply = (metrics.get("reply_time_in_minutes") or {}).get("calendar")
        version = (utc(metrics["updated_at"]), day, line, metrics["id"], metrics.get("replies"), reply)
        by_ticket.setdefault(metrics["ticket_id"], []).append(version)
    expected = set()
    for ticket_id, rows in by_ticket.items():
        updated_at, _, _, metric_id, replies, reply = max(rows)
        known = min((row[1] for row in rows if row[5] is not None), default=None)
        expected.add((ticket_id, metric_id, replies, reply, known, updated_at))
    return expected


def test_zendesk_tickets_built_window_by_window_equal_a_full_refresh(full_run, tmp_path):
    """stg_zendesk__tickets and stg_zendesk__ticket_metrics are incremental on the partition window. Their raw days
    are loaded and built window by window as the pipeline does: the second half first, then the older first half, a
    re-run of a window over the middle, then the last two days, the last one re-landed with a changed version of a
    ticket and of a metric set. Each step gives the latest version per ticket of the raw days loaded so far
    (computed here in Python), and the end equals a --full-refresh in every column."""
    warehouse = tmp_path / "tickets.duckdb"
    shutil.copy(full_run, warehouse)
    env = {**os.environ, "NPS_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    columns = "ticket_id, status, satisfaction_rating_id, satisfaction_rating_seen_at, updated_at"
    metric_columns = "ticket_id, ticket_metric_id, replies, first_reply_minutes, first_reply_loaded_on, updated_at"
    models = ("stg_zendesk__tickets", "stg_zendesk__ticket_metrics")
    raw_tables = ("tickets", "ticket_metrics")

    def build(first: date | None = None, last: date | None = None, *args: str) -> None:
        window = ["--vars", json.dumps({"min_date": first.isoformat(), "max_date": last.isoformat()})] if first else []
        command = [str(Path(sys.executable).parent / "dbt"), "run", "--profiles-dir", ".", "-q"]
        command += ["--target-path", str(tmp_path / "target"), "--select", *models, *window, *args]
        subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, check=True)

    def load_and_build(first: date, last: date) -> None:
        """The raw loader replaces the window's days, then the run builds the window."""
        with duckdb.connect(str(warehouse)) as con:
            for name in raw_tables:
                con.execute(f"delete from raw_zendesk.{name} where _partition_date between ? and ?", [first, last])
                con.execute(
                    f"insert into raw_zendesk.{name} select * from main.landed_{name} "
                    "where _partition_date between ? and ?",
                    [first, last],
                )
        build(first, last)

    def table(select: str = "*", model: str = "stg_zendesk__tickets") -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(f"select {select} from staging.{model} order by ticket_id").fetchall()

    def metrics(select: str = "*") -> list[tuple]:
        return table(select, "stg_zendesk__ticket_metrics")

    def raw(name: str) -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            query = f"select record_id, _partition_date, _line_number, payload from raw_zendesk.{name}"
            return con.execute(query).fetchall()

    def check() -> None:
        assert set(table(columns)) == latest_tickets_from_raw(raw("tickets"))
        assert set(metrics(metric_columns)) == latest_metrics_from_raw(raw("ticket_metrics"))

    with duckdb.connect(str(warehouse)) as con:
        for name in raw_tables:
            con.execute(f"create table main.landed_{name} as select * from raw_zendesk.{name}")
        days = [
            day
            for (day,) in con.execute("select distinct _partition_date from main.landed_tickets order by 1").fetchall()
        ]
        middle = days[len(days) // 2]
        # The demo's metric sets seldom change after the day they land. A reopened ticket's metric set is updated on a
        # later day: 20 sets of the first half get such a version in the second half (one more reply and reopen, a
        # newer updated_at), and 5 of them had no first reply until then (their first version's reply time null).
        later = middle + timedelta(days=5)
        assert later < days[-3]
        con.execute(
            "create table main.reopened as select record_id from main.landed_ticket_metrics group by 1 "
            "having max(_partition_date) < ? order by 1 limit 20",
            [middle],
        )
        con.execute(
            "insert into main.landed_ticket_metrics select * replace ("
            "  json_merge_patch(payload, json_object("
            "    'replies', cast(payload ->> 'replies' as integer) + 1,"
            "    'reopens', cast(payload ->> 'reopens' as integer) + 1,"
            "    'updated_at', strftime(cast(? as date) + interval 12 hour, '%Y-%m-%dT%H:%M:%SZ'))) as payload,"
            "  cast(? as date) as _partition_date, 100000 + row_number() over (order by record_id) as _line_number"
            ") from main.landed_ticket_metrics where record_id in (select record_id from main.reopened)",
            [later, later],
        )
        con.execute(
            "update main.landed_ticket_metrics set payload = json_merge_patch(payload, "
            '\'{"reply_time_in_minutes": {"calendar": null, "business": null}}\') '
            "where _partition_date < ? and record_id in (select record_id from main.reopened order by 1 limit 5)",
            [middle],
        )
        # The boundary is exercised: tickets with a version before the middle have a newer one after it.
        for name, key in (("tickets", "record_id"), ("ticket_metrics", "payload ->> '$.ticket_id'")):
            [(spanning,)] = con.execute(
                f"select count(*) from (select {key} from main.landed_{name} group by 1 "
                "having min(_partition_date) < ? and max(_partition_date) >= ?)",
                [middle, middle],
            ).fetchall()
            assert spanning > 10, name
            con.execute(f"delete from raw_zendesk.{name}")
        for model in models:
            con.execute(f"drop table staging.{model}")

    load_and_build(middle, days[-3])
    check()
    load_and_build(days[0], middle - timedelta(days=1))
    check()
    before = (table(), metrics())
    build(middle - timedelta(days=10), middle + timedelta(days=10))
    assert (table(), metrics()) == before
    load_and_build(days[-2], days[-1])
    # The last day re-landed with a ticket's version changed (same updated_at), and the version of a metric set that
    # is its ticket's latest: the new content wins.
    with duckdb.connect(str(warehouse)) as con:
        [(changed,)] = con.execute(
            "select min(record_id) from main.landed_tickets where _partition_date = ? and payload ->> 'status' <> 'hold'",
            [days[-1]],
        ).fetchall()
        con.execute(
            'update main.landed_tickets set payload = json_merge_patch(payload, \'{"status": "hold"}\') '
            "where _partition_date = ? and record_id = ?",
            [days[-1], changed],
        )
        [(changed_metric,)] = con.execute(
            "select min(record_id) from main.landed_ticket_metrics m where _partition_date = ? and "
            "cast(payload ->> 'updated_at' as timestamptz) = (select max(cast(payload ->> 'updated_at' as timestamptz)) "
            "from main.landed_ticket_metrics o where o.payload ->> 'ticket_id' = m.payload ->> 'ticket_id')",
            [days[-1]],
        ).fetchall()
        con.execute(
            "update main.landed_ticket_metrics set payload = json_merge_patch(payload, '{\"replies\": 99}') "
            "where _partition_date = ? and record_id = ?",
            [days[-1], changed_metric],
        )

    def status_of_changed() -> list[str]:
        return [row[1] for row in table("cast(ticket_id as varchar), status") if row[0] == changed]

    def replies_of_changed() -> list[int]:
        return [row[1] for row in metrics("cast(ticket_metric_id as varchar), replies") if row[0] == changed_metric]

    assert status_of_changed() != ["hold"]
    assert replies_of_changed() != [99]
    load_and_build(days[-1], days[-1])
    incremental = (table(), metrics())
    check()
    assert status_of_changed() == ["hold"]
    assert replies_of_changed() == [99]
    build(None, None, "--full-refresh")
    assert (table(), metrics()) == incremental
