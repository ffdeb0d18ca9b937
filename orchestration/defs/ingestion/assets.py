"""One daily-partitioned raw asset per source entity: landing files into `raw_<source>.<entity>` in DuckDB.

A source in API mode (docs/api_sources.md) has its vendor's new and changed objects fetched into the landing folder
first, once per run; Segment in S3 mode (`NPS_SOURCE_MODE_SEGMENT=s3`) has its changed day objects mirrored from the
bucket first (ingestion/object_storage.py). The load is then the same as for files.

Spark mode (`NPS_DBT_TARGET=spark` or `spark_thrift`): the load, quarantine and checks stay in DuckDB, identical;
the accepted rows of the run's days then also go to the lake as Parquet, one folder per day replaced whole
(scale_out/lake.py), which the dbt step registers as Spark tables before it builds."""

from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import dagster as dg

from ingestion.api.connector import ApiFetchError
from ingestion.api.settings import API_SOURCES, S3_SOURCES, ConfigurationError, source_mode
from ingestion.contracts.settings import ConfigurationProblem, load_settings
from ingestion.entities import EntitySpec
from ingestion.expectations import DOMAIN_TABLES, expectations_for
from ingestion.landing import Ignored, day_files, scan
from ingestion.loader import ensure_tables, load_files, record_landing_scan, record_refused_files
from ingestion.object_storage import ObjectStorageError, mirror
from ingestion.quality import CheckOutcome, validate_partitions
from ingestion.registry import ENTITIES, get_entity
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import LandingZoneResource, VendorApiResource, WarehouseResource
from scale_out.lake import table_dir, write_days
from settings import engine as run_engine
from settings import lake_dir


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the run's partition window (one day, or a whole range in a single-run backfill)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=offset) for offset in range((end - first).days)]


# Set on a run (the CLI's `run --force`, or "Launch with tags" in the UI): read and validate every file again.
RELOAD_TAG = "nps/reload"


