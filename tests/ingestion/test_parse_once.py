"""`read_paths_once`: the rewritten expressions read the same values as DuckDB's own functions on the whole document,
for generated JSON documents (Hypothesis) and the path shapes the contracts use."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.contracts.parse_once import read_paths_once

KEYS = st.sampled_from(["id", "status", "via", "a b", "x'y", "é", ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=' ab\t\né"\\{[0', max_size=6),  # blanks, escapes and text that looks like JSON
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
# Root values mostly single values (the fields), else nested ones (`via`, lists).
FIELDS = st.dictionaries(KEYS, st.one_of(SCALARS, SCALARS, VALUES), min_size=2, max_size=6)
DOCUMENTS = st.builds(
    lambda fields, via: fields if via is None else {**fields, "via": via},
    FIELDS,
    st.one_of(st.none(), FIELDS, VALUES),  # `via` often an object with fields of its own
)
# As the contracts write them: root fields, nested fields, a quoted key, an index (and a list, below).
PATHS = ["'$.id'", "'$.status'", "'$.via.id'", "'$.via.status.id'", "'$.\"a b\"'", "'$.\"x''y\"'", "'$.via[0]'"]


def expressions() -> list[str]:
    reads = []
    for path in PATHS:
        reads += [f"json_type(payload, {path})", f"json_extract(payload, {path})", f"(payload ->> {path})"]
    lists = ["json_extract(payload, '$.via[*]')", "len(json_extract(payload, '$.via[*]'))"]
    return [*reads, *lists, "json_keys(payload)"]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_every_path_is_read_from_one_parse():
    rewritten, relation = read_paths_once(expressions(), "records")
    assert all("payload" not in expression for expression in rewritten[:-1])
    assert rewritten[-1] == "json_keys(payload)"  # not a path
    assert relation.count("json_extract(payload, [") == 1  # the single values: one parse
    assert relation.count("json_extract(payload, '$.via[*]')") == 1  # a list: once, whatever the rules reading it


def test_no_path_read_leaves_everything_as_it_was():
    assert read_paths_once(["record_id is null"], "records") == (["record_id is null"], "records")


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS)
def test_the_values_are_those_of_the_whole_document(con, document):
    text = json.dumps(document, ensure_ascii=False)
    direct = ", ".join(expressions())
    rewritten, relation = read_paths_once(expressions(), "(select ?::json as payload)")
    expected = con.execute(f"select {direct} from (select ?::json as payload)", [text]).fetchone()
    actual = con.execute(f"select {', '.join(rewritten)} from {relation}", [text]).fetchone()
    assert actual == expected
