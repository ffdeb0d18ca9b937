"""The daily partitions shared by every source entity and by the incremental dbt models.

Built when the definitions load (`daily_partitions()`, once per process), never at import: the start date reads
`NPS_PARTITIONS_START` and, without it, the landing folder.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

import dagster as dg

import settings
from ingestion.landing import dates_present
from ingestion.registry import ENTITIES


def partitions_start() -> date:
    """`NPS_PARTITIONS_START` if set; else the day of the earliest landing file, so that a new install does not
    show years of partitions as missing; with no landing file yet, 1 January two years back (a fixed yearly start
    rather than "today minus 730 days" keeps partition keys stable from day to day)."""
    configured = settings.value("NPS_PARTITIONS_START")
    if configured:
        return date.fromisoformat(configured)
    present = dates_present(settings.landing_dir(), ENTITIES)
    return present[0] if present else date(datetime.now(UTC).year - 2, 1, 1)


@cache
def daily_partitions() -> dg.DailyPartitionsDefinition:
    # end_offset=1 includes today's partition: vendors land records updated today.
    return dg.DailyPartitionsDefinition(start_date=partitions_start().isoformat(), timezone="UTC", end_offset=1)
