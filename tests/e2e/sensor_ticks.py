"""Evaluating a sensor of the real definitions tick by tick, as the Dagster daemon does, in an e2e test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from orchestration.defs.resources import LandingZoneResource


def ticker(
    definitions: dg.Definitions, sensor_name: str, instance: dg.DagsterInstance, landing: Path
) -> Callable[[str | None], tuple[list[dg.RunRequest], str | None]]:
    """`tick(cursor)`: one evaluation of the sensor from `cursor`, as (run requests, new cursor)."""
    sensor = definitions.resolve_sensor_def(sensor_name)

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        with dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            repository_def=definitions.get_repository_def(),
            resources={"landing": LandingZoneResource(landing_dir=str(landing))},
        ) as context:
            result = sensor.evaluate_tick(context)
        return result.run_requests or [], result.cursor

    return tick