def gx_check_specs(spec: EntitySpec, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """One asset check per expectation of the entity's GX suite: warnings, never blocking (record-level)."""
    return [
        dg.AssetCheckSpec(
            expectation.check_name,
            asset=key,
            blocking=False,
            description=f"GX {expectation.gx_type} ({expectation.severity}): {expectation.description}",
        )
        for expectation in expectations_for(spec)
    ]


def gx_check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    expectation = outcome.expectation
    return dg.AssetCheckResult(
        check_name=expectation.check_name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        description=expectation.description,
        metadata={
            "expectation": dg.MetadataValue.json(outcome.gx_config),
            "records_checked": outcome.element_count,
            "unexpected_count": outcome.unexpected_count,
            "sample_unexpected": dg.MetadataValue.json(outcome.samples),
            **({"error": outcome.error} if outcome.error else {}),
        },
    )


def fetch_from_api(
    context: dg.AssetExecutionContext, vendor_apis: VendorApiResource, spec: EntitySpec, landing_dir: Path
) -> dict:
    """API mode: pull the vendor's new and changed objects into the landing folder (once per run and vendor).
    Returns the asset metadata to add; file mode: nothing. Refused credentials are not retried."""
    try:
        result = vendor_apis.fetch_for_run(spec.source, landing_dir, context.run.run_id)
    except ApiFetchError as error:
        raise dg.Failure(description=str(error), allow_retries=not error.credentials_refused) from None
    except ConfigurationError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    if result is None:
        return {}
    if not result.reused:
        context.log.info(
            f"{spec.source} API: {result.rows_fetched} object version(s) fetched in {result.seconds} s "
            f"({sum(result.requests.values())} request(s): {result.requests}); "
            f"{len(result.files_changed)} landing file(s) written"
        )
    summary = {
        "source": result.source,
        "started_at": result.started_at,
        "requests": result.requests,
        "rows_fetched": result.rows_fetched,
        "files_written": result.files_changed,
        "fetched_by_this_asset": not result.reused,
    }
    return {"api_fetch": dg.MetadataValue.json(summary)}


def _env_var(name: str) -> str | None:
    return dg.EnvVar(name).get_value()


def mirror_from_object_storage(context: dg.AssetExecutionContext, spec: EntitySpec, landing_dir: Path) -> dict:
    """S3 mode: mirror the day objects that changed since the last mirror into the landing folder (each asset
    retry lists again; unchanged objects are not downloaded). Returns the asset metadata to add; other modes:
    nothing. Settings and credentials are environment variables read here, never resource config, never in a log
    line or metadata; refused credentials are not retried."""
    if spec.source not in S3_SOURCES:
        return {}
    try:
        if source_mode(spec.source, _env_var) != "s3":
            return {}
        result = mirror(spec.source, landing_dir, _env_var)
    except ObjectStorageError as error:
        raise dg.Failure(description=str(error), allow_retries=not error.credentials_refused) from None
    except ConfigurationError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    context.log.info(
        f"{spec.source} from {result.url} ({result.backend}): {result.objects_listed} object(s) listed, "
        f"{len(result.downloaded)} downloaded ({result.bytes_downloaded} bytes) in {result.seconds} s; "
        f"{len(result.files_changed)} landing file(s) written"
        + (f"; ignored (not <YYYY-MM-DD>.jsonl): {result.objects_ignored[:5]}" if result.objects_ignored else "")
    )
    return {"s3_mirror": dg.MetadataValue.json(result.summary())}


def ignored_for(spec: EntitySpec, ignored: list[Ignored]) -> list[Ignored]:
    """What the entity's check reports: entries in its folder, in its source's folder, and outside any source."""
    return [
        entry
        for entry in ignored
        if (entry.source, entry.entity) == (spec.source, spec.entity)
        or (entry.entity is None and entry.source in (None, spec.source))
    ]


def account_tables(spec: EntitySpec) -> list[dg.AssetKey]:
    """The raw assets the entity's account check reads (`gx_account_known`): its step runs after theirs, so that a
    first run checks against the accounts of the same run rather than an empty table."""
    if spec.account is None:
        return []
    return [
        dg.AssetKey([get_entity(source, entity).schema, entity])
        for source, entity in DOMAIN_TABLES[spec.account.domain]
        if (source, entity) != (spec.source, spec.entity)
    ]


def build_raw_asset(spec: EntitySpec) -> dg.AssetsDefinition:
    key = dg.AssetKey([spec.schema, spec.entity])

    @dg.asset(
        key=key,
        group_name="raw",
        description=(
            f"{spec.description} Loaded from `<landing>/{spec.landing_subdir}/<YYYY-MM-DD>.{spec.extension}` "
            f"into `{spec.table}` (primary key: {spec.primary_key_description}); re-running a day replaces it. "
            f"Records that break the entity's typed contract go to `{spec.rejects_table}`."
            " Engine: validated and quarantined in DuckDB on every target; in Spark mode the accepted rows of each "
            f"day also go to `<lake>/raw/{spec.schema}/{spec.entity}/_partition_date=<day>/` (Parquet), the Spark "
            f"table `{spec.table}`."
            + (
                f" With `NPS_SOURCE_MODE_{spec.source.upper()}=api` the {spec.source} API is read into the landing "
                "folder first (docs/api_sources.md)."
                if spec.source in API_SOURCES
                else ""
            )
            + (
                f" With `NPS_SOURCE_MODE_{spec.source.upper()}=s3` the day objects are mirrored from an "
                "S3-compatible bucket into the landing folder first (README, docs/raw_layer.md)."
                if spec.source in S3_SOURCES
                else ""
            )
        ),
        partitions_def=daily_partitions(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=account_tables(spec),
        kinds={"duckdb", spec.source},
        owners=["team:data-platform"],
        tags={"layer": "raw", "source": spec.source},
        metadata={"engine": "DuckDB (validation, quarantine); in Spark mode also the lake's Parquet, read by Spark"},
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
        check_specs=[
            dg.AssetCheckSpec(
                "reconciliation",
                asset=key,
                blocking=True,
                description="For every file: records read = loaded + rejected + superseded + already loaded (the "
                "integrity of the load; the only check that stops the models downstream).",
            ),
            dg.AssetCheckSpec(
                "files_readable",
                asset=key,
                description="No day file was rejected whole (unreadable, refused, or one that would empty a day "
                "that holds data); such a day keeps its content (an error that does not stop the run).",
            ),
            dg.AssetCheckSpec(
                "no_rejects",
                asset=key,
                description=f"No record went to {spec.rejects_table} (a warning, with samples naming file, line and "
                "field).",
            ),
            dg.AssetCheckSpec(
                "no_schema_drift",
                asset=key,
                description="Every column of the landing files is one the contract names (a warning; unknown "
                "CSV columns are kept in `_extra_columns`, unknown JSON fields in `payload`).",
            ),
            dg.AssetCheckSpec(
                "landing_files_recognised",
                asset=key,
                description="Every entry of the entity's landing folder is a day file it loads (a warning listing "
                "the others: wrong names, extensions, dates, directories, links out of the landing folder).",
            ),
            *gx_check_specs(spec, key),
        ],
    )
    def raw_entity(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        landing: LandingZoneResource,
        vendor_apis: VendorApiResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        fetched = fetch_from_api(context, vendor_apis, spec, landing.path)
        fetched.update(mirror_from_object_storage(context, spec, landing.path))
        try:
            settings = load_settings()
        except ConfigurationProblem as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        days = partition_dates(context)
        files, refused = day_files(landing.path, spec, days)
        ignored = ignored_for(spec, scan(landing.path, ENTITIES).ignored)
        force = context.run.tags.get(RELOAD_TAG) == "all"
        batch_id = f"{context.run.run_id}:{spec.source}/{spec.entity}"
        with warehouse.write_connection() as con:
            # The table exists even when a source has no file yet, so the dbt models build on an empty source.
            ensure_tables(con, spec)
            result = load_files(con, files, batch_id=batch_id, force=force, settings=settings)
            record_refused_files(con, spec, refused, batch_id)
            record_landing_scan(con, spec, ignored)
            table_rows = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0]
            outcomes = validate_partitions(con, spec, days[0], days[-1], settings=settings)
            lake = lake_written(con, spec, days)
            samples = con.execute(
                f"select _source_file, _line_number, reason from {spec.rejects_table} "
                f"where _batch_id like ? order by _partition_date, _line_number limit 5",
                [f"{context.run.run_id}:%"],
            ).fetchall()
        errors = [*result.errors, *(error for _, error in refused)]
        loaded = [load for load in result.loads if load.status == "loaded"]
        metadata = {
            "partition_days": len(days),
            "files_present": len(files) + len(refused),
            "files_loaded": len(loaded),
            "files_unchanged": len(result.loads) - len(loaded),
            "files_rejected": len(errors),
            "days_without_file": len(days) - len(files) - len(refused),
            "records_read": sum(load.records_read for load in loaded),
            "records_loaded": sum(load.records_loaded for load in loaded),
            "records_rejected": sum(load.records_rejected for load in loaded),
            "duplicates_in_file": sum(load.duplicates_in_file for load in loaded),
            "duplicates_across_files": sum(load.duplicates_across_files for load in loaded),
            "table_rows": table_rows,
            "table": spec.table,
            "rejects_table": spec.rejects_table,
            "seconds": result.seconds,
            "reloaded_all": force,
            **fetched,
            **lake,
        }
        for error in errors:
            context.log.error(
                f"rejected whole (kept in the landing folder for replay; the day keeps its content): {error}"
            )
        for entry in ignored:
            context.log.warning(f"not loaded: {entry.path}: {entry.reason}")
        context.log.info(
            f"{spec.table}: {metadata['files_loaded']} file(s) loaded, {metadata['files_unchanged']} unchanged, "
            f"{metadata['files_rejected']} rejected whole; {metadata['records_loaded']} of "
            f"{metadata['records_read']} records loaded, {metadata['records_rejected']} quarantined "
            f"({metadata['duplicates_in_file']} superseded in the same file, "
            f"{metadata['duplicates_across_files']} events already loaded from another day)"
        )
        yield dg.MaterializeResult(metadata=metadata)
        unbalanced = [load.source_file for load in loaded if not load.reconciles]
        yield dg.AssetCheckResult(
            check_name="reconciliation",
            passed=not unbalanced,
            metadata={"files_checked": len(loaded), "unbalanced_files": dg.MetadataValue.json(unbalanced)},
        )
        yield dg.AssetCheckResult(
            check_name="files_readable",
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"files_rejected": dg.MetadataValue.json([str(error) for error in errors])},
        )
        yield dg.AssetCheckResult(
            check_name="no_rejects",
            passed=not metadata["records_rejected"],
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "records_rejected": metadata["records_rejected"],
                "rejects_table": spec.rejects_table,
                "sample_rejects": dg.MetadataValue.json([list(map(str, row)) for row in samples]),
            },
        )
        yield dg.AssetCheckResult(
            check_name="no_schema_drift",
            passed=not result.unknown_columns,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"unknown_columns": dg.MetadataValue.json(result.unknown_columns)},
        )
        yield dg.AssetCheckResult(
            check_name="landing_files_recognised",
            passed=not ignored,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"not_loaded": dg.MetadataValue.json([[entry.path, entry.reason] for entry in ignored])},
        )
        for outcome in outcomes:
            yield gx_check_result(outcome)

    return raw_entity


def lake_written(con, spec: EntitySpec, days: list[date]) -> dict:
    """Spark mode: the run's days of the raw table written to the lake; the metadata saying so. DuckDB: the engine."""
    if run_engine() != "spark":
        return {"engine": "duckdb"}
    written = write_days(con, spec.schema, spec.entity, days, lake_dir())
    return {
        "engine": "spark",
        "lake_path": dg.MetadataValue.path(str(table_dir(lake_dir(), spec.schema, spec.entity))),
        "lake_days_written": sum(1 for rows in written.values() if rows),
        "lake_rows_written": sum(written.values()),
    }


@cache
def raw_assets() -> list[dg.AssetsDefinition]:
    """One asset per source entity, built when the definitions load (once per process)."""
    return [build_raw_asset(spec) for spec in ENTITIES]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=raw_assets())
