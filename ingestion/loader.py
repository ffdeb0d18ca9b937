"""Load landing files into their raw DuckDB table through DuckDB's own readers: one transaction per entity and run.

Every changed file of an entity is staged into one temporary table and checked in SQL. Records that break a rule
(not JSON, no primary key, a required field missing, a value out of range: `EntitySpec.rules`) go to the entity's
rejects table with the reason, file, line and raw record; the valid records of the same file still load. A file
that cannot be read at all (not UTF-8, no header) is rejected whole, listed in `raw_meta.rejected_files` and left
in place for replay. The days covered are then replaced in a single delete + insert, so any partition can be
re-run and nothing is duplicated; a file whose content was already loaded is skipped. For every file:
records read = loaded + rejected + superseded (an older version of an object later in the same file)
+ already loaded (a Segment event re-sent on another day). Layouts and load columns: docs/raw_layer.md.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from ingestion.entities import EntitySpec
from ingestion.landing import LandingFile, LandingFileError, open_bytes, sha256_of

LOAD_LOG = "raw_meta.file_loads"
REJECTED_FILES = "raw_meta.rejected_files"
# Usage-event loads whose appended rows are committed before the load itself (see `_load_segment`).
LOADS_IN_PROGRESS = "raw_meta.loads_in_progress"

_LOAD_COLUMNS_DDL = """
    _partition_date date not null,
    _source_file varchar not null,
    _line_number bigint not null,
    _batch_id varchar not null,
    _loaded_at timestamp not null
