"""Load landing files into their raw DuckDB table through DuckDB's own readers: one transaction per entity and run.

Every changed file of an entity is staged into one temporary table, checked in SQL (file by file), and then the
days it covers are replaced in a single delete + insert, so any partition can be re-run and nothing is duplicated.
A file whose content was already loaded is skipped. A file that cannot be read is set aside with an error naming
it and its line, and the other files still load. Layouts and load columns: docs/raw_layer.md.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
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
_SEGMENT_SELECT = (
    "record_id as message_id, event, user_id, anonymous_id, account_id, event_timestamp, properties, context"
)


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
    # Segment only: an event whose messageId was already loaded from another file (a client retry).
    duplicates_across_files: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class EntityLoad:
    """The result of loading a set of files of one entity."""

    loads: list[FileLoad] = field(default_factory=list)
    errors: list[LandingFileError] = field(default_factory=list)
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
            batch_id varchar not null,
            loaded_at timestamp not null,
            primary key (source, entity, partition_date)
        )
        """
    )
    con.execute(f"create table if not exists {spec.table} ({_payload_columns_ddl(spec)} {_LOAD_COLUMNS_DDL})")


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
    with path.open("rb") as handle:
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
    """Numbered non-blank lines of JSONL files, split in SQL so errors can name the exact line."""
    listed = "[" + ", ".join(sql_string(str(path)) for path in paths) + "]"
    return f"""
        with parts as (
            select filename, string_split(content, chr(10)) as lines from read_text({listed})
        ),
        numbered as (
            select filename, unnest(lines) as line_text, generate_subscripts(lines, 1) as line_number from parts
        )
        select filename, line_number, rtrim(line_text, chr(13)) as line_text
        from numbered
        where trim(line_text) <> ''
    """


def _stage_json_objects(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile]) -> None:
    con.execute("create or replace temp table _lines (file_index integer, line_number bigint, line_text varchar)")
    try:
        paths = [f.lf.path for f in files]
        con.execute(
            f"insert into _lines select f.file_index, l.line_number, l.line_text "
            f"from ({_json_lines_sql(paths)}) as l join _files as f on f.path = l.filename"
        )
    except duckdb.Error:
        # One file is unreadable (e.g. not UTF-8): read them one by one to find it and keep the others.
        for staged in files:
            try:
                con.execute(
                    f"insert into _lines select {staged.file_index}, line_number, line_text "
                    f"from ({_json_lines_sql([staged.lf.path])})"
                )
            except duckdb.Error as error:
                staged.fail(_json_error(staged.lf.path, error))
    problems = con.execute(
        """
        select file_index,
               min(line_number) filter (where not coalesce(json_valid(line_text), false)) as not_json,
               min(line_number) filter (
                   where coalesce(json_valid(line_text), false) and left(ltrim(line_text), 1) <> '{'
               ) as not_object
        from _lines
        group by file_index
        having not_json is not null or not_object is not null
        """
    ).fetchall()
    for file_index, not_json, not_object in problems:
        staged = files_by_index(files)[file_index]
        if not_json is not None and (not_object is None or not_json < not_object):
            located = locate_bad_json_line(staged.lf.path)
            reason = located[1] if located else "not valid JSON (expected one JSON object per line)"
            staged.fail(LandingFileError(staged.lf.path, reason, line=not_json))
        else:
            staged.fail(LandingFileError(staged.lf.path, "line is JSON but not an object", line=not_object))
    _drop_failed(con, files, "_lines")
    key_expr = (
        "coalesce("
        + ", ".join(
            f"nullif(json_extract_string(line_text, {sql_string(name)}), '')" for name in spec.primary_key_fields
        )
        + ")"
    )
    con.execute(
        f"""
        create or replace temp table _incoming as
        select file_index, line_number, {key_expr} as record_id, line_text::json as payload
        from _lines
        """
    )
    con.execute("drop table _lines")


