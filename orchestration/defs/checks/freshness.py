"""Freshness checks on every raw table and on the marts, and the sensor that evaluates them between runs."""

import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from functools import cache

import dagster as dg

from ingestion.expectations import DOMAIN_TABLES
from ingestion.registry import ENTITIES
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
from orchestration.defs.serving.assets import marts_published

# The one knob. The daily schedule loads yesterday's partition at 02:00 UTC and rebuilds the marts in the same
# run, so a healthy asset is never more than 24 hours plus one run's duration since its last update.
FRESHNESS_TOLERANCE = timedelta(hours=26)

# Keys as orchestration/defs/ingestion/assets.py builds them (a test checks that every raw asset is covered).
RAW_ASSET_KEYS = [dg.AssetKey([spec.schema, spec.entity]) for spec in ENTITIES]
# The raw tables other raw steps read for their account check, and so run after: their blocking checks are a step
# of their own, or that step would wait on the others that wait on it (and Dagster would split the dbt step).
ACCOUNT_TABLE_KEYS = [
    dg.AssetKey([spec.schema, spec.entity])
    for spec in ENTITIES
    if any((spec.source, spec.entity) in tables for tables in DOMAIN_TABLES.values())
]


@cache
def marts_asset_keys_by_step() -> list[list[dg.AssetKey]]:
    """The marts by the step that builds them: one group of checks per step, so that a blocking check never makes
    a later step wait on an earlier one that waits on it (Dagster would split the dbt step to break the cycle)."""
    return [
        [spec.key for spec in dbt_models().specs if spec.group_name == "marts"],
        [
            churn_risk_backtest.key,
            churn_rule_weights.key,
            nps_revenue_per_point.key,
            nps_changes_mart.key,
            followup_effect_mart.key,
            experiment_results_mart.key,
            *sorted(comment_themes.keys),
        ],
        [feedback_to_feature.key],  # after the Jira read-back, itself after the theme marts
    ]


def marts_asset_keys() -> list[dg.AssetKey]:
    return [key for keys in marts_asset_keys_by_step() for key in keys]


# The check's name and metadata keys are those of Dagster's `build_last_update_freshness_checks`, which these checks
# replace: the check history of an existing instance continues, and the freshness sensor reads `fresh_until`.
FRESHNESS_CHECK = "freshness_check"
FRESH_UNTIL = "dagster/fresh_until_timestamp"
LAST_UPDATED = "dagster/last_updated_timestamp"


def in_words(seconds: float) -> str:
    """`1 day, 2 hours, 3 minutes, 4 seconds` (nothing that is zero); under a second, `less than a second`."""
    whole = int(seconds)
    if whole < 1:
        return "less than a second"
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count > 1 else ''}")
    return ", ".join(parts)


def freshness_description(last_update: float | None, now: float, tolerance: timedelta = FRESHNESS_TOLERANCE) -> str:
    """What a freshness check result says. Dagster's own check wrote "The last update was  ago" when the check
    ran within a second of the update (its `seconds_in_words` gives an empty string there): the daily run's."""
    if last_update is None:
        return "Asset has never been materialized."
    age, allowed = in_words(now - last_update), in_words(tolerance.total_seconds())
    if now - last_update <= tolerance.total_seconds():
        return f"Asset is fresh: the last update was {age} ago, within the allowed {allowed}."
    return f"Asset is overdue for an update: the last update was {age} ago, more than the allowed {allowed}."


