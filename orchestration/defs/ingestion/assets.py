"""One daily-partitioned raw asset per source entity: landing files into `raw_<source>.<entity>` in DuckDB."""

from datetime import date, timedelta

import dagster as dg

from ingestion.entities import EntitySpec
from ingestion.landing import landing_file
from ingestion.loader import ensure_tables, load_files
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
        files = [lf for lf in (landing_file(landing.path, spec, day) for day in days) if lf.path.exists()]
        with warehouse.write_connection() as con:
            # The table exists even when a source has no file yet, so the dbt models build on an empty source.
            ensure_tables(con, spec)
            result = load_files(con, files, batch_id=f"{context.run.run_id}:{spec.source}/{spec.entity}")
            table_rows = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0]
        loaded = [load for load in result.loads if load.status == "loaded"]
        metadata = {
            "partition_days": len(days),
            "files_present": len(files),
            "files_loaded": len(loaded),
            "files_unchanged": len(result.loads) - len(loaded),
            "files_rejected": len(result.errors),
            "days_without_file": len(days) - len(files),
            "records_read": sum(load.records_read for load in loaded),
            "records_loaded": sum(load.records_loaded for load in loaded),
            "duplicates_in_file": sum(load.duplicates_in_file for load in loaded),
            "duplicates_across_files": sum(load.duplicates_across_files for load in loaded),
            "table_rows": table_rows,
            "table": spec.table,
            "seconds": result.seconds,
        }
        if result.errors:
            # The good days are loaded; the bad files keep their previous content and fail the step by name.
            raise dg.Failure(
                description=f"{len(result.errors)} landing file(s) of {spec.source}/{spec.entity} could not be "
                "loaded:\n" + "\n".join(str(error) for error in result.errors),
                metadata={**metadata, "rejected_files": dg.MetadataValue.json([str(e) for e in result.errors])},
                allow_retries=False,
            )
        context.log.info(
            f"{spec.table}: {metadata['files_loaded']} file(s) loaded, {metadata['files_unchanged']} unchanged, "
            f"{metadata['records_loaded']} of {metadata['records_read']} records read kept "
            f"({metadata['duplicates_in_file']} later versions in the same file, "
            f"{metadata['duplicates_across_files']} events already loaded from another day)"
        )
        return dg.MaterializeResult(metadata=metadata)

    return raw_entity


raw_assets = [build_raw_asset(spec) for spec in ENTITIES]
