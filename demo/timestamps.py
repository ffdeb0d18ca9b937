"""Vendor timestamp formats and calendar arithmetic on epoch seconds (UTC)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from functools import lru_cache

from demo.config import DAY

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=8192)
def _day(days_since_epoch: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch)


@lru_cache(maxsize=8192)
def _day_text(days_since_epoch: int) -> str:
    return _day(days_since_epoch).isoformat()


def iso_z(ts: int) -> str:
    """Zendesk / Typeform / survey exports: 2026-03-01T14:03:22Z."""
    days, seconds = divmod(ts, DAY)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def utc_day(ts: int) -> date:
    return _day(ts // DAY)


def add_months(ts: int, months: int) -> int:
    """Same day-of-month and time, clamped to the month's last day (how Stripe bills)."""
    moment = datetime.fromtimestamp(ts, UTC)
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def business_minutes(start: int, end: int, open_hour: int = 9, close_hour: int = 17) -> int:
    """Minutes between two instants that fall in Mon-Fri business hours (UTC schedule)."""
    if end <= start:
        return 0
    total = 0
    day = start - start % DAY
    while day < end:
        if _day(day // DAY).weekday() < 5:
            lo = max(start, day + open_hour * 3600)
            hi = min(end, day + close_hour * 3600)
            if hi > lo:
                total += hi - lo
        day += DAY
    return total // 60
