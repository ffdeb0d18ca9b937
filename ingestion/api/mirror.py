"""The connectors' mirror: every fetched vendor object, one row per object and landing day, and its export to the
landing files the loader reads.

A fetched object becomes a row (`mirror_row`) keyed by entity, primary key and landing day, holding the object as
the API returned it (JSON text, untouched) and the time of that version. dlt merges rows on that key into a DuckDB
file beside the cursor state, so an object fetched twice (an incremental overlap, a retried page) is kept once,
latest version. After each successful load, `export_pending` rewrites the landing file of every (entity, day) the
load touched: written to a temporary file, fsynced and renamed over the old one, so the loader never sees a half
file, and it keeps lines of the old file that the mirror does not hold (a file landed by an export, by hand).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingestion.contracts.rules import EARLIEST_PLAUSIBLE
from ingestion.entities import EntitySpec
from ingestion.landing import landing_file, write_atomic
from ingestion.registry import get_entity

MIRROR_DATASET = "mirror"
MIRROR_TABLE = "objects"
EXPORT_LOG = "nps_export.exported_loads"

# dlt hints shared by every connector resource: merge on (entity, record_id, landing_date), latest version first.
MIRROR_HINTS: dict[str, Any] = {
    "table_name": MIRROR_TABLE,
    "write_disposition": "merge",
    "primary_key": ["entity", "record_id", "landing_date"],
    "max_table_nesting": 0,
    "columns": {
        "entity": {"data_type": "text", "nullable": False},
        "record_id": {"data_type": "text", "nullable": False},
        "landing_date": {"data_type": "text", "nullable": False},
        "version_at": {"data_type": "text", "nullable": False, "dedup_sort": "desc"},
        "payload": {"data_type": "text", "nullable": False},
    },
}

_EARLIEST_DAY = date.fromisoformat(str(EARLIEST_PLAUSIBLE)[:10])


def parse_time(value: Any) -> datetime | None:
    """A vendor time: ISO-8601 text (no zone = UTC) or Unix seconds. None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value.strip():
            moment = datetime.fromisoformat(value.strip())
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def landing_day(changed_at: datetime | None, fetched_at: datetime) -> date:
    """The UTC day the object was created or last changed; the fetch day when that time is missing, unreadable,
    before 2000 or in the future, so the loader's row rules quarantine the object with a reason instead of it
    being dropped here or landing in a file dated in the future."""
    today = fetched_at.astimezone(UTC).date()
    if changed_at is None:
        return today
    day = changed_at.date()
    return day if _EARLIEST_DAY <= day <= today else today


def record_key(spec: EntitySpec, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for name in spec.primary_key_fields:
        value = obj.get(name)
        if value is not None and not isinstance(value, dict | list) and str(value) != "":
            return str(value)
    return None


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def mirror_row(
    spec: EntitySpec, obj: Any, *, changed_at: datetime | None, fetched_at: datetime, version_at: datetime | None = None
) -> dict[str, str]:
    """One mirror row. An object without a primary key keeps a key made of its content, so it still lands and
    the loader quarantines it ("record has no primary key")."""
    payload = dumps(obj)
    key = record_key(spec, obj)
    if key is None:
        key = "_no_key_" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return {
        "entity": spec.entity,
        "record_id": key,
        "landing_date": landing_day(changed_at, fetched_at).isoformat(),
        "version_at": iso(version_at or changed_at or fetched_at),
        "payload": payload,
    }


def mapper(
    source: str, entity: str, cursor_field: str, fetched_at: datetime, *, version_is_fetch: bool = False
) -> Callable[[Any], dict[str, Any]]:
    """A dlt `map` step turning a vendor object into its mirror row, landed on the day of `cursor_field` (the
    object's update time; Stripe: its creation). The row keeps the cursor field too: dlt declares the incremental
    cursor as a column of the table. `version_is_fetch`: objects without an update time (Stripe) are as of the
    fetch."""
    spec = get_entity(source, entity)

    def to_row(obj: Any) -> dict[str, Any]:
        cursor = obj.get(cursor_field) if isinstance(obj, dict) else None
        row: dict[str, Any] = mirror_row(
            spec,
            obj,
            changed_at=parse_time(cursor),
            fetched_at=fetched_at,
            version_at=fetched_at if version_is_fetch else None,
        )
        row[cursor_field] = cursor if isinstance(cursor, str | int) and not isinstance(cursor, bool) else None
        return row

    return to_row


# --- export to the landing folder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LandedFile:
    relative_path: str
    records: int
    changed: bool


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchall()[0][0]
    )


def export_pending(mirror_path: Path, source: str, landing_dir: Path) -> list[LandedFile]:
    """Rewrite the landing file of every (entity, day) touched by loads not exported yet, then mark them exported.
    A crash in between exports them again next time (same content: the files do not change)."""
    with duckdb.connect(str(mirror_path)) as con:
        con.execute("create schema if not exists nps_export")
        con.execute(f"create table if not exists {EXPORT_LOG} (load_id varchar primary key, exported_at timestamp)")
        if not _table_exists(con, MIRROR_DATASET, "_dlt_loads"):
            return []
        pending = [
            row[0]
            for row in con.execute(
                f"select load_id from {MIRROR_DATASET}._dlt_loads where status = 0 "
                f"and load_id not in (select load_id from {EXPORT_LOG}) order by load_id"
            ).fetchall()
        ]
        if not pending:
            return []
        landed: list[LandedFile] = []
        if _table_exists(con, MIRROR_DATASET, MIRROR_TABLE):
            placeholders = ", ".join("?" for _ in pending)
            touched = con.execute(
                f"select distinct entity, landing_date from {MIRROR_DATASET}.{MIRROR_TABLE} "
                f"where _dlt_load_id in ({placeholders}) order by 1, 2",
                pending,
            ).fetchall()
            for entity, day in touched:
                rows = con.execute(
                    f"select record_id, payload from {MIRROR_DATASET}.{MIRROR_TABLE} "
                    "where entity = ? and landing_date = ? order by version_at, record_id",
                    [entity, day],
                ).fetchall()
                lf = landing_file(landing_dir, get_entity(source, entity), date.fromisoformat(day))
                changed = write_day_file(lf.path, lf.spec, rows)
                landed.append(LandedFile(lf.relative_path, len(rows), changed))
        now = datetime.now(UTC).replace(tzinfo=None)
        con.executemany(f"insert or replace into {EXPORT_LOG} values (?, ?)", [[load_id, now] for load_id in pending])
    return landed


def write_day_file(path: Path, spec: EntitySpec, rows: Iterable[tuple[str, str]]) -> bool:
    """The day's file: the old file's lines the mirror does not hold (same order), then the mirror's objects.
    Written beside the target, fsynced and renamed over it; untouched when the content is the same."""
    fresh = list(rows)
    held = {record_id for record_id, _ in fresh}
    kept: list[str] = []
    old = path.read_bytes() if path.exists() else None
    if old is not None:
        for line in old.decode("utf-8", errors="surrogateescape").splitlines():
            if not line.strip():
                continue
            try:
                key = record_key(spec, json.loads(line))
            except ValueError:
                key = None
            # Unreadable or keyless lines stay, for the loader to quarantine with their reason.
            if key is None or key not in held:
                kept.append(line)
    content = "".join(f"{line}\n" for line in [*kept, *(payload for _, payload in fresh)])
    data = content.encode("utf-8", errors="surrogateescape")
    if old == data:
        return False
    write_atomic(path, data)
    return True
