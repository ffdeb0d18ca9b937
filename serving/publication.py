"""Publishing the marts for BI tools: a read-only DuckDB serving file and Parquet folders, each swapped in whole.

DuckDB allows one writing process or many reading ones, never both at once, so BI tools never open the warehouse.
After a successful run the marts are copied into a new file beside the serving file, checked, and renamed over it
(`os.replace`): a reader sees the previous publication or the new one, never a lock error or half a copy. See
docs/serving.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

MARTS_SCHEMA = "marts"
META_SCHEMA = "meta"
CURRENT_LINK = "current"
PARQUET_FILE = "data.parquet"
MANIFEST_FILE = "_publication.json"
# The serving file's storage format: readable by DuckDB 1.0 and later, not only by the 2.0 that writes it, because
# BI tools embed their own DuckDB (Metabase's driver, Superset's duckdb-engine) and often lag behind.
STORAGE_COMPATIBILITY = "v1.0.0"
# Every temporary name starts with this, so a publish killed half-way is cleaned up by the next one.
TMP_MARK = ".tmp-"
# Publication ids double as Parquet version folder names; they sort by time.
_VERSION_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
# Relations dbt leaves beside a model while it builds it (and after a killed run): never published.
_DBT_WORK_RELATION = re.compile(r"__dbt_(tmp|backup)")


class PublishError(RuntimeError):
    """The copy is not what the warehouse holds, or a mart is missing: nothing was published."""


@dataclass(frozen=True)
class PublishedMart:
    table: str
    rows: int
    checksum: str  # order-independent content hash (sum of DuckDB row hashes), equal in source and copy


@dataclass(frozen=True)
class PublishResult:
    publication_id: str
    published_at: datetime
    run_id: str | None
    serving_path: Path
    parquet_dir: Path  # the stable path readers use: <parquet_dir>/current
    parquet_version_dir: Path
    source_fingerprint: str
    marts: tuple[PublishedMart, ...]
    duration_seconds: float

    @property
    def row_counts(self) -> dict[str, int]:
        return {mart.table: mart.rows for mart in self.marts}


def publish(
    warehouse_path: Path | str,
    serving_path: Path | str,
    parquet_dir: Path | str,
    *,
    run_id: str | None = None,
    expected_marts: Iterable[str] = (),
    config: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Copy every table of schema `marts` of the warehouse into a new serving file and a new Parquet version,
    then swap both in. On any error the previous serving file and Parquet version stay as they were.

    `expected_marts`: table names that must be present (a missing one raises PublishError). `config`: DuckDB
    settings for the copying connection (threads, memory_limit). The warehouse is attached read-only; the caller
    keeps writers away while this runs (the Dagster asset holds the warehouse's writer lock).
    """
    started = time.monotonic()
    warehouse_path, serving_path, parquet_dir = Path(warehouse_path), Path(serving_path), Path(parquet_dir)
    if not warehouse_path.is_file():
        raise PublishError(f"no warehouse at {warehouse_path}")
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    current = parquet_dir / CURRENT_LINK
    if current.exists() and not current.is_symlink():
        raise PublishError(f"{current} must be a symbolic link to a version folder, found a real file or folder")

    published_at = datetime.now(UTC)
    publication_id = f"{published_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    tmp_db = serving_path.with_name(f"{serving_path.name}{TMP_MARK}{publication_id}")
    tmp_parquet = parquet_dir / f"{TMP_MARK}{publication_id}"
    version_dir = parquet_dir / publication_id

    with _publish_lock(serving_path):
        _remove_leftovers(serving_path, parquet_dir)
        swapped, previous = False, None
        try:
            marts, fingerprint = _build(
                tmp_db, tmp_parquet, warehouse_path, publication_id, published_at, run_id, expected_marts, config
            )
            _fsync_tree(tmp_parquet)
            tmp_parquet.rename(version_dir)
            previous = _point_current_at(parquet_dir, publication_id)
            swapped = True
            _replace_serving_file(tmp_db, serving_path)
        except BaseException:
            if swapped:
                _restore_current(parquet_dir, previous)
            for leftover in (tmp_db, _wal(tmp_db), tmp_parquet, version_dir, _tmp_link(parquet_dir, publication_id)):
                _remove(leftover)
            raise
        _fsync_dir(serving_path.parent)
        _fsync_dir(parquet_dir)
        _prune_versions(parquet_dir, keep={publication_id, previous})

    return PublishResult(
        publication_id=publication_id,
        published_at=published_at,
        run_id=run_id,
        serving_path=serving_path,
        parquet_dir=current,
        parquet_version_dir=version_dir,
        source_fingerprint=fingerprint,
        marts=marts,
        duration_seconds=round(time.monotonic() - started, 3),
    )


