"""Which periods are complete: a period whose last day is after the data's as-of date (the latest response) is
partial, drawn apart and never used for a recommendation."""

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
    """The rows, each with `is_partial` set."""
    return [{**row, "is_partial": is_partial(grain, row[key], as_of)} for row in rows]


def complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if not row["is_partial"]]
