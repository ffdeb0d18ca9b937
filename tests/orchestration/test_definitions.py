"""The Dagster definitions load, describe every asset, and wire lineage from landing files to marts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from ingestion.registry import ENTITIES


@pytest.fixture(scope="module")
def definitions(dbt_manifest) -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


@pytest.fixture(scope="module")
def asset_graph(definitions):
    return definitions.resolve_asset_graph()


def test_every_asset_has_a_description_a_group_and_an_owner(asset_graph):
    missing = [
        (key.to_user_string(), node.description, node.group_name)
        for key, node in ((n.key, n) for n in asset_graph.asset_nodes)
        if node.is_materializable and (not node.description or not node.group_name or not node.owners)
    ]
    assert missing == []


def test_groups_follow_the_layers(asset_graph):
    groups = {node.key.to_user_string(): node.group_name for node in asset_graph.asset_nodes if node.is_materializable}
    assert {groups[f"raw_{spec.source}/{spec.entity}"] for spec in ENTITIES} == {"raw"}
    assert groups["staging/stg_zendesk__tickets"] == "staging"
    assert groups["marts/nps_by_period"] == "marts"
    assert groups["marts/ces_by_period"] == "marts"
    assert groups["marts/fct_survey_responses"] == "marts"


def test_lineage_runs_from_raw_assets_to_the_marts(asset_graph):
    raw_keys = {dg.AssetKey([spec.schema, spec.entity]) for spec in ENTITIES}
    for spec in ENTITIES:
        staging = asset_graph.get(dg.AssetKey(["staging", f"stg_{spec.source}__{spec.entity}"]))
        assert dg.AssetKey([spec.schema, spec.entity]) in staging.parent_keys
    upstream_of_nps = asset_graph.upstream_key_iterator(dg.AssetKey(["marts", "nps_by_period"]))
    ancestors = set(upstream_of_nps)
    assert {dg.AssetKey(["raw_typeform", "responses"]), dg.AssetKey(["raw_surveys", "sends"])} <= ancestors
    # The marts never read a raw table except through staging.
    assert not raw_keys & set(asset_graph.get(dg.AssetKey(["marts", "nps_by_period"])).parent_keys)


def test_raw_and_incremental_assets_share_daily_partitions_and_single_run_backfills(asset_graph):
    partitioned = [node for node in asset_graph.asset_nodes if node.partitions_def is not None]
    keys = {node.key.to_user_string() for node in partitioned}
    assert {f"raw_{spec.source}/{spec.entity}" for spec in ENTITIES} <= keys
    assert "intermediate/int_usage_daily" in keys
    for node in partitioned:
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    marts = asset_graph.get(dg.AssetKey(["marts", "nps_by_period"]))
    assert marts.partitions_def is None


def test_daily_schedule_runs_yesterday(definitions):
    schedule = definitions.resolve_schedule_def("daily_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
        repository_def=definitions.get_repository_def(),
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-03-04"
    assert schedule.job_name == "daily_pipeline"


def test_partitions_reach_back_two_years_by_default(monkeypatch, tmp_path):
    from orchestration.defs import partitions

    monkeypatch.delenv("NPS_PARTITIONS_START", raising=False)
    monkeypatch.setenv("NPS_LANDING_DIR", str(tmp_path))
    assert partitions.partitions_start() == datetime(datetime.now(UTC).year - 2, 1, 1).date()
    old = tmp_path / "stripe" / "customers" / "2019-05-04.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}\n")
    assert partitions.partitions_start().isoformat() == "2019-05-04"


def test_partitions_start_at_the_earliest_landing_file(monkeypatch, tmp_path):
    """A new install with a month of files shows that month's partitions, not two years of missing ones."""
    from orchestration.defs import partitions

    monkeypatch.delenv("NPS_PARTITIONS_START", raising=False)
    monkeypatch.setenv("NPS_LANDING_DIR", str(tmp_path))
    recent = (datetime.now(UTC) - timedelta(days=30)).date()
    for day in (recent, recent + timedelta(days=3)):
        path = tmp_path / "typeform" / "responses" / f"{day.isoformat()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    assert partitions.partitions_start() == recent
    monkeypatch.setenv("NPS_PARTITIONS_START", "2025-06-01")  # the override still wins
    assert partitions.partitions_start().isoformat() == "2025-06-01"


