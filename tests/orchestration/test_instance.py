"""The root dagster.yaml is the instance configuration in effect when DAGSTER_HOME points at the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from settings import REPO_ROOT

PROBE = """
import json
from dagster import DagsterInstance
instance = DagsterInstance.get()
print(json.dumps({
    "root": instance.root_directory,
    "telemetry": instance.get_settings("telemetry"),
    "run_storage": instance.run_storage._conn_string,
    "event_log_storage": type(instance.event_log_storage).__name__,
    "event_log_dir": instance.event_log_storage._base_dir,
    "coordinator": type(instance.run_coordinator).__name__,
    "max_concurrent_runs": instance.run_coordinator.get_run_queue_config().max_concurrent_runs,
    "run_retries": instance.run_retries_enabled,
    "run_retries_max": instance.run_retries_max_retries,
}))
"""


def test_root_dagster_yaml_is_the_instance_in_effect(tmp_path: Path):
    # Run from a copy of the repository root so the test never touches the real .dagster/ state.
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    env = dict(os.environ, DAGSTER_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=home, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    settings = json.loads(completed.stdout.strip().splitlines()[-1])
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())

    assert settings["root"] == config["local_artifact_storage"]["config"]["base_dir"]
    assert settings["telemetry"] == {"enabled": False} == config["telemetry"]
    # Storage lands where dagster.yaml says (relative to the working directory, the repository root under make).
    assert settings["run_storage"] == f"sqlite:///{home / config['run_storage']['config']['base_dir']}/runs.db"
    assert settings["event_log_storage"] == config["event_log_storage"]["class"] == "WalSqliteEventLogStorage"
    assert settings["event_log_dir"] == str(home / config["event_log_storage"]["config"]["base_dir"])
    assert settings["coordinator"] == "QueuedRunCoordinator"
    assert settings["max_concurrent_runs"] == config["run_queue"]["max_concurrent_runs"] == 1
    assert settings["run_retries"] is True
    assert settings["run_retries_max"] == config["run_retries"]["max_retries"]


def test_makefile_points_dagster_home_at_the_repository_and_turns_telemetry_off():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "export DAGSTER_HOME := $(CURDIR)" in makefile
    for variable in (
        "DO_NOT_TRACK := 1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS := false",
        "RUNTIME__DLTHUB_TELEMETRY := false",
        "GX_ANALYTICS_ENABLED := false",
    ):
        assert f"export {variable}" in makefile
    dbt_project = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert dbt_project["flags"]["send_anonymous_usage_stats"] is False


def test_instance_state_and_data_are_git_ignored():
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert {"data/", ".dagster/", ".venv/"} <= set(ignored)


def test_event_log_remembers_only_the_schema_that_exists(tmp_path: Path, monkeypatch):
    """The storage remembers tables and columns it found (they are never dropped), never ones it did not: a table
    created after a first "no" is seen at once, as SQLite itself reports it."""
    import sqlalchemy as sa
    from dagster._core.storage.event_log.sqlite import sqlite_event_log

    from orchestration.instance_storage import WalSqliteEventLogStorage

    storage = WalSqliteEventLogStorage(base_dir=str(tmp_path))
    try:
        index = storage.conn_string_for_shard("index")
        assert storage.has_table("asset_event_tags") is True
        assert storage.has_table("not_yet_there") is False
        # A "yes" is not asked again: Dagster's own check builds an engine per call.
        with monkeypatch.context() as patched:
            patched.setattr(sqlite_event_log, "create_engine", _no_new_engine)
            assert storage.has_table("asset_event_tags") is True
        engine = sa.create_engine(index)
        with engine.begin() as conn:
            conn.execute(sa.text("create table not_yet_there (x integer)"))
        assert storage.has_table("not_yet_there") is True
        with storage.index_connection() as conn:
            assert storage._has_asset_key_col_on_connection(conn, "last_materialization_timestamp") is True
            assert storage._has_asset_key_col_on_connection(conn, "no_such_column") is False
        with engine.begin() as conn:
            conn.execute(sa.text("alter table asset_keys add column no_such_column text"))
        with storage.index_connection() as conn:
            assert storage._has_asset_key_col_on_connection(conn, "no_such_column") is True
        engine.dispose()
    finally:
        storage.dispose()


def _no_new_engine(*args, **kwargs):
    raise AssertionError("asked SQLite again for a table already found")


def _store_a_range_run(home: Path, monkeypatch) -> tuple[list, int]:
    """A range run of two 40-partition assets with a check each into a fresh instance configured by the root
    dagster.yaml (its storage folders are relative: run from `home`): what Dagster reads back of it, and how many
    connections the event log opened to store it."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from orchestration.instance_storage import WalSqliteEventLogStorage

    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    monkeypatch.chdir(home)
    days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-02-10")

    def asset(name: str, passed: bool) -> dg.AssetsDefinition:
        @dg.asset(
            name=name,
            partitions_def=days,
            backfill_policy=dg.BackfillPolicy.single_run(),
            check_specs=[dg.AssetCheckSpec("rows", asset=name)],
        )
        def build(context):
            yield dg.MaterializeResult(metadata={"rows": len(context.partition_keys)})
            yield dg.AssetCheckResult(check_name="rows", passed=passed)

        return build

    job = dg.define_asset_job("range", executor_def=dg.in_process_executor)
    defs = dg.Definitions(assets=[asset("a", True), asset("b", False)], jobs=[job])
    connections = 0
    connect = WalSqliteEventLogStorage._connect

    def counting(self, shard):
        nonlocal connections
        connections += 1
        return connect(self, shard)

    WalSqliteEventLogStorage._connect = counting
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            tags = {ASSET_PARTITION_RANGE_START_TAG: "2026-01-01", ASSET_PARTITION_RANGE_END_TAG: "2026-02-09"}
            result = defs.resolve_job_def("range").execute_in_process(instance=instance, tags=tags)
            logs = instance.all_logs(result.run_id)
            read: list = [sorted(event.dagster_event_type.value for event in logs if event.dagster_event_type)]
            for name in ("a", "b"):
                key = dg.AssetKey(name)
                records = instance.fetch_materializations(key, limit=1000).records
                read += [
                    sorted(instance.get_materialized_partitions(key)),
                    sorted((r.partition_key, sorted(r.asset_materialization.metadata.items())) for r in records),
                    instance.get_status_by_partition(key, days.get_partition_keys(), days),
                    [
                        record.status
                        for record in instance.event_log_storage.get_asset_check_execution_history(
                            dg.AssetCheckKey(key, "rows"), limit=10
                        )
                    ],
                ]
    finally:
        WalSqliteEventLogStorage._connect = connect
    return read, connections


def test_a_batch_of_events_is_stored_as_dagster_stores_them_one_by_one(tmp_path: Path, monkeypatch):
    """Dagster hands the planned and materialized events of a range run over in batches when
    DAGSTER_EVENT_BATCH_SIZE is set (settings.export_defaults): the storage writes a batch in one transaction per
    database, and Dagster reads back exactly what it reads after storing the same run's events one at a time."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    one_by_one, connections_one_by_one = _store_a_range_run(tmp_path / "one_by_one", monkeypatch)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "7")  # several full batches and a partial last one
    batched, connections_batched = _store_a_range_run(tmp_path / "batched", monkeypatch)
    assert batched == one_by_one
    assert (
        one_by_one[0].count("ASSET_MATERIALIZATION") == 80
        and one_by_one[0].count("ASSET_MATERIALIZATION_PLANNED") == 80
    )
    assert one_by_one[1] == [f"2026-01-{day:02d}" for day in range(1, 32)] + [
        f"2026-02-{day:02d}" for day in range(1, 10)
    ]
    # Two connections per asset event one by one (the run's database, the index); two per batch of 7.
    assert connections_one_by_one - connections_batched > 200
