"""SimpleSAT in near real time. SimpleSAT publishes no webhook specification, so a sensor polls its search API:
every `NPS_SIMPLESAT_POLL_SECONDS` (default 120) it asks for the responses modified since its last look (one
`POST /api/v1/responses/search` page, `date_type: modified`, re-reading `OVERLAP` before the cursor for responses
the API shows late) and requests one `realtime_simplesat_responses` run per UTC day they land on. That run fetches
through the connector (its own modified-date cursor, docs/api_sources.md), loads the day, rebuilds
fct_survey_responses and alerts the new detractors.

The sensor only runs requests when SimpleSAT is in API mode (`NPS_SOURCE_MODE_SIMPLESAT=api`). Its first tick only
takes note of the time: what was there before is the daily run's job. A response seen twice (the overlap) makes the
same run key, so Dagster starts no second run for it.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

import settings
from ingestion.api.connector import explain_failure
from ingestion.api.http import vendor_session
from ingestion.api.mirror import iso, landing_day, parse_time
from ingestion.api.settings import source_mode, vendor_settings
from ingestion.simplesat.api import modified_between
from orchestration.defs.resources import LandingZoneResource
from orchestration.defs.sensors.webhook_responses import realtime_job

RAW_SIMPLESAT_RESPONSES = dg.AssetKey(["raw_simplesat", "responses"])
DEFAULT_POLL_SECONDS = 120
OVERLAP = timedelta(seconds=60)


def poll_seconds() -> int:
    raw = (settings.value("NPS_SIMPLESAT_POLL_SECONDS") or "").strip()
    try:
        seconds = int(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        raise ValueError(f"NPS_SIMPLESAT_POLL_SECONDS must be a whole number of seconds, not {raw!r}") from None
    if seconds < 15:
        raise ValueError(f"NPS_SIMPLESAT_POLL_SECONDS must be at least 15, not {raw!r}")
    return seconds


def changed_days(objects: list[dict], now: datetime) -> dict[str, str]:
    """The landing day of each response (its modified UTC day, else created, as the connector files it) and the
    latest change on that day."""
    latest: dict[str, str] = {}
    for obj in objects:
        moment = parse_time(obj.get("modified")) or parse_time(obj.get("created"))
        day = landing_day(moment, now).isoformat()
        stamp = iso(moment) if moment is not None else "unknown"
        latest[day] = max(latest.get(day, ""), stamp)
    return latest


def poll(landing_dir, cursor: str | None, now: datetime) -> tuple[list[dg.RunRequest], str]:
    """The runs to request for the responses modified since `cursor`, and the new cursor."""
    new_cursor = json.dumps({"checked_until": iso(now)})
    if cursor is None:
        return [], new_cursor
    since = parse_time(json.loads(cursor).get("checked_until")) or now
    vendor = vendor_settings("simplesat", landing_dir)
    session, _ = vendor_session(vendor)
    try:
        count, page = modified_between(vendor, session, since - OVERLAP, now)
    except Exception as error:  # the connector's sentence: vendor, endpoint, what to do; the key masked
        raise explain_failure(vendor, error) from None
    finally:
        session.close()
    days = changed_days(page, now)
    if count > len(page):  # more changed than one page shows: they are recent, so today's file has some
        days.setdefault(now.date().isoformat(), f"{iso(now)}+{count}")
    requests = [
        dg.RunRequest(partition_key=day, run_key=f"simplesat:{day}:{latest}", tags={"nps/trigger": "simplesat_poll"})
        for day, latest in sorted(days.items())
    ]
    return requests, new_cursor


def simplesat_job_and_sensor():
    job = realtime_job(
        "realtime_simplesat_responses",
        [RAW_SIMPLESAT_RESPONSES],
        "One day of SimpleSAT responses fetched and loaded, fct_survey_responses rebuilt, new detractors alerted: "
        "what the SimpleSAT polling sensor runs when responses change.",
    )
    interval = poll_seconds()

    @dg.sensor(
        name="simplesat_poll_sensor",
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Every {interval} s (NPS_SIMPLESAT_POLL_SECONDS), with SimpleSAT in API mode: asks SimpleSAT for the "
            "responses modified since the last look and runs realtime_simplesat_responses for their day, so a "
            "detractor reaches Slack within the poll interval plus one run."
        ),
    )
    def simplesat_poll_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource):
        if source_mode("simplesat", lambda name: dg.EnvVar(name).get_value()) != "api":
            return dg.SkipReason("SimpleSAT is not in API mode (NPS_SOURCE_MODE_SIMPLESAT=api): nothing to poll")
        requests, cursor = poll(landing.path, context.cursor, datetime.now(UTC))
        context.update_cursor(cursor)
        return requests or dg.SkipReason("no SimpleSAT response changed since the last look")

    return job, simplesat_poll_sensor


@dg.definitions
def defs() -> dg.Definitions:
    job, sensor = simplesat_job_and_sensor()
    return dg.Definitions(jobs=[job], sensors=[sensor])
