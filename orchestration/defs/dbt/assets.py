"""dbt models as Dagster assets: incremental models per daily partition, everything else as one rebuild.

Three steps, in this order within a run: the partitioned incremental models that read the raw tables
(`tag:partitioned`), the rest of the project rebuilt whole, then the partitioned marts that read the
rebuilt models (`tag:partitioned_mart`, e.g. account_health). Keeping them apart keeps the steps acyclic.
"""

import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import WarehouseResource

PARTITIONED_SELECTOR = "tag:partitioned"
PARTITIONED_MARTS_SELECTOR = "tag:partitioned_mart"


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


translator = LayerTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED_SELECTOR,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_incremental_models",
)
def dbt_incremental_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Incremental models rebuilt for exactly the run's partition window (`min_date`/`max_date` vars)."""
    yield from build_partition_window(context, dbt, warehouse)


def build_partition_window(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    window = context.partition_time_window
    dbt_vars = {
        "min_date": window.start.date().isoformat(),
        "max_date": (window.end - timedelta(days=1)).date().isoformat(),
    }
    with warehouse.writer_lock():
        yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=f"{PARTITIONED_SELECTOR} {PARTITIONED_MARTS_SELECTOR}",
    dagster_dbt_translator=translator,
    name="dbt_models",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator[Any]:
    """Staging views, intermediate models and marts, rebuilt from the raw tables (with their dbt tests)."""
    with warehouse.writer_lock():
        yield from dbt.cli(["build"], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED_MARTS_SELECTOR,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_partitioned_marts",
)
def dbt_partitioned_marts(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Daily marts (one row per account and day) built for the run's partition window from the rebuilt models."""
    yield from build_partition_window(context, dbt, warehouse)
