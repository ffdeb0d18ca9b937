"""A contract field as SQL: the raw text of the value and its typed value, in DuckDB's and Spark's dialects.

The typed value is one expression per field and dialect. The loader rejects a record whose field has a value whose
typed value is NULL (`ingestion.contracts.rules`), and staging selects exactly the same expression (the generated
`raw_field` dbt macro), so staging never meets a value it cannot type, and never turns one into NULL silently.
Every typed expression is total: it returns NULL rather than raise, on any input.

Placeholders `__VAR_<name>__` stand for a dbt var as a SQL string literal: the loader substitutes the value from
dbt_project.yml (`substitute_vars`), the dbt macro renders `var(...)` (`ingestion.contracts.dbt`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from ingestion.contracts.fields import ElementWhere, Field, Var

Dialect = Literal["duckdb", "spark"]

# The element of an array, as the lambda's variable in the loader and as the unnested column in staging.
ELEMENT = "element"
# An ISO-8601 date or date-time as both engines read it: date, optional time (minutes, seconds, fraction up to
# nanoseconds, truncated to microseconds) and optional zone (Z or an offset).
ISO_TIME_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
ZONE_SUFFIX_PATTERN = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
INT_DIGITS = {"int32": 10, "int64": 19}
EPOCH_DIGITS = 11  # up to year 5138: more digits are milliseconds or microseconds
DECIMAL_PATTERN = r"-?[0-9]{1,24}(\.[0-9]{1,12})?"
_VAR = re.compile(r"__VAR_([a-z0-9_]+)__")


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def literal(value: str | Var) -> str:
    return f"__VAR_{value.name}__" if isinstance(value, Var) else sql_string(value)


def key_literal(key: str) -> str:
    """An object key as SQL: a string literal, or a dbt var's placeholder as it is (a key the var names)."""
    return key if _VAR.fullmatch(key) else sql_string(key)


def path_sql(dialect: Dialect, path: str) -> str:
    """A JSON path as SQL: a string literal; a path with a key named by a dbt var (`metadata.__VAR_<name>__`)
    becomes the concatenation that puts the var's value there as one key (quoted in DuckDB's JSONPath)."""
    if not _VAR.search(path):
        return sql_string(path)
    pieces = []
    for piece in re.split(r"(__VAR_[a-z0-9_]+__)", path):
        if _VAR.fullmatch(piece):
            pieces.append(f"""'"' || {piece} || '"'""" if dialect == "duckdb" else piece)
        elif piece:
            pieces.append(sql_string(piece))
    return "(" + " || ".join(pieces) + ")"


def substitute_vars(sql: str, values: Mapping[str, object]) -> str:
    """The loader's SQL: each var placeholder becomes the var's value (from dbt_project.yml) as a string literal."""
    return _VAR.sub(lambda match: sql_string(str(values[match.group(1)])), sql)


def jinja_vars(sql: str) -> str:
    """The dbt macro's SQL: each var placeholder becomes the rendered `var(...)`, quoted the same way."""
    return _VAR.sub(lambda match: f"'{{{{ var('{match.group(1)}') | string | replace(\"'\", \"''\") }}}}'", sql)


def full_match(dialect: Dialect, text: str, pattern: str) -> str:
    if dialect == "duckdb":
        return f"regexp_full_match({text}, {sql_string(pattern)})"
    return f"({text} rlike {sql_string('^' + pattern + '$')})"


# --- where the raw value is -----------------------------------------------------------------------------------


def json_text(dialect: Dialect, base: str, path: str) -> str:
    """The JSON value at `path` as text (strings unquoted, other values as JSON text; NULL when missing or null)."""
    if dialect == "duckdb":
        return f"({base} ->> {path_sql(dialect, path)})"
    return f"get_json_object({base}, {path_sql(dialect, path)})"


def json_value(dialect: Dialect, base: str, path: str) -> str:
    if dialect == "duckdb":
        return f"json_extract({base}, {path_sql(dialect, path)})"
    return f"get_json_object({base}, {path_sql(dialect, path)})"


def elements_where(dialect: Dialect, element: ElementWhere, base: str = "payload") -> str:
    """The list of elements the `ElementWhere` picks (as JSON)."""
    wanted = literal(element.value)
    if dialect == "duckdb":
        return (
            f"list_filter(json_extract({base}, {sql_string('$.' + element.array + '[*]')}), "
            f"lambda picked: picked ->> {sql_string('$.' + element.key)} = {wanted})"
        )
    return (
        f"filter(from_json(get_json_object({base}, {sql_string('$.' + element.array)}), 'array<string>'), "
        f"picked -> get_json_object(picked, {sql_string('$.' + element.key)}) = {wanted})"
    )


def element_where(dialect: Dialect, element: ElementWhere, base: str = "payload") -> str:
    if dialect == "duckdb":
        return f"{elements_where(dialect, element, base)}[1]"
    return f"element_at({elements_where(dialect, element, base)}, 1)"


def field_base(dialect: Dialect, f: Field) -> str:
    """The JSON the field's path is read from: the record, an array element, or the picked element."""
    if f.within is not None:
        return ELEMENT
    if f.element is not None:
        return element_where(dialect, f.element)
    return "payload"


