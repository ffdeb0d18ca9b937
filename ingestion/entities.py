"""What an entity is: where its files land, how they are read, and its primary key.

Each source package (`ingestion/<source>/`) declares its entities with `EntitySpec`; `ingestion.registry`
collects them. The DuckDB tables they load into are described in docs/raw_layer.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingestion.expectations import EARLIEST_PLAUSIBLE, FUTURE_TOLERANCE_DAYS, QualitySuite

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


def names(text: str) -> tuple[str, ...]:
    """Field names written as whitespace-separated words (long vendor field lists stay readable)."""
    return tuple(text.split())


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


def plausible_time(value_sql: str, name: str, *, epoch_seconds: bool = False) -> RowRule:
    """A time that cannot be read, is before 2000 (a zeroed or defaulted clock) or is more than a day ahead of
    the load (a broken clock or a bad export) is not a record. `value_sql` is ISO-8601 text (a missing zone
    is read as UTC), or Unix seconds with `epoch_seconds`. An absent value is left to `required`."""
    if epoch_seconds:
        parsed, kind = f"to_timestamp(try_cast({value_sql} as bigint))", "a Unix time in seconds"
    else:
        parsed, kind = f"try_cast({value_sql} as timestamptz)", "an ISO-8601 timestamp"
    return RowRule(
        bad_when=(
            f"({value_sql}) is not null and coalesce({parsed} < timestamptz '{EARLIEST_PLAUSIBLE}' "
            f"or {parsed} > now() + interval {FUTURE_TOLERANCE_DAYS} day, true)"
        ),
        reason=(
            f"'{name} ' || case when {parsed} is null then '\"' || ({value_sql}) || '\" is not {kind}' "
            f"else ({value_sql}) || case when {parsed} < timestamptz '{EARLIEST_PLAUSIBLE}' "
            f"then ' is before {EARLIEST_PLAUSIBLE}' else ' is more than a day in the future' end end"
        ),
    )


def whole_numbers(*fields: str) -> tuple[RowRule, ...]:
    """JSON fields (dotted paths) that, when present, must be whole numbers (ids, counts, minutes)."""
    return tuple(
        RowRule(
            bad_when=(
                f"coalesce(json_type(json_extract(payload, '$.{name}')), 'NULL') not in ('NULL', 'UBIGINT', 'BIGINT') "
                f"and not regexp_full_match(coalesce(payload ->> '$.{name}', ''), '-?[0-9]{{1,18}}')"
            ),
            reason=f"'{name} ' || json_extract(payload, '$.{name}')::varchar || ' is not a whole number'",
        )
        for name in fields
    )


def booleans(*fields: str) -> tuple[RowRule, ...]:
    """JSON fields that, when present, must be true or false."""
    return tuple(
        RowRule(
            bad_when=(
                f"coalesce(json_type(json_extract(payload, '$.{name}')), 'NULL') not in ('NULL', 'BOOLEAN') "
                f"and lower(payload ->> '$.{name}') not in ('true', 'false')"
            ),
            reason=f"'{name} ' || json_extract(payload, '$.{name}')::varchar || ' is not true or false'",
        )
        for name in fields
    )


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    layout: Layout
    description: str
    # JSON layouts: the vendor fields that make the primary key, tried in order (first non-empty wins).
    primary_key_fields: tuple[str, ...] = ("id",)
    # JSON layouts: the vendor's documented top-level fields. Any other field is kept (in `payload`) and
    # reported as schema drift; empty means every field is expected.
    known_fields: tuple[str, ...] = field(default_factory=tuple)
    # CSV layout: the exact header columns; the first one is the primary key.
    csv_columns: tuple[str, ...] = field(default_factory=tuple)
    # Record-level rules, applied in order (the first that matches names the reason).
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    # The GX suite run over a partition once it is loaded (see ingestion/expectations.py).
    quality: QualitySuite | None = None
    # Usage events: how many days either side of the loaded partitions an earlier copy of a key is looked for
    # (a re-sent event); None looks through the whole table. A bound keeps a daily load's cost off the history.
    resend_window_days: int | None = None

    @property
    def extension(self) -> str:
        return "csv" if self.layout == "csv" else "jsonl"

    @property
    def accepts_gzip(self) -> bool:
        """Usage events may land as `.jsonl.gz` (read by DuckDB's JSON reader, which decompresses)."""
        return self.layout == "segment_tracks"

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
