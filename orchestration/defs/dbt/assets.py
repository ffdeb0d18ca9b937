"""dbt models as Dagster assets: one `dbt build` per run, whose daily models are partitioned assets.

The whole project is one Dagster step (one dbt invocation: one start-up, one parse, one pass over the DAG). Its
assets are of two kinds: the models tagged `partitioned` (incremental models that read the raw tables) or
`partitioned_mart` (daily marts, e.g. account_health) are daily-partitioned assets, materialized for exactly the
run's window; every other model is an unpartitioned asset rebuilt whole (or incrementally, on the same window).
Dagster 1.13 lets one step hold assets with and without partitions when the step can run a subset; before that,
the project was three steps, each with its own dbt start-up and parse (about 10 s each on these machines).

Spark mode (`NPS_DBT_TARGET=spark` or `spark_thrift`): dbt builds on Spark; before the dbt step of a run
that follows a raw load, the lake's day folders are registered as the Spark raw tables (scale_out/lake.py). The
row counts and run metrics below are read from DuckDB only: on Spark the materializations say `engine: spark`
and carry none.

Every materialization carries its table's row count; program_summary's also carries the overall NPS, its 95%
interval, responses and CES mean, so the Dagster UI plots them run after run (the asset's Plots tab).
"""

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import dagster as dg
import duckdb

# No public names in Dagster 1.13 for the tags that carry a run's partition range; `context.partition_key_range`
# is public but fails in a run that selects only unpartitioned dbt models (run_window).
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

# The dbt tags that make a model a daily-partitioned asset.
PARTITIONED_TAGS = frozenset({"partitioned", "partitioned_mart"})


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

    def get_partitions_def(self, dbt_resource_props: Mapping[str, Any]) -> dg.PartitionsDefinition | None:
        """The daily partitions for the models tagged `partitioned` or `partitioned_mart`; none for the rest."""
        tags = set(dbt_resource_props.get("config", {}).get("tags", [])) | set(dbt_resource_props.get("tags", []))
        return daily_partitions() if tags & PARTITIONED_TAGS else None

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
    """The run's partition window (`min_date`/`max_date`, inclusive) from its tags (one partition or a range);
    empty outside a partitioned run (a run of unpartitioned models only): the incremental models then rebuild
    whole. From the tags rather than `context.partition_key_range`, which fails when the run selects only
    unpartitioned assets."""
    tags = context.run.tags
    first = tags.get(ASSET_PARTITION_RANGE_START_TAG) or tags.get(PARTITION_NAME_TAG)
    last = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    return {"min_date": first, "max_date": last} if first and last else {}


def build(
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


@cache
def dbt_models() -> dg.AssetsDefinition:
    """The dbt assets, built from the project's manifest when the definitions load (once per process)."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        name="dbt_build",
    )
    def dbt_build(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Every model of the project, its seeds and data tests, in one `dbt build` for the run's partition window
        (`min_date`/`max_date`): the partitioned models for exactly that window, the others rebuilt."""
        yield from build(context, dbt, warehouse, run_window(context))

    return dbt_build


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[dbt_models()])
