"""Freshness checks on every raw table and on the marts, and the sensor that evaluates them between runs."""

import warnings
from datetime import timedelta
from functools import cache

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks.sensor import (
    freshness_checks_get_evaluations_iter,
)
from dagster._time import get_current_datetime

from ingestion.registry import ENTITIES
from orchestration.defs.analytics.assets import churn_risk_backtest, comment_themes, nps_revenue_per_point
from orchestration.defs.dbt.assets import dbt_steps
from orchestration.defs.serving.assets import marts_published

# The one knob. The daily schedule loads yesterday's partition at 02:00 UTC and rebuilds the marts in the same
# run, so a healthy asset is never more than 24 hours plus one run's duration since its last update.
FRESHNESS_TOLERANCE = timedelta(hours=26)

# Keys as orchestration/defs/ingestion/assets.py builds them (a test checks that every raw asset is covered).
RAW_ASSET_KEYS = [dg.AssetKey([spec.schema, spec.entity]) for spec in ENTITIES]


@cache
def marts_asset_keys_by_step() -> list[list[dg.AssetKey]]:
    """The marts by the step that builds them: one group of checks per step, so that a blocking check never makes
    a later step wait on an earlier one that waits on it (Dagster would split the dbt step to break the cycle)."""
    steps = dbt_steps()
    return [
        [spec.key for spec in steps.models.specs if spec.group_name == "marts"],
        [spec.key for spec in steps.partitioned_marts.specs if spec.group_name == "marts"],
        [churn_risk_backtest.key, nps_revenue_per_point.key, *sorted(comment_themes.keys)],
    ]


def marts_asset_keys() -> list[dg.AssetKey]:
    return [key for keys in marts_asset_keys_by_step() for key in keys]


def last_update_checks(keys: list[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """Fails when an asset has no materialization (of any partition) within FRESHNESS_TOLERANCE.

    Not `build_time_partition_freshness_checks`: with `end_offset=1` the newest partition is today's, still
    open, and that check would expect it before the schedule can load it. ERROR severity and blocking make a
    failed check fail its run, so it reaches the run-failure alert; in the daily run the checks follow the
    materializations they check and pass (blocking also holds the dbt build until the raw check has passed).
    """
    # Both builders are superseded by `FreshnessPolicy`, which reports a state but runs no check that can fail
    # a run and alert; we keep them on purpose, without the warning at every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_last_update_freshness_checks(
            assets=keys, lower_bound_delta=FRESHNESS_TOLERANCE, severity=dg.AssetCheckSeverity.ERROR, blocking=True
        )


@cache
def freshness_checks() -> dict[str, list[dg.AssetChecksDefinition]]:
    """The checks on the raw tables, the marts and the serving file, built when the definitions load."""
    return {
        "raw": last_update_checks(RAW_ASSET_KEYS),
        "marts": [check for keys in marts_asset_keys_by_step() for check in last_update_checks(keys)],
        # The serving file BI tools read: stale when no run has published for a day.
        "serving": last_update_checks([marts_published().key]),
    }


def all_freshness_checks() -> list[dg.AssetChecksDefinition]:
    return [check for checks in freshness_checks().values() for check in checks]


@cache
def freshness_checks_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="freshness_checks_sensor",
        minimum_interval_seconds=300,  # a check turns overdue hours after its last pass, not seconds
        asset_selection=dg.AssetSelection.checks(*all_freshness_checks()),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def freshness_checks_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        """Runs a check again once it could have turned overdue (Dagster's `build_sensor_for_freshness_checks`
        logic); a failed check waits for the asset's next update. Unlike Dagster's, it leaves alone the assets that
        were never built: on a new instance there is nothing to be stale yet, and a check run that can only fail
        would raise an alert and hold the run queue ahead of the analyst's first run or backfill."""
        left_off = dg.AssetCheckKey.from_user_string(context.cursor) if context.cursor else None
        evaluations = freshness_checks_get_evaluations_iter(
            context=context,
            start_time=get_current_datetime(),
            left_off_asset_check_key=left_off,
            freshness_checks=all_freshness_checks(),
        )
        due = [
            key
            for key, should_evaluate in evaluations
            if should_evaluate and context.instance.get_latest_materialization_event(key.asset_key) is not None
        ]
        context.update_cursor(None)
        if due:
            return dg.RunRequest(asset_check_keys=due)
        return dg.SkipReason("no freshness check is due: each is evaluating, failed, not yet overdue, or never built")

    return freshness_checks_sensor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=all_freshness_checks(), sensors=[freshness_checks_sensor()])
