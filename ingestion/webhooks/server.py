"""The Typeform webhook receiver: an HTTP service that lands each signed `form_response` durably before it answers.

`python -m ingestion.webhooks --help`. Standard library only (`ThreadingHTTPServer`, one thread per connection,
HTTP/1.1 keep-alive): the work per request is an HMAC, a JSON parse and two fsynced appends, well within what it
serves on two cores (the load test in tests/webhooks/ measures it). Operations and status codes: docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import settings
from ingestion.webhooks.typeform import (
    SIGNATURE_HEADER,
    InvalidEvent,
    MalformedBody,
    TypeformLanding,
    parse_event,
    signature_is_valid,
)

SECRET_ENV = "NPS_TYPEFORM_WEBHOOK_SECRET"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_BYTES = 1 << 20
TYPEFORM_PATH = "/webhooks/typeform"
HEALTH_PATH = "/healthz"

log = logging.getLogger("ingestion.webhooks")

_DIGITS = re.compile(r"[0-9]{1,19}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class _Refusal(Exception):
    """A request answered with an error status; `close` drops the connection (the body was not read whole)."""

    def __init__(self, status: int, message: str, *, close: bool = False, outcome: str = "refused"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        self.outcome = outcome


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    # Typeform and a reverse proxy open several connections at once; the default backlog of 5 drops SYNs.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], landing: TypeformLanding, secret: str, max_body_bytes: int):
        self.landing = landing
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        super().__init__(address, TypeformWebhookHandler)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # One line instead of socketserver's traceback on stderr for a client that went away mid-answer.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.info("connection from %s lost: %s", client_address[0], error.__class__.__name__)
        else:
            log.exception("unexpected error serving %s", client_address[0])


class TypeformWebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"
    server_version = "nps-webhooks"
    # Idle keep-alive connections and stalled bodies are dropped after this many seconds.
    timeout = 30
    # Headers and body leave in one segment (flushed after each request), with Nagle off: no delayed-ACK stalls.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        # No Python version in the Server header.
        return self.server_version

    def do_GET(self) -> None:
        self._started = time.perf_counter()
        if urlsplit(self.path).path == HEALTH_PATH:
            self._respond(200, {"status": "ok"}, outcome="health")
        else:
            self._respond(404, {"error": "not found"}, outcome="not_found")

    def do_POST(self) -> None:
        self._started = time.perf_counter()
        if urlsplit(self.path).path != TYPEFORM_PATH:
            self._respond(
                404, {"error": f"not found: webhooks are posted to {TYPEFORM_PATH}"}, close=True, outcome="not_found"
            )
            return
        event_id, size = "-", 0
        try:
            body = self._read_body()
            size = len(body)
            header = self.headers.get(SIGNATURE_HEADER)
            if not header:
                raise _Refusal(401, f"missing {SIGNATURE_HEADER} header", outcome="unsigned")
            if not signature_is_valid(body, header, self.server.secret):
                raise _Refusal(401, f"{SIGNATURE_HEADER} does not match the body", outcome="bad_signature")
            event = parse_event(body)
            event_id = event.event_id
            landed = self.server.landing.land(event)
        except _Refusal as refusal:
            self._respond(
                refusal.status, {"error": refusal.message}, close=refusal.close, outcome=refusal.outcome, size=size
            )
        except MalformedBody as error:
            self._respond(400, {"error": str(error)}, outcome="malformed_json", size=size)
        except InvalidEvent as error:
            self.server.landing.keep_refused(body, str(error))
            self._respond(
                422,
                {"error": str(error), "field": error.field},
                event_id=event_id,
                outcome="not_a_form_response",
                size=size,
            )
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            self._log(0, "-", "connection_lost", size)
        except OSError as error:
            # The landing folder cannot be written (disk full, permissions): nothing was acknowledged.
            log.error("cannot store event %s: %s: %s", event_id, error.__class__.__name__, error)
            self._respond(
                503,
                {"error": "cannot store the event now; retry later"},
                event_id=event_id,
                outcome="store_failed",
                size=size,
            )
        else:
            outcome = "accepted" if landed else "duplicate"
            self._respond(200, {"status": outcome, "event_id": event_id}, event_id=event_id, outcome=outcome, size=size)

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        length = self.headers.get("Content-Length", "").strip()
        if _DIGITS.fullmatch(length) and int(length) > self.server.max_body_bytes:
            self._started = time.perf_counter()
            self._respond(413, {"error": self._too_large()}, close=True, outcome="too_large")
            return False
        accepted = super().handle_expect_100()
        self.wfile.flush()  # the interim "100 Continue" must leave the write buffer now
        return accepted

    # --- the body, bounded before and while it is read ----------------------------------------------------------

    def _read_body(self) -> bytes:
        limit = self.server.max_body_bytes
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = [value.strip() for value in self.headers.get_all("Content-Length") or []]
        if encodings:
            if lengths:
                raise _Refusal(400, "both Content-Length and Transfer-Encoding", close=True)
            if [part.strip().lower() for part in ",".join(encodings).split(",")] != ["chunked"]:
                raise _Refusal(501, "only the chunked transfer encoding is supported", close=True)
            return self._read_chunked(limit)
        if not lengths:
            raise _Refusal(411, "a Content-Length header (or a chunked body) is required", close=True)
        if len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0]):
            raise _Refusal(400, "invalid Content-Length header", close=True)
        length = int(lengths[0])
        if length > limit:
            raise _Refusal(413, self._too_large(), close=True, outcome="too_large")
        # Never more than declared: bytes beyond it would be the next request, which then fails to parse.
        body = self.rfile.read(length)
        if len(body) != length:
            raise _Refusal(400, "body shorter than its Content-Length", close=True)
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1026)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                raise _Refusal(400, "malformed chunked body", close=True)
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise _Refusal(413, self._too_large(), close=True, outcome="too_large")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3).rstrip(b"\r\n") != b"":
                raise _Refusal(400, "malformed chunked body", close=True)
            chunks.append(chunk)
        for _ in range(64):  # trailer fields, ignored
            if self.rfile.readline(8194) in (b"\r\n", b"\n", b""):
                return b"".join(chunks)
        raise _Refusal(400, "malformed chunked body", close=True)

    def _too_large(self) -> str:
        return f"body larger than {self.server.max_body_bytes} bytes"

    # --- answering and logging: one line per request, never the body, a header value or the secret ------------

    def _respond(
        self,
        status: int,
        payload: dict,
        *,
        close: bool = False,
        event_id: str = "-",
        outcome: str = "",
        size: int = 0,
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)
        self._log(status, event_id, outcome or "refused", size)

    def _log(self, status: int, event_id: str, outcome: str, size: int) -> None:
        path = urlsplit(self.path).path[:120].encode("ascii", "backslashreplace").decode("ascii")
        elapsed = (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000
        log.info(
            "%s %s %s %s event_id=%s bytes=%d ms=%.1f client=%s",
            self.command,
            path,
            status or "-",
            outcome,
            event_id,
            size,
            elapsed,
            self.client_address[0],
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by `_log` (one line per request, written once the outcome is known)."""

    def log_error(self, format: str, *args: object) -> None:
        # Protocol errors (bad request line, idle timeout): logged without the request line.
        log.info("protocol: %s", (format % args)[:200].encode("ascii", "backslashreplace").decode("ascii"))


