"""A backfill launched the way the Dagster UI launches it gives the marts and the serving file of one full run.

The webserver and the daemon run as `make ui` starts them (`dagster dev`), in a temporary instance, against a
second warehouse. The backfill goes through the GraphQL API the UI itself calls: the `launchPartitionBackfill`
mutation with the parameters the UI sends when an analyst opens the `daily_pipeline` job, clicks "Materialize
all", picks a date range and clicks "Launch backfill" (dagster-webserver's LaunchAssetChoosePartitionsDialog: a job
backfill through the job's partition set, with the job's assets and the range's partition keys). The daemon turns
it into runs (the assets' single-run backfill policy makes the whole range one run, as `make run` does).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

import settings
from ingestion.landing import dates_present
from ingestion.registry import ENTITIES
from settings import REPO_ROOT
from tests.e2e.test_backfill_and_reruns import table_hashes

pytestmark = pytest.mark.e2e

JOB = "daily_pipeline"
PARTITION_SET = f"{JOB}_partition_set"  # the name the UI gives the job's partition set
STARTUP_TIMEOUT_SECONDS = 300
BACKFILL_TIMEOUT_SECONDS = 15 * 60
POLL_SECONDS = 1.0
LOG_TAIL_LINES = 60
# Backfill statuses after which nothing more happens (BulkActionStatus).
FINAL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

REPOSITORIES_QUERY = """
{
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes { name location { name } partitionSets { name pipelineName } }
    }
    ... on PythonError { message }
  }
}
"""

LOCATION_STATUS_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } }
      }
    }
  }
}
"""

# What the job's asset graph shows (the assets "Materialize all" launches).
JOB_ASSETS_QUERY = """
query JobAssets($pipeline: PipelineSelector!) {
  assetNodes(pipeline: $pipeline) { assetKey { path } isMaterializable isPartitioned }
}
"""