"""

_SEGMENT_COLUMNS = {
    "messageId": "VARCHAR",
    "event": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "timestamp": "VARCHAR",
    "properties": "JSON",
    "context": "JSON",
}
# Every top-level field of Segment's track spec. Only the contract's columns above are kept; a field outside
# this list is schema drift (reported, not kept: the fast reader projects the contract's columns).
SEGMENT_SPEC_FIELDS = frozenset(
    {
        *_SEGMENT_COLUMNS,
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


@dataclass(frozen=True)
class FileLoad:
    """What happened to one landing file; every count is reported, nothing is dropped silently."""

    source_file: str
    partition_date: str
    status: str  # "loaded" | "unchanged"
    records_read: int
    records_loaded: int
    records_rejected: int
    # Same primary key twice in one file: the later line wins (a vendor export re-emitting an update).
    duplicates_in_file: int
    # Segment only: an event whose messageId was already loaded from another file (a client retry).
    duplicates_across_files: int

    @property
    def reconciles(self) -> bool:
        accounted = self.records_loaded + self.records_rejected + self.duplicates_in_file
        return self.records_read == accounted + self.duplicates_across_files

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class EntityLoad:
    """The result of loading a set of files of one entity."""

    loads: list[FileLoad] = field(default_factory=list)
    errors: list[LandingFileError] = field(default_factory=list)
    # CSV files with columns the contract does not name: file -> columns (kept in `_extra_columns`).
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    con.execute(f"create schema if not exists {spec.schema}")
    con.execute("create schema if not exists raw_meta")
    con.execute(
        f"""
        create table if not exists {LOAD_LOG} (
            source varchar not null,
            entity varchar not null,
            partition_date date not null,
            source_file varchar not null,
            size_bytes bigint not null,
            mtime_ns bigint not null,
            sha256 varchar not null,
            records_read bigint not null,
            records_loaded bigint not null,
            records_rejected bigint not null,
            batch_id varchar not null,
            loaded_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    # Warehouses created before quarantine existed: add the column in place.
    con.execute(f"alter table {LOAD_LOG} add column if not exists records_rejected bigint default 0")
    con.execute(
        f"""
        create table if not exists {REJECTED_FILES} (
            source varchar not null,
            entity varchar not null,
            partition_date date not null,
            source_file varchar not null,
            line_number bigint,
            reason varchar not null,
            batch_id varchar not null,
            rejected_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    con.execute(
        f"create table if not exists {LOADS_IN_PROGRESS} "
        "(source varchar not null, entity varchar not null, batch_id varchar not null, loaded_at timestamp not null)"
    )
    con.execute(f"create table if not exists {spec.table} ({_payload_columns_ddl(spec)} {_LOAD_COLUMNS_DDL})")
    if spec.layout == "csv":
        # Schema drift: columns the contract does not name are kept here, as JSON, and reported.
        con.execute(f"alter table {spec.table} add column if not exists _extra_columns json")
    con.execute(
        f"create table if not exists {spec.rejects_table} "
        f"(reason varchar not null, raw_record varchar, {_LOAD_COLUMNS_DDL})"
    )


def _payload_columns_ddl(spec: EntitySpec) -> str:
    if spec.layout == "json_object":
        return "record_id varchar not null, payload json not null,"
    if spec.layout == "csv":
        return "".join(f'"{name}" varchar, ' for name in spec.csv_columns)
    return """
        message_id varchar not null, event varchar, user_id varchar, anonymous_id varchar,
        account_id varchar, event_timestamp varchar, properties json, context json,
    """


# --- reading and checking one file at a time (error paths stay exact) -------------------------------------------


def locate_bad_json_line(path: Path) -> tuple[int, str] | None:
    """Error path only: find the first line that is not UTF-8 or not a JSON object, to name it exactly."""
    number = 0
    try:
        with open_bytes(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    return number, f"not valid UTF-8 ({error.reason} at byte {error.start} of the line)"
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    return number, f"not valid JSON ({error.msg} at column {error.colno})"
                if not isinstance(value, dict):
                    return number, "line is JSON but not an object"
    except (OSError, EOFError, zlib.error) as error:
        # A .gz file that is not gzip, or is cut short: the lines before the break were readable.
        return number + 1, f"not a readable gzip file ({error})"
    return None


def summarize_csv_error(message: str) -> tuple[int | None, str]:
    """DuckDB's CSV errors name the line, then the reason, then a page of advice: keep the line and reason."""
    match = re.search(r"CSV Error on Line: (\d+)", message)
    if match is None:
        return None, message.splitlines()[0] if message else "unreadable CSV"
    before_advice = message.split("Possible fixes:")[0]
    reasons = [text.strip() for text in before_advice.splitlines()[1:] if text.strip()]
    reason = reasons[-1] if len(reasons) > 1 else "malformed CSV record"
    return int(match.group(1)), reason


def _read_csv_header(path: Path) -> list[str]:
    """The header row only (one line, read in Python); the records themselves go through DuckDB's reader."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise LandingFileError(path, "empty file: expected a header row", line=1) from None
        except UnicodeDecodeError as error:
            raise LandingFileError(path, f"header is not valid UTF-8 ({error.reason})", line=1) from None


def _json_lines_sql(paths: Sequence[Path]) -> str:
    """Numbered non-blank lines of JSONL files, split in SQL so every record keeps its exact line."""
    listed = "[" + ", ".join(sql_string(str(path)) for path in paths) + "]"
    return f"""
        with parts as (
            select filename, string_split(content, chr(10)) as lines from read_text({listed})
        ),
        numbered as (
            select filename, unnest(lines) as line_text, generate_subscripts(lines, 1) as line_number from parts
        )
        -- A byte-order mark (U+FEFF) some exporters put at the start of a file is not part of the record.
        select filename, line_number, ltrim(rtrim(line_text, chr(13)), chr(65279)) as line_text
        from numbered
        where trim(line_text) <> ''
    """


def _stage_lines(con: duckdb.DuckDBPyConnection, files: list[_StagedFile]) -> None:
    """JSONL files into `_lines`; unparseable lines into `_rejected`. A file that is not UTF-8 fails whole."""
    con.execute("create or replace temp table _lines (file_index integer, line_number bigint, line_text varchar)")
    with tempfile.TemporaryDirectory(prefix="nps-lines-") as folder:
        readable = {}
        for staged in files:
            path = _plain_text(staged, Path(folder))
            if path is not None:
                readable[staged.file_index] = path
        try:
            if not readable:
                return
            con.execute(
                f"insert into _lines select f.file_index, l.line_number, l.line_text "
                f"from ({_json_lines_sql(list(readable.values()))}) as l "
                "join (select unnest(?::integer[]) as file_index, unnest(?::varchar[]) as path) as f "
                "on f.path = l.filename",
                [list(readable), [str(path) for path in readable.values()]],
            )
        except duckdb.Error:
            # One file is unreadable (e.g. not UTF-8): read them one by one to find it and keep the others.
            for staged in files:
                if staged.file_index not in readable:
                    continue
                try:
                    con.execute(
                        f"insert into _lines select {staged.file_index}, line_number, line_text "
                        f"from ({_json_lines_sql([readable[staged.file_index]])})"
                    )
                except duckdb.Error as error:
                    staged.fail(_json_error(staged.lf.path, error))
    con.execute(
        """
        insert into _rejected
        select file_index, line_number,
               case when not coalesce(json_valid(line_text), false)
                    then 'not valid JSON (a truncated or malformed line)'
                    else 'line is JSON but not an object' end,
               line_text
        from _lines
        where not coalesce(json_valid(line_text), false) or left(ltrim(line_text), 1) <> '{'
        """
    )
    con.execute(
        "delete from _lines where not coalesce(json_valid(line_text), false) or left(ltrim(line_text), 1) <> '{'"
    )


def _plain_text(staged: _StagedFile, folder: Path) -> Path | None:
    """The file itself, or (a `.gz` file, on the line-by-line path only) its content decompressed into `folder`:
    DuckDB's `read_text` does not decompress. A broken gzip file fails whole, naming where it breaks."""
    path = staged.lf.path
    if not path.name.endswith(".gz"):
        return path
    plain = folder / f"{staged.file_index}.jsonl"
    try:
        with open_bytes(path) as source, plain.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    except (OSError, EOFError, zlib.error):
        line, reason = locate_bad_json_line(path) or (None, "not a readable gzip file")
        staged.fail(LandingFileError(path, reason, line=line))
        return None
    return plain


def _key_expression(spec: EntitySpec, json_text: str) -> str:
    return (
        "coalesce("
        + ", ".join(f"nullif(json_extract_string({json_text}, {sql_string(k)}), '')" for k in spec.primary_key_fields)
        + ")"
    )


def _stage_json_objects(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile]) -> None:
    _stage_lines(con, files)
    con.execute(
        f"""
        create or replace temp table _incoming as
        select file_index, line_number, {_key_expression(spec, "line_text")} as record_id, line_text::json as payload
        from _lines
        """
    )
    con.execute("drop table _lines")
    if spec.known_fields:
        drift = con.execute(
            f"""
            select file_index, list(distinct field order by field) from (
                select file_index, unnest(json_keys(payload)) as field from _incoming
                where json_type(payload) = 'OBJECT'
            )
            where field not in ({", ".join(sql_string(name) for name in spec.known_fields)})
            group by 1
            """
        ).fetchall()
        _note_drift(files, dict(drift))


def _note_drift(files: list[_StagedFile], unknown: dict[int, list[str]]) -> None:
    for staged in files:
        staged.extra_columns = sorted(set(staged.extra_columns) | set(unknown.get(staged.file_index, [])))


def _stage_csv(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile]) -> None:
    columns = ", ".join(f'"{name}" varchar' for name in spec.csv_columns)
    con.execute(
        f"create or replace temp table _incoming (file_index integer, line_number bigint, record_id varchar, "
        f"{columns}, _extra_columns json)"
    )
    selected = ", ".join(f'"{name}"' for name in spec.csv_columns)
    for staged in files:
        path = staged.lf.path
        try:
            header = _read_csv_header(path)
        except LandingFileError as error:
            staged.fail(error)
            continue
        missing = [name for name in spec.csv_columns if name not in header]
        if missing:
            staged.fail(LandingFileError(path, f"header is missing required column(s): {', '.join(missing)}", line=1))
            continue
        # No sniffing: the dialect is fixed (RFC 4180) and every column is text. Records DuckDB cannot parse (wrong
        # number of fields, unterminated quote) are captured by store_rejects with their line and raw text.
        typed = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header) + "}"
        extra = [name for name in header if name not in spec.csv_columns]
        staged.extra_columns = extra
        extra_json = (
            "to_json(struct_pack(" + ", ".join(f'"{name}" := "{name}"' for name in extra) + "))"
            if extra
            else "null::json"
        )
        reader = (
            f"read_csv({sql_string(str(path))}, header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', escape = '\"', columns = {typed}, strict_mode = true, "
            f"store_rejects = true, rejects_table = '_csv_errors', rejects_scan = '_csv_scans')"
        )
        try:
            # The header is line 1, so record n sits on line n + 1 (a quoted field spanning lines shifts this).
            con.execute(
                f"""
                insert into _incoming
                select {staged.file_index}, row_number() over () + 1, "{spec.csv_columns[0]}", {selected},
                       {extra_json}
                from {reader}
                """
            )
            con.execute(
                f"""
                insert into _rejected
                select {staged.file_index}, line, 'malformed CSV record: ' || first(error_message order by column_idx),
                       first(csv_line)
                from _csv_errors
                group by line
                """
            )
        except duckdb.Error as error:
            line, reason = summarize_csv_error(str(error))
            staged.fail(LandingFileError(path, f"cannot be read: {reason}", line=line))
        finally:
            con.execute("drop table if exists _csv_errors")
            con.execute("drop table if exists _csv_scans")


