"""Typeform webhooks: signature check, validation, conversion to a Responses API item, and the durable writer.

A webhook's `form_response` becomes one line of `typeform/responses/<YYYY-MM-DD>.jsonl` (the UTC day of
`submitted_at`), in the Responses API item shape the loader already reads (docs/sources.md). Each line is written
and fsynced before the event id is recorded in an append-only ledger (also fsynced), and both happen before the
caller answers 200: a crash at any point loses nothing acknowledged, and at worst lands a response twice, which
the loader de-duplicates by `response_id` (the later line wins, counted as superseded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.landing import landing_file
from ingestion.registry import get_entity

if TYPE_CHECKING:
    from ingestion.contracts.check import RecordChecker

log = logging.getLogger("ingestion.webhooks")
SIGNATURE_HEADER = "Typeform-Signature"
RESPONSES = get_entity("typeform", "responses")
LEDGER_NAME = "typeform_event_ids.txt"
# Signed events refused for their content, kept with the reason (one JSON line each) for someone to look at.
REFUSED_NAME = "typeform_refused.jsonl"
# Event ids go into the ledger (tab-separated) and the log: printable ASCII without spaces. Typeform's are ULIDs.
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,256}")


def sign(body: bytes, secret: str) -> str:
    """Typeform's scheme: `sha256=` + base64(HMAC-SHA256(raw body, secret))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    if not header:
        return False
    return hmac.compare_digest(header.strip().encode("utf-8", "surrogateescape"), sign(body, secret).encode("ascii"))


class MalformedBody(ValueError):
    """The body is not JSON (answered 400)."""


class InvalidEvent(ValueError):
    """Valid JSON that is not a usable form_response event (answered 422); `field` names what is wrong."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class TypeformEvent:
    event_id: str
    form_id: str
    token: str
    submitted_day: date
    # The Responses API item written to the landing file.
    item: dict


def _reject_constant(name: str) -> float:
    raise MalformedBody(f"{name} is not a JSON value")


@cache
def default_checker() -> RecordChecker:
    """The loader's rules for Typeform responses (dbt vars read once, when the first event arrives)."""
    from ingestion.contracts.check import RecordChecker

    return RecordChecker(RESPONSES)


def parse_event(body: bytes, today: date | None = None, checker: RecordChecker | None = None) -> TypeformEvent:
    """A verified webhook body as a landable event; raises `MalformedBody` or `InvalidEvent`. The response item is
    checked with the loader's own rules (the entity's contract) before it is accepted, so nothing acknowledged is
    quarantined later."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBody(f"body is not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise InvalidEvent("body", "expected a JSON object (a Typeform webhook event)")

    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise InvalidEvent("event_id", "missing, or not 1 to 256 printable characters without spaces")
    event_type = payload.get("event_type", "form_response")
    if event_type != "form_response":
        raise InvalidEvent("event_type", "only form_response events are accepted")
    form_response = payload.get("form_response")
    if not isinstance(form_response, dict):
        raise InvalidEvent("form_response", "missing or not an object")
    token = form_response.get("token")
    if not isinstance(token, str) or not _EVENT_ID.fullmatch(token):
        # The token is the response's primary key, and goes into the ledger: Typeform's are short and alphanumeric.
        raise InvalidEvent("form_response.token", "missing, or not 1 to 256 printable characters without spaces")
    for name, kind in (("hidden", dict), ("answers", list), ("calculated", dict), ("variables", list)):
        if form_response.get(name) is not None and not isinstance(form_response[name], kind):
            raise InvalidEvent(f"form_response.{name}", f"expected {'an object' if kind is dict else 'a list'}")
    item = to_response_item(form_response)
    response_line(item)  # refuses text without a UTF-8 form before anything else reads it
    reason, submitted_at = (checker or default_checker()).check(item)
    if reason is not None:
        raise InvalidEvent(_field_of(reason), reason)
    today = today or datetime.now(UTC).date()
    if submitted_at.date() > today:
        # A file dated after today (UTC) would make `make run` stop; Typeform retries, so it lands on its day.
        raise InvalidEvent(
            "form_response.submitted_at", f"{form_response['submitted_at']} is after today ({today}, UTC)"
        )
    form_id = form_response.get("form_id")
    return TypeformEvent(
        event_id=event_id,
        form_id=form_id if isinstance(form_id, str) and _EVENT_ID.fullmatch(form_id) else "-",
        token=token,
        submitted_day=submitted_at.date(),
        item=item,
    )


def _field_of(reason: str) -> str:
    """The field a contract reason names, as the webhook body has it."""
    words = reason.split(" ")
    if reason.startswith("missing required field"):
        return f"form_response.{words[3]}"
    if reason.startswith(("answer to the", "the answer to the")):
        return "form_response.answers"
    return "form_response" if words[0] in ("key", "the") else f"form_response.{words[0]}"


def to_response_item(form_response: dict) -> dict:
    """The Responses API `items[]` shape (docs/sources.md). A webhook carries no `metadata` (user agent, referer),
    so it is empty; `form_id` and the form `definition` are not part of an item and are left out (the ledger
    keeps the form id); `ending.ref` is the item's `thankyou_screen_ref`."""
    token = form_response["token"]
    item = {
        "landing_id": token,
        "token": token,
        "response_id": token,
        "response_type": "completed",
        "landed_at": form_response.get("landed_at"),
        "submitted_at": form_response.get("submitted_at"),
        "metadata": {},
        "hidden": form_response.get("hidden") or {},
    }
    for name in ("calculated", "variables"):
        if form_response.get(name) is not None:
            item[name] = form_response[name]
    ending = form_response.get("ending")
    if isinstance(ending, dict) and isinstance(ending.get("ref"), str):
        item["thankyou_screen_ref"] = ending["ref"]
    item["answers"] = form_response.get("answers") or []
    return item


