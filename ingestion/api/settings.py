"""Connector settings: per source, file or API mode, the vendor's base URL, credentials and limits.

Each vendor declares its connector beside its contract (`API` in `ingestion/<vendor>/api.py`: name, limits, the
settings it reads, the dlt source it builds); this module reads the settings every connector shares and asks the
vendor for its own. Everything is read when a fetch runs, never at import, from a `getenv` the caller passes (the
Dagster resource passes `dg.EnvVar(name).get_value`); defaults are in settings.py. Credentials are wrapped in
`Secret`, whose text is never part of a repr, a log line or an error message. The variables are documented in
docs/api_sources.md.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import settings as platform_settings
from ingestion.registry import SOURCE_MODES

GetEnv = Callable[[str], str | None]

# The sources that have an API connector, and those that can be read from S3-compatible object storage
# (ingestion/object_storage.py), as each source package declares (`MODES`); the others are read from files only.
API_SOURCES = tuple(source for source, modes in SOURCE_MODES.items() if "api" in modes)
S3_SOURCES = tuple(source for source, modes in SOURCE_MODES.items() if "s3" in modes)
MODES = ("file", "api", "s3")


class ConfigurationError(ValueError):
    """A missing or invalid setting; the message names the environment variable, never a secret's value."""


class Secret:
    """A credential: `reveal()` gives the value; repr and str never do."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):
        # Never pickled with its value (dlt traces and Dagster events pickle what they hold).
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class VendorSettings:
    source: str
    base_url: str
    credentials: tuple[Secret, ...]
    requests_per_minute: float
    page_size: int
    retry: RetrySettings
    state_dir: Path
    # Typeform: the forms whose responses are pulled.
    form_ids: tuple[str, ...] = ()
    # Zendesk: the agent email the API token belongs to.
    email: str = ""
    # Where the first run starts (an ISO-8601 time); later runs start from the cursor.
    start: datetime | None = None
    # Stripe: also read the Events API for changes to objects created before the cursor.
    stripe_events: bool = True
    # Each run re-reads this many seconds before its cursor (objects a vendor makes visible late); what is read
    # again merges away. None: no look-back.
    lookback_seconds: float | None = None
    extra: dict = field(default_factory=dict)

    def secret_values(self) -> list[str]:
        return [secret.reveal() for secret in self.credentials if secret.reveal()]


@dataclass(frozen=True)
class VendorApi:
    """A vendor's API connector, declared as `API` in `ingestion/<vendor>/api.py`.

    `requests_per_minute` is the client-side spacing, a little under the vendor's limit so network jitter does not
    push two requests into one window; `max_page_size` is the vendor's largest page (and the default).
    `read_settings(getenv)` returns the vendor's own `VendorSettings` fields (base URL, credentials, ...).
    """

    source: str
    name: str
    credential_variables: str
    requests_per_minute: float
    max_page_size: int
    read_settings: Callable[[GetEnv], dict[str, Any]]
    build_source: Callable[..., Any]  # (VendorSettings, requests.Session, fetched_at) -> dlt source
    endpoints: Callable[[VendorSettings], list[str]]


def connector(source: str) -> VendorApi:
    """The connector a vendor declares; imported when first asked for (it loads dlt)."""
    if source not in API_SOURCES:
        raise ConfigurationError(f"{source} has no API connector (only {', '.join(API_SOURCES)})")
    return importlib.import_module(f"ingestion.{source}.api").API


def source_modes(source: str) -> tuple[str, ...]:
    """The modes a source can be read in: `file` always, `api` or `s3` where it has that connector."""
    return ("file", *(("api",) if source in API_SOURCES else ()), *(("s3",) if source in S3_SOURCES else ()))


def source_mode(source: str, getenv: GetEnv = os.environ.get) -> str:
    """`NPS_SOURCE_MODE_<SOURCE>` (`file`, `api` for Typeform, Zendesk and Stripe, `s3` for Segment), else
    `NPS_SOURCE_MODE` where the source has that mode (`NPS_SOURCE_MODE=api` leaves Segment on files), else `file`."""
    name = f"NPS_SOURCE_MODE_{source.upper()}"
    allowed = source_modes(source)
    value = (getenv(name) or "").strip().lower()
    if not value:
        fallback = (getenv("NPS_SOURCE_MODE") or "").strip().lower()
        if fallback and fallback not in MODES:
            raise ConfigurationError(f"NPS_SOURCE_MODE must be one of {', '.join(MODES)}, not {fallback!r}")
        value = fallback if fallback in allowed else "file"
    if value not in MODES:
        raise ConfigurationError(f"{name} must be {' or '.join(repr(mode) for mode in allowed)}, not {value!r}")
    if value == "api" and source not in API_SOURCES:
        raise ConfigurationError(f"{name}=api: {source} has no API connector (only {', '.join(API_SOURCES)})")
    if value == "s3" and source not in S3_SOURCES:
        raise ConfigurationError(f"{name}=s3: {source} cannot be read from S3 (only {', '.join(S3_SOURCES)})")
    return value


def api_sources(getenv: GetEnv = os.environ.get) -> list[str]:
    """The sources configured for API mode."""
    return [source for source in API_SOURCES if source_mode(source, getenv) == "api"]


def s3_sources(getenv: GetEnv = os.environ.get) -> list[str]:
    """The sources configured to be mirrored from S3-compatible object storage."""
    return [source for source in S3_SOURCES if source_mode(source, getenv) == "s3"]


def state_dir(landing_dir: Path, getenv: GetEnv = os.environ.get) -> Path:
    """`NPS_API_STATE_DIR`, else `<landing>/_api` (the loader only reads `<source>/<entity>/` folders)."""
    value = (getenv("NPS_API_STATE_DIR") or "").strip()
    return Path(value).expanduser().resolve() if value else landing_dir / "_api"


def text_setting(getenv: GetEnv, name: str) -> str:
    """The variable's value, else its default from settings.py."""
    return (getenv(name) or platform_settings.SETTINGS[name].default or "").strip()