_SEGMENT_FROM_JSON = """
    coalesce(json_extract_string({j}, 'messageId'), ''), json_extract_string({j}, 'event'),
    json_extract_string({j}, 'userId'),
    json_extract_string({j}, 'anonymousId'), json_extract_string({j}, '$.context.groupId'),
    json_extract_string({j}, 'timestamp'), json_extract({j}, 'properties'), json_extract({j}, 'context')
"""


_RAW_SEGMENT_COLUMNS = (
    "message_id, event, user_id, anonymous_id, account_id, event_timestamp, properties, context, "
    "_partition_date, _source_file, _line_number, _batch_id, _loaded_at"
)


def _append_segment_files(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile], batch_id: str, loaded_at: datetime
) -> list[_StagedFile]:
    """Append every file to the raw table, each in one `read_json` statement whose `row_number() over ()` is the
    record's number in the file. A numbered scan runs on one thread, so as many connections as DuckDB has threads
    take files from a shared queue, each appending in one transaction: every core reads, and nothing is staged
    and written twice. A missing messageId is appended as '' and quarantined by the key rule afterwards.
    Returns the files DuckDB's reader cannot read (they go through the line-by-line path)."""
    columns = "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in _SEGMENT_COLUMNS.items()) + "}"
    [(threads,)] = con.execute("select current_setting('threads')::integer").fetchall()
    queue = list(reversed(files))
    unreadable: list[_StagedFile] = []
    lock = threading.Lock()

    def append(cursor: duckdb.DuckDBPyConnection, staged: _StagedFile) -> None:
        cursor.execute(
            f"""
            insert into {spec.table} ({_RAW_SEGMENT_COLUMNS})
            select coalesce("messageId", ''), event, "userId", "anonymousId", context ->> 'groupId', "timestamp",
                   properties, context, ?::date, ?::varchar, row_number() over (), ?::varchar, ?::timestamp
            from read_json({sql_string(str(staged.lf.path))}, format = 'newline_delimited', columns = {columns})
            """,
            [staged.lf.partition_date, staged.lf.relative_path, batch_id, loaded_at],
        )

    def work(cursor: duckdb.DuckDBPyConnection) -> None:
        with cursor:
            done: list[_StagedFile] = []
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


