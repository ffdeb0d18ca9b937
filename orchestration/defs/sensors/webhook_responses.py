"""Survey responses in near real time: when the webhook receiver (ingestion/webhooks) appends to a day's Typeform
or Delighted response file, load that day and rebuild only what a detractor alert needs, then alert and open the
follow-up case.

The sensor looks at the webhook sources' response files of today and yesterday (UTC; the receiver writes each
response to its day) every 15 seconds and requests one run per changed day. The run loads that partition of
raw_typeform/responses and raw_delighted/survey_responses (an unchanged file is skipped by its checksum), rebuilds
fct_survey_responses and the models upstream of it from the raw tables already in the warehouse, and runs the
detractor alerts and the follow-up cases (actions/followup_cases: a Zendesk ticket for the new detractor within a
minute, or its dry-run record; the account's risk tier and the comment's theme are those of the last daily run,
a new comment's theme stays empty until then); the daily run still rebuilds everything else.
"""

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.actions.assets import detractor_alerts, followup_cases
from orchestration.defs.dbt.assets import dbt_models
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import LandingZoneResource

# Dagster 1.13 exports no public name for what `define_asset_job` returns; only the annotation needs it, so the
# private module is imported for type checkers only, never at run time.
if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

RAW_TYPEFORM_RESPONSES = dg.AssetKey(["raw_typeform", "responses"])
RAW_DELIGHTED_RESPONSES = dg.AssetKey(["raw_delighted", "survey_responses"])
# The landing folders the webhook receiver appends to.
WEBHOOK_FOLDERS = ("typeform/responses", "delighted/survey_responses")
SURVEY_RESPONSES = dg.AssetKey(["marts", "fct_survey_responses"])
RECENT_DAYS = 2  # today and yesterday (UTC)
SENSOR_INTERVAL_SECONDS = 15


def changed_days(landing: LandingZoneResource, cursor: str | None, now: datetime) -> tuple[list[str], str]:
    """The recent days whose webhook response file changed since `cursor` (size and modification time of each
    source's file), and the new cursor. The first evaluation only takes note of the files: what was there before is
    the daily run's job."""
    recent = sorted((now - timedelta(days=offset)).date().isoformat() for offset in range(RECENT_DAYS))
    seen: dict[str, list[int]] = json.loads(cursor) if cursor else {}
    current = {}
    for folder in WEBHOOK_FOLDERS:
        for day in recent:
            path = landing.path / folder / f"{day}.jsonl"
            if path.exists():
                stat = path.stat()
                current[f"{folder}/{day}"] = [stat.st_size, stat.st_mtime_ns]
    changed = sorted(
        {
            name.rsplit("/", 1)[1]
            for name, signature in current.items()
            if cursor is not None and seen.get(name) != signature
        }
    )
    return changed, json.dumps(current, sort_keys=True)


def run_key(day: str, cursor: str) -> str:
    """The day and the signatures of its files: a new append makes a new key, the same files the same key."""
    signatures = json.loads(cursor)
    return day + "".join(
        f":{name.split('/')[0]}:{size}:{mtime}"
        for name, (size, mtime) in sorted(signatures.items())
        if name.endswith(day)
    )


def realtime_job(name: str, raw_responses: list[dg.AssetKey], description: str) -> "UnresolvedAssetJobDefinition":
    """One day of survey tools' responses loaded (`raw_responses`), fct_survey_responses and the models upstream
    of it rebuilt, the new detractors alerted and their follow-up cases opened: the job a near-real-time sensor
    runs."""
    return dg.define_asset_job(
        name=name,
        selection=(
            dg.AssetSelection.assets(*raw_responses)
            | (dg.AssetSelection.assets(SURVEY_RESPONSES).upstream() & dg.AssetSelection.assets(dbt_models()))
            | dg.AssetSelection.assets(detractor_alerts, followup_cases)
        ),
        partitions_def=daily_partitions(),
        description=description,
        executor_def=dg.in_process_executor,
    )


@cache
def realtime_job_and_sensor() -> tuple["UnresolvedAssetJobDefinition", dg.SensorDefinition]:
    """The job and its sensor, built when the definitions load (the partitions read the settings)."""
    realtime_responses_job = realtime_job(
        "realtime_survey_responses",
        [RAW_TYPEFORM_RESPONSES, RAW_DELIGHTED_RESPONSES],
        "One day of Typeform and Delighted responses loaded, fct_survey_responses rebuilt, new detractors alerted "
        "and their follow-up cases opened: what the webhook sensor runs when responses arrive.",
    )

    @dg.sensor(
        name="webhook_responses_sensor",
        job=realtime_responses_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Every 15 s: when today's or yesterday's Typeform or Delighted response file grows (the webhook receiver "
            "appends to it), runs realtime_survey_responses for that day, so a detractor reaches Slack within a minute."
        ),
    )
    def webhook_responses_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource):
        days, cursor = changed_days(landing, context.cursor, datetime.now(UTC))
        context.update_cursor(cursor)
        if not days:
            return dg.SkipReason("no new webhook responses")
        return [dg.RunRequest(partition_key=day, run_key=run_key(day, cursor)) for day in days]

    return realtime_responses_job, webhook_responses_sensor


@dg.definitions
def defs() -> dg.Definitions:
    job, sensor = realtime_job_and_sensor()
    return dg.Definitions(jobs=[job], sensors=[sensor])
