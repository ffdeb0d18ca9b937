"""The daily run: yesterday's partition of every source, then the dbt models, at 02:00 UTC."""

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.partitions import daily_partitions

# Dagster 1.13 exports no public name for what `define_asset_job` returns; only the annotation needs it, so the
# private module is imported for type checkers only, never at run time.
if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


@cache
def daily_pipeline_and_schedule() -> tuple["UnresolvedAssetJobDefinition", dg.ScheduleDefinition]:
    """The job and its schedule, built when the definitions load (the partitions read the settings)."""
    daily_pipeline = dg.define_asset_job(
        name="daily_pipeline",
        selection=dg.AssetSelection.all(),
        partitions_def=daily_partitions(),
        description="Load a day (or a range, as one run) of every source into DuckDB, then build the dbt models.",
        executor_def=dg.in_process_executor,
    )

    @dg.schedule(
        job=daily_pipeline,
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day at 02:00 UTC: load yesterday's landing files and rebuild the marts.",
    )
    def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=day, partition_key=day)

    return daily_pipeline, daily_schedule


@dg.definitions
def defs() -> dg.Definitions:
    job, schedule = daily_pipeline_and_schedule()
    return dg.Definitions(jobs=[job], schedules=[schedule])
