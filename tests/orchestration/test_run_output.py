"""What `make run` prints: a line per step with its rows and seconds, progress while a step runs long, warnings and
errors; the DEBUG events go to the run's log file."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.registry import ENTITIES
from orchestration import run_output
from settings import REPO_ROOT

STEP = re.compile(r"^step (\d+) of (\d+): (\S+): (.*), (\d+\.\d) s$")


@dg.asset
def slow_table(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    print("what a library prints inside a step")
    context.log.debug("a debug line")
    time.sleep(1.2)
    return dg.MaterializeResult(metadata={"table_rows": 1234})


@dg.asset(deps=[slow_table])
def report_file(context: dg.AssetExecutionContext) -> None:
    context.log.warning("a warning, printed in full")


@dg.asset_check(asset=slow_table)
def slow_table_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


def test_step_lines_progress_and_the_log_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_output, "PROGRESS_EVERY_SECONDS", 0.4)
    defs = dg.Definitions(
        assets=[slow_table, report_file],
        asset_checks=[slow_table_has_rows],
        jobs=[dg.define_asset_job("two_steps", dg.AssetSelection.all())],
    )
    job = defs.resolve_job_def("two_steps")
    log_path = tmp_path / "logs" / "run.log"
    run_id = "0f0e5b6c-1111-4222-8333-444455556666"
    with dg.DagsterInstance.ephemeral() as instance, run_output.follow_run(instance, run_id, 3, log_path):
        result = job.execute_in_process(instance=instance, run_id=run_id, run_config=run_output.QUIET_CONSOLE)
    assert result.success
    out, err = capsys.readouterr()
    lines = out.splitlines()
    steps = [STEP.match(line) for line in lines if line.startswith("step ")]
    assert [(m[1], m[2]) for m in steps] == [("1", "3"), ("2", "3"), ("3", "3")]
    did = {m[3]: (m[4], float(m[5])) for m in steps}
    assert did["slow_table"][0] == "materialized slow_table, 1,234 rows"
    assert did["slow_table"][1] >= 1.2
    assert did["slow_table_slow_table_has_rows"][0] == "0 checks passed, 1 failed (slow_table:slow_table_has_rows)"
    assert did["report_file"][0] == "materialized report_file"
    # While slow_table sleeps, at least one progress line, and none once it ended.
    progress = [line for line in lines if line.startswith("  ... ")]
    assert progress and all(line.startswith("  ... step 1 of 3: slow_table running, ") for line in progress)
    assert "a warning, printed in full" in err
    assert "DEBUG" not in out + err and "what a library prints" not in out
    log = log_path.read_text()
    assert "DEBUG slow_table STEP_START" in log
    assert "DEBUG slow_table LOG - a debug line" in log
    assert "what a library prints inside a step" in log


def test_demo_generation_prints_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_output, "PROGRESS_EVERY_SECONDS", 0.2)
    printed: list[str] = []
    with run_output.demo_progress(tmp_path, printed.append):
        (tmp_path / "a.jsonl").write_bytes(b"x" * 2_000_000)
        time.sleep(0.5)
    assert printed and printed[0].startswith("  ... generating demo data: 1 files, 2.0 MB written, ")
    count = len(printed)
    time.sleep(0.5)
    assert len(printed) == count  # nothing after the generation ended


def test_the_log_sits_beside_the_warehouse(tmp_path):
    from datetime import UTC, datetime

    started = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert run_output.run_log_path(tmp_path / "wh" / "nps.duckdb", started) == (
        tmp_path / "wh" / "logs" / "run-20260304T050607Z.log"
    )


@pytest.mark.e2e
def test_make_run_prints_one_line_per_step(dbt_manifest, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "nps.duckdb"
    env = dict(
        os.environ,
        NPS_LANDING_DIR=str(landing),
        NPS_DUCKDB_PATH=str(warehouse),
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("NPS_PARTITIONS_START", None)
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--demo-accounts", "10", "--demo-months", "1"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    steps = [match for match in map(STEP.match, lines) if match]
    total = int(steps[0][2])
    assert [(int(m[1]), int(m[2])) for m in steps] == [(n, total) for n in range(1, total + 1)]
    [log_line] = [line for line in lines if line.startswith("Full log (DEBUG included): ")]
    log_path = Path(log_line.split(": ", 1)[1])
    assert log_path.parent == warehouse.parent / "logs"
    log = log_path.read_text()
    # Every step the run executed has its line: the log holds one STEP_SUCCESS per step.
    assert len(re.findall(r"^\S+ \S+ DEBUG \S+ STEP_SUCCESS ", log, flags=re.MULTILINE)) == total
    assert len(re.findall(r"^\S+ \S+ DEBUG \S+ STEP_START ", log, flags=re.MULTILINE)) == total
    # The raw steps' rows are the tables' rows in the warehouse.
    by_step = {m[3]: m[4] for m in steps}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for spec in ENTITIES:
            rows = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0]
            did = by_step[f"{spec.schema}__{spec.entity}"]
            assert did.startswith(f"materialized {spec.schema}/{spec.entity}, {rows:,} rows"), did
    assert [line for line in lines if "DEBUG" in line] == [log_line]
    assert "DEBUG" not in result.stderr
    assert "Running with dbt=" not in result.stdout and "Running with dbt=" in log
    # A readable run: the step lines, a few progress lines, the summary; not thousands.
    assert len(lines) < total + 60, result.stdout
