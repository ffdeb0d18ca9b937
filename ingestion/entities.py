"""What an entity is: where its files land, how they are read, and its primary key.

Each source package (`ingestion/<source>/`) declares its entities with `EntitySpec`; `ingestion.registry`
collects them. The DuckDB tables they load into are described in docs/raw_layer.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# How a landing file is read:
#   json_object: one vendor object per line, kept whole in `payload JSON` with `record_id` extracted;
#   csv: header row, every named column kept as text;
#   segment_tracks: high-volume events, read by DuckDB's JSON reader straight into typed columns.
Layout = Literal["json_object", "csv", "segment_tracks"]


@dataclass(frozen=True)
class RowRule:
    """A record-level rule: records for which `bad_when` is true go to the entity's rejects table.

    Both are SQL over the staged record (JSON layouts: `payload`; CSV: the text columns; Segment: the typed
    columns). `reason` is a text expression that names the field and the offending value.
    """

    bad_when: str
    reason: str


def required(*fields: str) -> tuple[RowRule, ...]:
    """JSON fields (dotted paths) that every record must carry, non-null."""
    return tuple(
        RowRule(
            bad_when=f"coalesce(json_type(json_extract(payload, '$.{name}')), 'NULL') = 'NULL'",
            reason=f"'missing required field {name}'",
        )
        for name in fields
    )


def is_timestamp(column: str) -> RowRule:
    """A text column that must hold an ISO-8601 timestamp (a missing zone is read as UTC)."""
    return RowRule(
        bad_when=f"try_cast({column} as timestamptz) is null",
        reason=f"'{column} ' || coalesce('\"' || {column} || '\"', 'is empty') || ' is not an ISO-8601 timestamp'",
    )


def not_in_future(value_sql: str, name: str) -> RowRule:
    """A timestamp more than a day ahead of the load is a broken clock or a bad export, not a record."""
    parsed = f"try_cast({value_sql} as timestamptz)"
    return RowRule(
        bad_when=f"{parsed} > now() + interval 1 day",
        reason=f"'{name} ' || ({value_sql}) || ' is more than a day in the future'",
    )


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    layout: Layout
    description: str
    # JSON layouts: the vendor fields that make the primary key, tried in order (first non-empty wins).
    primary_key_fields: tuple[str, ...] = ("id",)
    # CSV layout: the exact header columns; the first one is the primary key.
    csv_columns: tuple[str, ...] = field(default_factory=tuple)
    # Record-level rules, applied in order (the first that matches names the reason).
    rules: tuple[RowRule, ...] = field(default_factory=tuple)

    @property
    def extension(self) -> str:
        return "csv" if self.layout == "csv" else "jsonl"

    @property
    def schema(self) -> str:
        return f"raw_{self.source}"

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.entity}"

    @property
    def rejects_table(self) -> str:
        return f"{self.schema}.{self.entity}_rejects"

    @property
    def landing_subdir(self) -> str:
        return f"{self.source}/{self.entity}"

    @property
    def primary_key_description(self) -> str:
        if self.layout == "csv":
            return self.csv_columns[0]
        return " else ".join(self.primary_key_fields)
