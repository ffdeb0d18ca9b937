"""The landing zone: `<landing_dir>/<source>/<entity>/<YYYY-MM-DD>.jsonl|.csv`, one file per entity and day.

Usage events may also land gzip-compressed as `<YYYY-MM-DD>.jsonl.gz` (what Segment's S3 destination writes);
DuckDB's JSON reader decompresses them itself. A day with both a `.jsonl` and a `.jsonl.gz` file is an error.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ingestion.entities import EntitySpec

_DATE_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(jsonl|csv)(\.gz)?$")


class LandingFileError(ValueError):
    """A landing file that cannot be loaded; the message names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class LandingFile:
    spec: EntitySpec
    path: Path
    partition_date: date
    relative_path: str


def landing_file(landing_dir: Path, spec: EntitySpec, day: date) -> LandingFile:
    """The day's file: `<day>.<extension>`, or `<day>.jsonl.gz` where the entity accepts gzip and only that exists."""
    relative = f"{spec.landing_subdir}/{day.isoformat()}.{spec.extension}"
    if spec.accepts_gzip:
        plain, compressed = landing_dir / relative, landing_dir / f"{relative}.gz"
        if compressed.exists():
            if plain.exists():
                raise LandingFileError(
                    compressed, f"{plain.name} is there too: one file per day, remove the one that is not current"
                )
            relative = f"{relative}.gz"
    return LandingFile(spec=spec, path=landing_dir / relative, partition_date=day, relative_path=relative)


def dates_present(landing_dir: Path, specs: Iterable[EntitySpec]) -> list[date]:
    """Every partition date that has a file for any of the given entities, sorted."""
    found: set[date] = set()
    for spec in specs:
        folder = landing_dir / spec.landing_subdir
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            match = _DATE_FILE.match(child.name)
            if match and match.group(2) == spec.extension and (match.group(3) is None or spec.accepts_gzip):
                found.add(date.fromisoformat(match.group(1)))
    return sorted(found)


def is_empty(landing_dir: Path) -> bool:
    return not landing_dir.exists() or not any(p.is_file() for p in landing_dir.rglob("*"))


def open_bytes(path: Path) -> BinaryIO:
    """A landing file's bytes, decompressed if it is a `.gz` file (for the few reads done in Python)."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(landing_dir: Path) -> str:
    """A cheap fingerprint of the whole landing folder (names, sizes, modification times)."""
    digest = hashlib.sha256()
    if landing_dir.exists():
        for path in sorted(p for p in landing_dir.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(landing_dir)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file beside it, fsync, rename, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextmanager
def exclusive(state_dir: Path, name: str) -> Iterator[None]:
    """One process at a time for `name` (a fetch or mirror whose state and landing files are shared)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / f"{name}.lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