def _remove_leftovers(serving_path: Path, parquet_dir: Path) -> None:
    """Temporary files of a publish that was killed (SIGKILL, power loss) before it could clean up."""
    for path in serving_path.parent.glob(f"{serving_path.name}{TMP_MARK}*"):
        _remove(path)
    for path in parquet_dir.glob(f"{TMP_MARK}*"):
        _remove(path)


def _build(
    tmp_db: Path,
    tmp_parquet: Path,
    warehouse: Path,
    publication_id: str,
    published_at: datetime,
    run_id: str | None,
    expected_marts: Iterable[str],
    config: Mapping[str, Any] | None,
) -> tuple[tuple[PublishedMart, ...], str]:
    """The new serving file (marts, checked, plus `meta`) and the new Parquet set, both under temporary names."""
    con = duckdb.connect(str(tmp_db), config={**(config or {}), "storage_compatibility_version": STORAGE_COMPATIBILITY})
    try:
        con.execute(f"attach {_literal(warehouse)} as source (read_only)")
        tables = _mart_tables(con)
        missing = sorted(set(expected_marts) - set(tables))
        if missing:
            raise PublishError(f"marts missing from the warehouse: {', '.join(missing)}")
        if not tables:
            raise PublishError(f"schema {MARTS_SCHEMA} of {warehouse} holds no table")
        # One transaction: every mart is read from the same snapshot of the warehouse.
        con.execute("begin")
        con.execute(f"create schema {MARTS_SCHEMA}")
        for table in tables:
            con.execute(f"create table {_mart(table)} as select * from source.{_mart(table)}")
            _copy_comments(con, table)
        source = {table: _table_stats(con, f"source.{_mart(table)}") for table in tables}
        copied = {table: _table_stats(con, _mart(table)) for table in tables}
        _verify_copy(source, copied)
        marts = tuple(PublishedMart(table, *source[table]) for table in tables)
        fingerprint = source_fingerprint(marts)
        _write_meta(con, marts, publication_id, published_at, run_id, fingerprint)
        con.execute("commit")
        con.execute("detach source")

        _export_parquet(con, marts, tmp_parquet)
        manifest = {
            "publication_id": publication_id,
            "published_at": published_at.isoformat(),
            "run_id": run_id,
            "source_fingerprint": fingerprint,
            "marts": {mart.table: {"rows": mart.rows, "checksum": mart.checksum} for mart in marts},
        }
        (tmp_parquet / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        con.execute("checkpoint")
    finally:
        con.close()
    if _wal(tmp_db).exists():  # a reader would open the file without it
        raise PublishError(f"{tmp_db} still has a write-ahead log after its checkpoint")
    return marts, fingerprint


def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The descriptions of a mart and its columns (comments in the warehouse: dbt's persist_docs), which BI tools
    show beside the table and each column."""
    [(comment,)] = con.execute(
        "select max(comment) from (select comment, database_name, schema_name, table_name from duckdb_tables() "
        "union all select comment, database_name, schema_name, view_name from duckdb_views()) "
        "where database_name = 'source' and schema_name = ? and table_name = ?",
        [MARTS_SCHEMA, table],
    ).fetchall()
    if comment:
        con.execute(f"comment on table {_mart(table)} is {_text(comment)}")
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where database_name = 'source' and schema_name = ? "
        "and table_name = ? and comment is not null and comment <> ''",
        [MARTS_SCHEMA, table],
    ).fetchall()
    for column, text in columns:
        name = column.replace('"', '""')
        con.execute(f'comment on column {_mart(table)}."{name}" is {_text(text)}')


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = 'source' and table_schema = ? "
        "order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows if not _DBT_WORK_RELATION.search(name)]


def _table_stats(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """Row count and an order-independent checksum (a sum, so duplicate rows do not cancel out as with xor)."""
    rows, checksum = con.execute(
        f"select count(*), coalesce(sum(hash(_row)), 0)::varchar from {relation} as _row"
    ).fetchall()[0]
    return rows, checksum


def _verify_copy(source: Mapping[str, tuple[int, str]], copied: Mapping[str, tuple[int, str]]) -> None:
    problems = []
    for table, (rows, checksum) in source.items():
        if table not in copied:
            problems.append(f"{table}: not copied")
        elif copied[table][0] != rows:
            problems.append(f"{table}: {rows} rows in the warehouse, {copied[table][0]} copied")
        elif copied[table][1] != checksum:
            problems.append(f"{table}: {rows} rows in both, different content")
    problems += [f"{table}: not in the warehouse" for table in sorted(set(copied) - set(source))]
    if problems:
        raise PublishError("the copy differs from the warehouse: " + "; ".join(problems))


def source_fingerprint(marts: Iterable[PublishedMart]) -> str:
    """Identifies the published content: equal for two publications of identical marts."""
    lines = sorted(f"{mart.table}\t{mart.rows}\t{mart.checksum}" for mart in marts)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _write_meta(
    con: duckdb.DuckDBPyConnection,
    marts: tuple[PublishedMart, ...],
    publication_id: str,
    published_at: datetime,
    run_id: str | None,
    fingerprint: str,
) -> None:
    con.execute(f"create schema {META_SCHEMA}")
    con.execute(
        f"create table {META_SCHEMA}.publication (publication_id varchar, published_at timestamp, "
        "run_id varchar, source_fingerprint varchar, marts integer, total_rows bigint, duckdb_version varchar)"
    )
    con.execute(
        f"insert into {META_SCHEMA}.publication values (?, ?, ?, ?, ?, ?, ?)",
        [
            publication_id,
            published_at.replace(tzinfo=None),  # UTC, like the warehouse's other timestamps
            run_id,
            fingerprint,
            len(marts),
            sum(mart.rows for mart in marts),
            duckdb.__version__,
        ],
    )
    con.execute(
        f"create table {META_SCHEMA}.published_marts (table_name varchar, row_count bigint, content_checksum varchar)"
    )
    con.executemany(
        f"insert into {META_SCHEMA}.published_marts values (?, ?, ?)",
        [[mart.table, mart.rows, mart.checksum] for mart in marts],
    )


def _export_parquet(con: duckdb.DuckDBPyConnection, marts: tuple[PublishedMart, ...], folder: Path) -> None:
    """One folder per mart, `<mart>/data.parquet`, each checked for its row count."""
    for mart in marts:
        target = folder / mart.table / PARQUET_FILE
        target.parent.mkdir(parents=True)
        con.execute(f"copy {_mart(mart.table)} to {_literal(target)} (format parquet, compression zstd)")
        [(rows,)] = con.execute(f"select count(*) from read_parquet({_literal(target)})").fetchall()
        if rows != mart.rows:
            raise PublishError(f"{target}: {rows} rows written, {mart.rows} expected")


def _point_current_at(parquet_dir: Path, version: str) -> str | None:
    """Swap `<parquet_dir>/current` to the version folder in one rename; return the version it pointed at."""
    link = parquet_dir / CURRENT_LINK
    previous = os.readlink(link) if link.is_symlink() else None
    tmp_link = _tmp_link(parquet_dir, version)
    os.symlink(version, tmp_link)  # relative: the folder can move
    os.replace(tmp_link, link)
    return previous


def _restore_current(parquet_dir: Path, previous: str | None) -> None:
    if previous is None:
        (parquet_dir / CURRENT_LINK).unlink(missing_ok=True)
    else:
        _point_current_at(parquet_dir, previous)


def _replace_serving_file(tmp_db: Path, serving_path: Path) -> None:
    # A write-ahead log beside the serving file would belong to an older file (someone opened it read-write);
    # DuckDB would replay it into the new one. Nothing but this function writes the serving file.
    _wal(serving_path).unlink(missing_ok=True)
    os.replace(tmp_db, serving_path)


def _prune_versions(parquet_dir: Path, keep: set[str | None]) -> None:
    """Keep the current version and the one before it (a reader may still be going through its files)."""
    for path in parquet_dir.iterdir():
        if _VERSION_NAME.match(path.name) and path.name not in keep and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _publish_lock(serving_path: Path) -> Iterator[None]:
    """One publish at a time per serving file (the lock is released by the OS if the process dies)."""
    lock_path = serving_path.with_name(serving_path.name + ".publish.lock")
    with lock_path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    """Data on disk before the renames that make it visible, so a power cut cannot publish empty files."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _tmp_link(parquet_dir: Path, version: str) -> Path:
    return parquet_dir / f"{TMP_MARK}link-{version}"


def _wal(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def _mart(table: str) -> str:
    return f'{MARTS_SCHEMA}."{table.replace(chr(34), chr(34) * 2)}"'


def _literal(path: Path) -> str:
    return _text(str(path))