# Schema drift is looked for in the first records of every file (a new top-level field of Segment's track call
# appears on every event from the day the sender starts sending it).
_DRIFT_SAMPLE_RECORDS = 128


def _head(path: Path, records: int = _DRIFT_SAMPLE_RECORDS) -> str:
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


def _segment_drift(con: duckdb.DuckDBPyConnection, files: list[_StagedFile]) -> None:
    """Schema drift: top-level fields outside Segment's track spec in the first records of each file, found by
    DuckDB's `json_keys` over every file's head in one query (lines that are not JSON objects are left to the
    load, which quarantines them with their line number)."""
    # The heads go into a table first: unnesting the parameter lists inside the query is ten times slower.
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
    _note_drift(files, {index: sorted(fields) for index, fields in rows})


def _json_error(path: Path, error: duckdb.Error) -> LandingFileError:
    located = locate_bad_json_line(path)
    if located is not None:
        return LandingFileError(path, located[1], line=located[0])
    return LandingFileError(path, f"cannot be read: {str(error).splitlines()[0]}")


def _raw_record_sql(spec: EntitySpec, key: str = "record_id") -> str:
    if spec.layout == "json_object":
        return "payload::varchar"
    if spec.layout == "csv":
        return "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in spec.csv_columns) + "))::varchar"
    return (
        f"to_json(struct_pack(messageId := {key}, event := event, userId := user_id, "
        "anonymousId := anonymous_id, timestamp := event_timestamp, context := context, "
        "properties := properties))::varchar"
    )


