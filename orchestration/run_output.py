"""What `make run` prints: one line per step of the Dagster run, a progress line while a step or the demo generation
runs long, and the run's full event log (DEBUG included) in a file beside the warehouse.

Dagster's console logger is turned down to warnings and errors (printed in full, on stderr); this module reads the
run's events from the instance as they are stored, so it needs no hook inside the assets.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import dagster as dg

# A long step (the usage-event load, the dbt build) prints a line this often, never more often.
PROGRESS_EVERY_SECONDS = 10.0
POLL_SECONDS = 0.5
# The row count a materialization carries, by the key its asset writes (dbt, ingestion, analytics, serving).
ROW_KEYS = ("dagster/row_count", "table_rows", "rows", "total_rows")
# Dagster's console logger at this level: warnings and errors only (run_config of execute_in_process).
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

DONE = {
    dg.DagsterEventType.STEP_SUCCESS.value: "",
    dg.DagsterEventType.STEP_FAILURE.value: "FAILED",
    dg.DagsterEventType.STEP_SKIPPED.value: "skipped",
}


def run_log_path(warehouse: Path, started: datetime) -> Path:
    """`logs/run-<UTC time>.log` beside the warehouse, as the alerts log and the serving file sit beside it, so a
    warehouse elsewhere (a test's) keeps its own logs."""
    return warehouse.parent / "logs" / f"run-{started.astimezone(UTC):%Y%m%dT%H%M%SZ}.log"


@dataclass
class Step:
    started_at: float  # the STEP_START event's timestamp
    rows: dict[str, int | None] = field(default_factory=dict)  # asset key -> rows (partitions collapse to one)
    checks: dict[str, bool] = field(default_factory=dict)  # check -> passed
    last_printed: float = field(default_factory=time.monotonic)


def step_line(number: int, total: int, key: str, step: Step, outcome: str, seconds: float) -> str:
    """`step 3 of 17: raw_segment__tracks: materialized raw_segment/tracks, 5,092 rows, 9 checks passed, 2.9 s`."""
    parts = [outcome] if outcome else []
    if len(step.rows) == 1:
        parts.append(f"materialized {next(iter(step.rows))}")
    elif step.rows:
        parts.append(f"materialized {len(step.rows)} assets")
    counted = [rows for rows in step.rows.values() if rows is not None]
    if counted:
        parts.append(f"{sum(counted):,} rows")
    if step.checks:
        failed = sorted(check for check, passed in step.checks.items() if not passed)
        parts.append(f"{len(step.checks) - len(failed)} checks passed")
        if failed:  # a WARN check fails without failing the step: name it (the log has its details)
            parts.append(f"{len(failed)} failed ({', '.join(failed[:3])}{', ...' if len(failed) > 3 else ''})")
    if not step.rows and not step.checks and not outcome:
        parts.append("nothing materialized")
    parts.append(f"{seconds:.1f} s")
    return f"step {number} of {total}: {key}: " + ", ".join(parts)


def checks_failed_without_stopping(events: list[dg.DagsterEvent], job: dg.JobDefinition) -> list[str]:
    """One line per check that failed without failing the run (a warning, or an error that blocks nothing, such as
    a day file rejected whole), with how many records it found and
    what it means (the result's description, else the check's), so the summary says why a step line read
    "1 failed" (the run log has the samples)."""
    lines = []
    for event in events:
        evaluation = event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        metadata = evaluation.metadata
        if "unexpected_count" in metadata and "records_checked" in metadata:  # a GX check of a raw table
            found = f"{metadata['unexpected_count'].value:,} of {metadata['records_checked'].value:,} records"
        elif "dagster_dbt/failed_row_count" in metadata:  # a dbt test
            found = f"{metadata['dagster_dbt/failed_row_count'].value:,} rows returned by the dbt test"
        else:
            found = "failed"
        spec = job.asset_layer.asset_graph.get_check_spec(evaluation.asset_check_key)
        meaning = evaluation.description or spec.description or "details in the run log"
        error = " (error)" if evaluation.severity == dg.AssetCheckSeverity.ERROR else ""
        lines.append(f"{evaluation.asset_check_key.to_user_string()}{error}: {found}: {meaning}")
    return lines


def _rows(materialization: dg.AssetMaterialization) -> int | None:
    for key in ROW_KEYS:
        value = materialization.metadata.get(key)
        if value is not None and isinstance(value.value, int):
            return value.value
    return None


def log_file_line(entry: dg.EventLogEntry) -> str:
    """One event as Dagster's console logger writes it, with the error's stack trace where there is one."""
    stamp = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    event = entry.dagster_event.event_type_value if entry.dagster_event else "LOG"
    line = f"{stamp} {logging.getLevelName(entry.level)} {entry.step_key or '-'} {event} - {entry.message}"
    error = entry.error_info or (
        getattr(entry.dagster_event.event_specific_data, "error", None) if entry.dagster_event else None
    )
    return line + ("\n" + error.to_string() if error else "")


class RunFollower:
    """Reads the events of one run as they are stored: writes each to the log file, prints a line when a step
    ends and a progress line while one runs long."""

    def __init__(
        self, instance: dg.DagsterInstance, run_id: str, total_steps: int, log: LockedLog, out: Callable[[str], None]
    ):
        self.instance, self.run_id, self.total, self.log, self.out = instance, run_id, total_steps, log, out
        self.cursor: str | None = None
        self.running: dict[str, Step] = {}
        self.finished = 0

    def poll(self) -> None:
        while True:
            connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=1000)
            for record in connection.records:
                self.handle(record.event_log_entry)
            self.cursor = connection.cursor
            if not connection.has_more:
                break
        self.log.flush()
        now = time.monotonic()
        for key, step in self.running.items():
            if now - step.last_printed >= PROGRESS_EVERY_SECONDS:
                step.last_printed = now
                seconds = time.time() - step.started_at
                self.out(f"  ... step {self.finished + 1} of {self.total}: {key} running, {seconds:.0f} s")

    def handle(self, entry: dg.EventLogEntry) -> None:
        self.log.write(log_file_line(entry) + "\n")
        event, key = entry.dagster_event_type, entry.step_key
        if event is None or key is None:
            return
        if event == dg.DagsterEventType.STEP_START:
            self.running[key] = Step(started_at=entry.timestamp)
        step = self.running.get(key)
        if step is None:  # an engine event after the step ended
            return
        if event == dg.DagsterEventType.ASSET_MATERIALIZATION and entry.asset_materialization:
            step.rows[entry.asset_materialization.asset_key.to_user_string()] = _rows(entry.asset_materialization)
        elif event == dg.DagsterEventType.ASSET_CHECK_EVALUATION and entry.asset_check_evaluation:
            evaluation = entry.asset_check_evaluation
            step.checks[evaluation.asset_check_key.to_user_string()] = evaluation.passed
        elif event.value in DONE:
            del self.running[key]
            self.finished += 1
            seconds = entry.timestamp - step.started_at
            self.out(step_line(self.finished, self.total, key, step, DONE[event.value], seconds))


