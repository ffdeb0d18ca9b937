"""An entity's contract as the loader's record rules (DuckDB SQL over the staged record), first failing rule wins.

For every field: the objects on its path hold none of the keys it reads twice; a required field is present; a
value is a single value where one belongs; its typed value (`ingestion.contracts.render.typed`) is not NULL; it is
in its range or set; a currency is known (and has an exchange rate where the field needs one); a time is
plausible. Then the entity's own cross-field rules. The same rules give the GX suite's `contract` expectation
(`ingestion.expectations`) and the webhook receiver's answer (`ingestion.contracts.check`). What they read outside
the code is in `ingestion.contracts.settings`.
The rules on the records' structure (keys given twice, lists, picked elements) are in
`ingestion.contracts.structure`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ingestion.contracts.fields import SCALAR_KINDS, Field
from ingestion.contracts.render import (
    ELEMENT,
    EPOCH_DIGITS,
    elements_where,
    json_text,
    json_value,
    literal,
    path_sql,
    raw_text,
    sql_string,
    substitute_vars,
    typed,
)
from ingestion.contracts.settings import ContractSettings
from ingestion.contracts.structure import duplicate_key_rule, structure_rules
from ingestion.entities import EntitySpec, RowRule

# Nothing our users measure happened before 2000: an earlier time is a zeroed or defaulted clock.
EARLIEST_PLAUSIBLE = "2000-01-01"
# A record or event time more than this many days after the load is a broken clock.
FUTURE_TOLERANCE_DAYS = 1
# The current UTC time in a rule (the record checker reads it from a table instead: see ingestion/contracts/check.py).
NOW_UTC = "timezone('UTC', now())"
# A scheduled time (trial end, due date) after this is not a date anyone scheduled.
LATEST_SCHEDULED = "2100-01-01"
# Beyond this many minor units no real amount exists.
MAX_AMOUNT_MINOR_UNITS = 10**14


def present(text: str) -> str:
    """The value is there and not blank (spaces only); cheap: `trim` only runs on values that start with one."""
    return f"(({text}) <> '' and (left({text}, 1) <> ' ' or trim({text}) <> ''))"


def _shown(text: str) -> str:
    """A value as a message shows it: quoted, cut at 80 characters."""
    return f"""('"' || left({text}, 80) || case when length({text}) > 80 then '..."' else '"' end)"""


def _words(f: Field) -> str:
    return {
        "int32": "a whole number",
        "int64": "a whole number",
        "decimal": "a decimal number",
        "boolean": "true or false",
        "iso_time": "an ISO-8601 timestamp",
        "epoch_seconds": "a Unix time in whole seconds",
        "minor_units": "a whole amount in minor units",
        "decimal_minor_units": "an amount in minor units (at most 12 decimals)",
    }[f.kind]


TYPED_KINDS = frozenset(
    {"int32", "int64", "decimal", "boolean", "iso_time", "epoch_seconds", "minor_units", "decimal_minor_units"}
)


def _type_reason(f: Field, label: str, text: str) -> str:
    reason = f"{label} || ' ' || {_shown(text)} || ' is not {_words(f)}'"
    if f.kind in ("int32", "int64", "minor_units"):
        bits = 32 if f.kind == "int32" else 64
        return (
            f"case when regexp_full_match(trim({text}), '-?[0-9]+') "
            f"then {label} || ' ' || trim({text}) || ' does not fit a {bits}-bit whole number' else {reason} end"
        )
    if f.kind == "epoch_seconds":
        looks_like = sql_string(f"-?[0-9]{{{EPOCH_DIGITS + 1},}}")
        return (
            f"{reason} || case when regexp_full_match(trim({text}), {looks_like}) "
            "then ' (it looks like milliseconds or microseconds)' else '' end"
        )
    return reason


def _shape_rules(f: Field, base: str, label: str, layout: str, text: str):
    """A single value where one belongs; an object, a list or a list of values where those belong."""
    json = layout == "json_object"
    if json and f.kind not in ("object", "array", "text_list", "reference"):
        kind = f"json_type({base}, {path_sql('duckdb', f.json_path)})"
        yield (
            f"{kind} in ('OBJECT', 'ARRAY')",
            f"{label} || ' is ' || case {kind} when 'OBJECT' then 'an object' else 'a list' end "
            "|| ', not a single value'",
        )
    elif layout == "segment_tracks" and f.column is not None and f.kind in SCALAR_KINDS:
        # Usage events: the reader puts an object or list found where a value belongs into the column as its text.
        starts = f"case when left({text}, 1) = ' ' then left(ltrim({text}), 1) else left({text}, 1) end"
        yield (
            f"{starts} in ('{{', '[') and coalesce(json_valid({text}), false)",
            f"{label} || ' is an object or a list, not a single value'",
        )
    if f.kind == "reference" and json:
        kind = f"json_type({base}, {path_sql('duckdb', f.json_path)})"
        identifier = f"json_type({base}, {path_sql('duckdb', f.json_path + '.id')})"
        # A vendor id is a string (Stripe's "cus_..."), or the expanded object that carries it in `id`.
        yield (
            f"coalesce({kind}, 'NULL') not in ('NULL', 'VARCHAR') "
            f"and not ({kind} = 'OBJECT' and coalesce({identifier}, 'NULL') = 'VARCHAR' "
            f"and nullif(trim({json_text('duckdb', base, f.json_path + '.id')}), '') is not null)",
            f"{label} || ' is neither an id nor an object with an id'",
        )
    if f.kind in ("object", "array") and (json or f.column is not None):
        wanted = "OBJECT" if f.kind == "object" else "ARRAY"
        value = json_value("duckdb", base, f.json_path) if f.column is None else text
        # Most values are what they should be: their first character says so without parsing them.
        opening = "{" if f.kind == "object" else "["
        yield (
            f"case when left(({value})::varchar, 1) = '{opening}' then false "
            f"else coalesce(json_type({value}), 'NULL') not in ('NULL', '{wanted}') end",
            f"{label} || ' is not {'an object' if f.kind == 'object' else 'a list'}'",
        )
    if f.kind == "text_list" and json:
        whole = json_value("duckdb", base, f.json_path)
        items = f"json_extract({base}, {path_sql('duckdb', f.json_path + '[*]')})"
        yield (
            f"coalesce(json_type({whole}), 'NULL') not in ('NULL', 'ARRAY') "
            f"or coalesce(len(list_filter({items}, lambda item: json_type(item) in ('OBJECT', 'ARRAY'))), 0) > 0",
            f"{label} || ' is not a list of single values'",
        )


def _range_rules(f: Field, label: str, text: str, value: str):
    if f.kind == "minor_units":
        low = 0 if f.minimum is None else f.minimum
        number = f"try_cast(trim({text}) as hugeint)"
        words = "is negative" if low == 0 else f"is below {low}"
        yield f"({value}) is not null and {number} < {low}", f"{label} || ' ' || trim({text}) || ' {words}'"
        yield (
            f"({value}) is not null and {number} >= {MAX_AMOUNT_MINOR_UNITS}",
            f"{label} || ' ' || trim({text}) || ' is 10^14 minor units or more (no real amount is)'",
        )
        return
    if f.kind == "decimal_minor_units":
        number = f"try_cast(trim({text}) as decimal(38, 12))"
        yield f"({value}) is not null and {number} < 0", f"{label} || ' ' || trim({text}) || ' is negative'"
        return
    if f.minimum is not None:
        yield f"({value}) < {f.minimum}", f"{label} || ' ' || trim({text}) || ' is below {f.minimum}'"
    if f.maximum is not None:
        yield f"({value}) > {f.maximum}", f"{label} || ' ' || trim({text}) || ' is above {f.maximum}'"


def _value_rules(f: Field, label: str, text: str, value: str, settings: ContractSettings):
    """Known values: a set that rejects, a currency (with a rate where needed), a plausible time."""
    if f.values and f.on_unknown == "reject":
        yield (
            f"({value}) is not null and ({value}) not in ({', '.join(sql_string(v) for v in f.values)})",
            f"{label} || ' ' || {_shown(text)} || ' is not one of {', '.join(f.values)}'",
        )
    if f.kind == "currency":
        table = f.minor_units or {}
        yield (
            f"({value}) is not null and ({value}) not in ({', '.join(sql_string(c) for c in sorted(table))})",
            f"{label} || ' ' || {_shown(text)} || ' is not an ISO 4217 currency code'",
        )
        if f.needs_rate:
            rated = ", ".join(sql_string(c) for c in sorted(settings.rated_currencies)) or "null"
            yield (
                f"({value}) is not null and ({value}) not in ({rated})",
                f"{label} || ' ' || ({value}) || ' has no exchange rate: add it to dbt_project/seeds/fx_rates.csv "
                "(the record is loaded on the next run)'",
            )
    if f.kind in ("iso_time", "epoch_seconds"):
        if f.time_role == "schedule":
            latest, words = f"timestamp '{LATEST_SCHEDULED}'", f"after {LATEST_SCHEDULED}"
        else:
            latest = f"{NOW_UTC} + interval {FUTURE_TOLERANCE_DAYS} day"
            words = "more than a day in the future (a broken clock)"
        yield (
            f"({value}) < timestamp '{EARLIEST_PLAUSIBLE}'",
            f"{label} || ' ' || trim({text}) || ' is before {EARLIEST_PLAUSIBLE} (a zeroed clock)'",
        )
        yield f"({value}) > {latest}", f"{label} || ' ' || trim({text}) || ' is {words}'"


def _scalar_rules(
    f: Field,
    fields: Mapping[str, Field],
    base: str,
    label: str,
    layout: str,
    settings: ContractSettings,
    computed: tuple[str, str] | None = None,
):
    """(bad_when, reason) pairs of one field over `base` (the record's payload, an array element, or the picked
    element), in the order they are tried; `label` is a SQL text expression naming the field where it is, and
    `computed` the columns that hold its raw text and typed value (the projection), when it has them."""
    text, value = computed or (raw_text("duckdb", f, base), typed("duckdb", f, fields, base))
    if f.required:
        if f.kind in ("object", "array"):
            missing = f"coalesce(json_type({json_value('duckdb', base, f.json_path)}), 'NULL') = 'NULL'"
        else:
            missing = f"not coalesce({present(text)}, false)"
        yield missing, f"'missing required field ' || {label}"
    yield from _shape_rules(f, base, label, layout, text)
    rule = _value_rule(f, label, text, value, settings)
    if rule is not None:
        yield rule


def _single_reference_check(f: Field, value: str) -> str | None:
    """A predicate true exactly when a present value passes every value check of `f`, reading the typed value once
    (DuckDB evaluates an expression as often as a query names it: on usage events that is the cost of the load)."""
    if f.kind in ("iso_time", "epoch_seconds"):
        latest = (
            f"timestamp '{LATEST_SCHEDULED}'"
            if f.time_role == "schedule"
            else f"{NOW_UTC} + interval {FUTURE_TOLERANCE_DAYS} day"
        )
        return f"({value}) between timestamp '{EARLIEST_PLAUSIBLE}' and {latest}"
    if f.kind in ("int32", "int64", "decimal"):
        if f.minimum is not None and f.maximum is not None:
            return f"({value}) between {f.minimum} and {f.maximum}"
        if f.minimum is not None:
            return f"({value}) >= {f.minimum}"
        if f.maximum is not None:
            return f"({value}) <= {f.maximum}"
        return f"({value}) is not null"
    if f.kind == "boolean":
        return f"({value}) is not null"
    if f.kind == "lower" and f.values and f.on_unknown == "reject":
        return f"({value}) in ({', '.join(sql_string(v) for v in f.values)})"
    return None


def _value_rule(f: Field, label: str, text: str, value: str, settings: ContractSettings) -> tuple[str, str] | None:
    """One rule for everything a present value must be (its type, range, set, currency, plausible time): the
    reason names the first check it fails."""
    checks = []
    if f.kind in TYPED_KINDS:
        checks.append((f"({value}) is null", _type_reason(f, label, text)))
    checks += _range_rules(f, label, text, value)
    checks += _value_rules(f, label, text, value, settings)
    if not checks:
        return None
    single = _single_reference_check(f, value)
    failing = f"not coalesce({single}, false)" if single else "(" + " or ".join(f"({c})" for c, _ in checks) + ")"
    reason = "case " + " ".join(f"when coalesce({c}, false) then {r}" for c, r in checks) + " end"
    return f"{present(text)} and {failing}", reason


def _field_rules(
    f: Field,
    fields: Mapping[str, Field],
    layout: str,
    settings: ContractSettings,
    computed: tuple[str, str] | None = None,
) -> Iterator[RowRule]:
    if f.within is not None:
        # Each element of the array is checked; the reason names the first offending element by its position.
        elements = f"json_extract(payload, {sql_string('$.' + f.within + '[*]')})"
        label = f"'{f.within}[' || (position - 1) || '].{f.path}'"
        for bad_when, reason in _scalar_rules(f, fields, ELEMENT, label, layout, settings):
            reasons = (
                f"list_filter(list_transform({elements}, lambda {ELEMENT}, position: "
                f"case when coalesce({bad_when}, false) then {reason} end), lambda reason: reason is not null)"
            )
            yield RowRule(bad_when=f"coalesce(len({reasons}), 0) > 0", reason=f"{reasons}[1]")
        return
    base, label, guard = "payload", sql_string(f.name), None
    if f.element is not None:
        picked = elements_where("duckdb", f.element)
        base = f"{picked}[1]"
        label = f"'{f.element.array}[{f.element.key}=' || {literal(f.element.value)} || '].{f.path}'"
        # A field of the picked element is required only where the element is there.
        guard = f"len({picked}) > 0"
    for bad_when, reason in _scalar_rules(f, fields, base, label, layout, settings, computed):
        if guard and reason.startswith("'missing required field"):
            bad_when = f"{guard} and {bad_when}"
        # An absent value makes most predicates NULL: that is not a broken rule (`required` says when it is).
        yield RowRule(bad_when=f"coalesce({bad_when}, false)", reason=reason)


@dataclass(frozen=True)
class Contract:
    """An entity's rules, and the columns they read: each field's raw text and typed value, computed once per
    record by a projection over the raw rows (`select *, <projection> from ...`), then read by every rule."""

    projection: tuple[tuple[str, str], ...]
    rules: tuple[RowRule, ...]

    def over(self, relation: str) -> str:
        """`relation` (a table or a subquery) with the projection's columns added."""
        if not self.projection:
            return relation
        columns = ", ".join(f"{sql} as {name}" for name, sql in self.projection)
        return f"(select *, {columns} from {relation})"


