"""Resources: the DuckDB warehouse (one writer at a time), the landing zone, the vendor APIs and the dbt CLI."""

import fcntl
import importlib.metadata
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging import version

import settings
from ingestion.api.connector import FetchResult, fetch
from ingestion.api.settings import API_SOURCES, source_mode
from orchestration.defs.dbt.project import dbt_project
from scale_out.engine import warehouse_with_marts

DBT_BESIDE_PYTHON = str(Path(sys.executable).parent / "dbt")


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file. Writers take an exclusive file lock first: DuckDB allows one writing process."""

    lock_timeout_seconds: float = 1800.0

    @property
    def path(self) -> Path:
        return Path(self.database)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the warehouse's writer lock (also taken around dbt runs, which write from another process)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".writer.lock")
        with lock_path.open("a+") as handle:
            deadline = time.monotonic() + self.lock_timeout_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"another process is writing to {self.path}") from None
                    time.sleep(0.5)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def write_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.writer_lock(), self.get_connection() as connection:
            yield connection

    def with_marts(self, context: dg.AssetExecutionContext) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The write connection of a step that keeps its state in DuckDB (the delivery ledger, the report). In Spark
        mode the marts and intermediate tables the step depends on are first copied from Spark into the warehouse,
        and the marts it builds go back to Spark after (scale_out/engine.py)."""
        definition = context.assets_def
        inputs = sorted(
            ".".join(key.path) for key in definition.dependency_keys if key.path[0] in ("marts", "intermediate")
        )
        outputs = sorted(".".join(key.path) for key in definition.keys if key.path[0] == "marts")
        return warehouse_with_marts(self, inputs, outputs)


class LandingZoneResource(dg.ConfigurableResource):
    """The landing folder: `<landing_dir>/<source>/<entity>/<YYYY-MM-DD>.jsonl|.csv`."""

    landing_dir: str

    @property
    def path(self) -> Path:
        return Path(self.landing_dir)


def _env_var(name: str) -> str | None:
    return dg.EnvVar(name).get_value()


class VendorApiResource(dg.ConfigurableResource):
    """Typeform, Zendesk and Stripe APIs, for the sources set to API mode (`NPS_SOURCE_MODE_<SOURCE>=api`): new
    and changed objects are pulled into the landing folder before the load. File mode, the default, does nothing.
    Credentials and settings are `dg.EnvVar`s read when a fetch runs, so they are never resource config, never in
    a log line or in metadata; the variables are listed in docs/api_sources.md."""

    def mode(self, source: str) -> str:
        return source_mode(source, _env_var) if source in API_SOURCES else "file"

    def fetch_for_run(self, source: str, landing_dir: Path, run_id: str) -> FetchResult | None:
        """API mode: fetch once per run and vendor (the first raw asset of a vendor fetches, the others reuse its
        result). File mode: None."""
        if self.mode(source) != "api":
            return None
        return fetch(source, landing_dir, _env_var, run_key=run_id)


class DbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs this project never uses (together about 5.7 s of
    each run on these 2-core machines, measured in one process: `dbt --version` 2.9 s, the adapter 2.8 s):

    - the version of dbt comes from the installed dbt-core package (the executable is the one installed beside
      it, pinned in requirements), not from running `dbt --version` in a subprocess;
    - no dbt adapter is opened inside the Dagster process: dagster-dbt uses it only for `fetch_row_counts()` and
      `fetch_column_metadata()`, and the dbt step reads its row counts itself (orchestration/defs/dbt/assets.py).

    Both override private methods of dagster-dbt 0.29 (`_cli_version`, `_initialize_dbt_core_adapter`);
    tests/orchestration/test_definitions.py fails if either disappears.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


@dg.definitions
def resources() -> dg.Definitions:
    # Absolute paths in the environment, so dbt (run from dbt_project/) opens the files Dagster opens.
    settings.export_defaults()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(
                database=dg.EnvVar("NPS_DUCKDB_PATH"),
                connection_config={"threads": 2, "memory_limit": "4GB"},
            ),
            "landing": LandingZoneResource(landing_dir=dg.EnvVar("NPS_LANDING_DIR")),
            "vendor_apis": VendorApiResource(),
            # The dbt installed beside this Python (the venv), whether or not the venv is on PATH.
            "dbt": DbtCli(project_dir=dbt_project(), dbt_executable=shutil.which("dbt") or DBT_BESIDE_PYTHON),
        }
    )
