"""Run one vendor's connector: fetch new and changed objects with dlt, merge them into the mirror, land them.

    fetch("stripe", landing_dir)  ->  FetchResult (what was requested, what landed where)

The dlt pipeline (`nps_<source>`) keeps its incremental cursors in its working folder under the state folder and
in the mirror DuckDB file beside it. A run that fails (credentials refused, a page still failing after every
retry) commits nothing: dlt keeps the previous cursors, nothing is loaded into the mirror, no landing file is
touched, and the error names the vendor and the endpoint (never a credential). See docs/api_sources.md.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ingestion.api.mirror import MIRROR_DATASET, MIRROR_TABLE, LandedFile, export_pending
from ingestion.api.settings import GetEnv, VendorSettings, connector, vendor_settings
from ingestion.landing import exclusive


class ApiFetchError(RuntimeError):
    """A fetch that failed and committed nothing. `status` is the HTTP status when the vendor answered."""

    def __init__(self, source: str, endpoint: str, message: str, status: int | None = None):
        self.source = source
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)

    @property
    def credentials_refused(self) -> bool:
        return self.status in (401, 403)


@dataclass
class FetchResult:
    source: str
    run_key: str | None
    started_at: str
    seconds: float
    requests: dict[str, int]
    rows_fetched: int
    files: list[LandedFile] = field(default_factory=list)
    reused: bool = False

    @property
    def files_changed(self) -> list[str]:
        return [f.relative_path for f in self.files if f.changed]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FetchResult:
        files = [LandedFile(**f) for f in data.pop("files", [])]
        return cls(**data, files=files)


def pipeline_name(source: str) -> str:
    return f"nps_{source}"


def mirror_path(settings: VendorSettings) -> Path:
    return settings.state_dir / f"{settings.source}.duckdb"


def _marker_path(settings: VendorSettings) -> Path:
    return settings.state_dir / f"{settings.source}.last_fetch.json"


def fetch(
    source: str,
    landing_dir: Path,
    getenv: GetEnv = os.environ.get,
    *,
    run_key: str | None = None,
    settings: VendorSettings | None = None,
) -> FetchResult:
    """Fetch what changed since the last successful run and land it. With `run_key` (a Dagster run id), a second
    call in the same run returns the first call's result instead of fetching again (every raw asset of a vendor
    asks; the first one fetches)."""
    settings = settings or vendor_settings(source, landing_dir, getenv)
    # Telemetry stays off whatever the caller's environment (nothing here may wait on the internet).
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    with exclusive(settings.state_dir, settings.source):
        marker = _marker_path(settings)
        if run_key is not None and marker.exists():
            previous = json.loads(marker.read_text())
            if previous.get("run_key") == run_key:
                result = FetchResult.from_dict(previous)
                result.reused = True
                return result
        result = _fetch_locked(settings, landing_dir, run_key)
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(json.dumps(result.as_dict(), indent=1))
        os.replace(temporary, marker)
        return result


def _fetch_locked(settings: VendorSettings, landing_dir: Path, run_key: str | None) -> FetchResult:
    import dlt
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ingestion.api.http import vendor_session

    started = time.monotonic()
    fetched_at = datetime.now(UTC)
    session, adapter = vendor_session(settings)
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name(settings.source),
        pipelines_dir=str(settings.state_dir / "pipelines"),
        destination=dlt.destinations.duckdb(str(mirror_path(settings))),
        dataset_name=MIRROR_DATASET,
    )
    rows = 0
    try:
        if pipeline.has_pending_data:
            # A previous run fetched but could not write the mirror (its cursor is committed with that data):
            # load it first, or `run` would load only it and skip this fetch.
            pipeline.run()
        pipeline.run(connector(settings.source).build_source(settings, session, fetched_at))
        normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        rows = int(normalized.row_counts.get(MIRROR_TABLE, 0)) if normalized is not None else 0
    except PipelineStepFailed as error:
        if error.step in ("normalize", "load"):
            raise ApiFetchError(
                settings.source,
                str(mirror_path(settings)),
                f"{connector(settings.source).name}: the fetched data could not be written to the mirror "
                f"{mirror_path(settings)} ({error.step} step: {type(error.__cause__ or error).__name__}). It is kept "
                "in the pipeline folder and written by the next run; nothing was landed.",
            ) from None
        raise explain_failure(settings, error) from None
    finally:
        session.close()
    files = export_pending(mirror_path(settings), settings.source, landing_dir)
    return FetchResult(
        source=settings.source,
        run_key=run_key,
        started_at=fetched_at.isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - started, 3),
        requests=dict(adapter.statuses),
        rows_fetched=rows,
        files=files,
    )


def explain_failure(settings: VendorSettings, error: BaseException) -> ApiFetchError:
    """The failure as one clear sentence naming the vendor, the endpoint and what to do; any credential that
    might appear in a vendor's answer is masked."""
    from requests import HTTPError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    vendor = connector(settings.source).name
    cause: BaseException | None = error
    seen = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, HTTPError | RequestsConnectionError | Timeout):
            break
        cause = cause.__cause__ or cause.__context__
    attempts = settings.retry.max_attempts
    if isinstance(cause, HTTPError) and cause.response is not None:
        response = cause.response
        endpoint = f"{response.request.method if response.request else 'GET'} {urlsplit(response.url).path}"
        status = response.status_code
        if status in (401, 403):
            message = (
                f"{vendor} API refused the credentials ({status} {response.reason}) at {endpoint}: check "
                f"{connector(settings.source).credential_variables} (and the token's scopes). Nothing was landed "
                "and the incremental cursor did not move."
            )
        elif status == 429 or status >= 500:
            message = (
                f"{vendor} API still answered {status} {response.reason} at {endpoint} after {attempts} attempts "
                "(Retry-After honoured, exponential back-off otherwise). Nothing was landed and the incremental "
                "cursor did not move; the next run starts from the same point."
            )
        else:
            message = (
                f"{vendor} API answered {status} {response.reason} at {endpoint}. Nothing was landed and the "
                "incremental cursor did not move."
            )
        return ApiFetchError(settings.source, endpoint, _mask(settings, message), status)
    if cause is not None and isinstance(cause, RequestsConnectionError | Timeout):
        request = getattr(cause, "request", None)
        path = urlsplit(request.url).path if request is not None and request.url else ""
        endpoint = f"GET {path}" if path else settings.base_url
        message = (
            f"{vendor} API could not be read at {endpoint} after {attempts} attempts ({type(cause).__name__}). "
            "Nothing was landed and the incremental cursor did not move."
        )
        return ApiFetchError(settings.source, endpoint, _mask(settings, message))
    # Anything else (a response that is not JSON, a bug): keep the type and the first line, masked.
    text = str(error.__cause__ or error)
    first_line = text.splitlines()[0] if text else type(error).__name__
    message = f"{vendor} fetch failed: {first_line}. Nothing was landed and the incremental cursor did not move."
    return ApiFetchError(settings.source, settings.base_url, _mask(settings, message))


def _mask(settings: VendorSettings, text: str) -> str:
    for secret in settings.secret_values():
        text = text.replace(secret, "***")
    return text
