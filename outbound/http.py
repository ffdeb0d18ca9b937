"""The HTTP exchange every vendor sender shares (Jira issues and their read-back, Zendesk follow-up cases): one JSON
request with the retries, redirects refused, bodies parsed leniently. The senders own what is vendor-specific
(paths, bodies, error texts, what a status means for the ledger)."""

from __future__ import annotations

import email.utils
import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.error import HTTPError

TIMEOUT_SECONDS = 15
MAX_RETRY_WAIT_SECONDS = 30.0
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
BACKOFF_SECONDS = 1.0


class Endpoint(Protocol):
    """Where and as whom: a vendor config (base URL without a trailing slash, an Authorization header value)."""

    base_url: str

    @property
    def authorization(self) -> str: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect (to a login page, another host) is an error here: following it would replay the credentials
    elsewhere, or turn the POST into a GET that answers 200 without creating anything."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def opener() -> urllib.request.OpenerDirector:
    """The HTTP opener of the senders: redirects are refused (see _NoRedirects)."""
    return urllib.request.build_opener(_NoRedirects)


def request(
    http: urllib.request.OpenerDirector,
    endpoint: Endpoint,
    method: str,
    path: str,
    payload: Any = None,
    *,
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS,
    server_error_retries: int = SERVER_ERROR_RETRIES,
    backoff_seconds: float = BACKOFF_SECONDS,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> tuple[int, Any, bytes]:
    """One REST call (`path` under the base URL, `payload` sent as JSON): (status, headers, body) of the last
    answer. 429 waits `Retry-After` up to `max_retry_wait_seconds` (RATE_LIMIT_RETRIES times at most); 5xx is
    retried `server_error_retries` times after `backoff_seconds`, doubling. A network error (OSError) is raised to
    the caller, not retried."""
    rate_limited = server_errors = 0
    while True:
        headers = {"Authorization": endpoint.authorization, "Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        http_request = urllib.request.Request(endpoint.base_url + path, data=data, method=method, headers=headers)
        try:
            with http.open(http_request, timeout=timeout_seconds) as response:
                status, answer_headers, body = response.status, response.headers, response.read()
        except HTTPError as error:
            status, answer_headers, body = error.code, error.headers, error.read()
        if status == 429:
            wait = retry_after_seconds(answer_headers.get("Retry-After"), default=backoff_seconds)
            if rate_limited < RATE_LIMIT_RETRIES and wait <= max_retry_wait_seconds:
                rate_limited += 1
                time.sleep(wait)
                continue
        elif status >= 500 and server_errors < server_error_retries:
            time.sleep(backoff_seconds * 2**server_errors)
            server_errors += 1
            continue
        return status, answer_headers, body


def parse_json(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """A `Retry-After` header as seconds: delta-seconds or an HTTP date; missing or unreadable gives `default`."""
    if value is None or not str(value).strip():
        return default
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
