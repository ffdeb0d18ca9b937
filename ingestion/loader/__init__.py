"""Load landing files into their raw DuckDB table through DuckDB's own readers: one transaction per entity and run.

The changed files of an entity (by content: SHA-256, and the fingerprint of the contract rules they were checked
under) are staged by their layout's module (`json_objects`, `csv_files`, `usage_events`) and checked against the
entity's typed contract (`ingestion.contracts.rules`). Records that break a rule go to the entity's rejects table
with the reason, file, line and raw record; the valid records of the same file still load. A file that cannot be
read at all (no header, a broken gzip stream), or whose content would empty a day that holds data (an empty,
header-only or blank file; a file with no valid record), is rejected whole, listed in `raw_meta.rejected_files` and
left in place for replay; its day keeps its content. The days covered are then replaced in one transaction, so
any partition can be re-run and nothing is duplicated. For every file: records read = loaded + rejected +
superseded (an older version of an object later in the same file) + already loaded (a usage event re-sent on
another day). Layouts and load columns: docs/raw_layer.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import duckdb

from ingestion.contracts.rules import contract_fingerprint, contract_rules
from ingestion.contracts.settings import ContractSettings, load_settings
from ingestion.entities import EntitySpec
from ingestion.landing import Ignored, LandingFile, LandingFileError, sha256_of
from ingestion.loader import csv_files, json_objects, usage_events
from ingestion.loader.lines import create_rejected
from ingestion.loader.records import apply_rules, drop_files, replace_partitions, staged_counts
from ingestion.loader.results import EntityLoad, FileLoad, StagedFile
from ingestion.loader.tables import (
    LANDING_IGNORED,
    LOAD_LOG,
    LOADS_IN_PROGRESS,
    REJECTED_FILES,
    ensure_meta_tables,
    ensure_tables,
    sql_string,
)

__all__ = [
    "LANDING_IGNORED",
    "LOADS_IN_PROGRESS",
    "LOAD_LOG",
    "REJECTED_FILES",
    "EntityLoad",
    "FileLoad",
    "empty_day",
    "ensure_meta_tables",
    "ensure_tables",
    "load_file",
    "load_files",
    "record_landing_scan",
    "record_refused_files",
    "sql_string",
]

EMPTY_DAY_HINT = "to empty the day on purpose: python -m orchestration.cli empty-day {entity} {day}"


def _unchanged(con: duckdb.DuckDBPyConnection, spec: EntitySpec, files: Sequence[LandingFile], contract: str) -> dict:
    """The load-log row of every file whose content is what was loaded last time, checked under the same rules.
    Content, not size and time: a file is read and hashed when its size is what was loaded."""
    logged = {
        row[0]: row[1:]
        for row in con.execute(
            "select partition_date, size_bytes, sha256, records_read, records_loaded, records_rejected, "
            f"source_file, contract from {LOAD_LOG} where source = ? and entity = ?",
            [spec.source, spec.entity],
        ).fetchall()
    }
    unchanged = {}
    for lf in files:
        row = logged.get(lf.partition_date)
        if row is None or row[5] != lf.relative_path or row[6] != contract:
            continue
        if lf.path.stat().st_size == row[0] and sha256_of(lf.path) == row[1]:
            unchanged[lf.partition_date] = row
    return unchanged


def _day_rows(con: duckdb.DuckDBPyConnection, spec: EntitySpec, days: list[date]) -> dict[date, int]:
    if not days:
        return {}
    listed = ", ".join(f"date '{day.isoformat()}'" for day in days)
    return dict(
        con.execute(
            f"select _partition_date, count(*) from {spec.table} where _partition_date in ({listed}) group by 1"
        ).fetchall()
    )


def _emptying_refuser(con: duckdb.DuckDBPyConnection, spec: EntitySpec):
    """A check for the layouts: fail the files with no valid record whose day holds loaded records."""

    def refuse(files: list[StagedFile], valid: dict[int, int], read: dict[int, int] | None = None) -> None:
        candidates = [f for f in files if valid.get(f.file_index, 0) == 0]
        held = _day_rows(con, spec, [f.lf.partition_date for f in candidates])
        for f in candidates:
            rows = held.get(f.lf.partition_date, 0)
            if not rows:
                continue
            records = (read or {}).get(f.file_index)
            what = (
                "holds no records (empty, a header only, or blank lines)"
                if not records
                else f"holds no valid record (all {records} break a rule)"
            )
            hint = EMPTY_DAY_HINT.format(entity=f"{spec.source}/{spec.entity}", day=f.lf.partition_date)
            f.fail(
                LandingFileError(
                    f.lf.path,
                    f"{what}, but the day holds {rows} loaded record(s): refused, the day keeps them ({hint})",
                )
            )

    return refuse


def _stage_files(files: list[LandingFile], unchanged: dict, hashing: ThreadPoolExecutor) -> list[StagedFile]:
    staged = []
    for index, lf in enumerate(f for f in files if f.partition_date not in unchanged):
        stat = lf.path.stat()
        staged.append(StagedFile(index, lf, stat.st_size, stat.st_mtime_ns, hashing.submit(sha256_of, lf.path)))
    return staged


def load_files(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[LandingFile],
    batch_id: str,
    *,
    force: bool = False,
    settings: ContractSettings | None = None,
) -> EntityLoad:
    """Replace the partitions of `files` (all of one entity) in its raw and rejects tables with their content.
    `force` reads and validates every file again, changed or not."""
    started = time.monotonic()
    result = EntityLoad()
    if not files:
        return result
    spec = files[0].spec
    assert all(lf.spec == spec for lf in files), "load_files takes files of one entity"
    ensure_tables(con, spec)
    settings = settings or load_settings()
    rules, contract = contract_rules(spec, settings), contract_fingerprint(spec, settings)

    unchanged = {} if force else _unchanged(con, spec, files, contract)
    for lf in files:
        if lf.partition_date in unchanged:
            read, loaded, rejected = unchanged[lf.partition_date][2:5]
            result.loads.append(
                FileLoad(lf.relative_path, lf.partition_date.isoformat(), "unchanged", read, loaded, rejected, 0, 0)
            )
    # The files' SHA-256 (recorded in the load log) are computed on a second thread while DuckDB reads them.
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    staged = _stage_files(list(files), unchanged, hashing)
    try:
        if staged:
            result.loads.extend(_load_staged(con, spec, staged, batch_id, rules, contract))
            result.unknown_columns = {
                f.lf.relative_path: f.extra_columns for f in staged if f.extra_columns and not f.error
            }
            result.errors = [f.error for f in staged if f.error is not None]
            _record_rejected_files(con, spec, [f for f in staged if f.error is not None], batch_id)
    finally:
        hashing.shutdown(cancel_futures=True)
        for table in ("_incoming", "_rejected", "_files", "_lines", "_superseded", "_resent", "_broken"):
            con.execute(f"drop table if exists {table}")
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _load_staged(con, spec: EntitySpec, staged: list[StagedFile], batch_id: str, rules, contract: str):
    con.execute(
        "create or replace temp table _files (file_index integer, path varchar, relative_path varchar, "
        "partition_date date, size_bytes bigint, mtime_ns bigint)"
    )
    con.execute(
        "insert into _files select unnest(?::integer[]), unnest(?::varchar[]), unnest(?::varchar[]), "
        "unnest(?::date[]), unnest(?::bigint[]), unnest(?::bigint[])",
        [
            [f.file_index for f in staged],
            [str(f.lf.path) for f in staged],
            [f.lf.relative_path for f in staged],
            [f.lf.partition_date for f in staged],
            [f.size for f in staged],
            [f.mtime_ns for f in staged],
        ],
    )
    create_rejected(con)
    refuse = _emptying_refuser(con, spec)
    if spec.layout == "segment_tracks":
        return usage_events.load(con, spec, staged, batch_id, rules, contract, refuse)
    {"json_object": json_objects.stage, "csv": csv_files.stage}[spec.layout](con, spec, staged)
    apply_rules(con, spec, rules)
    read, rejected = staged_counts(con)
    readable = [f for f in staged if f.error is None]
    refuse(readable, {f.file_index: read.get(f.file_index, 0) - rejected.get(f.file_index, 0) for f in readable}, read)
    drop_files(con, [f.file_index for f in staged if f.error is not None])
    good = [f for f in staged if f.error is None]
    return replace_partitions(con, spec, good, batch_id, contract) if good else []


def _record_rejected_files(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, rejected: list[StagedFile], batch_id: str
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
                f.error.problem,
                batch_id,
                now,
            ]
            for f in rejected
            if f.error is not None
        ],
    )


def load_file(con: duckdb.DuckDBPyConnection, lf: LandingFile, batch_id: str, *, force: bool = False) -> FileLoad:
    """Load a single file; raise its `LandingFileError` if it is rejected whole."""
    result = load_files(con, [lf], batch_id, force=force)
    if result.errors:
        raise result.errors[0]
    return result.loads[0]


def empty_day(con: duckdb.DuckDBPyConnection, lf: LandingFile, batch_id: str) -> int:
    """Empty a day on purpose: its raw and rejected records go, and its landing file (empty, or absent) is recorded
    as loaded, so a later run neither refuses it nor loads the day again. Returns the records removed."""
    spec = lf.spec
    ensure_tables(con, spec)
    exists = lf.path.is_file()
    now = datetime.now(UTC).replace(tzinfo=None)
    settings = load_settings()
    con.execute("begin transaction")
    try:
        [(removed,)] = con.execute(
            f"select count(*) from {spec.table} where _partition_date = ?", [lf.partition_date]
        ).fetchall()
        for table in (spec.table, spec.rejects_table):
            con.execute(f"delete from {table} where _partition_date = ?", [lf.partition_date])
        con.execute(
            f"insert or replace into {LOAD_LOG} (source, entity, partition_date, source_file, size_bytes, mtime_ns, "
            "sha256, records_read, records_loaded, records_rejected, batch_id, loaded_at, contract) "
            "values (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?)",
            [
                spec.source,
                spec.entity,
                lf.partition_date,
                lf.relative_path,
                lf.path.stat().st_size if exists else -1,
                lf.path.stat().st_mtime_ns if exists else 0,
                sha256_of(lf.path) if exists else "emptied: no file",
                batch_id,
                now,
                contract_fingerprint(spec, settings),
            ],
        )
        con.execute(
            f"delete from {REJECTED_FILES} where source = ? and entity = ? and partition_date = ?",
            [spec.source, spec.entity, lf.partition_date],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return removed


def record_refused_files(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, refused: list[tuple[LandingFile, LandingFileError]], batch_id: str
) -> None:
    """Day files refused before reading (a link out of the landing folder, a directory, two files for one day):
    listed with the files rejected whole; their days keep their content."""
    if not refused:
        return
    ensure_tables(con, spec)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"insert or replace into {REJECTED_FILES} values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [spec.source, spec.entity, lf.partition_date, lf.relative_path, error.line, error.problem, batch_id, now]
            for lf, error in refused
        ],
    )


def record_landing_scan(con: duckdb.DuckDBPyConnection, spec: EntitySpec, ignored: list[Ignored]) -> None:
    """The entries of the entity's landing folder that are not loaded, and those outside any entity's folder,
    as last seen (replaced at every load of the entity)."""
    ensure_meta_tables(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        f"delete from {LANDING_IGNORED} where (source = ? and entity = ?) or entity is null",
        [spec.source, spec.entity],
    )
    if ignored:
        con.executemany(
            f"insert into {LANDING_IGNORED} values (?, ?, ?, ?, ?)",
            [[entry.source, entry.entity, entry.path, entry.reason, now] for entry in ignored],
        )
