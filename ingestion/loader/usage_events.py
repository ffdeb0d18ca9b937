"""The usage-event layout: high-volume Segment track calls, appended straight to the raw table by DuckDB's JSON
reader, then settled in one transaction.

Every file is appended by one `read_json` statement whose `row_number() over ()` is the record's number in the
file; a numbered scan runs on one thread, so as many connections as DuckDB has threads take files from one queue,
each appending in one transaction (every core reads, nothing is staged and written twice). A file the fast reader
refuses (a malformed line, bytes that are not UTF-8, a key given twice) goes through the line-by-line path of
`ingestion.loader.lines`, so its good events still load. The settling transaction removes the days' previous
rows, moves the events that break a contract rule to the rejects table and keeps the first copy of a messageId.
Appended rows are committed before the settling transaction: the load is listed in `raw_meta.loads_in_progress`
until it commits, and a load that died in between is taken out by the next load of the entity.
"""

from __future__ import annotations

import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.contracts.rules import Contract
from ingestion.entities import EntitySpec
from ingestion.landing import LandingFileError, open_bytes
from ingestion.loader.json_objects import note_drift
from ingestion.loader.lines import stage_lines
from ingestion.loader.records import (
    insert_staged_rejects,
    log_loads,
    partitions_of,
    raw_record_sql,
    resend_window_filter,
    rule_sql,
)
from ingestion.loader.results import FileLoad, StagedFile, file_load
from ingestion.loader.tables import LOADS_IN_PROGRESS, RAW_SEGMENT_COLUMNS, SEGMENT_COLUMNS, sql_string

# Every top-level field of Segment's track spec. Only the contract's columns are kept; a field outside this list is
# schema drift (reported, not kept: the fast reader projects the contract's columns).
SEGMENT_SPEC_FIELDS = frozenset(
    {
        *SEGMENT_COLUMNS,
        "type",
        "sentAt",
        "receivedAt",
        "originalTimestamp",
        "integrations",
        "version",
        "channel",
        "writeKey",
        "projectId",
        "groupId",
        "_metadata",
    }
)
# Schema drift is looked for in the first records of every file (a new top-level field of the track call appears
# on every event from the day the sender starts sending it).
DRIFT_SAMPLE_RECORDS = 128
_FROM_JSON_LINE = """
    coalesce(trim(json_extract_string({j}, 'messageId')), ''), json_extract_string({j}, 'event'),
    json_extract_string({j}, 'userId'),
    json_extract_string({j}, 'anonymousId'), json_extract_string({j}, '$.context.groupId'),
    json_extract_string({j}, 'timestamp'), json_extract({j}, 'properties'), json_extract({j}, 'context')
"""


def _head(path: Path, records: int = DRIFT_SAMPLE_RECORDS) -> str:
    """The first `records` lines of a file, read in 64 KiB blocks (a bounded sample, not the file)."""
    blocks: list[bytes] = []
    seen = 0
    try:
        with open_bytes(path) as handle:
            while seen < records and (block := handle.read(1 << 16)):
                blocks.append(block)
                seen += block.count(b"\n")
    except (OSError, EOFError, zlib.error):
        pass  # a broken .gz file: the load names where it breaks; drift is looked for in what could be read
    text = b"".join(blocks).decode("utf-8", errors="replace")
    return "\n".join(text.split("\n")[:records])


def _note_segment_drift(con: duckdb.DuckDBPyConnection, files: list[StagedFile]) -> None:
    """Top-level fields outside the track spec in the first records of each file, found by DuckDB's `json_keys`
    over every file's head in one query."""
    con.execute(
        "create or replace temp table _heads as "
        "select unnest(?::integer[]) as file_index, unnest(?::varchar[]) as head",
        [[staged.file_index for staged in files], [_head(staged.lf.path) for staged in files]],
    )
    rows = con.execute(
        """
        select file_index, list(distinct field) from (
            select file_index, unnest(json_keys(line)) as field from (
                select file_index, unnest(string_split(head, chr(10))) as line from _heads
            )
            where coalesce(json_valid(line), false) and left(ltrim(line), 1) = '{'
        )
        where field not in (select unnest(?))
        group by 1
        """,
        [sorted(SEGMENT_SPEC_FIELDS)],
    ).fetchall()
    con.execute("drop table _heads")
    note_drift(files, {index: sorted(fields) for index, fields in rows})