def _rule_sql(spec: EntitySpec, key: str = "record_id") -> tuple[str, str]:
    """(the reason of the first rule a record breaks, a predicate true when it breaks any); `key` is its key."""
    key_reason = "event has no messageId" if spec.layout == "segment_tracks" else "record has no primary key"
    rules = [
        (f"{key} is null", f"'{key_reason} (field {spec.primary_key_description})'"),
        *((rule.bad_when, rule.reason) for rule in spec.rules),
    ]
    predicates = [f"coalesce(({bad_when}), true)" for bad_when, _ in rules]
    reason = "case " + " ".join(f"when {p} then {r}" for p, (_, r) in zip(predicates, rules, strict=True)) + " end"
    return reason, " or ".join(predicates)


def _apply_rules(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    """Move records without a primary key or breaking a rule from `_incoming` to `_rejected` (first rule wins)."""
    reason, broken = _rule_sql(spec)
    con.execute(
        f"insert into _rejected select file_index, line_number, {reason}, {_raw_record_sql(spec)} "
        f"from _incoming where {broken}"
    )
    con.execute(f"delete from _incoming where {broken}")


# --- one transaction for all the files of an entity ----------------------------------------------------------------


@dataclass
class _StagedFile:
    file_index: int
    lf: LandingFile
    size: int
    mtime_ns: int
    error: LandingFileError | None = None
    extra_columns: list[str] = field(default_factory=list)

    def fail(self, error: LandingFileError) -> None:
        if self.error is None:
            self.error = error


def _unchanged(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: Sequence[LandingFile]) -> dict:
    """The load-log row of every file whose content is what was loaded last time."""
    logged = {
        row[0]: row[1:]
        for row in con.execute(
            "select partition_date, size_bytes, mtime_ns, sha256, records_read, records_loaded, records_rejected, "
            f"source_file from {LOAD_LOG} where source = ? and entity = ?",
            [spec.source, spec.entity],
        ).fetchall()
    }
    unchanged = {}
    for lf in files:
        row = logged.get(lf.partition_date)
        if row is None or row[6] != lf.relative_path:
            continue
        stat = lf.path.stat()
        if stat.st_size == row[0] and (stat.st_mtime_ns == row[1] or sha256_of(lf.path) == row[2]):
            unchanged[lf.partition_date] = row
    return unchanged


def load_files(
    con: duckdb.DuckDBPyConnection, files: Sequence[LandingFile], batch_id: str, *, force: bool = False
) -> EntityLoad:
    """Replace the partitions of `files` (all of one entity) in its raw and rejects tables with their content."""
    started = time.monotonic()
    result = EntityLoad()
    if not files:
        return result
    spec = files[0].spec
    assert all(lf.spec == spec for lf in files), "load_files takes files of one entity"
    ensure_tables(con, spec)

    unchanged = {} if force else _unchanged(con, spec, files)
    for lf in files:
        if lf.partition_date in unchanged:
            row = unchanged[lf.partition_date]
            read, loaded, rejected = row[3], row[4], row[5]
            result.loads.append(
                FileLoad(lf.relative_path, lf.partition_date.isoformat(), "unchanged", read, loaded, rejected, 0, 0)
            )
    staged = []
    for index, lf in enumerate(f for f in files if f.partition_date not in unchanged):
        stat = lf.path.stat()
        staged.append(_StagedFile(index, lf, stat.st_size, stat.st_mtime_ns))
    if not staged:
        result.seconds = round(time.monotonic() - started, 3)
        return result

    con.execute(
        "create or replace temp table _files (file_index integer, path varchar, relative_path varchar, "
        "partition_date date, size_bytes bigint, mtime_ns bigint)"
    )
    con.execute(
        "insert into _files (file_index, path, relative_path, partition_date, size_bytes, mtime_ns) "
        "select unnest(?::integer[]), unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::date[]), "
        "unnest(?::bigint[]), unnest(?::bigint[])",
        [
            [f.file_index for f in staged],
            [str(f.lf.path) for f in staged],
            [f.lf.relative_path for f in staged],
            [f.lf.partition_date for f in staged],
            [f.size for f in staged],
            [f.mtime_ns for f in staged],
        ],
    )
    con.execute(
        "create or replace temp table _rejected (file_index integer, line_number bigint, reason varchar, "
        "raw_record varchar)"
    )
    # The files' SHA-256 (recorded in the load log) are computed on a second thread while DuckDB reads them.
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    digests = {f.file_index: hashing.submit(sha256_of, f.lf.path) for f in staged}
    try:
        if spec.layout == "segment_tracks":
            loads = _load_segment(con, spec, staged, batch_id, digests)
        else:
            {"json_object": _stage_json_objects, "csv": _stage_csv}[spec.layout](con, spec, staged)
            _apply_rules(con, spec)
            failed = [f.file_index for f in staged if f.error is not None]
            if failed:
                for table in ("_incoming", "_rejected"):
                    con.execute(f"delete from {table} where file_index in ({', '.join(map(str, failed))})")
            good = [f for f in staged if f.error is None]
            loads = _replace_partitions(con, spec, good, batch_id, digests) if good else []
        result.unknown_columns = {
            f.lf.relative_path: f.extra_columns for f in staged if f.extra_columns and not f.error
        }
        result.errors = [f.error for f in staged if f.error is not None]
        _record_rejected_files(con, spec, [f for f in staged if f.error is not None], batch_id)
        result.loads.extend(loads)
    finally:
        hashing.shutdown(cancel_futures=True)
        for table in ("_incoming", "_rejected", "_files", "_lines", "_superseded", "_resent", "_broken"):
            con.execute(f"drop table if exists {table}")
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _record_rejected_files(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, rejected: list[_StagedFile], batch_id: str
) -> None:
    """Files rejected whole stay in the landing folder for replay; the partition keeps its previous content."""
    if not rejected:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"insert or replace into {REJECTED_FILES} values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                spec.source,
                spec.entity,
                f.lf.partition_date,
                f.lf.relative_path,
                f.error.line,
                str(f.error).split(": ", 1)[-1],
                batch_id,
                now,
            ]
            for f in rejected
            if f.error is not None
        ],
    )


