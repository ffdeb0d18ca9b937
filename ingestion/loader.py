"""Load one landing file into its raw DuckDB table: the whole file through DuckDB's own readers, in one transaction.

Loading a partition replaces it (delete + insert), so any partition can be re-run. A file whose content was
already loaded is skipped. Layouts and load columns are described in docs/raw_layer.md.
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.entities import EntitySpec
from ingestion.landing import LandingFile, LandingFileError, sha256_of

LOAD_LOG = "raw_meta.file_loads"

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


@dataclass(frozen=True)
class FileLoad:
    """What happened to one landing file; every count is reported, nothing is dropped silently."""

    source_file: str
    partition_date: str
    status: str  # "loaded" | "unchanged"
    records_read: int
    records_loaded: int
    # Same primary key twice in one file: the later line wins (a vendor export re-emitting an update).
    duplicates_in_file: int
    # Segment only: an event whose messageId was already loaded from another day's file (a client retry).
    duplicates_across_files: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


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
            batch_id varchar not null,
            loaded_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    if spec.layout == "json_object":
        columns = "record_id varchar not null, payload json not null,"
    elif spec.layout == "csv":
        columns = "".join(f"{name} varchar, " for name in spec.csv_columns)
    else:
        columns = """
            message_id varchar not null, event varchar, user_id varchar, anonymous_id varchar,
            account_id varchar, event_timestamp varchar, properties json, context json,
        """
    con.execute(f"create table if not exists {spec.table} ({columns} {_LOAD_COLUMNS_DDL})")


def _already_loaded(con: duckdb.DuckDBPyConnection, lf: LandingFile, size: int, mtime_ns: int) -> str | None:
    """The sha256 recorded for this file if its content is unchanged since the last load, else None."""
    rows = con.execute(
        f"select size_bytes, mtime_ns, sha256 from {LOAD_LOG} where source = ? and entity = ? and partition_date = ?",
        [lf.spec.source, lf.spec.entity, lf.partition_date],
    ).fetchall()
    if not rows:
        return None
    logged_size, logged_mtime, logged_sha = rows[0]
    if logged_size == size and logged_mtime == mtime_ns:
        return logged_sha
    return logged_sha if size == logged_size and sha256_of(lf.path) == logged_sha else None


def locate_bad_json_line(path: Path) -> tuple[int, str] | None:
    """Error path only: find the first line that is not UTF-8 or not a JSON object, to name it exactly."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return number, f"not valid UTF-8 ({error.reason} at byte {error.start} of the line)"
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                return number, f"not valid JSON ({error.msg} at column {error.colno})"
            if not isinstance(value, dict):
                return number, "line is JSON but not an object"
    return None


