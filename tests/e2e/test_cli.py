"""`make run`'s command, as a user runs it: both locations pointed elsewhere, demo data, then a no-op second run."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from settings import REPO_ROOT
from tests.e2e.reference import nps_interval

pytestmark = pytest.mark.e2e


def run_cli(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_run_generates_loads_summarises_and_a_second_run_adds_nothing(dbt_manifest, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    landing, warehouse = tmp_path / "elsewhere" / "landing", tmp_path / "elsewhere" / "wh" / "nps.duckdb"
    env = dict(
        os.environ,
        NPS_LANDING_DIR=str(landing),
        NPS_DUCKDB_PATH=str(warehouse),
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(REPO_ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env.pop("NPS_PARTITIONS_START", None)

    first = run_cli(env, home, "--demo-accounts", "25", "--demo-months", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "generating demo data" in first.stdout
    assert any((landing / "segment" / "tracks").glob("*.jsonl"))
    assert f"Warehouse      {warehouse}" in first.stdout

    with duckdb.connect(str(warehouse), read_only=True) as con:
        promoters, detractors, responses = con.execute(
            "select count(*) filter (where score >= 9), count(*) filter (where score <= 6), count(*) "
            "from marts.fct_survey_responses where survey_type = 'nps'"
        ).fetchall()[0]
        raw_before = con.execute("select count(*) from raw_segment.tracks").fetchall()[0][0]
    nps = 100 * (promoters - detractors) / responses
    low, high = nps_interval(promoters, detractors, responses)
    match = re.search(
        r"NPS\s+([+-]\d+\.\d)\s+\(95% interval ([+-]\d+\.\d) to ([+-]\d+\.\d); ([\d,]+) responses", first.stdout
    )
    assert match, first.stdout
    assert match.groups() == (f"{nps:+.1f}", f"{low:+.1f}", f"{high:+.1f}", f"{responses:,}")
    # No check warns on the demo: each raw step checks its accounts after the Stripe customers and Zendesk
    # organizations of the same run are loaded (before, Segment events and Stripe charges found none).
    assert "without stopping the run" not in first.stdout and " failed (" not in first.stdout, first.stdout
    # Nor does Dagster (each dbt test is the check of one step, run by that step only).
    assert " - WARNING - " not in first.stderr, first.stderr[-3000:]
    # The run is recorded in the instance that dagster.yaml configures.
    assert any((home / ".dagster" / "storage" / "history" / "runs").glob("*.db"))

    started = time.monotonic()
    second = run_cli(env, home)
    assert second.returncode == 0, second.stderr[-3000:]
    assert time.monotonic() - started < 20
    assert "Nothing changed" in second.stdout
    assert match.group(0) in second.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw_segment.tracks").fetchall()[0][0] == raw_before

    # A survey response of an account nobody knows: the step line names the check that warned, and the run explains
    # it once, with the count of such records against the records checked (the raw table, whose days all load).
    last_day = sorted((landing / "surveys" / "responses").glob("*.csv"))[-1]
    header, first_row = last_day.read_text().splitlines()[:2]
    fields = dict(zip(header.split(","), next(csv.reader([first_row])), strict=True))
    fields |= {"response_id": "rsp_nobody_knows_this_account", "account_id": "acc_nobody_knows"}
    with last_day.open("a", newline="") as out:
        csv.writer(out, lineterminator="\n").writerow(fields.values())
    third = run_cli(env, home)
    assert third.returncode == 0, third.stderr[-3000:]
    failed = {name for names in re.findall(r"\d+ failed \(([^)]*)\)", third.stdout) for name in names.split(", ")}
    assert "raw_surveys/responses:gx_account_known" in failed, third.stdout
    block = third.stdout.split("without stopping the run", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    explained = dict(line.strip().split(": ", 1) for line in block)
    assert set(explained) == failed
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from raw_surveys.responses").fetchall()
    assert explained["raw_surveys/responses:gx_account_known"].startswith(
        f"1 of {rows:,} records: The record's account"
    )


def test_run_names_future_files(tmp_path):
    landing = tmp_path / "landing" / "zendesk" / "tickets"
    landing.mkdir(parents=True)
    (landing / "2999-01-01.jsonl").write_text('{"id": 1}\n')
    env = dict(
        os.environ,
        NPS_LANDING_DIR=str(tmp_path / "landing"),
        NPS_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        PYTHONPATH=str(REPO_ROOT),
    )
    result = run_cli(env, tmp_path)
    assert result.returncode == 2
    assert "landing files dated in the future (2999-01-01)" in result.stdout
