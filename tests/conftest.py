"""Shared fixtures: the dbt manifest prepared once, and real pipeline runs into temporary warehouses."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

# Before anything imports the Dagster definitions: fixed partitions, no telemetry, no real warehouse.
os.environ["NPS_PARTITIONS_START"] = "2024-01-01"
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from settings import DBT_PROJECT_DIR

# The modules that take longest (pytest --durations on a 2-core machine), scheduled first so that the two workers
# of `make test` (pytest-xdist, --dist loadscope: a module's tests share one worker and its module fixtures) finish
# together instead of one waiting on a long module picked up last. Only the order changes, never what runs.
SLOWEST_FIRST = (
    "tests/e2e/test_backfill_and_reruns.py",
    "tests/e2e/test_kill_and_rerun.py",
    "tests/e2e/test_ui_backfill.py",
    "tests/benchmarks/test_harness.py",
    "tests/e2e/test_churn_risk.py",
    "tests/e2e/test_churn_planted.py",
    "tests/e2e/test_followup_effect.py",
    "tests/e2e/test_experiment_results.py",
    "tests/e2e/test_save_rate_and_referrals.py",
    "tests/e2e/test_survey_funnel.py",
    "tests/e2e/test_tickets_incremental.py",
    "tests/analytics/test_nps_revenue_coverage.py",
    "tests/analytics/test_followup_effect_coverage.py",
    "tests/e2e/test_contract_pipeline.py",
    "tests/serving/test_serving.py",
    "tests/e2e/test_cli.py",
    "tests/benchmarks/test_pandas_marts.py",
    "tests/ingestion/test_bad_input_catalogue.py",
    "tests/e2e/test_vendor_edge_cases.py",
    "tests/e2e/test_quality_gate.py",
    "tests/ingestion/test_contract_properties.py",
    "tests/ingestion/test_demo_outreach.py",
    "tests/e2e/test_vendor_samples.py",
    "tests/webhooks/test_typeform_webhook.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: position for position, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.location[0], len(rank)))  # stable: file order otherwise


# The small demo every end-to-end test shares: fixed end date, so the data never depends on today.
# Enough accounts and months for 90-day churn to be measured on a dozen monthly scorings (~5,000 account-months), and
# for the planted experiment effects to be found (test_churn_risk, test_experiment_results).
CHURN_DEMO = {"accounts": 600, "months": 15, "end_date": date(2026, 10, 31), "seed": 11, "events_per_account_day": 2.0}
SMALL_DEMO = {"accounts": 60, "months": 3, "end_date": date(2026, 10, 31), "seed": 7, "events_per_account_day": 2.0}


def session_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every worker of this test session (pytest-xdist) and by no other session."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt parse` once per test session, whatever the number of workers (pytest-xdist): the Dagster dbt assets
    read this manifest when the definitions load, so no worker may rewrite it while another reads it."""
    shared = session_folder(tmp_path_factory)
    with (shared / "dbt_parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "dbt_parsed"
        if not done.exists():
            subprocess.run(
                [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--profiles-dir", "."],
                cwd=DBT_PROJECT_DIR,
                check=True,
                env=dict(os.environ, NPS_DUCKDB_PATH=os.environ.get("NPS_DUCKDB_PATH", "/tmp/nps-parse.duckdb")),
            )
            done.touch()
    return DBT_PROJECT_DIR / "target" / "manifest.json"


@dataclass
class PipelineRunner:
    """Runs the real `daily_pipeline` job in process, against the warehouse and landing folder given."""

    def run(self, warehouse: Path, landing: Path, first: date, last: date, *, expect_success: bool = True):
        import dagster as dg
        from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

        from orchestration.definitions import defs

        os.environ["NPS_DUCKDB_PATH"] = str(warehouse)
        os.environ["NPS_LANDING_DIR"] = str(landing)
        job = defs().resolve_job_def("daily_pipeline")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=expect_success,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
                    ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
                },
            )
        assert result.success or not expect_success
        return result


@pytest.fixture(scope="session")
def pipeline(dbt_manifest: Path) -> Iterator[PipelineRunner]:
    saved = {key: os.environ.get(key) for key in ("NPS_DUCKDB_PATH", "NPS_LANDING_DIR")}
    yield PipelineRunner()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demo import DemoConfig, generate

    landing = tmp_path_factory.mktemp("landing")
    generate(landing, DemoConfig(**SMALL_DEMO))
    return landing


@pytest.fixture(scope="session")
def full_run_result(pipeline: PipelineRunner, small_landing: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole small demo loaded in one run (every date present), as `make run` does: (warehouse, run result)."""
    from ingestion.landing import dates_present
    from ingestion.registry import ENTITIES

    warehouse = tmp_path_factory.mktemp("full") / "warehouse.duckdb"
    days = dates_present(small_landing, ENTITIES)
    return warehouse, pipeline.run(warehouse, small_landing, days[0], days[-1])


@pytest.fixture(scope="session")
def full_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of `full_run_result`, loaded once per `make test`: the first worker to need it loads it and
    leaves a copy in a folder of the session (the other workers wait for it and start from a copy), and the serial
    session that follows finds it through `NPS_TEST_FULL_RUN_CACHE` (a folder the Makefile makes for one run)."""
    shared = Path(os.environ.get("NPS_TEST_FULL_RUN_CACHE") or session_folder(tmp_path_factory))
    cached = shared / "full_run"  # the run's folder: the warehouse, its serving file, Parquet, report, alerts log
    with (shared / "full_run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            warehouse = request.getfixturevalue("full_run_result")[0]
            shutil.copytree(warehouse.parent, shared / "full_run.tmp", symlinks=True)
            os.replace(shared / "full_run.tmp", cached)
            return warehouse
    folder = tmp_path_factory.mktemp("full")
    shutil.copytree(cached, folder, symlinks=True, dirs_exist_ok=True)
    warehouse = folder / "warehouse.duckdb"
    return warehouse


@pytest.fixture(scope="session")
def churn_run(pipeline: PipelineRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of the larger CHURN_DEMO, loaded in one run (once per worker)."""
    from demo import DemoConfig, generate
    from ingestion.landing import dates_present
    from ingestion.registry import ENTITIES

    root = tmp_path_factory.mktemp("churn")
    generate(root / "landing", DemoConfig(**CHURN_DEMO))
    days = dates_present(root / "landing", ENTITIES)
    pipeline.run(root / "warehouse.duckdb", root / "landing", days[0], days[-1])
    return root / "warehouse.duckdb"
