"""The webhook receiver: an HTTP service that lands each signed survey event durably before it answers, for
Typeform (`POST /webhooks/typeform`) and Delighted (`POST /webhooks/delighted`), each enabled by its signing key.

`python -m ingestion.webhooks --help`. A Starlette application served by uvicorn (HTTP/1.1 keep-alive, chunked
bodies and `Expect: 100-continue` handled by uvicorn's parser, not by hand). Per request: the body is read up to the
size limit, the HMAC checked, the JSON parsed and checked against the vendor's contract, then two fsynced appends
(landing file, event ledger), in a worker thread so that concurrent deliveries share one fsync (group commit in
`ingestion.webhooks.durable`). The load test in tests/webhooks/ measures it. Operations and status codes:
docs/webhooks.md.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

import settings
from ingestion.webhooks import typeform
from ingestion.webhooks.durable import DurableLanding, InvalidEvent, LandableEvent, MalformedBody

SECRET_ENV = "NPS_TYPEFORM_WEBHOOK_SECRET"
# Delighted signs its webhooks with the project's API key (the same key its API mode reads).
DELIGHTED_KEY_ENV = "NPS_DELIGHTED_API_KEY"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_BYTES = 1 << 20
# An oversize body up to this many times the limit is read (and dropped) before the 413, so that its sender gets
# the answer rather than a connection reset mid-send; a larger one is refused at once.
DRAIN_FACTOR = 4
TYPEFORM_PATH = "/webhooks/typeform"
DELIGHTED_PATH = "/webhooks/delighted"
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


@dataclass(frozen=True)
class Receiver:
    """One vendor's webhook: where it is posted, how its signature is checked, how its body becomes an event."""

    path: str
    signature_header: str
    verify: Callable[[bytes, str], bool]
    parse: Callable[[bytes], LandableEvent]
    landing: DurableLanding
    # The log's outcome for a signed body that is not a usable event.
    invalid_outcome: str


def typeform_receiver(landing: Path, secret: str) -> Receiver:
    return Receiver(
        path=TYPEFORM_PATH,
        signature_header=typeform.SIGNATURE_HEADER,
        verify=lambda body, header: typeform.signature_is_valid(body, header, secret),
        parse=typeform.parse_event,
        landing=typeform.TypeformLanding(landing, state_dir(landing)),
        invalid_outcome="not_a_form_response",
    )


def delighted_receiver(landing: Path, key: str) -> Receiver:
    from ingestion.webhooks import delighted  # only when Delighted's webhooks are received

    return Receiver(
        path=DELIGHTED_PATH,
        signature_header=delighted.SIGNATURE_HEADER,
        verify=lambda body, header: delighted.signature_is_valid(body, header, key),
        parse=delighted.parse_event,
        landing=delighted.DelightedLanding(landing, state_dir(landing)),
        invalid_outcome="not_a_delighted_event",
    )


def create_app(receivers: list[Receiver], max_body_bytes: int) -> Starlette:
    """The receiver as an ASGI application: `POST` on each receiver's path, `GET /healthz`, JSON 404 elsewhere."""

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

    def parse_and_land(receiver: Receiver, body: bytes) -> tuple[LandableEvent, bool]:
        event = receiver.parse(body)
        try:
            return event, receiver.landing.land(event)
        except OSError as error:
            raise _StoreFailed(event.event_id, error) from error

    async def receive(receiver: Receiver, request: Request) -> Response:
        started, event_id, size = time.perf_counter(), "-", 0
        landing, header_name = receiver.landing, receiver.signature_header
        try:
            body = await read_body(request)
            size = len(body)
            header = request.headers.get(header_name)
            if not header:
                raise _Refusal(401, f"missing {header_name} header", outcome="unsigned")
            if not receiver.verify(body, header):
                raise _Refusal(401, f"{header_name} does not match the body", outcome="bad_signature")
            # Parsing checks the event against the contract (DuckDB) and landing fsyncs: both in one worker thread.
            event, landed = await run_in_threadpool(parse_and_land, receiver, body)
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
            return answer(request, started, 422, payload, receiver.invalid_outcome, size)
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
            paths = " or ".join(receiver.path for receiver in receivers)
            payload = {"error": f"not found: webhooks are posted to {paths}"}
            return answer(request, time.perf_counter(), 404, payload, "not_found", 0, close=True)
        return answer(request, time.perf_counter(), 404, {"error": "not found"}, "not_found", 0)

    def endpoint(receiver: Receiver):
        async def handle(request: Request) -> Response:
            return await receive(receiver, request)

        return handle

    too_large = f"body larger than {max_body_bytes} bytes"
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            *(Route(receiver.path, endpoint(receiver), methods=["POST"]) for receiver in receivers),
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
    parser.add_argument(
        "--delighted",
        action="store_true",
        default=(settings.value("NPS_WEBHOOK_DELIGHTED") or "").lower() in ("1", "true", "yes"),
        help=f"also receive Delighted webhooks on POST {DELIGHTED_PATH}, verified with {DELIGHTED_KEY_ENV} "
        "(env NPS_WEBHOOK_DELIGHTED=true)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
    if args.max_body_bytes < 1:
        parser.error("--max-body-bytes must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)

    secret = os.environ.get(SECRET_ENV, "")
    delighted_key = os.environ.get(DELIGHTED_KEY_ENV, "") if args.delighted else ""
    if not secret and not delighted_key:
        print(
            f"error: {SECRET_ENV} is not set. Set it to the secret of the Typeform webhook (Connect > Webhooks > "
            f"Edit > Secret), and/or pass --delighted with {DELIGHTED_KEY_ENV} set (Delighted signs its webhooks "
            "with the API key); the service refuses to run without signature checks.",
            file=sys.stderr,
        )
        return 2
    if args.delighted and not delighted_key:
        print(f"error: --delighted needs {DELIGHTED_KEY_ENV} (Delighted signs its webhooks with it).", file=sys.stderr)
        return 2
    landing = settings.landing_dir()
    receivers: list[Receiver] = []
    try:
        if secret:
            receivers.append(typeform_receiver(landing, secret))
        if delighted_key:
            receivers.append(delighted_receiver(landing, delighted_key))
    except OSError as error:
        for receiver in receivers:
            receiver.landing.close()
        print(f"error: cannot open the landing folder or the event ledger: {error}", file=sys.stderr)
        return 2
    try:
        listener = socket.create_server((args.host, args.port), backlog=128, reuse_port=False)
    except OSError as error:
        for receiver in receivers:
            receiver.landing.close()
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    host, port = listener.getsockname()[:2]
    server = _Server(
        uvicorn.Config(
            create_app(receivers, args.max_body_bytes),
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
    for receiver in receivers:
        log.info(
            "listening on http://%s:%d%s (landing %s, ledger %s with %d event ids, body limit %d bytes)",
            host,
            port,
            receiver.path,
            landing,
            receiver.landing.ledger_path,
            receiver.landing.events_seen,
            args.max_body_bytes,
        )
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        # Waits for a write in progress; a request cut after it is retried by the vendor and de-duplicated.
        for receiver in receivers:
            receiver.landing.close()
        log.info("stopped")
    return 0
