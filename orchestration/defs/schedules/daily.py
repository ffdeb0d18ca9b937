"""The daily run: yesterday's partition of every source, then the dbt models, at 02:00 UTC."""

from datetime import timedelta

import dagster as dg

from orchestration.defs.partitions import daily_partitions

daily_pipeline = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
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
