"""The daily partitions shared by every source entity and by the incremental dbt models."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import dagster as dg

from ingestion.landing import dates_present
from ingestion.registry import ENTITIES
from orchestration.paths import landing_dir


def partitions_start() -> date:
    """`NPS_PARTITIONS_START` if set; else 1 January two years back, or the earliest landing file if older.

    A fixed yearly start (rather than "today minus 730 days") keeps partition keys stable from day to day.
    """
    configured = os.environ.get("NPS_PARTITIONS_START")
    if configured:
        return date.fromisoformat(configured)
    default = date(datetime.now(UTC).year - 2, 1, 1)
    present = dates_present(landing_dir(), ENTITIES)
    return min([default, *present[:1]])


# end_offset=1 includes today's partition: vendors land records updated today.
daily_partitions = dg.DailyPartitionsDefinition(start_date=partitions_start().isoformat(), timezone="UTC", end_offset=1)