def _append_files(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[StagedFile], batch_id: str, loaded_at: datetime
) -> list[StagedFile]:
    """Append every file to the raw table (see the module docstring). A missing messageId is appended as '' and
    quarantined by the key rule afterwards. Returns the files DuckDB's reader cannot read."""
    columns = "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in SEGMENT_COLUMNS.items()) + "}"
    [(threads,)] = con.execute("select current_setting('threads')::integer").fetchall()
    queue = list(reversed(files))
    unreadable: list[StagedFile] = []
    lock = threading.Lock()

    def append(cursor: duckdb.DuckDBPyConnection, staged: StagedFile) -> None:
        cursor.execute(
            f"""
            insert into {spec.table} ({RAW_SEGMENT_COLUMNS})
            select coalesce(trim("messageId"), ''), event, "userId", "anonymousId", context ->> 'groupId',
                   "timestamp", properties, context, ?::date, ?::varchar, row_number() over (), ?::varchar,
                   ?::timestamp
            from read_json({sql_string(str(staged.lf.path))}, format = 'newline_delimited', columns = {columns})
            """,
            [staged.lf.partition_date, staged.lf.relative_path, batch_id, loaded_at],
        )

    def work(cursor: duckdb.DuckDBPyConnection) -> None:
        with cursor:
            done: list[StagedFile] = []
            cursor.execute("begin transaction")
            while True:
                with lock:
                    if not queue:
                        break
                    staged = queue.pop()
                try:
                    append(cursor, staged)
                    done.append(staged)
                except duckdb.Error:
                    # A failed statement aborts the transaction: start it again without this file.
                    cursor.execute("rollback")
                    with lock:
                        unreadable.append(staged)
                    cursor.execute("begin transaction")
                    for again in done:
                        append(cursor, again)
            cursor.execute("commit")

    # The connections are opened here, before the threads start (a cursor is a new connection to the same database).
    cursors = [con.cursor() for _ in range(max(1, min(threads, len(files))))]
    with ThreadPoolExecutor(max_workers=len(cursors), thread_name_prefix="append") as pool:
        for worker in [pool.submit(work, cursor) for cursor in cursors]:
            worker.result()
    return sorted(unreadable, key=lambda staged: staged.file_index)