def _env_int(name: str, default: int) -> int:
    value = settings.value(name) or str(default)
    if not _DIGITS.fullmatch(value):
        raise SystemExit(f"error: {name}={value!r} is not a whole number")
    return int(value)


def state_dir(landing: Path) -> Path:
    """`NPS_WEBHOOK_STATE_DIR`, else `<landing>/_webhooks` (the loader only reads `<source>/<entity>/` folders)."""
    value = settings.value("NPS_WEBHOOK_STATE_DIR")
    return Path(value).expanduser().resolve() if value else landing / "_webhooks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.webhooks",
        description=(
            f"Receive Typeform webhooks on POST {TYPEFORM_PATH} and append each response to "
            f"$NPS_LANDING_DIR/typeform/responses/<YYYY-MM-DD>.jsonl. The signing secret is read from {SECRET_ENV} "
            "only."
        ),
    )
    parser.add_argument(
        "--host",
        default=settings.value("NPS_WEBHOOK_HOST") or DEFAULT_HOST,
        help="address to listen on (env NPS_WEBHOOK_HOST; now %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=_env_int("NPS_WEBHOOK_PORT", DEFAULT_PORT),
        help="port, 0 for any free one (env NPS_WEBHOOK_PORT; now %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=_env_int("NPS_WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        help="larger bodies are refused with 413 (env NPS_WEBHOOK_MAX_BODY_BYTES; now %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
    if args.max_body_bytes < 1:
        parser.error("--max-body-bytes must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)

    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(
            f"error: {SECRET_ENV} is not set. Set it to the secret of the Typeform webhook (Connect > Webhooks > "
            "Edit > Secret); the service refuses to run without signature checks.",
            file=sys.stderr,
        )
        return 2
    landing = settings.landing_dir()
    try:
        writer = TypeformLanding(landing, state_dir(landing))
    except OSError as error:
        print(f"error: cannot open the landing folder or the event ledger: {error}", file=sys.stderr)
        return 2
    try:
        server = WebhookServer((args.host, args.port), writer, secret, args.max_body_bytes)
    except OSError as error:
        writer.close()
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    log.info(
        "listening on http://%s:%d%s (landing %s, ledger %s with %d event ids, body limit %d bytes)",
        host,
        port,
        TYPEFORM_PATH,
        landing,
        writer.ledger_path,
        writer.events_seen,
        args.max_body_bytes,
    )
    try:
        # A short poll: SIGTERM stops the service within a tenth of a second.
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        log.info("interrupted: stopping")
    finally:
        server.server_close()
        # Waits for a write in progress; a request cut after it is retried by Typeform and de-duplicated.
        writer.close()
        log.info("stopped")
    return 0