def _load_segment(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    staged: list[_StagedFile],
    batch_id: str,
    digests: dict[int, Future[str]],
) -> list[FileLoad]:
    """Usage events: appended straight to the raw table by several connections at once (`_append_segment_files`),
    then settled in one transaction: the partitions' previous rows go, rule breakers move to the rejects table,
    later copies of a messageId go. The appended rows carry this load's `_batch_id` and `_loaded_at`; they are
    committed before the settling transaction, so the load is listed in `raw_meta.loads_in_progress` until it
    commits, and a load that died in between is taken out by the next load of the entity."""
    _take_out_interrupted_loads(con, spec)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute(f"insert into {LOADS_IN_PROGRESS} values (?, ?, ?, ?)", [spec.source, spec.entity, batch_id, loaded_at])
    this_load = f"_batch_id = {sql_string(batch_id)} and _loaded_at = '{loaded_at.isoformat(sep=' ')}'::timestamp"
    try:
        _segment_drift(con, staged)
        unreadable = _append_segment_files(con, spec, staged, batch_id, loaded_at)
        if unreadable:
            # A file DuckDB's reader rejects is read line by line in SQL, so its good events still load and each
            # bad line is quarantined with its number (a file that is not UTF-8 fails whole).
            _stage_lines(con, unreadable)
        good = [f for f in staged if f.error is None]
        return _settle_segment_load(con, spec, good, unreadable, batch_id, loaded_at, this_load, digests)
    except BaseException:
        con.execute(f"delete from {spec.table} where {this_load}")
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        raise


