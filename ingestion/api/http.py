"""The HTTP session every connector uses: dlt's retrying client, kept under the vendor's request rate.

dlt's `Client` retries 429 and 5xx answers and dropped connections (a reset mid-body included), waiting for the
`Retry-After` header when the vendor sends one and backing off exponentially otherwise. The adapter below spaces
every attempt, retries included, so the client stays under the vendor's published limit instead of relying on 429s.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from dlt.sources.helpers.requests import Client
from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from ingestion.api.settings import VendorSettings


class ThrottledAdapter(HTTPAdapter):
    """Spaces requests at least `60 / requests_per_minute` seconds apart, and counts what came back."""

    def __init__(self, requests_per_minute: float):
        super().__init__()
        self.interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self._next_at = 0.0
        self._lock = threading.Lock()
        self.statuses: Counter[str] = Counter()

    def send(self, request: PreparedRequest, **kwargs) -> Response:
        with self._lock:
            now = time.monotonic()
            if self._next_at > now:
                time.sleep(self._next_at - now)
                now = time.monotonic()
            self._next_at = now + self.interval
        try:
            response = super().send(request, **kwargs)
        except Exception as error:
            self.statuses[type(error).__name__] += 1
            raise
        self.statuses[str(response.status_code)] += 1
        return response


def vendor_session(settings: VendorSettings) -> tuple[Session, ThrottledAdapter]:
    """A session with dlt's retry policy and the vendor's rate limit (credentials are added per request by the
    connector's auth, so they never sit in the session's headers or in a log line)."""
    retry = settings.retry
    client = Client(
        request_timeout=retry.timeout_seconds,
        raise_for_status=False,
        request_max_attempts=retry.max_attempts,
        request_backoff_factor=retry.backoff_seconds,
        request_max_retry_delay=retry.max_delay_seconds,
        respect_retry_after_header=True,
    )
    session = client.session
    adapter = ThrottledAdapter(settings.requests_per_minute)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter
