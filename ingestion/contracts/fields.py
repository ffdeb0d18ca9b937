"""The vocabulary of a raw entity's typed contract: every field the platform reads, with its type, range and how it
is found in the raw record.

A source package declares its entities' fields with the constructors below (`text`, `integer`, `iso_time`, ...).
From that one declaration come the loader's quarantine rules (`ingestion.contracts.rules`), the GX suite
(`ingestion.expectations`) and the staging models' typed values (`ingestion.contracts.dbt` writes them into the
`raw_field` dbt macro), so that a record the loader accepts is one that every staging cast reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

# What a value must be (docs/data_quality.md describes each):
#   text, lower, upper: a scalar (string, number or boolean), trimmed; blank is missing; lower/upper fold case;
#   int32, int64: a whole number written as digits (no fraction, exponent or sign other than "-") in the width;
#   decimal: digits with an optional fraction of up to 12 digits;
#   boolean: true or false (JSON booleans, or the words in any case);
#   iso_time: an ISO-8601 date or date-time, with an optional zone offset (none means UTC);
#   epoch_seconds: a Unix time in whole seconds;
#   currency: an ISO 4217 code the source's minor-unit table knows (any case, stored lower-case);
#   minor_units, decimal_minor_units: a non-fractional (decimal: up to 12 decimals) amount in the minor unit of the
#     record's currency, converted to the major unit by the table's exponent;
#   reference: a vendor id, or the expanded object carrying it in `id` (Stripe's expandable fields);
#   text_list: an array of scalars; object: a JSON object; array: a JSON array.
Kind = Literal[
    "text",
    "lower",
    "upper",
    "int32",
    "int64",
    "decimal",
    "boolean",
    "iso_time",
    "epoch_seconds",
    "currency",
    "minor_units",
    "decimal_minor_units",
    "reference",
    "text_list",
    "object",
    "array",
]
SCALAR_KINDS = frozenset(
    {
        "text",
        "lower",
        "upper",
        "int32",
        "int64",
        "decimal",
        "boolean",
        "iso_time",
        "epoch_seconds",
        "currency",
        "minor_units",
        "decimal_minor_units",
    }
)
# How late a time may be: `record` and `event` times at most a day after the load (a later one is a broken clock);
# `schedule` times (a trial end, a due date) up to the end of 2099.
TimeRole = Literal["record", "event", "schedule"]


@dataclass(frozen=True)
class Var:
    """A dbt var of dbt_project.yml (`vars:`), read by the loader and by dbt from the same file."""

    name: str


@dataclass(frozen=True)
class ElementWhere:
    """The element of the array at `array` whose `key` holds `value` (for Typeform, the answer whose field `ref` is
    the configured one): the field is read inside it. Two such elements make the record ambiguous (rejected)."""

    array: str
    key: str
    value: str | Var
    # What the element is, for the messages ("answer to the NPS question").
    label: str


@dataclass(frozen=True)
class Field:
    """One field of a raw entity's contract."""

    name: str
    kind: Kind
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    # lower: the known values; `on_unknown` says whether another value is rejected or only reported (a GX warning).
    values: tuple[str, ...] = ()
    on_unknown: Literal["reject", "warn"] = "warn"
    # iso_time and epoch_seconds: the latest plausible value.
    time_role: TimeRole = "event"
    # Where the raw value is: a column of the raw table (CSV and usage events), else the JSON path `path`
    # (default: the name) in `payload`, or inside each element of the array `within`, or inside `element`.
    column: str | None = None
    path: str | None = None
    within: str | None = None
    element: ElementWhere | None = None
    # Money: the field holding the record's currency (same object), and its currency -> exponent table.
    currency_field: str | None = None
    minor_units: Mapping[str, int] | None = field(default=None, compare=False, hash=False)
    # currency: also needs an exchange rate (dbt_project/seeds/fx_rates.csv) to be converted to USD.
    needs_rate: bool = False
    # A warning (GX) above this many minor units: a likely unit mistake that still loads.
    warn_above: int | None = None
    description: str = ""

    @property
    def json_path(self) -> str:
        return "$." + (self.path or self.name.split("[].")[-1])

    @property
    def label(self) -> str:
        """The field as messages name it: the vendor's path, or the CSV column."""
        return self.name


def _field(name: str, kind: Kind, **options) -> Field:
    return Field(name=name, kind=kind, **options)


def text(name: str, **options) -> Field:
    return _field(name, "text", **options)


def lower(name: str, values: tuple[str, ...] | list[str] = (), **options) -> Field:
    """Text compared case-insensitively (enums, emails): trimmed and lower-cased."""
    return _field(name, "lower", values=tuple(values), **options)


def upper(name: str, **options) -> Field:
    return _field(name, "upper", **options)


def integer(name: str, bits: Literal[32, 64] = 64, **options) -> Field:
    return _field(name, "int32" if bits == 32 else "int64", **options)


def count(name: str, **options) -> Field:
    """A non-negative 32-bit whole number (replies, minutes, quantities)."""
    return _field(name, "int32", minimum=0, **options)


def decimal(name: str, **options) -> Field:
    return _field(name, "decimal", **options)


def boolean(name: str, **options) -> Field:
    return _field(name, "boolean", **options)


def iso_time(name: str, **options) -> Field:
    return _field(name, "iso_time", **options)


def epoch_seconds(name: str, **options) -> Field:
    return _field(name, "epoch_seconds", **options)


def currency(name: str, table: Mapping[str, int], **options) -> Field:
    return _field(name, "currency", minor_units=table, **options)


def amount(name: str, currency_field: str, table: Mapping[str, int], **options) -> Field:
    """A whole amount in the minor unit of the record's currency (Stripe's `amount`, `unit_amount`)."""
    return _field(name, "minor_units", currency_field=currency_field, minor_units=table, **options)


def decimal_amount(name: str, currency_field: str, table: Mapping[str, int], **options) -> Field:
    """Stripe's `unit_amount_decimal`: minor units with up to 12 decimal places, as a string."""
    return _field(name, "decimal_minor_units", currency_field=currency_field, minor_units=table, **options)


def reference(name: str, **options) -> Field:
    return _field(name, "reference", **options)


def text_list(name: str, **options) -> Field:
    return _field(name, "text_list", **options)


def json_object(name: str, **options) -> Field:
    return _field(name, "object", **options)


def json_array(name: str, **options) -> Field:
    return _field(name, "array", **options)


def within(array: str, *fields: Field) -> tuple[Field, ...]:
    """Fields of every element of the array at `array` (named `<array>[].<field>`)."""
    return tuple(
        replace(
            f,
            name=f"{array}[].{f.name}",
            path=f.path or f.name,
            within=array,
            currency_field=f"{array}[].{f.currency_field}" if f.currency_field else None,
        )
        for f in fields
    )


def in_element(element: ElementWhere, prefix: str, *fields: Field) -> tuple[Field, ...]:
    """Fields of the one element that `element` picks (named `<prefix>.<field>`)."""
    return tuple(
        replace(
            f,
            name=f"{prefix}.{f.name}",
            path=f.path or f.name,
            element=element,
            currency_field=f"{prefix}.{f.currency_field}" if f.currency_field else None,
        )
        for f in fields
    )


def columns(*fields: Field) -> tuple[Field, ...]:
    """Fields that are columns of the raw table (CSV columns, usage-event columns), named as the column."""
    return tuple(replace(f, column=f.column or f.name) for f in fields)
