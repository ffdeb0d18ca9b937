"""The bad-input catalogue (tests/ingestion/catalogue.py): each case through the loader and the GX suite exactly as
the raw Dagster asset runs them, with its own outcome asserted, and every case also asserting what holds whatever
the input:
- reconciliation: for each loaded file, records read = loaded + rejected + superseded, also in the load log;
- quarantine: each rejected record is in `<entity>_rejects` with its reason, file, line and raw text;
- what loaded can be typed: for every contract field, a value present in a loaded record has a typed value (the
  expression the staging models select), so no staging cast can fail or silently turn a value into NULL;
- no GX check fails on what loaded, beyond the warning the case expects;
- a file rejected whole loads nothing, is listed in raw_meta.rejected_files, stays in the landing folder, and its
  day keeps the content it held.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts.render import substitute_vars, typed
from ingestion.contracts.settings import ContractSettings, load_settings
from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.quality import validate_partitions
from ingestion.registry import ENTITIES, get_entity
from tests.ingestion.catalogue import ACCOUNT_CREATED, CASES, Case, jsonl

DAY = date(2026, 3, 2)
_TYPED = re.compile(r"\{typed:([^}:]+)(?::(\w+))?\}")


@pytest.fixture(scope="module")
def settings() -> ContractSettings:
    return load_settings()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def con(tmp_path: Path, landing: Path):
    """A warehouse that knows account acc_1: Stripe customer cus_1 and Zendesk organization 361."""
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        customer = {
            "id": "cus_1",
            "object": "customer",
            "created": ACCOUNT_CREATED,
            "metadata": {"account_id": "acc_1"},
        }
        organization = {"id": 361, "external_id": "acc_1", "created_at": "2025-01-02T00:00:00Z"}
        for (source, entity), record in {
            ("stripe", "customers"): customer,
            ("zendesk", "organizations"): organization,
        }.items():
            write(landing, source, entity, date(2025, 1, 2), jsonl(record))
            loaded = load_files(
                connection, [landing_file(landing, get_entity(source, entity), date(2025, 1, 2))], "seed"
            )
            assert loaded.errors == [] and loaded.loads[0].records_loaded == 1
        yield connection


def write(landing: Path, source: str, entity: str, day: date, content: bytes) -> Path:
    spec = get_entity(source, entity)
    path = landing / spec.landing_subdir / f"{day.isoformat()}.{spec.extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def typed_sql(spec, sql: str, settings: ContractSettings) -> str:
    """`{typed:<field>}` (or `{typed:<field>:<base>}`) replaced by the field's typed expression: what staging reads."""
    fields = {f.name: f for f in spec.fields}

    def expression(match: re.Match) -> str:
        return typed("duckdb", spec.contract_field(match.group(1)), fields, match.group(2))

    return substitute_vars(_TYPED.sub(expression, sql), settings.vars)


def assert_every_loaded_value_is_typed(con, spec, settings: ContractSettings) -> None:
    """No loaded record has a contract field whose value is present and whose typed value is NULL."""
    fields = {f.name: f for f in spec.fields}
    for f in spec.fields:
        if f.within is not None:
            source = (
                f"(select unnest(json_extract(payload, '$.{f.within}[*]')) as element from {spec.table}) as elements"
            )
        else:
            source = spec.table
        from ingestion.contracts.render import raw_text

        raw = raw_text("duckdb", f, None)
        value = typed("duckdb", f, fields)
        sql = substitute_vars(
            f"select count(*) from {source} where nullif(trim(({raw})::varchar), '') is not null and ({value}) is null",
            settings.vars,
        )
        if f.kind in ("object", "array", "text_list", "reference"):
            continue
        [(untyped,)] = con.execute(sql).fetchall()
        assert untyped == 0, f"{spec.table}: {untyped} loaded value(s) of {f.name} staging could not type"


