"""A run killed with SIGKILL mid-load or mid-dbt leaves a usable warehouse; the next run ends as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from settings import REPO_ROOT
from tests.e2e.test_backfill_and_reruns import raw_key_duplicates, table_hashes

pytestmark = pytest.mark.e2e


def cli_env(home: Path, landing: Path, warehouse: Path) -> dict:
    return dict(
        os.environ,
        NPS_LANDING_DIR=str(landing),
        NPS_DUCKDB_PATH=str(warehouse),
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )


def run_and_kill(env: dict, cwd: Path, marker: str, delay: float) -> str:
    """Start the run, SIGKILL its whole process group `delay` seconds after `marker` appears in its log file (every
    Dagster event and dbt's output go to logs/run-<time>.log beside the warehouse; the terminal shows step lines)."""
    logs = Path(env["NPS_DUCKDB_PATH"]).parent / "logs"
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(process.stdout), daemon=True).start()

    def logged() -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(logs.glob("run-*.log")))

    deadline = time.monotonic() + 600
    while marker not in logged():
        assert process.poll() is None, "the run ended before the marker:\n" + "".join(printed[-20:])
        assert time.monotonic() < deadline, "".join(printed[-20:])
        time.sleep(0.05)
    time.sleep(delay)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return logged()


@pytest.mark.parametrize(
    ("phase", "marker", "delay"),
    [
        ("during the load", 'STEP_START - Started execution of step "raw_stripe__invoices"', 0.5),
        ("during dbt", "Running with dbt=", 4.0),
    ],
)
def test_killed_run_then_rerun_equals_uninterrupted_run(
    dbt_manifest, small_landing, full_run, tmp_path, phase, marker, delay
):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    warehouse = tmp_path / "warehouse.duckdb"
    env = cli_env(home, small_landing, warehouse)

    log = run_and_kill(env, home, marker, delay)
    assert marker in log, phase

    rerun = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "NPS program summary" in rerun.stdout
    assert table_hashes(warehouse, "marts") == table_hashes(full_run, "marts")
    assert table_hashes(warehouse, "intermediate") == table_hashes(full_run, "intermediate")
    assert all(count == 0 for count in raw_key_duplicates(warehouse).values())