def test_the_daily_job_runs_dbt_once(definitions):
    # A dependency cycle between steps (for example a blocking check on a mart that other models read, run in a
    # step of its own) makes Dagster split the dbt step into several, each with its own dbt start-up and parse.
    job = definitions.resolve_job_def("daily_pipeline")
    dbt_steps = sorted(node.name for node in job.graph.nodes if node.name.startswith("dbt_"))
    assert dbt_steps == ["dbt_build"]


def test_only_old_run_folders_are_pruned(tmp_path):
    """Each run's dbt target folder and each warehouse's kept parse are removed once over two days old; newer ones
    (a run in progress, a warehouse run daily) stay."""
    import os
    import time

    from orchestration.defs.dbt.parse import prune_run_folders

    now = time.time()
    ages = {"run-old": 3 * 86400, "run-yesterday": 86400, "run-new": 0}
    for name, age in ages.items():
        (tmp_path / name / "compiled").mkdir(parents=True)
        os.utime(tmp_path / name, (now - age, now - age))
    (tmp_path / "parse-cache").mkdir()
    for name, age in {"old.msgpack": 3 * 86400, "new.msgpack": 3600}.items():
        (tmp_path / "parse-cache" / name).write_bytes(b"x")
        os.utime(tmp_path / "parse-cache" / name, (now - age, now - age))
    (tmp_path / "manifest.json").write_text("{}")
    removed = prune_run_folders(tmp_path)
    assert sorted(p.name for p in removed) == ["old.msgpack", "run-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "parse-cache", "run-new", "run-yesterday"]
    assert [p.name for p in (tmp_path / "parse-cache").iterdir()] == ["new.msgpack"]


def test_every_dbt_data_test_is_an_asset_check(definitions, dbt_manifest):
    # A test Dagster has no check for is logged as an observation with a warning on the console of every run, and
    # its failure shows on no asset: source tests are checks of the raw assets, and a singular test reading several
    # models names the one it checks (`meta.dagster.ref`).
    import json

    from settings import DBT_PROJECT_DIR

    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    tests = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"}
    job = definitions.resolve_job_def("daily_pipeline")
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert len(tests) > 300
    assert tests - checks == set()


def test_the_dbt_resource_knows_the_dbt_version_without_running_dbt():
    """DbtCli (orchestration/defs/resources.py) overrides two private methods of dagster-dbt's resource to skip
    `dbt --version` and the in-process adapter: they must still exist there, and the version must be what the
    dbt executable itself reports."""
    import re
    import subprocess

    from dagster_dbt import DbtCliResource

    import settings
    from orchestration.defs.resources import DBT_BESIDE_PYTHON, DbtCli

    assert callable(getattr(DbtCliResource, "_initialize_dbt_core_adapter", None))
    assert "_cli_version" in vars(DbtCliResource)
    resource = DbtCli(project_dir=str(settings.DBT_PROJECT_DIR), dbt_executable=DBT_BESIDE_PYTHON)
    reported = subprocess.run([DBT_BESIDE_PYTHON, "--version"], capture_output=True, text=True, check=True).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", reported) or re.search(r"(\d+\.\d+\.\d+)", reported)
    assert str(resource._cli_version) == installed.group(1)
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_exactly_the_models_tagged_for_partitions_are_daily_partitioned_in_the_one_dbt_step(definitions, dbt_manifest):
    """Read from dbt's manifest, not from the translator: the models tagged `partitioned` or `partitioned_mart` are
    daily-partitioned assets of the dbt step, every other model an unpartitioned one, and all are in one step."""
    import json
    from pathlib import Path

    nodes = json.loads(Path(dbt_manifest).read_text())["nodes"].values()
    models = [node for node in nodes if node["resource_type"] == "model"]
    tagged = {node["name"] for node in models if {"partitioned", "partitioned_mart"} & set(node["tags"])}
    assert {"stg_segment__tracks", "account_health", "dim_accounts"} <= tagged and len(tagged) < len(models)
    from orchestration.defs.dbt.assets import dbt_models

    job = definitions.resolve_job_def("daily_pipeline")
    assert [node.name for node in job.graph.nodes if node.name.startswith("dbt_")] == ["dbt_build"]
    graph = definitions.resolve_asset_graph()
    by_name = {key.path[-1]: graph.get(key) for key in dbt_models().keys}
    for node in models:
        assert (by_name[node["name"]].partitions_def is not None) == (node["name"] in tagged), node["name"]
