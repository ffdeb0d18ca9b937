"""The Typeform webhook receiver: an HTTP service that lands each signed `form_response` durably before it answers.

`python -m ingestion.webhooks --help`. A Starlette application served by uvicorn (HTTP/1.1 keep-alive, chunked
bodies and `Expect: 100-continue` handled by uvicorn's parser, not by hand). Per request: the body is read up to the
size limit, the HMAC checked, the JSON parsed and checked against the Typeform contract, then two fsynced appends
(event ledger, landing file), in a worker thread so that concurrent deliveries share one fsync (group commit in
`TypeformLanding`). The load test in tests/webhooks/ measures it. Operations and status codes: docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

import settings
from ingestion.webhooks.typeform import (
    SIGNATURE_HEADER,
    InvalidEvent,
    MalformedBody,
    TypeformEvent,
    TypeformLanding,
    parse_event,
    signature_is_valid,
)

SECRET_ENV = "NPS_TYPEFORM_WEBHOOK_SECRET"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_BYTES = 1 << 20
# An oversize body up to this many times the limit is read (and dropped) before the 413, so that its sender gets
# the answer rather than a connection reset mid-send; a larger one is refused at once.
DRAIN_FACTOR = 4
TYPEFORM_PATH = "/webhooks/typeform"
HEALTH_PATH = "/healthz"
SERVER_NAME = "nps-webhooks"
# Idle keep-alive connections are closed, and a body that stalls is refused, after this many seconds.
TIMEOUT_SECONDS = 30

log = logging.getLogger("ingestion.webhooks")

_DIGITS = re.compile(r"[0-9]{1,19}")


class _Refusal(Exception):
    """A request answered with an error status; `close` drops the connection (the body was not read whole)."""

    def __init__(self, status: int, message: str, *, close: bool = False, outcome: str = "refused"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        self.outcome = outcome


class _StoreFailed(Exception):
    """The event could not be landed (`error`, an OSError): answered 503, nothing acknowledged."""

    def __init__(self, event_id: str, error: OSError):
        super().__init__(str(error))
        self.event_id = event_id
        self.error = error


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGTERM or SIGINT with exit status 0: it finishes the requests in progress
    and returns (uvicorn's own handler raises the signal again once stopped, which kills the process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, _frame: object) -> None:
            log.info("signal %s: stopping", signal.Signals(signum).name)
            self.should_exit = True

        previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def create_app(landing: TypeformLanding, secret: str, max_body_bytes: int) -> Starlette:
    """The receiver as an ASGI application: `POST /webhooks/typeform`, `GET /healthz`, JSON 404 elsewhere."""

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length", "").strip()
        declared = int(length) if _DIGITS.fullmatch(length) else None
        if declared is not None and declared > max_body_bytes:
            # Before reading: a client that waits for "100 Continue" never sends the body, and a body past the
            # drain limit is not worth reading.
            waits = "100-continue" in request.headers.get("expect", "").lower()
            if waits or declared > DRAIN_FACTOR * max_body_bytes:
                raise _Refusal(413, too_large, close=True, outcome="too_large")
        body, seen = bytearray(), 0
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async for chunk in request.stream():
                seen += len(chunk)
                if seen <= max_body_bytes:
                    body += chunk
                elif seen > DRAIN_FACTOR * max_body_bytes:
                    break
        if seen > max_body_bytes:
            # A chunked body has no length to check up front. Up to the drain limit the rest was read and dropped,
            # so that the sender, still sending, gets this answer and not a reset connection.
            raise _Refusal(413, too_large, close=True, outcome="too_large")
        return bytes(body)

    def parse_and_land(body: bytes) -> tuple[TypeformEvent, bool]:
        event = parse_event(body)
        try:
            return event, landing.land(event)
        except OSError as error:
            raise _StoreFailed(event.event_id, error) from error

    async def typeform(request: Request) -> Response:
        started, event_id, size = time.perf_counter(), "-", 0
        try:
            body = await read_body(request)
            size = len(body)
            header = request.headers.get(SIGNATURE_HEADER)
            if not header:
                raise _Refusal(401, f"missing {SIGNATURE_HEADER} header", outcome="unsigned")
            if not signature_is_valid(body, header, secret):
                raise _Refusal(401, f"{SIGNATURE_HEADER} does not match the body", outcome="bad_signature")
            # Parsing checks the event against the contract (DuckDB) and landing fsyncs: both in one worker thread.
            event, landed = await run_in_threadpool(parse_and_land, body)
            event_id = event.event_id
        except _Refusal as refusal:
            return answer(
                request, started, refusal.status, {"error": refusal.message}, refusal.outcome, size, close=refusal.close
            )
        except TimeoutError:
            return answer(request, started, 408, {"error": "the body stalled"}, "timeout", size, close=True)
        except ClientDisconnect:
            log_line(request, started, 0, "connection_lost", "-", size)
            return Response(status_code=400)  # nobody reads it
        except MalformedBody as error:
            return answer(request, started, 400, {"error": str(error)}, "malformed_json", size)
        except InvalidEvent as error:
            try:
                await run_in_threadpool(landing.keep_refused, body, str(error))
            except OSError as failure:
                log.error("cannot keep a refused event: %s: %s", failure.__class__.__name__, failure)
            payload = {"error": str(error), "field": error.field}
            return answer(request, started, 422, payload, "not_a_form_response", size)
        except _StoreFailed as failed:
            # The landing folder cannot be written (disk full, permissions): nothing was acknowledged.
            event_id, error = failed.event_id, failed.error
            log.error("cannot store event %s: %s: %s", event_id, error.__class__.__name__, error)
            payload = {"error": "cannot store the event now; retry later"}
            return answer(request, started, 503, payload, "store_failed", size, event_id=event_id)
        outcome = "accepted" if landed else "duplicate"
        payload = {"status": outcome, "event_id": event_id}
        return answer(request, started, 200, payload, outcome, size, event_id=event_id)

    async def health(request: Request) -> Response:
        return answer(request, time.perf_counter(), 200, {"status": "ok"}, "health", 0)

    async def not_found(request: Request) -> Response:
        if request.method == "POST":
            payload = {"error": f"not found: webhooks are posted to {TYPEFORM_PATH}"}
            return answer(request, time.perf_counter(), 404, payload, "not_found", 0, close=True)
        return answer(request, time.perf_counter(), 404, {"error": "not found"}, "not_found", 0)

    too_large = f"body larger than {max_body_bytes} bytes"
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route(TYPEFORM_PATH, typeform, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
            Route("/{path:path}", not_found, methods=methods),
        ]
    )


# --- answering and logging: one line per request, never the body, a header value or the secret ----------------


def answer(
    request: Request,
    started: float,
    status: int,
    payload: dict,
    outcome: str,
    size: int,
    *,
    close: bool = False,
    event_id: str = "-",
) -> Response:
    headers = {"server": SERVER_NAME, **({"connection": "close"} if close else {})}
    response = Response(json.dumps(payload), status_code=status, media_type="application/json", headers=headers)
    log_line(request, started, status, outcome, event_id, size)
    return response


def log_line(request: Request, started: float, status: int, outcome: str, event_id: str, size: int) -> None:
    path = request.url.path[:120].encode("ascii", "backslashreplace").decode("ascii")
    log.info(
        "%s %s %s %s event_id=%s bytes=%d ms=%.1f client=%s",
        request.method,
        path,
        status or "-",
        outcome,
        event_id,
        size,
        (time.perf_counter() - started) * 1000,
        request.client.host if request.client else "-",
    )


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
        listener = socket.create_server((args.host, args.port), backlog=128, reuse_port=False)
    except OSError as error:
        writer.close()
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    host, port = listener.getsockname()[:2]
    server = _Server(
        uvicorn.Config(
            create_app(writer, secret, args.max_body_bytes),
            log_config=None,  # our one line per request; uvicorn's errors go to the root logger
            access_log=False,
            server_header=False,
            timeout_keep_alive=TIMEOUT_SECONDS,
            timeout_graceful_shutdown=10,
            lifespan="off",
            # h11 parses one request at a time: bytes beyond a Content-Length are never read as part of its body.
            http="h11",
        )
    )
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
        server.run(sockets=[listener])
    finally:
        listener.close()
        # Waits for a write in progress; a request cut after it is retried by Typeform and de-duplicated.
        writer.close()
        log.info("stopped")
    return 0
