"""The contracts' typed values are the same on Spark as on DuckDB, for every value the loader accepts.

Staging reads raw fields through `raw_field`, whose Spark branch is rendered from the same declaration as the
DuckDB one (ingestion/contracts/render.py). Values generated for every field (the property tests' strategies) are
loaded by the real loader into DuckDB; the records it accepted go to Spark, and every field's typed value is
computed on both engines and compared. Run by `make test-spark`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contracts.render import substitute_vars, typed
from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.registry import ENTITIES
from tests.ingestion.test_contract_properties import SETTINGS, dumps, place, values_for

pytestmark = pytest.mark.spark

DAY = date(2026, 3, 2)
JSON_SPECS = [spec for spec in ENTITIES if spec.layout == "json_object"]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from scale_out.spark_raw import spark_session

    session = spark_session(tmp_path_factory.mktemp("spark_dialects"))
    yield session
    session.stop()


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Decimal | float) and isinstance(b, Decimal | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    if isinstance(a, list) and isinstance(b, list):
        return [str(x) for x in a] == [str(x) for x in b]
    return a == b


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_accepted_value_types_the_same_on_spark_and_duckdb(spark, tmp_path_factory, data):
    folder: Path = tmp_path_factory.mktemp("dialects")
    compared = 0
    for spec in JSON_SPECS:
        records = []
        for f in spec.fields:
            for value in data.draw(st.lists(values_for(f), min_size=3, max_size=3), label=f"{spec.key} {f.name}"):
                record = place(spec, f, value)
                key = "response_id" if spec.source == "typeform" else "id"
                if f.name != key:
                    record[key] = 10_000 + len(records) if spec.source == "zendesk" else f"r{len(records)}"
                records.append(dumps(record))
        path = folder / spec.landing_subdir / f"{DAY.isoformat()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(records) + "\n", encoding="utf-8")
        with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
            load_files(con, [landing_file(folder, spec, DAY)], "dialects", force=True, settings=SETTINGS)
            rows = con.execute(f"select record_id, payload::varchar from {spec.table} order by _line_number").fetchall()
            if not rows:
                continue
            fields = {f.name: f for f in spec.fields}
            scalar = [f for f in spec.fields if f.within is None]
            duck_sql = ", ".join(substitute_vars(typed("duckdb", f, fields), SETTINGS.vars) for f in scalar)
            on_duckdb = con.execute(f"select record_id, {duck_sql} from {spec.table} order by _line_number").fetchall()
        frame = spark.createDataFrame([(key, payload) for key, payload in rows], "record_id string, payload string")
        frame.createOrReplaceTempView("raw")
        spark_sql = ", ".join(substitute_vars(typed("spark", f, fields), SETTINGS.vars) for f in scalar)
        on_spark = {row[0]: tuple(row[1:]) for row in spark.sql(f"select record_id, {spark_sql} from raw").collect()}
        for row in on_duckdb:
            other = on_spark[row[0]]
            for f, left, right in zip(scalar, row[1:], other, strict=True):
                if f.kind == "object":
                    left = json.loads(left) if left is not None else None
                    right = json.loads(right) if right is not None else None
                assert same(left, right), (spec.key, f.name, row[0], left, right)
                compared += left is not None
    # The accepted records hold a typed value for most fields (the base records are valid vendor objects).
    assert compared >= 300, compared
