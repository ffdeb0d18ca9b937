"""What a load is about and what it did: the files being loaded, and the counts reported for each."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import asdict, dataclass, field

from ingestion.landing import LandingFile, LandingFileError


@dataclass
class StagedFile:
    """A changed landing file in this load. Staging sets `error` when the file cannot be read whole, and
    `extra_columns` with the fields or columns the contract does not name (schema drift)."""

    file_index: int
    lf: LandingFile
    size: int
    mtime_ns: int
    # The content's SHA-256, known already or being computed on a second thread while DuckDB reads the file.
    digest: str | Future[str]
    error: LandingFileError | None = None
    extra_columns: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return self.digest if isinstance(self.digest, str) else self.digest.result()

    def fail(self, error: LandingFileError) -> None:
        if self.error is None:
            self.error = error


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
    # Usage events only: an event whose messageId was already loaded from another file (a client retry).
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
    # Files with fields or columns the contract does not name: file -> names (kept in `payload`/`_extra_columns`).
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


def file_load(staged: StagedFile, read: int, rejected: int, in_file: int, loaded: int | None = None) -> FileLoad:
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
