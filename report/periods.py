"""Which periods are complete: a period whose last day is after the data's as-of date (the latest response) is
partial, drawn apart and never used for a recommendation.

The one definition is dbt's (macros/dates.sql `is_complete_period`, published as nps_by_period and ces_by_period
`is_complete_period`): rows read from those marts carry it and `mark` uses it. The marts without the column
(themes, SLA weeks) and the recommendations' period lists use `is_partial`, the same rule over the same as-of date
(program_summary.last_response_date); tests/report checks that both agree on every nps_by_period row.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

MONTHS = {"month": 1, "quarter": 3}


def period_end(grain: str, start: date) -> date:
    """The first day after the period (week from Monday, calendar month or quarter)."""
    if grain == "week":
        return start + timedelta(days=7)
    months = start.month - 1 + MONTHS[grain]
    return date(start.year + months // 12, months % 12 + 1, 1)


def is_partial(grain: str, start: date, as_of: date | None) -> bool:
    """True when the period's last day is after `as_of` (no as-of date: nothing is known to be partial)."""
    return as_of is not None and period_end(grain, start) > as_of + timedelta(days=1)


def mark(rows: list[dict[str, Any]], grain: str, as_of: date | None, key: str = "period_start") -> list[dict]:
    """The rows, each with `is_partial` set: from the mart's `is_complete_period` where the row has it."""
    return [
        {
            **row,
            "is_partial": (
                not row["is_complete_period"]
                if row.get("is_complete_period") is not None
                else is_partial(grain, row[key], as_of)
            ),
        }
        for row in rows
    ]


def complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if not row["is_partial"]]
