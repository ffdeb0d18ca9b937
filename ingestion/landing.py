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
import stat
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
        self.problem = message
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


@dataclass(frozen=True)
class Ignored:
    """An entry of the landing folder that is not a day file of an entity, and why (never loaded, always listed)."""

    path: str  # relative to the landing folder
    reason: str
    source: str | None = None
    entity: str | None = None


@dataclass
class LandingScan:
    """What the landing folder holds: the loadable day files of each entity, and every other entry with a reason."""

    days: dict[tuple[str, str], set[date]]
    ignored: list[Ignored]

    def dates(self) -> list[date]:
        return sorted(set().union(*self.days.values())) if self.days else []

    def ignored_in(self, spec: EntitySpec) -> list[Ignored]:
        return [entry for entry in self.ignored if (entry.source, entry.entity) == (spec.source, spec.entity)]


def _is_inside(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def why_not_loadable(landing_dir: Path, path: Path) -> str | None:
    """None when `path` is a regular file whose real path (symbolic links followed) is inside the landing folder;
    else the reason. A link that leaves the landing folder is refused: only what lands there is loaded."""
    if path.is_symlink() and not path.exists():
        return "a symbolic link to nothing"
    if not _is_inside(path, landing_dir.resolve()):
        return "a symbolic link to a path outside the landing folder (refused: only files in the landing folder load)"
    if path.is_dir():
        return "a directory, not a file"
    if not path.is_file():
        return "not a regular file"
    return None


def _entry_problem(landing_dir: Path, entry: Path) -> str | None:
    """why_not_loadable for an entry of an entity folder that scan has already checked (its source and entity
    folders are inside the landing folder): a regular file that is not a link is inside too, so it needs one
    `lstat` instead of resolving its path (a run's raw steps each scan every day file of the folder). Anything
    else (a link, a directory, a device) gets the full check."""
    try:
        if stat.S_ISREG(entry.lstat().st_mode):
            return None
    except OSError:
        pass
    return why_not_loadable(landing_dir, entry)


def day_files(
    landing_dir: Path, spec: EntitySpec, days: Iterable[date]
) -> tuple[list[LandingFile], list[tuple[LandingFile, LandingFileError]]]:
    """The loadable files of `spec` for `days` (a day without a file has none), and the day files refused (a link
    out of the landing folder, a directory, both `.jsonl` and `.jsonl.gz`) with the error naming them."""
    files: list[LandingFile] = []
    refused: list[tuple[LandingFile, LandingFileError]] = []
    for day in days:
        try:
            lf = landing_file(landing_dir, spec, day)
        except LandingFileError as error:
            relative = f"{spec.landing_subdir}/{day.isoformat()}.{spec.extension}.gz"
            refused.append((LandingFile(spec, Path(error.path), day, relative), error))
            continue
        if not lf.path.exists() and not lf.path.is_symlink():
            continue
        problem = why_not_loadable(landing_dir, lf.path)
        if problem:
            refused.append((lf, LandingFileError(lf.path, problem)))
        else:
            files.append(lf)
    return files, refused


def _day_file_problem(name: str, spec: EntitySpec) -> tuple[date | None, str | None]:
    match = _DATE_FILE.match(name)
    if match is None:
        return None, f"not named <YYYY-MM-DD>.{spec.extension}" + (" or .jsonl.gz" if spec.accepts_gzip else "")
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return None, f"{match.group(1)} is not a calendar date"
    if match.group(2) != spec.extension:
        return None, f".{match.group(2)} file: {spec.source}/{spec.entity} files are .{spec.extension}"
    if match.group(3) is not None and not spec.accepts_gzip:
        return None, f"compressed: {spec.source}/{spec.entity} files are plain .{spec.extension}"
    return day, None


def scan(landing_dir: Path, specs: Iterable[EntitySpec]) -> LandingScan:
    """Walk the landing folder once: every day file of the entities, and every other entry with the reason it is
    not loaded. Never raises for what the folder holds. Hidden entries (a name starting with ".", such as the
    temporary file of a write in progress) and state folders at the top (a name starting with "_") are skipped."""
    specs = list(specs)
    days: dict[tuple[str, str], set[date]] = {}
    ignored: list[Ignored] = []
    if not landing_dir.is_dir():
        return LandingScan(days, ignored)
    by_folder = {(spec.source, spec.entity): spec for spec in specs}
    sources = {spec.source for spec in specs}

    def visible(entries):
        return sorted(entry for entry in entries if not entry.name.startswith("."))

    for top in visible(landing_dir.iterdir()):
        relative = top.name
        if top.name.startswith("_"):
            continue
        if top.name not in sources or not top.is_dir():
            ignored.append(Ignored(relative, "not the folder of a known source (" + ", ".join(sorted(sources)) + ")"))
            continue
        problem = why_not_loadable(landing_dir, top) if top.is_symlink() else None
        if problem:
            ignored.append(Ignored(relative, problem, top.name))
            continue
        for folder in visible(top.iterdir()):
            spec = by_folder.get((top.name, folder.name))
            relative = f"{top.name}/{folder.name}"
            if spec is None or not folder.is_dir():
                ignored.append(Ignored(relative, f"not the folder of a known {top.name} entity", top.name))
                continue
            problem = why_not_loadable(landing_dir, folder) if folder.is_symlink() else None
            if problem:
                ignored.append(Ignored(relative, problem, spec.source, spec.entity))
                continue
            for entry in visible(folder.iterdir()):
                relative = f"{spec.landing_subdir}/{entry.name}"
                day, problem = _day_file_problem(entry.name, spec)
                problem = problem or _entry_problem(landing_dir, entry)
                if problem:
                    ignored.append(Ignored(relative, problem, spec.source, spec.entity))
                else:
                    days.setdefault((spec.source, spec.entity), set()).add(day)
    return LandingScan(days, ignored)


def dates_present(landing_dir: Path, specs: Iterable[EntitySpec]) -> list[date]:
    """Every partition date that has a loadable file for any of the given entities, sorted."""
    return scan(landing_dir, specs).dates()


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
            info = path.stat()
            digest.update(f"{path.relative_to(landing_dir)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
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