def take_out_interrupted_loads(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    interrupted = con.execute(
        f"select batch_id, loaded_at from {LOADS_IN_PROGRESS} where source = ? and entity = ?",
        [spec.source, spec.entity],
    ).fetchall()
    if not interrupted:
        return
    con.execute("begin transaction")
    for batch, at in interrupted:
        for table in (spec.table, spec.rejects_table):
            con.execute(f"delete from {table} where _batch_id = ? and _loaded_at = ?", [batch, at])
    con.execute(f"delete from {LOADS_IN_PROGRESS} where source = ? and entity = ?", [spec.source, spec.entity])
    con.execute("commit")


def load(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    staged: list[StagedFile],
    batch_id: str,
    rules: Contract,
    contract: str,
    refuse_emptying,
) -> list[FileLoad]:
    """Append, then settle (see the module docstring). `refuse_emptying(files, valid_counts)` fails the files that
    would empty a day that holds data."""
    take_out_interrupted_loads(con, spec)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute(f"insert into {LOADS_IN_PROGRESS} values (?, ?, ?, ?)", [spec.source, spec.entity, batch_id, loaded_at])
    this_load = f"_batch_id = {sql_string(batch_id)} and _loaded_at = '{loaded_at.isoformat(sep=' ')}'::timestamp"
    try:
        _note_segment_drift(con, staged)
        unreadable = _append_files(con, spec, staged, batch_id, loaded_at)
        if unreadable:
            stage_lines(con, unreadable, strict=False)
            _append_lines(con, spec, unreadable, batch_id, loaded_at)
        return _settle(con, spec, staged, batch_id, loaded_at, this_load, rules, contract, refuse_emptying)
    except BaseException:
        con.execute(f"delete from {spec.table} where {this_load}")
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        raise


def _append_lines(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[StagedFile], batch_id: str, loaded_at: datetime
) -> None:
    """The line-by-line path: the lines of files the fast reader refused. A line whose object gives a key twice is
    set aside (the fast reader refuses it for the same reason; which value is meant is ambiguous)."""
    duplicated = (
        "list_filter(json_keys(line_text), lambda key, position: list_position(json_keys(line_text), key) < position)"
    )
    con.execute(
        f"""
        insert into _rejected
        select file_index, line_number,
               'key "' || {duplicated}[1] || '" appears twice in the event: which value is meant is ambiguous',
               line_text
        from _lines where len({duplicated}) > 0
        """
    )
    con.execute(f"delete from _lines where len({duplicated}) > 0")
    good = ", ".join(str(f.file_index) for f in files if f.error is None) or "null"
    con.execute(
        f"""
        insert into {spec.table} ({RAW_SEGMENT_COLUMNS})
        select {_FROM_JSON_LINE.format(j="line_text").strip()}, files.partition_date,
               files.relative_path, lines.line_number, ?, ?::timestamp
        from _lines as lines join _files as files using (file_index)
        where file_index in ({good})
        """,
        [batch_id, loaded_at],
    )
    con.execute("drop table _lines")


def _settle(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    staged: list[StagedFile],
    batch_id: str,
    loaded_at: datetime,
    this_load: str,
    rules: Contract,
    contract: str,
    refuse_emptying,
) -> list[FileLoad]:
    table, key = spec.table, "nullif(message_id, '')"
    reason, broken = rule_sql(spec, rules.rules, key=key)
    # The rules are evaluated once, over the contract's projection: the records that break one are set aside, then
    # moved.
    con.execute(
        f"""
        create or replace temp table _broken as
        select {reason} as reason, {raw_record_sql(spec, key=key)} as raw_record, _partition_date,
               _source_file, _line_number
        from {rules.over(f"(select * from {table} where {this_load})")} where {broken}
        """
    )
    appended = dict(con.execute(f"select _source_file, count(*) from {table} where {this_load} group by 1").fetchall())
    broken_counts = dict(con.execute("select _source_file, count(*) from _broken group by 1").fetchall())
    set_aside = dict(con.execute("select file_index, count(*) from _rejected group by 1").fetchall())
    valid = {
        f.file_index: appended.get(f.lf.relative_path, 0) - broken_counts.get(f.lf.relative_path, 0) for f in staged
    }
    read = {f.file_index: appended.get(f.lf.relative_path, 0) + set_aside.get(f.file_index, 0) for f in staged}
    refuse_emptying([f for f in staged if f.error is None], valid, read)
    failed = [f.lf.relative_path for f in staged if f.error is not None]
    if failed:
        listed = ", ".join(sql_string(name) for name in failed)
        con.execute(f"delete from {table} where {this_load} and _source_file in ({listed})")
        con.execute(f"delete from _broken where _source_file in ({listed})")
    good = [f for f in staged if f.error is None]
    if not good:
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        return []
    partitions = partitions_of(good)
    good_indexes = ", ".join(str(f.file_index) for f in good)
    con.execute("begin transaction")
    try:
        # The partitions' previous content goes (events of this load are told apart by batch and load time).
        con.execute(f"delete from {table} where _partition_date in {partitions} and not ({this_load})")
        con.execute(f"delete from {spec.rejects_table} where _partition_date in {partitions}")
        con.execute(f"insert into {spec.rejects_table} select *, ?, ?::timestamp from _broken", [batch_id, loaded_at])
        con.execute(
            f"""
            delete from {table} using _broken as broken
            where {table}._source_file = broken._source_file and {table}._line_number = broken._line_number
              and {this_load}
            """
        )
        insert_staged_rejects(con, spec, good, batch_id, loaded_at)
        malformed = dict(
            con.execute(
                f"select files.relative_path, count(*) from _rejected join _files as files using (file_index) "
                f"where file_index in ({good_indexes}) group by 1"
            ).fetchall()
        )
        # Events are immutable: the first copy of a messageId wins (earlier day, then earlier line). Copies are
        # ranked only among the keys that occur more than once in this load (a hash aggregate finds them).
        con.execute(
            f"""
            create or replace temp table _superseded as
            select _source_file, _line_number, version_rank, in_file_rank from (
                select _source_file, _line_number,
                       row_number() over (partition by message_id order by _partition_date, _line_number)
                           as version_rank,
                       row_number() over (partition by _source_file, message_id order by _line_number)
                           as in_file_rank
                from {table} semi join (
                    select hash(message_id) as key_hash from {table} where {this_load} group by 1 having count(*) > 1
                ) as repeated on repeated.key_hash = hash(message_id)
                where {this_load}
            )
            where version_rank > 1 or in_file_rank > 1
            """
        )
        con.execute(
            f"""
            delete from {table} using _superseded as superseded
            where {table}._source_file = superseded._source_file and {table}._line_number = superseded._line_number
              and superseded.version_rank > 1 and {this_load}
            """
        )
        # ... and against the rest of the table: an event re-sent on another day is already loaded. The new
        # events are joined to the days within the spec's re-send window (an inner join builds its hash table on
        # the smaller side); the partition filter lets DuckDB skip the rest of the history.
        con.execute(
            f"""
            create or replace temp table _resent as
            select new.message_id from (select message_id from {table} where {this_load}) as new
            join (
                select message_id from {table}
                where _partition_date not in {partitions} {resend_window_filter(spec, good)}
            ) as loaded
            using (message_id)
            """
        )
        con.execute(f"delete from {table} where {this_load} and message_id in (select message_id from _resent)")
        in_file = dict(
            con.execute("select _source_file, count(*) from _superseded where in_file_rank > 1 group by 1").fetchall()
        )
        rejected = dict(
            con.execute(
                f"select _source_file, count(*) from {spec.rejects_table} where {this_load} group by 1"
            ).fetchall()
        )
        loaded = dict(
            con.execute(f"select _source_file, count(*) from {table} where {this_load} group by 1").fetchall()
        )
        loads = []
        for f in good:
            name = f.lf.relative_path
            read = appended.get(name, 0) + malformed.get(name, 0)
            loads.append(file_load(f, read, rejected.get(name, 0), in_file.get(name, 0), loaded.get(name, 0)))
        log_loads(con, spec, good, loads, batch_id, loaded_at, contract)
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


__all__ = ["LandingFileError", "load", "take_out_interrupted_loads"]
