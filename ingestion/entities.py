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
class EntitySpec:
    source: str
    entity: str
    layout: Layout
    description: str
    # JSON layouts: the vendor fields that make the primary key, tried in order (first non-empty wins).
    primary_key_fields: tuple[str, ...] = ("id",)
    # CSV layout: the exact header columns; the first one is the primary key.
    csv_columns: tuple[str, ...] = field(default_factory=tuple)

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
    def landing_subdir(self) -> str:
        return f"{self.source}/{self.entity}"

    @property
    def primary_key_description(self) -> str:
        if self.layout == "csv":
            return self.csv_columns[0]
        return " else ".join(self.primary_key_fields)