def response_line(item: dict) -> bytes:
    """One JSONL line: UTF-8, no raw newline inside (JSON escapes them), ending in "\\n"."""
    try:
        return (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate escape ("\ud800") decodes to text that has no UTF-8 form.
        raise MalformedBody("body holds a string that is not valid Unicode") from None


@dataclass
class _Pending:
    event: TypeformEvent
    line: bytes
    done: bool = False
    stored: bool = False
    error: OSError | None = None


class TypeformLanding:
    """Appends accepted events to the landing files and their ids to the ledger (group commit).

    Callers queue their event and wait; one of them at a time (the flusher) takes everything queued, appends the
    lines of each day's file in one `write` on an O_APPEND descriptor and fsyncs it, then does the same for the
    ledger, and wakes the callers. Lines are whole within a write and never interleave; one fsync covers every
    event that arrived meanwhile, so throughput does not hang on the disk's fsync latency. A second delivery of
    an event still in flight waits for the first and shares its outcome. Only this process may write the
    webhook's files while it runs.
    """

    def __init__(self, landing_dir: Path, state_dir: Path):
        self.landing_dir = landing_dir
        self.ledger_path = state_dir / LEDGER_NAME
        self._files: dict[date, int] = {}
        self._seen = self._read_ledger()
        # Opened on the first event: an empty landing folder stays empty (`make run` fills it with demo data).
        self._ledger: int | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._queue: list[_Pending] = []
        self._in_flight: dict[str, _Pending] = {}
        self._flushing = False

    @property
    def events_seen(self) -> int:
        return len(self._seen)

    def keep_refused(self, body: bytes, reason: str) -> None:
        """Keep a signed event refused for its content, with the reason, in the state folder (best effort: the
        sender has the refusal and its reason either way)."""
        line = json.dumps(
            {"received_at": datetime.now(UTC).isoformat(), "reason": reason, "body": body.decode("utf-8", "replace")},
            ensure_ascii=False,
        )
        try:
            _make_dirs(self.ledger_path.parent)
            with self.ledger_path.with_name(REFUSED_NAME).open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as error:
            log.warning("could not keep a refused event: %s", error)

    def landing_path(self, day: date) -> Path:
        return landing_file(self.landing_dir, RESPONSES, day).path

    def land(self, event: TypeformEvent) -> bool:
        """Land the event durably; False when its id was landed before (nothing is written). Raises OSError when
        it could not be stored (nothing acknowledged: the sender retries)."""
        line = response_line(event.item)
        with self._changed:
            if event.event_id in self._seen:
                return False
            if self._closed:
                raise OSError("the landing writer is closed")
            pending = self._in_flight.get(event.event_id)
            first = pending is None
            if pending is None:
                pending = self._in_flight[event.event_id] = _Pending(event, line)
                self._queue.append(pending)
            while not pending.done:
                if self._flushing:
                    self._changed.wait()
                    continue
                batch, self._queue, self._flushing = self._queue, [], True
                self._changed.release()
                try:
                    self._flush(batch)
                finally:
                    self._changed.acquire()
                    self._flushing = False
                    for flushed in batch:
                        flushed.done = True
                        del self._in_flight[flushed.event.event_id]
                        if flushed.stored:
                            self._seen.add(flushed.event.event_id)
                        elif flushed.error is None:  # the flush itself failed: never report it stored
                            flushed.error = OSError("the event could not be stored")
                    self._changed.notify_all()
            if pending.error is not None:
                raise pending.error
            return first

    def close(self) -> None:
        """Waits for the write in progress, fails what is still queued (never acknowledged), closes every file."""
        with self._changed:
            while self._flushing:
                self._changed.wait()
            self._closed = True
            for pending in self._queue:
                pending.error, pending.done = OSError("the landing writer is closed"), True
                del self._in_flight[pending.event.event_id]
            self._queue = []
            self._changed.notify_all()
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()
            if self._ledger is not None:
                os.close(self._ledger)
                self._ledger = None

    def _flush(self, batch: list[_Pending]) -> None:
        """Landing lines first (fsynced), then the ledger entries of the events whose lines are safe (fsynced)."""
        by_day: dict[date, list[_Pending]] = {}
        for pending in batch:
            by_day.setdefault(pending.event.submitted_day, []).append(pending)
        landed: list[_Pending] = []
        for day, group in by_day.items():
            try:
                fd = self._landing_fd(day)
                try:
                    _write_all(fd, b"".join(pending.line for pending in group))
                    os.fsync(fd)
                except OSError:
                    # Reopen next time: the tail is checked again, so a torn line cannot swallow the next one.
                    del self._files[day]
                    os.close(fd)
                    raise
            except OSError as error:
                for pending in group:
                    pending.error = error
                continue
            landed.extend(group)
        if not landed:
            return
        entries = []
        for pending in landed:
            event = pending.event
            relative = landing_file(self.landing_dir, RESPONSES, event.submitted_day).relative_path
            entries.append(f"{event.event_id}\t{event.form_id}\t{event.token}\t{relative}\n")
        try:
            ledger = self._ledger_fd()
            _write_all(ledger, "".join(entries).encode("ascii"))
            os.fsync(ledger)
        except OSError as error:
            # The lines are landed but not recorded: the retries land them again; the loader keeps one.
            self._cut_torn_ledger_entry()
            for pending in landed:
                pending.error = error
            return
        for pending in landed:
            pending.stored = True

    def _ledger_fd(self) -> int:
        if self._ledger is None:
            created = not self.ledger_path.exists()
            _make_dirs(self.ledger_path.parent)
            self._ledger = os.open(self.ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if created:
                _fsync_dir(self.ledger_path.parent)
        return self._ledger

    def _landing_fd(self, day: date) -> int:
        fd = self._files.get(day)
        if fd is not None:
            return fd
        if len(self._files) >= 8:
            # Webhooks arrive for today; older days are only retries. Keep few descriptors open.
            for old in self._files.values():
                os.close(old)
            self._files.clear()
        path = self.landing_path(day)
        created = not path.exists()
        if created:
            _make_dirs(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            _fsync_dir(path.parent)
        elif _ends_without_newline(path):
            # A line torn by a crash was never acknowledged (Typeform retries it): end it, so it stays one bad
            # line (quarantined by the loader) instead of corrupting the next response.
            _write_all(fd, b"\n")
            os.fsync(fd)
        self._files[day] = fd
        return fd

    def _read_ledger(self) -> set[str]:
        if not self.ledger_path.exists():
            return set()
        self._cut_torn_ledger_entry()
        text = self.ledger_path.read_bytes().decode("utf-8")
        return {line.split("\t", 1)[0] for line in text.split("\n") if line}

    def _cut_torn_ledger_entry(self) -> None:
        """A torn last entry (a crash or a failed write) names an event that landed but was never acknowledged:
        cut it, so the next entry starts on its own line; the retry lands again and is recorded then."""
        try:
            with self.ledger_path.open("r+b") as handle:
                data = handle.read()
                complete = data.rfind(b"\n") + 1
                if complete != len(data):
                    handle.truncate(complete)
                    os.fsync(handle.fileno())
        except OSError:
            pass


def _write_all(fd: int, data: bytes) -> None:
    # One write for whole lines in practice; the loop only guards against a short write.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _ends_without_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def _make_dirs(folder: Path) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        # The new folder's entry must itself be durable for the file inside it to be found after a crash.
        _fsync_dir(created.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
