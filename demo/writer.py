"""Landing files: `<landing_dir>/<source>/<entity>/<YYYY-MM-DD>.jsonl|.csv`, one per entity and UTC day.

Records are collected in memory (the small, mutable entities) and written once, sorted, so the files
are byte-identical for the same config. The file day is the UTC day the record was created or last
updated; objects that already existed before the window land in its first day (the first sync).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

from demo.config import Window
from demo.timestamps import utc_day


def dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


class LandingWriter:
    def __init__(self, landing_dir: Path, window: Window):
        self.landing_dir = landing_dir
        self.window = window
        # (source, entity) -> day -> key -> (sort ts, line or row)
        self._json: dict[tuple[str, str], dict[date, dict[str, tuple[int, str]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self._csv: dict[tuple[str, str], dict[date, dict[str, tuple[int, list[str]]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self._headers: dict[tuple[str, str], tuple[str, ...]] = {}

    def _day(self, ts: int) -> date | None:
        if ts >= self.window.end_ts:
            return None
        return utc_day(max(ts, self.window.start_ts))

    def put_json(self, source: str, entity: str, ts: int, key: str | int, record: dict) -> None:
        """Add one version of an object, as of `ts`; per day only the latest version is kept."""
        day = self._day(ts)
        if day is None:
            return
        versions = self._json[(source, entity)][day]
        current = versions.get(str(key))
        if current is None or current[0] <= ts:
            versions[str(key)] = (ts, dumps(record))

    def declare_csv(self, source: str, entity: str, header: tuple[str, ...]) -> None:
        self._headers[(source, entity)] = header

    def put_csv(self, source: str, entity: str, ts: int, key: str, row: dict[str, str | int | None]) -> None:
        day = self._day(ts)
        if day is not None:
            header = self._headers[(source, entity)]
            values = ["" if row.get(column) is None else str(row[column]) for column in header]
            self._csv[(source, entity)][day][key] = (ts, values)

    def flush(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (source, entity), days in sorted(self._json.items()):
            folder = self.landing_dir / source / entity
            folder.mkdir(parents=True, exist_ok=True)
            total = 0
            for day, records in sorted(days.items()):
                lines = [line for _, line in sorted(records.values())]
                (folder / f"{day.isoformat()}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
                total += len(lines)
            counts[f"{source}/{entity}"] = total
        for (source, entity), header in sorted(self._headers.items()):
            folder = self.landing_dir / source / entity
            folder.mkdir(parents=True, exist_ok=True)
            total = 0
            for day, rows in sorted(self._csv[(source, entity)].items()):
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                writer.writerow(header)
                ordered = sorted(rows.items(), key=lambda item: (item[1][0], item[0]))
                writer.writerows(values for _, (_, values) in ordered)
                (folder / f"{day.isoformat()}.csv").write_text(buffer.getvalue(), encoding="utf-8")
                total += len(ordered)
            counts[f"{source}/{entity}"] = total
        return counts
