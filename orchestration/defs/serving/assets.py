"""The marts published for BI tools after every run that built them all: a read-only DuckDB file and Parquet."""

from functools import cache

import dagster as dg

import serving
import settings
from orchestration.defs.actions.assets import feedback_to_feature
from orchestration.defs.analytics.assets import (
    churn_risk_backtest,
    churn_rule_weights,
    comment_themes,
    experiment_results_mart,
    followup_effect_mart,
    nps_changes_mart,
    nps_revenue_per_point,
)
from orchestration.defs.dbt.assets import dbt_models
from orchestration.defs.resources import WarehouseResource
from scale_out.engine import spark_schema_to_duckdb_file


@cache
def mart_keys() -> list[dg.AssetKey]:
    """Every asset whose key starts with `marts`, whichever step builds it (the dbt step, the Python marts)."""
    definitions = [
        dbt_models(),
        churn_risk_backtest,
        churn_rule_weights,
        nps_revenue_per_point,
        nps_changes_mart,
        followup_effect_mart,
        experiment_results_mart,
        comment_themes,
        feedback_to_feature,
    ]
    keys = {spec.key for definition in definitions for spec in definition.specs if spec.key.path[0] == "marts"}
    return sorted(keys, key=lambda key: key.path)


@cache
def marts_published() -> dg.AssetsDefinition:
    """The publication asset, built when the definitions load (its dependencies are every mart of the manifest)."""

    @dg.asset(
        key=dg.AssetKey(["serving", "marts_published"]),
        # Every mart: in a run where one of them fails (or is not built), Dagster skips this step, so a failed or
        # partial run publishes nothing and BI tools keep the previous publication.
        deps=mart_keys(),
        group_name="serving",
        kinds={"duckdb", "parquet"},
        owners=["team:data-platform"],
        tags={"layer": "serving"},
        metadata={"engine": "reads the marts from the run's engine (DuckDB warehouse, or Spark), publishes DuckDB"},
        description=(
            "The marts as BI tools read them: every table of schema `marts` copied from the warehouse into a "
            "separate DuckDB file (`$NPS_SERVING_PATH`, default serving.duckdb beside the warehouse) that BI tools "
            "open read-only, and into Parquet files, one folder per mart (`$NPS_PARQUET_DIR/current/<mart>/`). Both "
            "are built under temporary names, checked against the warehouse (row counts and content checksums) and "
            "swapped in with one rename each, so a reader never meets a lock or half a publication. Runs only when "
            "every mart was built in the run. See docs/serving.md. Engine: in Spark mode (`NPS_DBT_TARGET=spark` or "
            "`spark_thrift`) every table of Spark's `marts` database is read from Spark into a DuckDB file in the "
            "Spark folder first, and published from it the same way (without the DuckDB table comments)."
        ),
    )
    def marts_published(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        serving_path, parquet_dir = settings.serving_path(warehouse.path), settings.parquet_dir(warehouse.path)
        # The writer lock keeps dbt and the loaders out while the marts are read (the warehouse is attached read-only).
        with warehouse.writer_lock():
            source = warehouse.path
            if settings.engine() == "spark":
                source = settings.spark_dir() / "marts_from_spark.duckdb"
                copied = spark_schema_to_duckdb_file("marts", source)
                context.log.info(f"read {len(copied)} marts ({sum(copied.values()):,} rows) from Spark into {source}")
            result = serving.publish(
                source,
                serving_path,
                parquet_dir,
                run_id=context.run.run_id,
                expected_marts=[key.path[-1] for key in mart_keys()],
                config=warehouse.connection_config,
            )
        context.log.info(
            f"published {len(result.marts)} marts ({sum(result.row_counts.values()):,} rows) to {result.serving_path} "
            f"and {result.parquet_version_dir} in {result.duration_seconds:.1f} s"
        )
        return dg.MaterializeResult(
            metadata={
                "publication_id": result.publication_id,
                "row_counts": dg.MetadataValue.json(result.row_counts),
                "total_rows": sum(result.row_counts.values()),
                "serving_path": dg.MetadataValue.path(str(result.serving_path)),
                "parquet_path": dg.MetadataValue.path(str(result.parquet_dir)),
                "parquet_version": result.parquet_version_dir.name,
                "source_fingerprint": result.source_fingerprint,
                "duration_seconds": result.duration_seconds,
                "engine": settings.engine(),
            }
        )

    return marts_published


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[marts_published()])