def _stage_json_objects(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> None:
    """Split the file into numbered lines in SQL, so errors name the exact line (blank lines are skipped)."""
    path = sql_string(str(lf.path))
    con.execute(
        f"""
        create or replace temp table _lines as
        with parts as (
            select string_split(content, chr(10)) as lines from read_text({path})
        ),
        numbered as (
            select unnest(lines) as line_text, generate_subscripts(lines, 1) as line_number from parts
        )
        select line_number, rtrim(line_text, chr(13)) as line_text
        from numbered
        where trim(line_text) <> ''
        """
    )
    bad = con.execute(
        "select min(line_number) from _lines where not coalesce(json_valid(line_text), false)"
    ).fetchall()[0][0]
    if bad is not None:
        raise LandingFileError(lf.path, "not valid JSON (expected one JSON object per line)", line=bad)
    not_object = con.execute(
        "select min(line_number) from _lines where json_type(line_text::json) <> 'OBJECT'"
    ).fetchall()[0][0]
    if not_object is not None:
        raise LandingFileError(lf.path, "line is JSON but not an object", line=not_object)
    key_expr = (
        "coalesce("
        + ", ".join(f"nullif(line_text::json ->> {sql_string(name)}, '')" for name in lf.spec.primary_key_fields)
        + ")"
    )
    con.execute(
        f"""
        create or replace temp table _incoming as
        select {key_expr} as record_id, line_text::json as payload, line_number
        from _lines
        """
    )
    missing = con.execute("select min(line_number) from _incoming where record_id is null").fetchall()[0][0]
    if missing is not None:
        raise LandingFileError(
            lf.path, f"record has no primary key (field {lf.spec.primary_key_description})", line=missing
        )


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


def _stage_csv(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> None:
    header = _read_csv_header(lf.path)
    missing = [name for name in lf.spec.csv_columns if name not in header]
    if missing:
        raise LandingFileError(lf.path, f"header is missing required column(s): {', '.join(missing)}", line=1)
    # No sniffing: the dialect is fixed (RFC 4180) and every column is text, so a bad record fails with
    # DuckDB's own error naming its line instead of being guessed into another shape.
    columns = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header) + "}"
    reader = (
        f"read_csv({sql_string(str(lf.path))}, header = true, auto_detect = false, delim = ',', quote = '\"', "
        f"escape = '\"', columns = {columns}, strict_mode = true)"
    )
    key = lf.spec.csv_columns[0]
    # The header is line 1, so record n sits on line n + 1 (a quoted field spanning lines shifts this).
    selected = ", ".join(f'"{name}"' for name in lf.spec.csv_columns)
    con.execute(
        f"""
        create or replace temp table _incoming as
        select {selected}, "{key}" as record_id, row_number() over () + 1 as line_number
        from {reader}
        """
    )
    missing_key = con.execute("select min(line_number) from _incoming where record_id is null").fetchall()[0][0]
    if missing_key is not None:
        raise LandingFileError(lf.path, f"record has no primary key ({key})", line=missing_key)


def _stage_segment(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> None:
    path = sql_string(str(lf.path))
    columns = "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in _SEGMENT_COLUMNS.items()) + "}"
    con.execute(
        f"""
        create or replace temp table _incoming as
        select
            "messageId" as record_id,
            event,
            "userId" as user_id,
            "anonymousId" as anonymous_id,
            context ->> 'groupId' as account_id,
            "timestamp" as event_timestamp,
            properties,
            context,
            row_number() over () as line_number
        from read_json({path}, format = 'newline_delimited', columns = {columns})
        """
    )
    missing = con.execute("select min(line_number) from _incoming where record_id is null").fetchall()[0][0]
    if missing is not None:
        raise LandingFileError(lf.path, "event has no messageId", line=missing)


def _insert_sql(spec: EntitySpec) -> tuple[str, str]:
    """The select list of the rows to insert, and an extra filter (Segment: messageId unique across files)."""
    if spec.layout == "json_object":
        return "record_id, payload", ""
    if spec.layout == "csv":
        return ", ".join(f'"{name}"' for name in spec.csv_columns), ""
    select = "record_id as message_id, event, user_id, anonymous_id, account_id, event_timestamp, properties, context"
    anti_join = f"and not exists (select 1 from {spec.table} as t where t.message_id = latest.record_id)"
    return select, anti_join


def load_file(con: duckdb.DuckDBPyConnection, lf: LandingFile, batch_id: str, *, force: bool = False) -> FileLoad:
    """Replace partition `lf.partition_date` of the entity's raw table with the content of `lf`."""
    started = time.monotonic()
    spec = lf.spec
    ensure_tables(con, spec)
    stat = lf.path.stat()
    if not force and _already_loaded(con, lf, stat.st_size, stat.st_mtime_ns) is not None:
        counts = con.execute(
            f"select records_read, records_loaded from {LOAD_LOG} "
            "where source = ? and entity = ? and partition_date = ?",
            [spec.source, spec.entity, lf.partition_date],
        ).fetchall()[0]
        return FileLoad(
            lf.relative_path,
            lf.partition_date.isoformat(),
            "unchanged",
            counts[0],
            counts[1],
            0,
            0,
            round(time.monotonic() - started, 3),
        )

    try:
        if spec.layout == "json_object":
            _stage_json_objects(con, lf)
        elif spec.layout == "csv":
            _stage_csv(con, lf)
        else:
            _stage_segment(con, lf)
    except LandingFileError:
        raise
    except duckdb.Error as error:
        located = locate_bad_json_line(lf.path) if spec.layout != "csv" else None
        if located is not None:
            raise LandingFileError(lf.path, located[1], line=located[0]) from error
        line, reason = summarize_csv_error(str(error))
        raise LandingFileError(lf.path, f"cannot be read: {reason}", line=line) from error

    select, extra_filter = _insert_sql(spec)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    records_read = con.execute("select count(*) from _incoming").fetchall()[0][0]
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {spec.table} where _partition_date = ?", [lf.partition_date])
        con.execute(
            f"""
            insert into {spec.table}
            select {select}, ?::date, ?, line_number, ?, ?::timestamp
            from (
                select *, row_number() over (partition by record_id order by line_number desc) as version_rank
                from _incoming
            ) as latest
            where version_rank = 1 {extra_filter}
            order by line_number
            """,
            [lf.partition_date, lf.relative_path, batch_id, loaded_at],
        )
        records_loaded = con.execute(
            f"select count(*) from {spec.table} where _partition_date = ?", [lf.partition_date]
        ).fetchall()[0][0]
        distinct_keys = con.execute("select count(distinct record_id) from _incoming").fetchall()[0][0]
        con.execute(
            f"insert or replace into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                spec.source,
                spec.entity,
                lf.partition_date,
                lf.relative_path,
                stat.st_size,
                stat.st_mtime_ns,
                sha256_of(lf.path),
                records_read,
                records_loaded,
                batch_id,
                loaded_at,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _incoming")
        con.execute("drop table if exists _lines")
    return FileLoad(
        source_file=lf.relative_path,
        partition_date=lf.partition_date.isoformat(),
        status="loaded",
        records_read=records_read,
        records_loaded=records_loaded,
        duplicates_in_file=records_read - distinct_keys,
        duplicates_across_files=distinct_keys - records_loaded,
        seconds=round(time.monotonic() - started, 3),
    )