def every(seconds: float, action: Callable[[], None], *, last: bool = True) -> Callable[[], None]:
    """Runs `action` every `seconds` on a daemon thread until the returned function is called (which, with `last`,
    runs it once more, so that nothing that happened before the stop is missed)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join()
        if last:
            action()

    return stopper


@contextmanager
def follow_run(instance: dg.DagsterInstance, run_id: str, total_steps: int, log_path: Path) -> Iterator[RunFollower]:
    """While the run executes in this process: its step lines on stdout, its events in the log file, and what
    its steps print (dbt's output, through dagster-dbt) in the log file too."""
    terminal = sys.stdout

    def out(line: str) -> None:
        terminal.write(line + "\n")
        terminal.flush()

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as file:
        log = LockedLog(file)
        follower = RunFollower(instance, run_id, total_steps, log, out)
        stop = every(POLL_SECONDS, follower.poll)
        try:
            with redirect_stdout(log):
                yield follower
        finally:
            stop()


class LockedLog:
    """The log file, written by the event reader's thread and by the steps' prints (whole writes kept apart)."""

    def __init__(self, file: IO[str]):
        self.file, self.lock = file, threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return self.file.write(text)

    def flush(self) -> None:
        with self.lock:
            self.file.flush()


def folder_size(folder: Path) -> tuple[int, int]:
    """Files and bytes under `folder`."""
    files = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # a temporary file renamed meanwhile
                continue
            files += 1
    return files, size


@contextmanager
def demo_progress(landing: Path, out: Callable[[str], None]) -> Iterator[None]:
    """While the demo generator writes, a line every PROGRESS_EVERY_SECONDS with what it has written so far."""
    started = time.monotonic()

    def report() -> None:
        files, size = folder_size(landing)
        seconds = time.monotonic() - started
        out(f"  ... generating demo data: {files:,} files, {size / 1e6:,.1f} MB written, {seconds:.0f} s")

    stop = every(PROGRESS_EVERY_SECONDS, report, last=False)
    try:
        yield
    finally:
        stop()
