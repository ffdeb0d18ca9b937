"""Segment track events from S3-compatible object storage (AWS S3, MinIO, ...), read by DuckDB itself.

    NPS_SOURCE_MODE_SEGMENT=s3 NPS_SEGMENT_S3_URL=s3://bucket/segment-tracks  ->  mirror("segment", landing_dir)

The bucket holds one object per day named like the landing files, `<prefix>/<YYYY-MM-DD>.jsonl`, or `.jsonl.gz` as
Segment's S3 destination writes them (mirrored as `.jsonl.gz` landing files, which DuckDB decompresses). A mirror run
lists them with DuckDB (`read_blob(...)` projecting only name, size and last-modified time, so nothing is
downloaded), downloads each object whose size or last-modified time differs from what the previous mirror recorded
(`read_blob` again, content this time: whole files pass through Python as bytes, never rows), and writes it to
`<landing>/segment/tracks/<YYYY-MM-DD>.jsonl` through a temporary file, fsync and rename, so the loader never sees
half a file. The unchanged loader then loads those files exactly as it loads files dropped by hand.

Why a mirror and not `read_json('s3://...')` inside the loader: every guarantee of the loader rests on a local file.
It skips a file whose size, mtime or SHA-256 is what it loaded last time (hashing an S3 object means downloading
it, every run); its error path (`locate_bad_json_line`) re-reads a file line by line to name the bad line; a file
rejected whole stays in the landing folder for replay; rejects and `_source_file` name a file relative to the
landing folder. With the mirror all of that holds unchanged, an unchanged object costs one listing entry, a changed
one a single download, and the landing folder keeps a copy of what was loaded. The mirror's state file,
`<landing>/_s3/<source>.json` (the loader reads only `<source>/<entity>/` folders), maps each landing file to its
object, size and last-modified time; it is rewritten only when something changed, so a second `make run` is still
a no-op.

How DuckDB reaches the bucket (`NPS_S3_BACKEND`, default `auto`):
- `httpfs`: DuckDB's httpfs extension with a temporary `CREATE SECRET (TYPE s3)` built from the environment. The
  extension is loaded from `NPS_DUCKDB_HTTPFS_EXTENSION` (a `httpfs.duckdb_extension` file built for this DuckDB),
  else from DuckDB's extension directory (where `INSTALL httpfs` puts it), else from the `duckdb-extension-httpfs`
  package when it ships a build for this DuckDB version. Nothing is downloaded (autoinstall is off).
- `fsspec`: when httpfs cannot be loaded (DuckDB 2.0.0 offline: no httpfs build for it can be installed), an
  `s3fs` filesystem registered on the DuckDB connection (`register_filesystem`); the same `glob`/`read_blob`
  queries run through it.

Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` only (both unset:
anonymous access to a public bucket). They are held in `Secret`s, live only in an in-memory DuckDB connection of
the mirror (never the warehouse), and are masked out of every error message; nothing logs them and no metadata
holds them. Settings: README ("Segment from S3 or MinIO") and docs/raw_layer.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingestion.api.settings import S3_SOURCES, ConfigurationError, GetEnv, Secret
from ingestion.landing import LandingFile, exclusive, write_atomic
from ingestion.loader import sql_string
from ingestion.registry import get_entity

# The entity each S3 source lands (one object per day, the landing file's name).
S3_ENTITIES = {"segment": "tracks"}
BACKENDS = ("auto", "httpfs", "fsspec")
_DAY_OBJECT = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ObjectStorageError(RuntimeError):
    """A listing or download that failed; nothing was written to the landing folder for the failing object and
    the state file still describes what is in the landing folder. Never holds a credential."""

    def __init__(self, message: str, *, credentials_refused: bool = False):
        self.credentials_refused = credentials_refused
        super().__init__(message)


@dataclass(frozen=True)
class S3Settings:
    source: str
    url: str  # s3://bucket/prefix, no trailing slash
    bucket: str
    prefix: str
    endpoint: str  # host[:port]; empty = AWS
    region: str
    use_ssl: bool
    url_style: str  # "path" | "vhost"
    key_id: Secret | None
    secret: Secret | None
    session_token: Secret | None
    backend: str
    state_dir: Path

    @property
    def glob(self) -> str:
        # Every object directly under the prefix: those not named <YYYY-MM-DD>.jsonl[.gz] are reported as ignored.
        return f"{self.url}/*"

    @property
    def where(self) -> str:
        return f"{self.url} ({'endpoint ' + self.endpoint if self.endpoint else 'AWS'}, region {self.region})"

    def secret_values(self) -> list[str]:
        return [s.reveal() for s in (self.key_id, self.secret, self.session_token) if s is not None and s.reveal()]


def _flag(getenv: GetEnv, name: str, default: bool) -> bool:
    raw = (getenv(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def s3_settings(source: str, landing_dir: Path, getenv: GetEnv = os.environ.get) -> S3Settings:
    """The settings of one S3 source; raises `ConfigurationError` naming the variable that is missing or wrong."""
    if source not in S3_SOURCES:
        raise ConfigurationError(f"{source} cannot be read from S3 (only {', '.join(S3_SOURCES)})")
    name = f"NPS_{source.upper()}_S3_URL"
    url = (getenv(name) or "").strip().rstrip("/")
    if not url:
        raise ConfigurationError(f"{name} is not set: the bucket and prefix of the day objects, s3://bucket/prefix")
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/[^*?\[\]{}]*)?", url)
    if match is None:
        raise ConfigurationError(f"{name} must look like s3://bucket/prefix (no wildcards), not {url!r}")
    bucket, prefix = match.group(1), (match.group(2) or "").strip("/")
    endpoint = (getenv("NPS_S3_ENDPOINT") or "").strip().rstrip("/")
    ssl_default = True
    # A full URL is accepted too: its scheme gives the default of NPS_S3_USE_SSL.
    if endpoint.startswith(("http://", "https://")):
        ssl_default = endpoint.startswith("https://")
        endpoint = endpoint.split("://", 1)[1]
    if "/" in endpoint:
        raise ConfigurationError(f"NPS_S3_ENDPOINT must be host[:port], not {endpoint!r}")
    url_style = (getenv("NPS_S3_URL_STYLE") or ("path" if endpoint else "vhost")).strip().lower()
    if url_style not in ("path", "vhost"):
        raise ConfigurationError(f"NPS_S3_URL_STYLE must be 'path' or 'vhost', not {url_style!r}")
    backend = (getenv("NPS_S3_BACKEND") or "auto").strip().lower()
    if backend not in BACKENDS:
        raise ConfigurationError(f"NPS_S3_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    key_id = (getenv("AWS_ACCESS_KEY_ID") or "").strip()
    secret = (getenv("AWS_SECRET_ACCESS_KEY") or "").strip()
    token = (getenv("AWS_SESSION_TOKEN") or "").strip()
    if bool(key_id) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key_id else "AWS_ACCESS_KEY_ID"
        raise ConfigurationError(f"{missing} is not set (set both access key variables, or neither: public bucket)")
    return S3Settings(
        source=source,
        url=f"s3://{bucket}" + (f"/{prefix}" if prefix else ""),
        bucket=bucket,
        prefix=prefix,
        endpoint=endpoint,
        region=(getenv("NPS_S3_REGION") or getenv("AWS_REGION") or "us-east-1").strip(),
        use_ssl=_flag(getenv, "NPS_S3_USE_SSL", ssl_default),
        url_style=url_style,
        key_id=Secret(key_id) if key_id else None,
        secret=Secret(secret) if secret else None,
        session_token=Secret(token) if token else None,
        backend=backend,
        state_dir=landing_dir / "_s3",
    )


# --- a DuckDB connection that can read the bucket ----------------------------------------------------------------


def httpfs_candidates(getenv: GetEnv = os.environ.get) -> list[str]:
    """Where httpfs may be loaded from, in order: `NPS_DUCKDB_HTTPFS_EXTENSION`, DuckDB's extension directory,
    the `duckdb-extension-httpfs` package's build for this DuckDB version (when it has one)."""
    candidates = []
    explicit = (getenv("NPS_DUCKDB_HTTPFS_EXTENSION") or "").strip()
    if explicit:
        candidates.append(explicit)
    candidates.append("httpfs")
    package = importlib.util.find_spec("duckdb_extension_httpfs")
    if package is not None and package.submodule_search_locations:
        for folder in package.submodule_search_locations:
            built = Path(folder) / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
            if built.exists():
                candidates.append(str(built))
    return candidates


