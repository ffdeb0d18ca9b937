"""Freshness checks on every raw table and on the marts, and the sensor that evaluates them between runs."""

import warnings
from datetime import timedelta

import dagster as dg

from ingestion.registry import ENTITIES
from orchestration.defs.analytics.assets import churn_risk_backtest, comment_themes, nps_revenue_per_point
from orchestration.defs.dbt import assets as dbt_assets
from orchestration.defs.serving.assets import marts_published

# The one knob. The daily schedule loads yesterday's partition at 02:00 UTC and rebuilds the marts in the same
# run, so a healthy asset is never more than 24 hours plus one run's duration since its last update.
FRESHNESS_TOLERANCE = timedelta(hours=26)

# Keys as orchestration/defs/ingestion/assets.py builds them (a test checks that every raw asset is covered).
RAW_ASSET_KEYS = [dg.AssetKey([spec.schema, spec.entity]) for spec in ENTITIES]
# The marts by the step that builds them: one group of checks per step, so that a blocking check never makes
# a later step wait on an earlier one that waits on it (Dagster would split the dbt step to break the cycle).
MARTS_ASSET_KEYS_BY_STEP = [
    [spec.key for spec in dbt_assets.dbt_models.specs if spec.group_name == "marts"],
    [spec.key for spec in dbt_assets.dbt_partitioned_marts.specs if spec.group_name == "marts"],
    [churn_risk_backtest.key, nps_revenue_per_point.key, *sorted(comment_themes.keys)],
]
MARTS_ASSET_KEYS = [key for keys in MARTS_ASSET_KEYS_BY_STEP for key in keys]


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


raw_freshness_checks = last_update_checks(RAW_ASSET_KEYS)
marts_freshness_checks = [check for keys in MARTS_ASSET_KEYS_BY_STEP for check in last_update_checks(keys)]
# The serving file BI tools read: stale when no run has published for a day.
serving_freshness_checks = last_update_checks([marts_published.key])

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    # Runs a check again once it could have turned overdue; a failed check waits for the asset's next update.
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=[*raw_freshness_checks, *marts_freshness_checks, *serving_freshness_checks],
        name="freshness_checks_sensor",
        minimum_interval_seconds=300,  # a check turns overdue hours after its last pass, not seconds
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
