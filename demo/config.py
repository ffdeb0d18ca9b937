"""Configuration of the demo data generator and the time window it covers."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

DAY = 86_400


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. The same config always yields byte-identical files."""

    accounts: int = 2000
    months: int = 12
    end_date: date | None = None  # None = yesterday (UTC)
    seed: int = 42
    events_per_account_day: float = 5.0  # mean usage events per subscribed account and day
    gzip_usage: bool = False  # usage events as segment/tracks/<day>.jsonl.gz (as Segment's S3 destination writes)

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
        if self.months < 1:
            raise ValueError("months must be at least 1")
        if self.events_per_account_day < 0:
            raise ValueError("events_per_account_day must not be negative")


def _minus_months(day: date, months: int) -> date:
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def day_start(day: date) -> int:
    """Epoch seconds of 00:00:00 UTC on `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Window:
    """The days the data covers: `months` months ending on `end` (both ends inclusive)."""

    start: date
    end: date

    @classmethod
    def from_config(cls, config: DemoConfig) -> Window:
        end = config.end_date or (datetime.now(UTC).date() - timedelta(days=1))
        return cls(start=_minus_months(end, config.months) + timedelta(days=1), end=end)

    @cached_property
    def start_ts(self) -> int:
        return day_start(self.start)

    @cached_property
    def end_ts(self) -> int:
        """Exclusive: 00:00 UTC of the day after `end`."""
        return day_start(self.end) + DAY

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1