def test_the_catalogue_covers_every_source_family_and_at_least_120_inputs():
    assert len({case.name for case in CASES}) == len(CASES)
    from tests.ingestion.test_landing_folder import LANDING_CASES

    assert len(CASES) + len(LANDING_CASES) >= 120
    assert {case.source for case in CASES} == {spec.source for spec in ENTITIES}
    assert {case.family for case in CASES} | {4} == {1, 2, 3, 4, 5}
    # Every entity has cases; every source has cases of the families that concern it (money is Stripe's; the
    # landing-folder family is tests/ingestion/test_landing_folder.py, which covers every source).
    assert {(case.source, case.entity) for case in CASES} == {(spec.source, spec.entity) for spec in ENTITIES}
    for source in {spec.source for spec in ENTITIES}:
        assert {1, 2, 5} <= {case.family for case in CASES if case.source == source}, source
    assert 3 in {case.family for case in CASES if case.source == "stripe"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(con, landing, settings, case: Case):
    spec = get_entity(case.source, case.entity)
    if case.rated is not None:
        settings = ContractSettings(vars=settings.vars, rated_currencies=frozenset(case.rated))
    before_rows: list = []
    if case.before is not None:
        write(landing, case.source, case.entity, DAY, case.before)
        first = load_files(con, [landing_file(landing, spec, DAY)], "before", settings=settings)
        assert first.errors == [] and first.loads[0].records_loaded > 0
        before_rows = con.execute(f"select * exclude (_loaded_at) from {spec.table} order by all").fetchall()
    path = write(landing, case.source, case.entity, DAY, case.content)
    result = load_files(con, [landing_file(landing, spec, DAY)], "catalogue", settings=settings)
    outcomes = validate_partitions(con, spec, DAY, DAY, settings=settings)
    loaded_rows = con.execute(f"select count(*) from {spec.table} where _partition_date = ?", [DAY]).fetchall()[0][0]
    rejects = con.execute(
        f"select _line_number, reason, _source_file, raw_record from {spec.rejects_table} "
        "where _batch_id = 'catalogue' order by 1"
    ).fetchall()
    assert_every_loaded_value_is_typed(con, spec, settings)
    # Nothing that loaded breaks the contract (the GX suite's second look).
    (contract,) = [o for o in outcomes if o.expectation.check_name == "gx_contract"]
    assert contract.passed, contract.samples

    if case.outcome == "file":
        assert len(result.errors) == 1
        error = result.errors[0]
        where = f"{path}, line {case.line}: " if case.line is not None else f"{path}: "
        assert str(error).startswith(where), str(error)
        assert case.expect in str(error)
        assert rejects == [] and result.loads == []
        assert con.execute("select source_file, line_number from raw_meta.rejected_files").fetchall() == [
            (str(path.relative_to(landing)), case.line)
        ]
        assert path.read_bytes() == case.content  # kept where it landed, for replay once fixed
        # The day keeps what it held.
        assert con.execute(f"select * exclude (_loaded_at) from {spec.table} order by all").fetchall() == before_rows
        return

    assert result.errors == []
    (load,) = result.loads
    # Reconciliation, per file and as recorded in the load log.
    assert load.records_read == load.records_loaded + load.records_rejected + load.duplicates_in_file
    assert load.reconciles
    assert (load.records_loaded, load.records_rejected, load.duplicates_in_file) == (
        case.loaded,
        len(case.expect) if case.outcome == "records" else 0,
        case.superseded,
    )
    assert loaded_rows == case.loaded
    logged = con.execute(
        "select records_read, records_loaded, records_rejected from raw_meta.file_loads where source_file = ?",
        [load.source_file],
    ).fetchall()
    assert logged == [(load.records_read, load.records_loaded, load.records_rejected)]

    if case.outcome == "records":
        assert [
            (line, reason[: len(text)]) for (line, reason, _, _), (_, text) in zip(rejects, case.expect, strict=True)
        ] == case.expect
        content_lines = case.content.decode("utf-8", "backslashreplace").splitlines()
        for line, _, source_file, raw_record in rejects:
            assert source_file == load.source_file
            # The raw record is kept: the offending line's text (JSON) or its fields (CSV) are all there.
            original = content_lines[line - 1]
            if spec.layout == "csv":
                assert all(part.strip('"') in raw_record for part in original.split(",") if part and "\\x" not in part)
            elif spec.layout == "segment_tracks" and raw_record != original:
                # Re-serialised from the raw columns (the events the fast reader took): the contract's fields.
                assert (json.loads(raw_record)["messageId"] or "") in original
            else:
                assert raw_record == original
    else:
        assert rejects == []

    failed_warnings = sorted(o.expectation.check_name for o in outcomes if not o.passed)
    if case.outcome == "warning" and isinstance(case.expect, str):
        assert failed_warnings == [case.expect]
        (outcome,) = [o for o in outcomes if o.expectation.check_name == case.expect]
        assert outcome.expectation.severity == "warning" and outcome.unexpected_count == 1
        assert outcome.samples[0]["_source_file"] == load.source_file and outcome.samples[0]["_line_number"] == "1"
    else:
        assert failed_warnings == []
    if case.outcome == "warning" and isinstance(case.expect, list):
        assert result.unknown_columns == {load.source_file: case.expect}
    else:
        assert result.unknown_columns == {}

    if case.value is not None:
        sql, expected = case.value
        assert con.execute(typed_sql(spec, sql, settings)).fetchall() == expected
