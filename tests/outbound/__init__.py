"""Outbound actions tested against a local HTTP server that records every request and answers as scripted."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes | str | dict = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class RecordingServer:
    """A ThreadingHTTPServer on 127.0.0.1 (ephemeral port) in a thread. Answers the scripted `Answer`s in order,
    then `default(request_number)` (1-based)."""

    def __init__(self, default: Callable[[int], Answer] = lambda _: Answer()) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Answer] = deque()
        self.default = default
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._answer("POST")

            def do_GET(self) -> None:
                self._answer("GET")

            def _answer(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.requests.append(Recorded(method, self.path, dict(self.headers.items()), body))
                    number = len(server.requests)
                    answer = server.script.popleft() if server.script else server.default(number)
                payload = answer.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(answer.status)
                content_type = "application/json" if isinstance(answer.body, dict) else "text/plain"
                self.send_header("Content-Type", content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # keep test output to what the code logs
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        self.script.extend(answers)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
