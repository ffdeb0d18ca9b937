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