def required(getenv: GetEnv, name: str, what: str) -> str:
    value = (getenv(name) or "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set: {what}")
    return value


def _number(getenv: GetEnv, name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = (getenv(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def _start(getenv: GetEnv, name: str) -> datetime | None:
    raw = (getenv(name) or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an ISO-8601 date or time, not {raw!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _retry(getenv: GetEnv) -> RetrySettings:
    return RetrySettings(
        max_attempts=int(_number(getenv, "NPS_API_MAX_ATTEMPTS", 5, minimum=1)),
        backoff_seconds=_number(getenv, "NPS_API_BACKOFF_SECONDS", 1.0),
        max_delay_seconds=_number(getenv, "NPS_API_MAX_RETRY_DELAY_SECONDS", 300.0),
        timeout_seconds=_number(getenv, "NPS_API_TIMEOUT_SECONDS", 60.0, minimum=0.1),
    )


def vendor_settings(source: str, landing_dir: Path, getenv: GetEnv = os.environ.get) -> VendorSettings:
    """The settings of one API source; raises `ConfigurationError` naming the variable that is missing."""
    api = connector(source)
    upper = source.upper()
    rate = _number(getenv, f"NPS_{upper}_REQUESTS_PER_MINUTE", api.requests_per_minute)
    page_size = int(_number(getenv, f"NPS_{upper}_PAGE_SIZE", api.max_page_size, minimum=1))
    if page_size > api.max_page_size:
        raise ConfigurationError(f"NPS_{upper}_PAGE_SIZE must be at most {api.max_page_size}")
    return VendorSettings(
        source=source,
        requests_per_minute=rate,
        page_size=page_size,
        retry=_retry(getenv),
        state_dir=state_dir(landing_dir, getenv),
        start=_start(getenv, f"NPS_{upper}_START"),
        lookback_seconds=_number(getenv, "NPS_API_LOOKBACK_SECONDS", 0.0) or None,
        **api.read_settings(getenv),
    )