PARTITION_NAMES_QUERY = """
query PartitionNames($repositorySelector: RepositorySelector!, $partitionSetName: String!) {
  partitionSetOrError(repositorySelector: $repositorySelector, partitionSetName: $partitionSetName) {
    __typename
    ... on PartitionSet {
      partitionsOrError { __typename ... on Partitions { results { name } } ... on PythonError { message } }
    }
    ... on PartitionSetNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

# The UI's LAUNCH_PARTITION_BACKFILL_MUTATION (ui-core/src/instance/backfill/BackfillUtils.tsx), result types kept.
LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on RunConfigValidationInvalid { pipelineName errors { message path reason } }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      error { message }
      runs { runId status tags { key value } }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

RUN_FAILURES_QUERY = """
query RunFailures($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      eventConnection(afterCursor: null) {
        events {
          __typename
          ... on ExecutionStepFailureEvent { stepKey error { message } }
          ... on RunFailureEvent { message error { message } }
        }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DagsterUi:
    """`dagster dev` (webserver, daemon, code server) in its own process group, its output in `log`."""

    process: subprocess.Popen
    url: str
    log: Path
    home: Path
    warehouse: Path
    stopped: bool = field(default=False)

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- last {LOG_TAIL_LINES} lines of {self.log} ---\n" + "\n".join(lines[-LOG_TAIL_LINES:])

    def query(self, text: str, variables: dict[str, Any] | None = None, *, timeout: float = 60) -> dict[str, Any]:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        assert not answer.get("errors"), f"GraphQL errors: {answer['errors']}\n{self.log_tail()}"
        return answer["data"]

    def wait_until_ready(self) -> tuple[str, str]:
        """Until the GraphQL endpoint answers and the code location is loaded; its (location, repository)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            assert self.process.poll() is None, f"dagster dev exited ({self.process.returncode})\n{self.log_tail()}"
            assert time.monotonic() < deadline, (
                f"the UI did not come up in {STARTUP_TIMEOUT_SECONDS} s\n{self.log_tail()}"
            )
            try:
                self.query("{ version }", timeout=5)
                entries = self.query(LOCATION_STATUS_QUERY, timeout=30)["workspaceOrError"]["locationEntries"]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(POLL_SECONDS)
                continue
            errors = [e for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
            assert not errors, f"code location failed to load: {errors}\n{self.log_tail()}"
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                break
            time.sleep(POLL_SECONDS)
        repositories = self.query(REPOSITORIES_QUERY)["repositoriesOrError"]
        assert repositories["__typename"] == "RepositoryConnection", repositories
        matches = [
            (repo["location"]["name"], repo["name"])
            for repo in repositories["nodes"]
            if any(ps["name"] == PARTITION_SET and ps["pipelineName"] == JOB for ps in repo["partitionSets"])
        ]
        assert len(matches) == 1, f"partition set {PARTITION_SET} in {repositories['nodes']}"
        return matches[0]

    def stop(self) -> None:
        """Terminate the whole process group (webserver, daemon, code server, run workers), then kill leftovers."""
        if self.stopped:
            return
        self.stopped = True
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # children that outlived dagster dev (still in its group)
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def dagster_ui(dbt_manifest, small_landing, tmp_path, monkeypatch) -> Iterator[DagsterUi]:
    """`make ui` for the small demo: the repository's dagster.yaml in a temporary DAGSTER_HOME, warehouse B."""
    # Serving copies beside each warehouse, whatever the developer's environment says.
    monkeypatch.delenv("NPS_SERVING_PATH", raising=False)
    monkeypatch.delenv("NPS_PARQUET_DIR", raising=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # dagster.yaml's storage folders are relative (.dagster/...): started from `home`, the instance lives there.
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    warehouse = tmp_path / "ui" / "warehouse.duckdb"
    port = free_port()
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        NPS_DUCKDB_PATH=str(warehouse),
        NPS_LANDING_DIR=str(small_landing),
        NPS_PARTITIONS_START=os.environ["NPS_PARTITIONS_START"],
        PYTHONPATH=str(REPO_ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        RUNTIME__DLTHUB_TELEMETRY="false",
        GX_ANALYTICS_ENABLED="false",
    )
    log = tmp_path / "dagster_dev.log"
    command = [
        str(Path(sys.executable).parent / "dagster"),
        *("dev", "--host", "127.0.0.1", "--port", str(port), "-m", "orchestration.definitions"),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=home, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    ui = DagsterUi(process=process, url=f"http://127.0.0.1:{port}/graphql", log=log, home=home, warehouse=warehouse)
    try:
        yield ui
    finally:
        ui.stop()


def launch_backfill(ui: DagsterUi, location: str, repository: str, first: str, last: str) -> tuple[str, list[str]]:
    """What the UI sends for "Materialize all" on the job page, a date range picked, "Launch backfill"."""
    repository_selector = {"repositoryLocationName": location, "repositoryName": repository}
    nodes = ui.query(JOB_ASSETS_QUERY, {"pipeline": {**repository_selector, "pipelineName": JOB}})["assetNodes"]
    assets = [node["assetKey"] for node in nodes if node["isMaterializable"]]
    assert any(node["isPartitioned"] for node in nodes) and any(not node["isPartitioned"] for node in nodes)

    partition_set = ui.query(
        PARTITION_NAMES_QUERY, {"repositorySelector": repository_selector, "partitionSetName": PARTITION_SET}
    )["partitionSetOrError"]
    assert partition_set["__typename"] == "PartitionSet", partition_set
    assert partition_set["partitionsOrError"]["__typename"] == "Partitions", partition_set
    keys = [item["name"] for item in partition_set["partitionsOrError"]["results"] if first <= item["name"] <= last]

    launched = ui.query(
        LAUNCH_BACKFILL_MUTATION,
        {
            "backfillParams": {
                "tags": [{"key": "dagster/from_ui", "value": "true"}],  # tagsWithUIExecutionTags
                "assetSelection": assets,
                "partitionNames": keys,
                "fromFailure": False,
                "selector": {"partitionSetName": PARTITION_SET, "repositorySelector": repository_selector},
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", f"{launched}\n{ui.log_tail()}"
    return launched["backfillId"], keys


def run_failures(ui: DagsterUi, run_ids: list[str]) -> str:
    lines = []
    for run_id in run_ids:
        run = ui.query(RUN_FAILURES_QUERY, {"runId": run_id})["runOrError"]
        for event in (run.get("eventConnection") or {}).get("events", []):
            if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent"):
                error = (event.get("error") or {}).get("message") or event.get("message")
                lines.append(f"run {run_id} {event.get('stepKey') or 'run'}: {error}")
    return "\n".join(lines) or "no failure events"


def wait_for_backfill(ui: DagsterUi, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    while True:
        backfill = ui.query(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in FINAL_STATUSES:
            break
        assert ui.process.poll() is None, f"dagster dev exited ({ui.process.returncode})\n{ui.log_tail()}"
        if time.monotonic() > deadline:
            pytest.fail(
                f"backfill {backfill_id} still {backfill['status']} after {BACKFILL_TIMEOUT_SECONDS} s: "
                f"{backfill['runs']}\n{ui.log_tail()}"
            )
        time.sleep(POLL_SECONDS)
    run_ids = [run["runId"] for run in backfill["runs"]]
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (
        f"backfill {backfill_id} ended {backfill['status']} ({backfill['error']}):\n"
        f"{run_failures(ui, run_ids)}\n{ui.log_tail()}"
    )
    assert run_ids and all(run["status"] == "SUCCESS" for run in backfill["runs"]), (
        f"{backfill['runs']}\n{run_failures(ui, run_ids)}\n{ui.log_tail()}"
    )
    return backfill


def published_run_id(serving_file: Path) -> str:
    with duckdb.connect(str(serving_file), read_only=True) as con:
        return con.execute("select run_id from meta.publication").fetchall()[0][0]


def test_backfill_launched_through_the_ui_api_matches_the_full_run(dagster_ui, small_landing, full_run):
    days = dates_present(small_landing, ENTITIES)
    first, last = days[0].isoformat(), days[-1].isoformat()

    location, repository = dagster_ui.wait_until_ready()
    backfill_id, keys = launch_backfill(dagster_ui, location, repository, first, last)
    assert keys[0] == first and keys[-1] == last and len(keys) == (days[-1] - days[0]).days + 1

    backfill = wait_for_backfill(dagster_ui, backfill_id)
    dagster_ui.stop()  # nothing holds warehouse B from here on

    # The single-run backfill policy: the whole range in one run, like `make run`.
    [run] = backfill["runs"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["dagster/backfill"] == backfill_id
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (first, last)
    # The instance is the temporary one dagster.yaml describes, not the repository's .dagster/.
    event_log = Path(".dagster", "storage", "history", "runs", f"{run['runId']}.db")
    assert (dagster_ui.home / event_log).is_file() and not (REPO_ROOT / event_log).exists()

    reference_marts = table_hashes(full_run, "marts")
    assert reference_marts, "the full run built no marts"
    assert table_hashes(dagster_ui.warehouse, "marts") == reference_marts

    # The serving file BI tools open, published by the backfill's run: the full run's marts, table for table.
    serving_b, serving_a = settings.serving_path(dagster_ui.warehouse), settings.serving_path(full_run)
    assert serving_b.is_file(), f"nothing published at {serving_b}"
    assert published_run_id(serving_b) == run["runId"]
    assert table_hashes(serving_b, "marts") == reference_marts
    assert table_hashes(serving_a, "marts") == reference_marts
