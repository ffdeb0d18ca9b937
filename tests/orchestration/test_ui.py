"""`make ui`: the Dagster UI serves one code location, `nps_platform` as pyproject.toml names it, and its start-up
log does not repeat Dagster's code-location-name warning."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from settings import REPO_ROOT

LOCATIONS_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def make_ui_command(port: int) -> list[str]:
    """The `ui` target's command as the Makefile has it, on another port."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^ui:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, "no ui target in the Makefile"
    [command] = [line.strip() for line in recipe[1].splitlines() if "dagster" in line]
    command = command.replace("$(BIN)", str(Path(sys.executable).parent))
    return re.sub(r"--port \S+", f"--port {port}", shlex.join(shlex.split(command))).split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def locations(port: int) -> list[dict] | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": LOCATIONS_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            workspace = json.load(response)["data"]["workspaceOrError"]
    except OSError:
        return None  # not serving yet
    entries = workspace.get("locationEntries") or []
    return entries if entries and all(entry["loadStatus"] == "LOADED" for entry in entries) else None


@pytest.mark.e2e
def test_make_ui_serves_the_nps_platform_location_without_the_name_warning(dbt_manifest, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        NPS_DUCKDB_PATH=str(tmp_path / "nps.duckdb"),
        NPS_LANDING_DIR=str(tmp_path / "landing"),
        PYTHONPATH=str(REPO_ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    port, log = free_port(), tmp_path / "ui.log"
    with log.open("w") as output:
        ui = subprocess.Popen(
            make_ui_command(port),
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline, entries = time.monotonic() + 240, None
            while entries is None and time.monotonic() < deadline and ui.poll() is None:
                time.sleep(2)
                entries = locations(port)
        finally:
            os.killpg(ui.pid, signal.SIGTERM)
            try:
                ui.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(ui.pid, signal.SIGKILL)
                ui.wait()
    started = log.read_text()
    assert entries is not None, started[-3000:]
    assert [entry["name"] for entry in entries] == ["nps_platform"]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
    assert "code location name" not in started, started[-3000:]
    assert "Error loading repository location" not in started
