"""One daily-partitioned raw asset per source entity: landing files into `raw_<source>.<entity>` in DuckDB."""

from datetime import date, timedelta

import dagster as dg

from ingestion.entities import EntitySpec
from ingestion.landing import landing_file
from ingestion.loader import load_file
from ingestion.registry import ENTITIES
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import LandingZoneResource, WarehouseResource


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the run's partition window (one day, or a whole range in a single-run backfill)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=offset) for offset in range((end - first).days)]


def build_raw_asset(spec: EntitySpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=[spec.schema, spec.entity],
        name=None,
        group_name="raw",
        description=(
            f"{spec.description} Loaded from `<landing>/{spec.landing_subdir}/<YYYY-MM-DD>.{spec.extension}` "
            f"into `{spec.table}` (primary key: {spec.primary_key_description}); re-running a day replaces it."
        ),
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb", spec.source},
        owners=["team:data-platform"],
        tags={"layer": "raw", "source": spec.source},
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    )
    def raw_entity(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource
    ) -> dg.MaterializeResult:
        days = partition_dates(context)
        loads = []
        with warehouse.write_connection() as con:
            for day in days:
                lf = landing_file(landing.path, spec, day)
                if lf.path.exists():
                    loads.append(load_file(con, lf, batch_id=f"{context.run_id}:{lf.relative_path}"))
            table_rows = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0] if loads else None
        for load in loads:
            if load.status == "loaded":
                context.log.info(
                    f"{load.source_file}: read {load.records_read}, loaded {load.records_loaded}, "
                    f"duplicates in file {load.duplicates_in_file}, already loaded from another day "
                    f"{load.duplicates_across_files}"
                )
        loaded = [load for load in loads if load.status == "loaded"]
        return dg.MaterializeResult(
            metadata={
                "partition_days": len(days),
                "files_present": len(loads),
                "files_loaded": len(loaded),
                "files_unchanged": len(loads) - len(loaded),
                "days_without_file": len(days) - len(loads),
                "records_read": sum(load.records_read for load in loaded),
                "records_loaded": sum(load.records_loaded for load in loaded),
                "duplicates_in_file": sum(load.duplicates_in_file for load in loaded),
                "duplicates_across_files": sum(load.duplicates_across_files for load in loaded),
                "table_rows": table_rows,
                "table": spec.table,
                "files": dg.MetadataValue.json([load.as_dict() for load in loaded[:50]]),
            }
        )

    return raw_entity


raw_assets = [build_raw_asset(spec) for spec in ENTITIES]