def _stage_csv(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile]) -> None:
    columns = ", ".join(f'"{name}" varchar' for name in spec.csv_columns)
    con.execute(
        f"create or replace temp table _incoming (file_index integer, line_number bigint, record_id varchar, {columns})"
    )
    selected = ", ".join(f'"{name}"' for name in spec.csv_columns)
    for staged in files:
        path = staged.lf.path
        try:
            header = _read_csv_header(path)
            missing = [name for name in spec.csv_columns if name not in header]
            if missing:
                raise LandingFileError(path, f"header is missing required column(s): {', '.join(missing)}", line=1)
            # No sniffing: the dialect is fixed (RFC 4180) and every column is text, so a bad record fails with
            # DuckDB's own error naming its line instead of being guessed into another shape.
            typed = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header) + "}"
            reader = (
                f"read_csv({sql_string(str(path))}, header = true, auto_detect = false, delim = ',', "
                f"quote = '\"', escape = '\"', columns = {typed}, strict_mode = true)"
            )
            # The header is line 1, so record n sits on line n + 1 (a quoted field spanning lines shifts this).
            con.execute(
                f"""
                insert into _incoming
                select {staged.file_index}, row_number() over () + 1, "{spec.csv_columns[0]}", {selected}
                from {reader}
                """
            )
        except LandingFileError as error:
            staged.fail(error)
        except duckdb.Error as error:
            line, reason = summarize_csv_error(str(error))
            staged.fail(LandingFileError(path, f"cannot be read: {reason}", line=line))


def _stage_segment(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: list[_StagedFile]) -> None:
    con.execute(
        """
        create or replace temp table _incoming (
            file_index integer, line_number bigint, record_id varchar, event varchar, user_id varchar,
            anonymous_id varchar, account_id varchar, event_timestamp varchar, properties json, context json
        )
        """
    )
    columns = "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in _SEGMENT_COLUMNS.items()) + "}"
    for staged in files:
        reader = f"read_json({sql_string(str(staged.lf.path))}, format = 'newline_delimited', columns = {columns})"
        try:
            con.execute(
                f"""
                insert into _incoming
                select {staged.file_index}, row_number() over (), "messageId", event, "userId", "anonymousId",
                       context ->> 'groupId', "timestamp", properties, context
                from {reader}
                """
            )
        except duckdb.Error as error:
            staged.fail(_json_error(staged.lf.path, error))


def _json_error(path: Path, error: duckdb.Error) -> LandingFileError:
    located = locate_bad_json_line(path)
    if located is not None:
        return LandingFileError(path, located[1], line=located[0])
    return LandingFileError(path, f"cannot be read: {str(error).splitlines()[0]}")


# --- one transaction for all the files of an entity ----------------------------------------------------------------


@dataclass
class _StagedFile:
    file_index: int
    lf: LandingFile
    size: int
    mtime_ns: int
    error: LandingFileError | None = None

    def fail(self, error: LandingFileError) -> None:
        if self.error is None:
            self.error = error


def files_by_index(files: list[_StagedFile]) -> dict[int, _StagedFile]:
    return {f.file_index: f for f in files}


def _drop_failed(con: duckdb.DuckDBPyConnection, files: list[_StagedFile], table: str) -> None:
    failed = [f.file_index for f in files if f.error is not None]
    if failed:
        con.execute(f"delete from {table} where file_index in ({', '.join(map(str, failed))})")


def _unchanged(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: Sequence[LandingFile]) -> dict:
    """The load-log row of every file whose content is what was loaded last time."""
    logged = {
        row[0]: row[1:]
        for row in con.execute(
            f"select partition_date, size_bytes, mtime_ns, sha256, records_read, records_loaded, source_file "
            f"from {LOAD_LOG} where source = ? and entity = ?",
            [spec.source, spec.entity],
        ).fetchall()
    }
    unchanged = {}
    for lf in files:
        row = logged.get(lf.partition_date)
        if row is None or row[5] != lf.relative_path:
            continue
        stat = lf.path.stat()
        if stat.st_size == row[0] and (stat.st_mtime_ns == row[1] or sha256_of(lf.path) == row[2]):
            unchanged[lf.partition_date] = row
    return unchanged