def _take_out_interrupted_loads(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
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


def _settle_segment_load(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    good: list[_StagedFile],
    unreadable: list[_StagedFile],
    batch_id: str,
    loaded_at: datetime,
    this_load: str,
    digests: dict[int, Future[str]],
) -> list[FileLoad]:
    table, key = spec.table, "nullif(message_id, '')"
    if not good:
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        return []
    partitions = _partitions_of(good)
    good_indexes = ", ".join(str(f.file_index) for f in good)
    reason, broken = _rule_sql(spec, key=key)
    con.execute("begin transaction")
    try:
        if any(f.error is None for f in unreadable):
            con.execute(
                f"""
                insert into {table} ({_RAW_SEGMENT_COLUMNS})
                select {_SEGMENT_FROM_JSON.format(j="line_text").strip()}, files.partition_date,
                       files.relative_path, lines.line_number, ?, ?::timestamp
                from _lines as lines join _files as files using (file_index)
                where file_index in ({good_indexes})
                """,
                [batch_id, loaded_at],
            )
        # The partitions' previous content goes (events of this load are told apart by batch and load time).
        con.execute(f"delete from {table} where _partition_date in {partitions} and not ({this_load})")
        con.execute(f"delete from {spec.rejects_table} where _partition_date in {partitions}")
        appended = dict(
            con.execute(f"select _source_file, count(*) from {table} where {this_load} group by 1").fetchall()
        )
        # The rules are evaluated once: the few records that break one are set aside, then moved.
        con.execute(
            f"""
            create or replace temp table _broken as
            select {reason} as reason, {_raw_record_sql(spec, key=key)} as raw_record, _partition_date,
                   _source_file, _line_number
            from {table} where {this_load} and ({broken})
            """
        )
        if con.execute("select count(*) from _broken").fetchall()[0][0]:
            con.execute(
                f"insert into {spec.rejects_table} select *, ?, ?::timestamp from _broken", [batch_id, loaded_at]
            )
            con.execute(
                f"""
                delete from {table} using _broken as broken
                where {table}._source_file = broken._source_file and {table}._line_number = broken._line_number
                  and {this_load}
                """
            )
        if unreadable:
            _insert_staged_rejects(con, spec, good, batch_id, loaded_at)
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
                where _partition_date not in {partitions} {_resend_window_filter(spec, good)}
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
            loads.append(_file_load(f, read, rejected.get(name, 0), in_file.get(name, 0), loaded.get(name, 0)))
        _log_loads(con, spec, good, loads, batch_id, loaded_at, digests)
        con.execute(f"delete from {LOADS_IN_PROGRESS} where batch_id = ? and loaded_at = ?", [batch_id, loaded_at])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


def _replace_partitions(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    good: list[_StagedFile],
    batch_id: str,
    digests: dict[int, Future[str]],
) -> list[FileLoad]:
    """JSON objects and CSV records: staged in `_incoming`; within a file the later line is the later version."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    partitions = _partitions_of(good)
    if spec.layout == "json_object":
        select = "record_id, payload"
    else:
        select = ", ".join(f'"{c}"' for c in spec.csv_columns) + ", _extra_columns"
    # Versions are ranked only among the keys that occur more than once in a file (a hash aggregate finds them,
    # grouping by a 64-bit hash is much cheaper than by the text), not by a window over every record.
    con.execute(
        """
        create or replace temp table _superseded as
        select file_index, line_number from (
            select file_index, line_number,
                   row_number() over (partition by file_index, record_id order by line_number desc) as version_rank
            from _incoming semi join (
                select file_index, hash(record_id) as key_hash from _incoming group by all having count(*) > 1
            ) as repeated
            on repeated.file_index = _incoming.file_index and repeated.key_hash = hash(_incoming.record_id)
        )
        where version_rank > 1
        """
    )
    counts = dict(
        con.execute(
            "select file_index, count(*) from (select file_index from _incoming union all "
            "select file_index from _rejected) group by 1"
        ).fetchall()
    )
    in_file = dict(con.execute("select file_index, count(*) from _superseded group by 1").fetchall())
    rejected = dict(con.execute("select file_index, count(*) from _rejected group by 1").fetchall())
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {spec.table} where _partition_date in {partitions}")
        con.execute(f"delete from {spec.rejects_table} where _partition_date in {partitions}")
        con.execute(
            f"""
            insert into {spec.table} by name
            select {select}, files.partition_date as _partition_date, files.relative_path as _source_file,
                   incoming.line_number as _line_number, ?::varchar as _batch_id, ?::timestamp as _loaded_at
            from _incoming as incoming
            join _files as files using (file_index)
            anti join _superseded as superseded using (file_index, line_number)
            """,
            [batch_id, loaded_at],
        )
        _insert_staged_rejects(con, spec, good, batch_id, loaded_at)
        loads = [
            _file_load(f, counts.get(f.file_index, 0), rejected.get(f.file_index, 0), in_file.get(f.file_index, 0))
            for f in good
        ]
        _log_loads(con, spec, good, loads, batch_id, loaded_at, digests)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


def _insert_staged_rejects(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, good: list[_StagedFile], batch_id: str, loaded_at: datetime
) -> None:
    """The records set aside in `_rejected` (with their file's line) into the rejects table, for the good files."""
    con.execute(
        f"""
        insert into {spec.rejects_table}
        select rejected.reason, rejected.raw_record, files.partition_date, files.relative_path,
               rejected.line_number, ?, ?::timestamp
        from _rejected as rejected join _files as files using (file_index)
        where file_index in ({", ".join(str(f.file_index) for f in good)})
        order by rejected.file_index, rejected.line_number
        """,
        [batch_id, loaded_at],
    )


def _partitions_of(files: list[_StagedFile]) -> str:
    return "(" + ", ".join(f"date '{f.lf.partition_date.isoformat()}'" for f in files) + ")"


def _resend_window_filter(spec: EntitySpec, files: list[_StagedFile]) -> str:
    """`and _partition_date between ...`: the days where an earlier copy of a loaded key is looked for."""
    if spec.resend_window_days is None:
        return ""
    days = [f.lf.partition_date for f in files]
    window = timedelta(days=spec.resend_window_days)
    return f"and _partition_date between date '{min(days) - window}' and date '{max(days) + window}'"


def _file_load(staged: _StagedFile, read: int, rejected: int, in_file: int, loaded: int | None = None) -> FileLoad:
    """Counts of one file; `loaded` defaults to everything read that was neither rejected nor superseded."""
    valid = read - rejected
    records_loaded = valid - in_file if loaded is None else loaded
    return FileLoad(
        source_file=staged.lf.relative_path,
        partition_date=staged.lf.partition_date.isoformat(),
        status="loaded",
        records_read=read,
        records_loaded=records_loaded,
        records_rejected=rejected,
        duplicates_in_file=in_file,
        duplicates_across_files=valid - in_file - records_loaded,
    )


def _log_loads(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    good: list[_StagedFile],
    loads: list[FileLoad],
    batch_id: str,
    loaded_at: datetime,
    digests: dict[int, Future[str]],
) -> None:
    """The load log's row of every file, in one statement (lists unnested side by side), inside the load's
    transaction; the files are no longer listed as rejected."""
    con.execute(
        f"""
        insert or replace into {LOAD_LOG}
        select ?, ?, unnest(?::date[]), unnest(?::varchar[]), unnest(?::bigint[]), unnest(?::bigint[]),
               unnest(?::varchar[]), unnest(?::bigint[]), unnest(?::bigint[]), unnest(?::bigint[]), ?, ?::timestamp
        """,
        [
            spec.source,
            spec.entity,
            [f.lf.partition_date for f in good],
            [f.lf.relative_path for f in good],
            [f.size for f in good],
            [f.mtime_ns for f in good],
            [digests[f.file_index].result() for f in good],
            [load.records_read for load in loads],
            [load.records_loaded for load in loads],
            [load.records_rejected for load in loads],
            batch_id,
            loaded_at,
        ],
    )
    con.execute(
        f"delete from {REJECTED_FILES} where source = ? and entity = ? and partition_date in {_partitions_of(good)}",
        [spec.source, spec.entity],
    )


def load_file(con: duckdb.DuckDBPyConnection, lf: LandingFile, batch_id: str, *, force: bool = False) -> FileLoad:
    """Load a single file; raise its `LandingFileError` if it is rejected whole."""
    result = load_files(con, [lf], batch_id, force=force)
    if result.errors:
        raise result.errors[0]
    return result.loads[0]