def last_update_checks(keys: list[dg.AssetKey], name: str) -> list[dg.AssetChecksDefinition]:
    """Fails when an asset has no materialization (of any partition) within FRESHNESS_TOLERANCE.

    Not `build_time_partition_freshness_checks`: with `end_offset=1` the newest partition is today's, still
    open, and that check would expect it before the schedule can load it. Not `build_last_update_freshness_checks`
    either (superseded by `FreshnessPolicy`, and its message reads "The last update was  ago" when the check
    follows the update within a second): the same check, written with the public API. `FreshnessPolicy` reports
    a state but runs no check that can fail a run and alert. ERROR severity and blocking make a failed check fail
    its run, so it reaches the run-failure alert; in the daily run the checks follow the materializations they
    check and pass (blocking also holds the dbt build until the raw check has passed).
    """
    tolerance = FRESHNESS_TOLERANCE.total_seconds()
    params = dg.MetadataValue.json({"lower_bound_delta_seconds": tolerance, "timezone": "UTC"})
    specs = [
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=key,
            blocking=True,
            metadata={"dagster/freshness_params": params},
            description=f"Fails when the asset was last updated more than {in_words(tolerance)} ago.",
        )
        for key in keys
    ]

    @dg.multi_asset_check(specs=specs, name=f"freshness_check_{name}", can_subset=True)
    def freshness_check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        for check_key in sorted(context.selected_asset_check_keys, key=lambda key: key.to_user_string()):
            now = time.time()
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=check_key.asset_key), limit=1
            ).records
            updated = records[0].timestamp if records else None
            passed = updated is not None and now - updated <= tolerance
            metadata = {"dagster/freshness_params": params}
            if updated is not None:
                metadata[LAST_UPDATED] = dg.MetadataValue.timestamp(updated)
            if passed:  # when it can turn overdue: the freshness sensor runs the check again from then on
                metadata[FRESH_UNTIL] = dg.MetadataValue.timestamp(updated + tolerance)
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=FRESHNESS_CHECK,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=freshness_description(updated, now),
                metadata=metadata,
            )

    return [freshness_check]


@cache
def freshness_checks() -> dict[str, list[dg.AssetChecksDefinition]]:
    """The checks on the raw tables, the marts and the serving file, built when the definitions load."""
    return {
        "raw": [
            *last_update_checks(ACCOUNT_TABLE_KEYS, "raw_accounts"),
            *last_update_checks([key for key in RAW_ASSET_KEYS if key not in ACCOUNT_TABLE_KEYS], "raw"),
        ],
        "marts": [
            check
            for step, keys in enumerate(marts_asset_keys_by_step(), start=1)
            for check in last_update_checks(keys, f"marts_{step}")
        ],
        # The serving file BI tools read: stale when no run has published for a day.
        "serving": last_update_checks([marts_published().key], "serving"),
    }


def all_freshness_checks() -> list[dg.AssetChecksDefinition]:
    return [check for checks in freshness_checks().values() for check in checks]


@cache
def dagster_freshness_sensor() -> dg.SensorDefinition:
    """Dagster's sensor for these checks, not registered: ours calls it and keeps what it asks for of the assets
    that were built. Superseded by `FreshnessPolicy` (see last_update_checks); kept without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=all_freshness_checks(), name="dagster_freshness_checks_sensor"
        )


@cache
def freshness_checks_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="freshness_checks_sensor",
        minimum_interval_seconds=300,  # a check turns overdue hours after its last pass, not seconds
        asset_selection=dg.AssetSelection.checks(*all_freshness_checks()),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def freshness_checks_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        """Runs a check again once it could have turned overdue (Dagster's `build_sensor_for_freshness_checks`,
        called as is: it keeps the cursor); a failed check waits for the asset's next update. Unlike Dagster's, it
        leaves alone the assets that were never built: on a new instance there is nothing to be stale yet, and a
        check run that can only fail would raise an alert and hold the run queue ahead of the analyst's first run
        or backfill."""
        asked = dagster_freshness_sensor()(context)
        due = [
            key
            for key in (asked.asset_check_keys or [] if isinstance(asked, dg.RunRequest) else [])
            if context.instance.get_latest_materialization_event(key.asset_key) is not None
        ]
        if due:
            return dg.RunRequest(asset_check_keys=due)
        return dg.SkipReason("no freshness check is due: each is evaluating, failed, not yet overdue, or never built")

    return freshness_checks_sensor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=all_freshness_checks(), sensors=[freshness_checks_sensor()])
