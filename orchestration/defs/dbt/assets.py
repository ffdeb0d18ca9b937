"""dbt models as Dagster assets: incremental models per daily partition, everything else as one rebuild.

Three steps, in this order within a run: the partitioned incremental models that read the raw tables
(`tag:partitioned`), the rest of the project rebuilt whole, then the partitioned marts that read the
rebuilt models (`tag:partitioned_mart`, e.g. account_health). Keeping them apart keeps the steps acyclic.

Spark mode (`NPS_DBT_TARGET=spark` or `spark_thrift`): dbt builds on Spark; before the first dbt step of a run
that follows a raw load, the lake's day folders are registered as the Spark raw tables (scale_out/lake.py). The
row counts and run metrics below are read from DuckDB only: on Spark the materializations say `engine: spark`
and carry none.

Every materialization carries its table's row count; program_summary's also carries the overall NPS, its 95%
interval, responses and CES mean, so the Dagster UI plots them run after run (the asset's Plots tab).
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cache
from typing import Any, NamedTuple

import dagster as dg
import duckdb

# No public names in Dagster 1.13 for the tags that carry a run's partition range; `context.partition_key_range`
# is public but fails in the unpartitioned dbt step of the same run, which needs the same window (run_window).
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from orchestration.defs.dbt.parse import keep_parse, kept_parse, prune_run_folders, restore_parse, window_environment
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import WarehouseResource
from scale_out.engine import spark_step, stop_spark
from scale_out.lake import needs_registration, register
from settings import engine as run_engine
from settings import lake_dir

PARTITIONED_SELECTOR = "tag:partitioned"
PARTITIONED_MARTS_SELECTOR = "tag:partitioned_mart"
# The sources only the partitioned step reads: their tests are that step's checks, and dbt would run them again in
# the models step (a test whose parent is not excluded is selected), logged as observations with a console warning.
PARTITIONED_SOURCES_SELECTOR = "source:segment"


class LayerTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folder (staging, intermediate, marts); sources map to the raw ingestion assets
    through `meta.dagster.asset_key` in the sources YAML, so lineage runs from landing files to marts."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:data-platform"]

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """A dbt test's check carries the test's description (dagster-dbt leaves it empty): the UI shows it, and
        `make run` prints it when the test warns."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = manifest["nodes"].get(unique_id, {}).get("description")
        return spec._replace(description=description) if spec and description and not spec.description else spec

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        engine = "the dbt target of NPS_DBT_TARGET (DuckDB, MotherDuck, or Spark: the same SQL on every engine)"
        return {**super().get_metadata(dbt_resource_props), "engine": engine}


# Source tests are checks of the raw assets (otherwise dagster-dbt logs each as an observation, with a console warning
# on every run); a singular test reading several models names its model in `meta.dagster.ref`.
translator = LayerTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

# The numbers worth a time series, per mart: read from the table just built, attached to its materialization.
RUN_METRICS_SQL = {
    "program_summary": "select responses, nps, nps_ci_low, nps_ci_high, response_rate, ces_mean from {relation}",
}


def stream_with_metadata(invocation: DbtCliInvocation, warehouse: WarehouseResource) -> Iterator[Any]:
    """dbt's events, each table's with its row count and the RUN_METRICS_SQL marts' with their numbers.

    DuckDB lets no other process read while dbt writes, so the events are held until dbt exits (as dagster-dbt's
    own `fetch_row_counts` does on DuckDB), then read through one read-only connection that is closed at once.
    """
    events = list(invocation.stream())
    if run_engine() == "spark":
        for event in events:
            is_table = isinstance(event, dg.Output | dg.AssetMaterialization)
            yield event.with_metadata({**event.metadata, "engine": "spark"}) if is_table else event
        return
    built = [
        (event, node)
        for event in events
        if isinstance(event, dg.Output | dg.AssetMaterialization)
        and (node := invocation.manifest["nodes"].get(event.metadata["unique_id"].text))
        and node["config"]["materialized"] != "view"
    ]
    metadata: dict[int, dict[str, Any]] = {}
    if built:
        with duckdb.connect(str(warehouse.path), read_only=True) as con:
            for event, node in built:
                # Schema and table only: the manifest's relation_name carries the database name it was parsed with.
                relation = f'"{node["schema"]}"."{node["alias"]}"'
                [(rows,)] = con.execute(f"select count(*) from {relation}").fetchall()
                extra: dict[str, Any] = {"dagster/row_count": dg.MetadataValue.int(rows)}
                if node["name"] in RUN_METRICS_SQL:
                    extra |= _run_metrics(con, RUN_METRICS_SQL[node["name"]].format(relation=relation))
                metadata[id(event)] = extra
    for event in events:
        yield event.with_metadata({**event.metadata, **metadata[id(event)]}) if id(event) in metadata else event