def raw_text(dialect: Dialect, f: Field, base: str | None = None) -> str:
    """The field's raw value as text: a column of the raw table, or the value at its JSON path."""
    if f.column is not None:
        return column(dialect, f.column)
    return json_text(dialect, base or field_base(dialect, f), f.json_path)


def column(dialect: Dialect, name: str) -> str:
    """A column of the raw table, quoted (Spark SQL quotes identifiers with backticks; double quotes are text)."""
    return f"`{name}`" if dialect == "spark" else f'"{name}"'


# --- the typed value ------------------------------------------------------------------------------------------


def _padded(dialect: Dialect, text: str, pattern: str) -> tuple[str, str]:
    """(a match of `pattern` with spaces around, the text to cast). DuckDB's casts skip surrounding spaces, so its
    text is not trimmed: `trim` is a copy per value, and on usage events it is most of the cost of the rules;
    Spark's text is trimmed."""
    if dialect == "duckdb":
        return full_match(dialect, text, f" *{pattern} *"), text
    return full_match(dialect, f"trim({text})", pattern), f"trim({text})"


def _int(dialect: Dialect, text: str, digits: int, sql_type: str) -> str:
    matches, value = _padded(dialect, text, f"-?[0-9]{{1,{digits}}}")
    return f"case when {matches} then try_cast({value} as {sql_type}) end"


def _decimal(dialect: Dialect, text: str) -> str:
    matches, value = _padded(dialect, text, DECIMAL_PATTERN)
    return f"case when {matches} then try_cast({value} as decimal(38, 12)) end"


def _iso_time(dialect: Dialect, text: str) -> str:
    matches, value = _padded(dialect, text, ISO_TIME_PATTERN)
    if dialect == "duckdb":
        # A time with an offset converts to UTC; one without is UTC already (whatever the session's time zone).
        zone = sql_string(ZONE_SUFFIX_PATTERN.removesuffix("$") + " *$")
        parsed = (
            f"case when regexp_matches({value}, {zone}) "
            f"then timezone('UTC', try_cast({value} as timestamptz)) else try_cast({value} as timestamp) end"
        )
    else:
        # Spark converts an offset to the session time zone (UTC, set by the profile) and reads a time without
        # one in it.
        parsed = f"try_cast({value} as timestamp)"
    return f"case when {matches} then {parsed} end"


def _epoch(dialect: Dialect, text: str) -> str:
    seconds = _int(dialect, text, EPOCH_DIGITS, "bigint")
    if dialect == "duckdb":
        return f"make_timestamp(({seconds}) * 1000000)"
    return f"timestamp_seconds({seconds})"


def minor_unit_divisor(f: Field, currency_text: str) -> str:
    """10 ** exponent of the record's currency, from the field's minor-unit table (2 when it is not listed)."""
    table = f.minor_units or {}
    code = f"lower(trim({currency_text}))"
    branches = " ".join(
        f"when {code} in ({', '.join(sql_string(c) for c in sorted(c for c, e in table.items() if e == exponent))}) "
        f"then {10**exponent}"
        for exponent in sorted(set(table.values()) - {2})
    )
    return f"case {branches} else 100 end"


def typed(dialect: Dialect, f: Field, sibling: Mapping[str, Field] | None = None, base: str | None = None) -> str:
    """The field's typed value (NULL when absent or when the value is not of the field's kind)."""
    text = raw_text(dialect, f, base)
    kind = f.kind
    if kind == "text":
        return f"nullif(trim({text}), '')"
    if kind in ("lower", "currency"):
        return f"lower(nullif(trim({text}), ''))"
    if kind == "upper":
        return f"upper(nullif(trim({text}), ''))"
    if kind in INT_DIGITS:
        return _int(dialect, text, INT_DIGITS[kind], "integer" if kind == "int32" else "bigint")
    if kind == "decimal":
        return _decimal(dialect, text)
    if kind == "boolean":
        return f"case lower(trim({text})) when 'true' then true when 'false' then false end"
    if kind == "iso_time":
        return _iso_time(dialect, text)
    if kind == "epoch_seconds":
        return _epoch(dialect, text)
    if kind in ("minor_units", "decimal_minor_units"):
        assert sibling is not None and f.currency_field in sibling, f"{f.name}: currency field not in the contract"
        currency = raw_text(dialect, sibling[f.currency_field], base)
        number = _int(dialect, text, 19, "bigint") if kind == "minor_units" else _decimal(dialect, text)
        return f"cast({number} as double) / {minor_unit_divisor(f, currency)}"
    if kind == "reference":
        # The expanded object's `id` where the value is an object that has one, else the value itself.
        nested = json_text(dialect, base or field_base(dialect, f), f.json_path + ".id")
        return f"case when {nested} is not null then nullif(trim({nested}), '') else nullif(trim({text}), '') end"
    if kind == "text_list":
        path = f.json_path + "[*]"
        if dialect == "duckdb":
            return f"coalesce(json_extract_string({base or field_base(dialect, f)}, {path_sql(dialect, path)}), [])"
        whole = json_value(dialect, base or field_base(dialect, f), f.json_path)
        return f"coalesce(from_json({whole}, 'array<string>'), array())"
    if kind in ("object", "array"):
        if f.column is not None:
            return column(dialect, f.column)
        return json_value(dialect, base or field_base(dialect, f), f.json_path)
    raise ValueError(f"unknown kind {kind}")