def load_files(
    con: duckdb.DuckDBPyConnection, files: Sequence[LandingFile], batch_id: str, *, force: bool = False
) -> EntityLoad:
    """Replace the partitions of `files` (all of one entity) in its raw table with their content."""
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
            result.loads.append(
                FileLoad(lf.relative_path, lf.partition_date.isoformat(), "unchanged", row[3], row[4], 0, 0)
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
    con.executemany(
        "insert into _files values (?, ?, ?, ?, ?, ?)",
        [[f.file_index, str(f.lf.path), f.lf.relative_path, f.lf.partition_date, f.size, f.mtime_ns] for f in staged],
    )
    try:
        {"json_object": _stage_json_objects, "csv": _stage_csv, "segment_tracks": _stage_segment}[spec.layout](
            con, spec, staged
        )
        no_key = con.execute(
            "select file_index, min(line_number) from _incoming where record_id is null group by file_index"
        ).fetchall()
        for file_index, line in no_key:
            target = files_by_index(staged)[file_index]
            what = "event has no messageId" if spec.layout == "segment_tracks" else "record has no primary key"
            target.fail(LandingFileError(target.lf.path, f"{what} (field {spec.primary_key_description})", line=line))
        _drop_failed(con, staged, "_incoming")
        good = [f for f in staged if f.error is None]
        result.errors = [f.error for f in staged if f.error is not None]
        if good:
            result.loads.extend(_replace_partitions(con, spec, good, batch_id))
    finally:
        con.execute("drop table if exists _incoming")
        con.execute("drop table if exists _files")
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _replace_partitions(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, good: list[_StagedFile], batch_id: str
) -> list[FileLoad]:
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    good_indexes = ", ".join(str(f.file_index) for f in good)
    if spec.layout == "segment_tracks":
        # Events are immutable: the first copy of a messageId wins, here and against the rest of the table.
        select, rank = _SEGMENT_SELECT, "partition by record_id order by file_index, line_number"
        extra = f"and not exists (select 1 from {spec.table} as t where t.message_id = ranked.record_id)"
    else:
        # Objects: within a file, the later line is the later version.
        select = "record_id, payload" if spec.layout == "json_object" else ", ".join(f'"{c}"' for c in spec.csv_columns)
        rank, extra = "partition by file_index, record_id order by line_number desc", ""
    counts = {
        row[0]: row[1:]
        for row in con.execute(
            "select file_index, count(*), count(distinct record_id) from _incoming group by file_index"
        ).fetchall()
    }
    sha = {f.file_index: sha256_of(f.lf.path) for f in good}
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {spec.table} where _partition_date in "
            f"(select partition_date from _files where file_index in ({good_indexes}))"
        )
        con.execute(
            f"""
            insert into {spec.table}
            select {select}, files.partition_date, files.relative_path, ranked.line_number, ?, ?::timestamp
            from (select *, row_number() over ({rank}) as version_rank from _incoming) as ranked
            join _files as files using (file_index)
            where ranked.version_rank = 1 {extra}
            order by ranked.file_index, ranked.line_number
            """,
            [batch_id, loaded_at],
        )
        loaded = dict(
            con.execute(
                f"select _partition_date, count(*) from {spec.table} where _partition_date in "
                f"(select partition_date from _files where file_index in ({good_indexes})) group by 1"
            ).fetchall()
        )
        loads = []
        for f in good:
            read, distinct = counts.get(f.file_index, (0, 0))
            records_loaded = loaded.get(f.lf.partition_date, 0)
            loads.append(
                FileLoad(
                    source_file=f.lf.relative_path,
                    partition_date=f.lf.partition_date.isoformat(),
                    status="loaded",
                    records_read=read,
                    records_loaded=records_loaded,
                    duplicates_in_file=read - distinct,
                    duplicates_across_files=distinct - records_loaded,
                )
            )
        con.executemany(
            f"insert or replace into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    spec.source,
                    spec.entity,
                    f.lf.partition_date,
                    f.lf.relative_path,
                    f.size,
                    f.mtime_ns,
                    sha[f.file_index],
                    load.records_read,
                    load.records_loaded,
                    batch_id,
                    loaded_at,
                ]
                for f, load in zip(good, loads, strict=True)
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loads


def load_file(con: duckdb.DuckDBPyConnection, lf: LandingFile, batch_id: str, *, force: bool = False) -> FileLoad:
    """Load a single file; raise its `LandingFileError` if it cannot be read."""
    result = load_files(con, [lf], batch_id, force=force)
    if result.errors:
        raise result.errors[0]
    return result.loads[0]