def _load_httpfs(con: duckdb.DuckDBPyConnection, getenv: GetEnv) -> list[str]:
    """Load httpfs into `con`; returns [] on success, else why each candidate failed."""
    failures = []
    for candidate in httpfs_candidates(getenv):
        statement = "load httpfs" if candidate == "httpfs" else f"load {sql_string(candidate)}"
        try:
            con.execute(statement)
            return []
        except duckdb.Error as error:
            failures.append(f"{candidate}: {str(error).splitlines()[0]}")
    return failures


def httpfs_available(getenv: GetEnv = os.environ.get) -> bool:
    with duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}) as con:
        return not _load_httpfs(con, getenv)


def _create_secret(con: duckdb.DuckDBPyConnection, settings: S3Settings) -> None:
    options = [
        "type s3",
        f"region {sql_string(settings.region)}",
        f"use_ssl {str(settings.use_ssl).lower()}",
        f"url_style {sql_string(settings.url_style)}",
        f"scope {sql_string(f's3://{settings.bucket}')}",
    ]
    if settings.endpoint:
        options.append(f"endpoint {sql_string(settings.endpoint)}")
    if settings.key_id is not None and settings.secret is not None:
        options.append(f"key_id {sql_string(settings.key_id.reveal())}")
        options.append(f"secret {sql_string(settings.secret.reveal())}")
    if settings.session_token is not None:
        options.append(f"session_token {sql_string(settings.session_token.reveal())}")
    try:
        # Temporary: held in this in-memory connection only, never persisted, redacted in duckdb_secrets().
        con.execute(f"create or replace temporary secret nps_object_storage ({', '.join(options)})")
    except duckdb.Error as error:
        raise ObjectStorageError(
            _mask(settings, f"could not create the DuckDB S3 secret for {settings.where}: {_reason(error)}")
        ) from None


