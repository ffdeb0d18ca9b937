"""The webhook receivers' durable writer: each accepted event becomes one line of its entity's landing file
(`<source>/<entity>/<YYYY-MM-DD>.jsonl`, the vendor's API object shape the loader reads), written and fsynced before
the event id is written to an append-only ledger, both before the caller answers 200. The ledger is fsynced within
`LEDGER_SYNC_SECONDS`, off the request's path: it only de-duplicates replays, and an id it loses (a power cut, not a
crash of this process, which keeps what was written) means at worst a second copy of a landed line. A crash at any
point loses nothing acknowledged, and at worst lands an object twice, which the loader de-duplicates by its key (the
later line wins, counted as superseded). One writer per vendor (its own ledger); only this process may write its
files while it runs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

from ingestion.entities import EntitySpec
from ingestion.landing import landing_file

log = logging.getLogger("ingestion.webhooks")

# The ledger's entries are fsynced at most this many seconds after they are written (one fsync for all of them).
# Waiting for it before each 200 cost the receiver about a sixth of its throughput (measured with the load tests in
# tests/webhooks), for a guarantee the landing file's fsync already gives.
LEDGER_SYNC_SECONDS = 1.0


class MalformedBody(ValueError):
    """The body is not JSON, or holds text without a UTF-8 form (answered 400)."""


class InvalidEvent(ValueError):
    """Valid JSON that is not a usable event (answered 422); `field` names what is wrong."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


class LandableEvent(Protocol):
    """What the writer needs of a vendor's event."""

    @property
    def event_id(self) -> str: ...
    @property
    def spec(self) -> EntitySpec: ...  # the entity whose landing file gets the line
    @property
    def day(self) -> date: ...  # the landing file's day
    @property
    def item(self) -> dict: ...  # the object written, as the vendor's API returns it
    @property
    def ledger_note(self) -> str: ...  # what the ledger records beside the id (tab-separated, no newline)


def json_line(item: dict) -> bytes:
    """One JSONL line: UTF-8, no raw newline inside (JSON escapes them), ending in "\\n"."""
    try:
        return (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate escape ("\ud800") decodes to text that has no UTF-8 form.
        raise MalformedBody("body holds a string that is not valid Unicode") from None


@dataclass
class _Pending:
    event: LandableEvent
    line: bytes
    done: bool = False
    stored: bool = False
    error: OSError | None = None


class DurableLanding:
    """Appends accepted events to the landing files and their ids to the ledger (group commit).

    Callers queue their event and wait; one of them at a time (the flusher) takes everything queued, appends the
    lines of each day's file in one `write` on an O_APPEND descriptor and fsyncs it, then appends their ids to the
    ledger (fsynced by a timer within `LEDGER_SYNC_SECONDS`), and wakes the callers. Lines are whole within a
    write and never interleave; one fsync covers every event that arrived meanwhile, so throughput does not hang
    on the disk's fsync latency. A second delivery of an event still in flight waits for the first and shares its
    outcome. Only this process may write the webhook's files while it runs.
    """

    def __init__(self, landing_dir: Path, state_dir: Path, ledger_name: str, refused_name: str):
        self.landing_dir = landing_dir
        self.ledger_path = state_dir / ledger_name
        self.refused_path = state_dir / refused_name
        self._files: dict[tuple[str, date], int] = {}
        self._seen = self._read_ledger()
        # Opened on the first event: an empty landing folder stays empty (`make run` fills it with demo data).
        self._ledger: int | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._queue: list[_Pending] = []
        self._in_flight: dict[str, _Pending] = {}
        self._flushing = False
        # The ledger's pending fsync (a timer thread), and the lock that keeps it and `close` apart.
        self._sync_lock = threading.Lock()
        self._sync_timer: threading.Timer | None = None

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
            with self.refused_path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as error:
            log.warning("could not keep a refused event: %s", error)

    def landing_path(self, spec: EntitySpec, day: date) -> Path:
        return landing_file(self.landing_dir, spec, day).path

    def land(self, event: LandableEvent) -> bool:
        """Land the event durably; False when its id was landed before (nothing is written). Raises OSError when
        it could not be stored (nothing acknowledged: the sender retries)."""
        line = json_line(event.item)
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
            with self._sync_lock:
                if self._sync_timer is not None:
                    self._sync_timer.cancel()
                    self._sync_timer = None
                if self._ledger is not None:
                    _sync_quietly(self._ledger, self.ledger_path)
                    os.close(self._ledger)
                    self._ledger = None

    def _flush(self, batch: list[_Pending]) -> None:
        """Landing lines first (fsynced), then the ledger entries of the events whose lines are safe (fsynced)."""
        by_file: dict[tuple[str, date], list[_Pending]] = {}
        for pending in batch:
            by_file.setdefault((pending.event.spec.key, pending.event.day), []).append(pending)
        landed: list[_Pending] = []
        for key, group in by_file.items():
            try:
                fd = self._landing_fd(group[0].event.spec, group[0].event.day)
                try:
                    _write_all(fd, b"".join(pending.line for pending in group))
                    os.fsync(fd)
                except OSError:
                    # Reopen next time: the tail is checked again, so a torn line cannot swallow the next one.
                    del self._files[key]
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
            relative = landing_file(self.landing_dir, event.spec, event.day).relative_path
            entries.append(f"{event.event_id}\t{event.ledger_note}\t{relative}\n")
        try:
            ledger = self._ledger_fd()
            _write_all(ledger, "".join(entries).encode("ascii"))
        except OSError as error:
            # The lines are landed but not recorded: the retries land them again; the loader keeps one.
            self._cut_torn_ledger_entry()
            for pending in landed:
                pending.error = error
            return
        for pending in landed:
            pending.stored = True
        self._sync_ledger_soon()

    def _sync_ledger_soon(self) -> None:
        with self._sync_lock:
            if self._sync_timer is None and self._ledger is not None:
                self._sync_timer = threading.Timer(LEDGER_SYNC_SECONDS, self._sync_ledger)
                self._sync_timer.daemon = True
                self._sync_timer.start()

    def _sync_ledger(self) -> None:
        with self._sync_lock:
            self._sync_timer = None
            if self._ledger is not None:
                _sync_quietly(self._ledger, self.ledger_path)

    def _ledger_fd(self) -> int:
        if self._ledger is None:
            created = not self.ledger_path.exists()
            _make_dirs(self.ledger_path.parent)
            self._ledger = os.open(self.ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if created:
                _fsync_dir(self.ledger_path.parent)
        return self._ledger

    def _landing_fd(self, spec: EntitySpec, day: date) -> int:
        fd = self._files.get((spec.key, day))
        if fd is not None:
            return fd
        if len(self._files) >= 8:
            # Webhooks arrive for today; older days are only retries. Keep few descriptors open.
            for old in self._files.values():
                os.close(old)
            self._files.clear()
        path = self.landing_path(spec, day)
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
        self._files[(spec.key, day)] = fd
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


def _sync_quietly(fd: int, path: Path) -> None:
    # Entries the disk lost mean only that a replay of their events lands a second copy (de-duplicated by the loader).
    try:
        os.fsync(fd)
    except OSError as error:
        log.error("cannot fsync the ledger %s: %s: %s", path, error.__class__.__name__, error)


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
