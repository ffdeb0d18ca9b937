"""The contract's rules on a record's structure: an object on a field's path holds no key the contract reads twice
(which value is meant would be ambiguous), an array that holds fields is an array, and an element picked by its key
(`Element`) is there once. Part of the rules of `ingestion.contracts.rules`, which puts them first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ingestion.contracts.render import elements_where, json_value, key_literal, literal
from ingestion.entities import EntitySpec, RowRule


def duplicate_key_rule(container: str, where: str, keys: Iterable[str], text_first: bool = False) -> RowRule | None:
    """A key the contract reads given twice in its object: which value is meant is ambiguous. Only the keys that are
    read are looked at (a key the platform never reads may repeat without harm).

    `text_first`: look for each key's quoted name twice in the object's text before parsing it, and parse only the
    objects where one is. That pays where the keys are rare in the text (a usage event's small `context` and its
    `groupId`: 0.08 s instead of 0.16 s for 202,489 events), and costs where a key is common (a vendor record's
    `id`, which its nested objects repeat: the look matched all 71,753 Zendesk tickets of the `make run` demo and
    doubled the rule's time, 1.70 s instead of 0.71 s; DuckDB 2.0, this project's 2-core machine). The text must
    hold the names decoded ("group\\u0049d" is "groupId"): the usage loader's `json_extract(..., 'context')` writes
    them so."""
    keys = sorted(set(keys))
    if not keys:
        return None
    # A key may be a dbt var's placeholder (the key the var names, e.g. the account id's metadata key).
    listed = ", ".join(key_literal(key) for key in keys)
    read = f"list_filter(json_keys({container}), lambda key: key in ({listed}))"
    duplicated = f"list_filter({read}, lambda key, position: list_position({read}, key) < position)"
    # A key can only be there twice if its quoted name is in the object's text twice; `json_keys` (a parse of the
    # object) then runs only on the objects where the look finds one (CASE evaluates lazily).
    text = f"({container})::varchar"
    quoted = [f"""('"' || {key_literal(key)} || '"')""" for key in keys]
    twice = " or ".join(f"strpos(substr({text}, strpos({text}, {q}) + length({q})), {q}) > 0" for q in quoted)
    found = f"len({read}) > len(list_distinct({read}))"
    return RowRule(
        bad_when=f"coalesce(case when {twice} then {found} else false end, false)"
        if text_first
        else f"coalesce({found}, false)",
        reason=f"""'key "' || {duplicated}[1] || '" appears twice in {where}: which value is meant is ambiguous'""",
    )


def _read_keys(spec: EntitySpec) -> dict[str, set[str]]:
    """Object path -> the keys the contract reads in it ("$" is the record)."""
    keys: dict[str, set[str]] = {"$": set(spec.primary_key_fields)}
    for f in spec.fields:
        if f.column is not None:
            continue
        path = "$." + (f.within or (f.element.array if f.element else None) or f.json_path.removeprefix("$."))
        parts = path.removeprefix("$.").split(".")
        for depth in range(len(parts)):
            parent = "$" if depth == 0 else "$." + ".".join(parts[:depth])
            keys.setdefault(parent, set()).add(parts[depth])
    return keys


def structure_rules(spec: EntitySpec) -> Iterator[RowRule]:
    """Objects on a field's path hold none of the keys it reads twice; arrays that hold fields are arrays; a
    picked element is one."""
    arrays = dict.fromkeys(
        [f.within for f in spec.fields if f.within] + [f.element.array for f in spec.fields if f.element]
    )
    for parent, keys in _read_keys(spec).items():
        container = "payload" if parent == "$" else json_value("duckdb", "payload", parent)
        rule = duplicate_key_rule(container, "the record" if parent == "$" else parent.removeprefix("$."), keys)
        if rule is not None:
            yield rule
    for array in arrays:
        value = json_value("duckdb", "payload", "$." + array)
        yield RowRule(
            bad_when=f"coalesce(json_type({value}), 'NULL') not in ('NULL', 'ARRAY')",
            reason=f"'{array} is not a list'",
        )
    for element in dict.fromkeys(f.element for f in spec.fields if f.element is not None):
        picked = elements_where("duckdb", element)
        yield RowRule(
            bad_when=f"coalesce(len({picked}) > 1, false)",
            reason=(
                f"'{element.label} given ' || len({picked}) || ' times ({element.key} = ' || {literal(element.value)} "
                "|| '): which one counts is ambiguous'"
            ),
        )
        read = {f.path.split(".")[0] for f in spec.fields if f.element == element} | {element.key.split(".")[0]}
        rule = duplicate_key_rule(f"{picked}[1]", f"the {element.label}", read)
        if rule is not None:
            yield rule