def _register_fsspec(con: duckdb.DuckDBPyConnection, settings: S3Settings) -> None:
    import s3fs

    scheme = "https" if settings.use_ssl else "http"
    credentials: dict = {"anon": True}
    if settings.key_id is not None and settings.secret is not None:
        credentials = {"key": settings.key_id.reveal(), "secret": settings.secret.reveal()}
        if settings.session_token is not None:
            credentials["token"] = settings.session_token.reveal()
    filesystem = s3fs.S3FileSystem(
        **credentials,
        endpoint_url=f"{scheme}://{settings.endpoint}" if settings.endpoint else None,
        client_kwargs={"region_name": settings.region},
        config_kwargs={
            "s3": {"addressing_style": "path" if settings.url_style == "path" else "virtual"},
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
        # A fresh filesystem for each mirror (never an instance shared by key): its listing cache lives for one
        # mirror only, so the sizes and times of the listing come from one LIST per 1,000 objects, not a HEAD each,
        # and the next mirror sees every change.
        skip_instance_cache=True,
        use_listings_cache=True,
    )
    con.register_filesystem(filesystem)


@contextmanager
def object_store_connection(settings: S3Settings, getenv: GetEnv = os.environ.get) -> Iterator[tuple]:
    """An in-memory DuckDB connection that reads `s3://` with the settings' credentials, and the backend used."""
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    try:
        backend = settings.backend
        failures: list[str] = []
        if backend in ("auto", "httpfs"):
            failures = _load_httpfs(con, getenv)
            if not failures:
                backend = "httpfs"
                _create_secret(con, settings)
            elif backend == "httpfs":
                raise ConfigurationError(
                    f"NPS_S3_BACKEND=httpfs: DuckDB {duckdb.__version__} cannot load the httpfs extension ("
                    + "; ".join(failures)
                    + "). Set NPS_DUCKDB_HTTPFS_EXTENSION to a httpfs.duckdb_extension built for this DuckDB "
                    "version, or NPS_S3_BACKEND=fsspec."
                )
        if backend in ("auto", "fsspec"):
            if importlib.util.find_spec("s3fs") is None:
                raise ConfigurationError(
                    f"{settings.source} from S3: DuckDB {duckdb.__version__} cannot load httpfs ("
                    + ("; ".join(failures) or "not tried")
                    + ") and the s3fs package is not installed"
                )
            backend = "fsspec"
            _register_fsspec(con, settings)
        yield con, backend
    finally:
        con.close()


# --- errors -------------------------------------------------------------------------------------------------------

_REFUSED = ("403", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "PermissionError", "Forbidden")


def _reason(error: BaseException) -> str:
    """The one or two lines of a DuckDB error that say what went wrong (not the traceback of a Python
    filesystem, not the query echo, not the advice)."""
    lines = []
    for line in str(error).splitlines():
        if line.startswith("LINE ") or line.startswith("Authentication Failure"):
            break
        if not line.strip() or line.startswith((" ", "\t", "Traceback")):
            continue
        lines.append(line.strip())
    return " ".join(lines[-2:]).rstrip(".") if lines else type(error).__name__


def _mask(settings: S3Settings, text: str) -> str:
    for value in settings.secret_values():
        text = text.replace(value, "***")
    return text


def _storage_error(settings: S3Settings, doing: str, error: BaseException) -> ObjectStorageError:
    reason = _reason(error)
    refused = any(marker in str(error) for marker in _REFUSED)
    hint = (
        " The store refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_SESSION_TOKEN), and that they may list and read the bucket."
        if refused
        else " Check NPS_S3_ENDPOINT, NPS_S3_USE_SSL, NPS_S3_URL_STYLE, NPS_S3_REGION and the bucket."
    )
    message = f"{settings.source} from S3: could not {doing} {settings.where}: {reason}.{hint} Nothing was mirrored."
    return ObjectStorageError(_mask(settings, message), credentials_refused=refused)


# --- the mirror -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MirroredFile:
    relative_path: str  # the landing file, relative to the landing folder
    object_url: str
    size: int
    last_modified_ms: int
    status: str  # "downloaded" | "unchanged"
    changed: bool  # the landing file was (re)written


@dataclass
class MirrorResult:
    source: str
    url: str
    endpoint: str
    backend: str
    started_at: str
    seconds: float = 0.0
    objects_listed: int = 0
    # Objects under the prefix not named <YYYY-MM-DD>.jsonl[.gz]: not mirrored, reported.
    objects_ignored: list[str] = field(default_factory=list)
    files: list[MirroredFile] = field(default_factory=list)
    bytes_downloaded: int = 0

    @property
    def downloaded(self) -> list[str]:
        return [f.relative_path for f in self.files if f.status == "downloaded"]

    @property
    def files_changed(self) -> list[str]:
        return [f.relative_path for f in self.files if f.changed]

    def summary(self) -> dict:
        """For logs and asset metadata: where, what and how much; never a credential."""
        return {
            "source": self.source,
            "url": self.url,
            "endpoint": self.endpoint or "AWS",
            "backend": self.backend,
            "started_at": self.started_at,
            "seconds": self.seconds,
            "objects_listed": self.objects_listed,
            "objects_downloaded": len(self.downloaded),
            "objects_ignored": self.objects_ignored[:20],
            "bytes_downloaded": self.bytes_downloaded,
            "files_written": self.files_changed,
        }

    def as_dict(self) -> dict:
        return {**asdict(self), "downloaded": self.downloaded, "files_changed": self.files_changed}


def state_path(settings: S3Settings) -> Path:
    return settings.state_dir / f"{settings.source}.json"


def _save_state(settings: S3Settings, state: dict) -> None:
    write_atomic(state_path(settings), (json.dumps(state, indent=1, sort_keys=True) + "\n").encode())


def _up_to_date(entry: dict | None, url: str, size: int, last_modified_ms: int, path: Path) -> bool:
    """The object is what was mirrored last time and the landing file is the one the mirror wrote."""
    if entry is None or entry.get("object") != url or not path.exists():
        return False
    stat = path.stat()
    return (
        entry.get("size") == size
        and entry.get("last_modified_ms") == last_modified_ms
        and stat.st_size == size
        and entry.get("local_mtime_ns") == stat.st_mtime_ns
    )


def mirror(
    source: str, landing_dir: Path, getenv: GetEnv = os.environ.get, *, settings: S3Settings | None = None
) -> MirrorResult:
    """Mirror the day objects of `source` that changed since the last mirror into the landing folder."""
    settings = settings or s3_settings(source, landing_dir, getenv)
    spec = get_entity(source, S3_ENTITIES[source])
    started = time.monotonic()
    with exclusive(settings.state_dir, settings.source), object_store_connection(settings, getenv) as (con, backend):
        result = MirrorResult(
            source=source,
            url=settings.url,
            endpoint=settings.endpoint,
            backend=backend,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        path = state_path(settings)
        state = json.loads(path.read_text()) if path.exists() else {}
        files: dict = state.setdefault("files", {})
        try:
            # Name, size and time only: read_blob reads no content unless `content` is selected.
            listing = con.execute(
                f"select filename, size, epoch_ms(last_modified) from read_blob({sql_string(settings.glob)}) "
                "order by filename"
            ).fetchall()
        except (duckdb.Error, OSError) as error:
            raise _storage_error(settings, "list", error) from None
        result.objects_listed = len(listing)
        for url, size, last_modified_ms in listing:
            name = url.rsplit("/", 1)[-1]
            match = _DAY_OBJECT.match(name)
            day = _parse_day(match.group(1)) if match else None
            if day is None:
                result.objects_ignored.append(name)
                continue
            # A gzip object (what Segment's S3 destination writes) lands as <day>.jsonl.gz, read as it is.
            relative = f"{spec.landing_subdir}/{day.isoformat()}.{spec.extension}{match.group(2) or ''}"
            lf = LandingFile(spec=spec, path=landing_dir / relative, partition_date=day, relative_path=relative)
            entry = files.get(lf.relative_path)
            if _up_to_date(entry, url, size, last_modified_ms, lf.path):
                result.files.append(MirroredFile(lf.relative_path, url, size, last_modified_ms, "unchanged", False))
                continue
            try:
                size, last_modified_ms, content = con.execute(
                    f"select size, epoch_ms(last_modified), content from read_blob({sql_string(url)})"
                ).fetchall()[0]
            except (duckdb.Error, OSError, IndexError) as error:
                raise _storage_error(settings, f"download {url} from", error) from None
            data = bytes(content)
            result.bytes_downloaded += len(data)
            changed = not lf.path.exists() or lf.path.read_bytes() != data
            if changed:
                write_atomic(lf.path, data)
            files[lf.relative_path] = {
                "object": url,
                "size": len(data),
                "last_modified_ms": last_modified_ms,
                "local_mtime_ns": lf.path.stat().st_mtime_ns,
            }
            # Saved after each file: a failure later in the run keeps what was mirrored so far.
            _save_state(settings, state)
            result.files.append(MirroredFile(lf.relative_path, url, len(data), last_modified_ms, "downloaded", changed))
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