def _run_metrics(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, dg.MetadataValue]:
    """One row of numbers, each a float metadata value (null when the mart has none yet)."""
    cursor = con.execute(sql)
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise dg.Failure(f"expected one row from `{sql}`, got {len(rows)}")
    names = [column[0] for column in cursor.description]
    return {
        name: dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()
        for name, value in zip(names, rows[0], strict=True)
    }


def run_window(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The run's partition window (`min_date`/`max_date`, inclusive) from its tags; empty outside a partitioned
    run. Every dbt step of a run passes this same window (the models step reads it in two incremental models), so
    that the steps share one parse (orchestration/defs/dbt/parse.py)."""
    tags = context.run.tags
    first = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    last = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    return {"min_date": first, "max_date": last} if first and last else {}


def dbt_build(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, window: dict[str, str]
) -> Iterator[Any]:
    """`dbt build` for the run's window, holding the warehouse's writer lock, in one target folder per run that
    starts from this warehouse's last parse (parse.py); the parse is kept for the next run when dbt exits.

    Models, seeds and data tests; not the unit tests: their inputs are fixed, so a run would only repeat them (dbt
    Labs recommends running them in development and CI only). `make test` runs them (tests/e2e/test_dbt_unit_tests.py).
    """
    register_lake(context)
    runs = dbt_project().project_dir / "target"
    target = runs / f"run-{context.run.run_id}"
    if not target.exists():
        prune_run_folders(runs)
    kept = kept_parse(runs)
    restore_parse(target, kept)
    with warehouse.writer_lock():
        with window_environment(window):
            invocation = dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context, target_path=target)
        yield from stream_with_metadata(invocation, warehouse)
    keep_parse(target, kept)


def register_lake(context: dg.AssetExecutionContext) -> None:
    """Spark mode: register the lake's raw tables in Spark when a raw asset wrote to the lake since the last time,
    then end this process's Spark session before dbt starts its own (the local metastore admits one process)."""
    if run_engine() != "spark":
        return
    if needs_registration(lake_dir()):
        with spark_step() as spark:
            tables = register(spark, lake_dir())
        context.log.info(f"registered {len(tables)} raw tables of the lake {lake_dir()} in Spark")
    stop_spark()


def partition_window(context: dg.AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {
        "min_date": window.start.date().isoformat(),
        "max_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


class DbtSteps(NamedTuple):
    """The three dbt steps of a run, in run order."""

    incremental_models: dg.AssetsDefinition
    models: dg.AssetsDefinition
    partitioned_marts: dg.AssetsDefinition


@cache
def dbt_steps() -> DbtSteps:
    """The dbt assets, built from the project's manifest when the definitions load (once per process)."""
    project = dbt_project()
    partitions = daily_partitions()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=PARTITIONED_SELECTOR,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        name="dbt_incremental_models",
    )
    def dbt_incremental_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Incremental models rebuilt for exactly the run's partition window (`min_date`/`max_date`)."""
        yield from dbt_build(context, dbt, warehouse, partition_window(context))

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude=f"{PARTITIONED_SELECTOR} {PARTITIONED_MARTS_SELECTOR} {PARTITIONED_SOURCES_SELECTOR}",
        dagster_dbt_translator=translator,
        name="dbt_models",
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Staging views, intermediate models and marts, rebuilt from the raw tables (with their dbt tests)."""
        yield from dbt_build(context, dbt, warehouse, run_window(context))

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=PARTITIONED_MARTS_SELECTOR,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        name="dbt_partitioned_marts",
    )
    def dbt_partitioned_marts(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Daily marts (one row per account and day) built for the run's partition window from the rebuilt models."""
        yield from dbt_build(context, dbt, warehouse, partition_window(context))

    return DbtSteps(dbt_incremental_models, dbt_models, dbt_partitioned_marts)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=list(dbt_steps()))