def contract_rules(spec: EntitySpec, settings: ContractSettings, *, projected: bool = True) -> Contract:
    """Every record rule of the entity, in the order they are tried, with dbt vars substituted. `projected`: the
    rules read each field's raw text and typed value from the projection (bulk loads, where DuckDB would otherwise
    compute them once per rule); without it they compute them inline (a handful of records, where the projection's
    own cost dominates)."""
    fields = {f.name: f for f in spec.fields}
    rules: list[RowRule] = []
    projection: list[tuple[str, str]] = []
    if spec.layout == "json_object":
        rules += structure_rules(spec)
    else:
        for f in spec.fields:
            if f.kind == "object" and f.column is not None:
                # Usage events: of `context`, the contract reads `groupId` (the account); `properties` pass through.
                read = {"groupId"} if f.column == "context" else set()
                rule = duplicate_key_rule(f'"{f.column}"', f.name, read, text_first=True)
                if rule is not None:
                    rules.append(rule)
    for number, f in enumerate(spec.fields):
        computed = None
        if f.within is None and projected:
            computed = (f'"_raw_{number}"', f'"_typed_{number}"')
            projection += [
                (computed[0], raw_text("duckdb", f)),
                (computed[1], typed("duckdb", f, fields)),
            ]
        rules += _field_rules(f, fields, spec.layout, settings, computed)
    rules += spec.rules
    # Only the columns some rule reads (without the optimizer, as in the webhook's prepared checks, every column
    # of a projection is computed).
    used = " ".join(rule.bad_when + rule.reason for rule in rules)
    projection = [(name, sql) for name, sql in projection if name in used]
    return Contract(
        projection=tuple((name, substitute_vars(sql, settings.vars)) for name, sql in projection),
        rules=tuple(
            RowRule(substitute_vars(rule.bad_when, settings.vars), substitute_vars(rule.reason, settings.vars))
            for rule in rules
        ),
    )


def contract_fingerprint(spec: EntitySpec, settings: ContractSettings) -> str:
    """Changes when any rule of the entity changes (code, a dbt var, the currencies with a rate): files loaded
    under other rules are validated again."""
    digest = hashlib.sha256()
    contract = contract_rules(spec, settings)
    for name, sql in contract.projection:
        digest.update(name.encode() + b"\0" + sql.encode() + b"\0")
    for rule in contract.rules:
        digest.update(rule.bad_when.encode() + b"\0" + rule.reason.encode() + b"\0")
    return digest.hexdigest()[:16]
