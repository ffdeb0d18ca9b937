"""What an entity is: where its files land, how they are read, its primary key and its typed contract.

Each source package (`ingestion/<source>/`) declares its entities with `EntitySpec`; `ingestion.registry`
collects them. The contract (`fields`, in the vocabulary of `ingestion.contracts.fields`, and the cross-field
`rules`) is the one place a field's type and rules live: the loader's quarantine, the GX suite and the staging
models' typed values all come from it. The DuckDB tables they load into are described in docs/raw_layer.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ingestion.contracts.fields import Field

# How a landing file is read:
#   json_object: one vendor object per line, kept whole in `payload JSON` with `record_id` extracted;
#   csv: header row, every named column kept as text;
#   segment_tracks: high-volume events, read by DuckDB's JSON reader straight into typed columns.
Layout = Literal["json_object", "csv", "segment_tracks"]


@dataclass(frozen=True)
class RowRule:
    """A record-level rule: records for which `bad_when` is true go to the entity's rejects table.

    Both are DuckDB SQL over the raw record (JSON layouts: `payload`; CSV: the text columns; usage events: the
    raw columns). `reason` is a text expression that names the field and the offending value. Field rules come
    from the contract (`ingestion.contracts.rules`); an entity declares only the rules that span fields.
    """

    bad_when: str
    reason: str
    # What the rule asks, in words (docs/data_quality.md).
    description: str = ""


def names(text: str) -> tuple[str, ...]:
    """Field names written as whitespace-separated words (long vendor field lists stay readable)."""
    return tuple(text.split())


@dataclass(frozen=True)
class AccountRef:
    """The account a record belongs to: the typed value of contract field `field`, looked up in one of the account
    domains of `ingestion.expectations` (our account id, a Stripe customer, a Zendesk organization)."""

    field: str
    domain: str = "account"


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
    # CSV layout: the columns of csv_columns a file may leave out (added later; read as null where absent).
    optional_csv_columns: tuple[str, ...] = field(default_factory=tuple)
    # The typed contract: every field the platform reads (ingestion/contracts/fields.py).
    fields: tuple[Field, ...] = field(default_factory=tuple)
    # Rules that span several fields, tried after the field rules (the first that matches names the reason).
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    # How the GX suite and its samples name the primary key, the contract field that dates a record, and the
    # account a record belongs to (ingestion/expectations.py).
    key_name: str = "id"
    record_time: str = ""
    account: AccountRef | None = None
    # Usage events: how many days either side of the loaded partitions an earlier copy of a key is looked for
    # (a re-sent event); None looks through the whole table. A bound keeps a daily load's cost off the history.
    resend_window_days: int | None = None

    def contract_field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.source}/{self.entity} has no contract field {name}")

    @property
    def key(self) -> str:
        return f"{self.source}.{self.entity}"

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
