"""No single record stops the pipeline for everyone: the whole daily job (raw loads, GX checks, every dbt model and
test, the Python marts, serving) runs over days that hold bad records, and every mart refreshes.

- Every contract field of every entity gets a generated value its staging model could not type, in a record
  appended to that entity's last day of the small demo: each such record is in its rejects table with a reason
  naming the field, every demo record still loads, and `dbt build` passes.
- Whatever single record is corrupted in each day file (a byte that is not UTF-8, a cut line, a field given a bad
  value, a key given twice, a required field blanked; chosen by Hypothesis), the run completes and every mart
  refreshes; the corrupted record is quarantined with its line, or loads when the corruption left it valid.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contracts.fields import Field
from ingestion.landing import landing_file, scan
from ingestion.registry import ENTITIES
from orchestration.defs.checks.freshness import marts_asset_keys
from orchestration.defs.serving.assets import marts_published
from tests.ingestion import catalogue as vendor
from tests.ingestion import catalogue_delighted as delighted
from tests.ingestion import catalogue_zendesk_csat as zendesk_csat
from tests.ingestion.test_contract_properties import REJECT, dumps, expected, place

pytestmark = pytest.mark.e2e

# Values no staging cast can take, by kind: the generated bad value for each field is drawn from these.
BAD_VALUES = {
    "int32": ["ten", 7.5, 2**31, {"n": 1}, "1e3"],
    "int64": ["12a", 2**63, 4.5, ["1"], "0x1F"],
    "minor_units": [4900.5, -1, 10**20, "49.00", {"amount": 1}],
    "decimal_minor_units": ["12.1234567890123", "-1", "1e3", "abc"],
    "decimal": ["abc", "12.3.4", {"v": 1}, ["5"], "1e400", 250],
    "boolean": ["yes", 1, "on", {"v": True}],
    "iso_time": ["yesterday", "2026-02-30T10:00:00Z", "2026-W10-1", 1772445600000, "20260302T100000Z"],
    "epoch_seconds": [1772445600000, 1772445600000000, "2026-03-02", -5, 1772445600.5],
    "currency": ["xyz", "xau", "kwd", {"code": "usd"}],
    "reference": [{"object": "customer"}, ["cus_1"], 42],
    "text_list": ["refund", [{"name": "refund"}]],
    "object": ["plan=pro", [1, 2]],
    "array": ["di_1", {"id": "di_1"}, 3],
    "text": [{"nested": "object"}, ["a", "list"]],
    "lower": [{"nested": "object"}, ["a", "list"]],
    "upper": [{"nested": "object"}, ["a", "list"]],
}
# CSV cells are text: only numbers, times and closed sets can be wrong.
CSV_BAD_VALUES = {
    "int32": ["ten", "7.5", "99999999999"],
    "int64": ["ZD-12", "99999999999999999999", "1.0"],
    "iso_time": ["yesterday", "2026-02-30T10:00:00Z", "1772445600"],
}


def new_day(landing: Path) -> date:
    """Every entity's last day file copied to one new day after them (usage events under new messageIds), so that
    one daily run loads a file of every entity."""
    listing = scan(landing, ENTITIES)
    day = max(listing.dates()) + timedelta(days=1)
    for spec in ENTITIES:
        delivered = listing.days.get((spec.source, spec.entity))
        if not delivered:
            target = landing_file(landing, spec, day).path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(dumps(record) + "\n" for record in undelivered_records(spec, day)))
            continue
        last = landing_file(landing, spec, max(delivered)).path
        content = last.read_bytes()
        if spec.layout == "segment_tracks":
            events = [json.loads(line) for line in content.splitlines() if line.strip()]
            content = b"".join((json.dumps({**e, "messageId": f"n-{e['messageId']}"}) + "\n").encode() for e in events)
        target = landing_file(landing, spec, day).path
        target.write_bytes(content)
    return day


def undelivered_records(spec, day: date) -> list[dict]:
    """Valid records of an entity the demo does not deliver (SimpleSAT: its teams use it instead of Typeform; Zendesk
    satisfaction ratings and CSAT survey responses: the demo's help desk has CSAT off), in the
    vendor's documented shape, so that every entity has a file on the new day."""
    at = f"{day.isoformat()}T10:00:00Z"
    if spec.key == "simplesat.responses":
        return [
            vendor.simplesat(9100 + n, choice=str(score), created=at, modified=at) for n, score in enumerate((10, 7, 3))
        ]
    # Delighted: its teams use it instead of Typeform (Unix seconds).
    at_ten = int(datetime(day.year, day.month, day.day, 10, tzinfo=UTC).timestamp())
    if spec.key == "delighted.survey_responses":
        return [
            delighted.delighted_response(str(9300 + n), "nps", s, created_at=at_ten) for n, s in enumerate((10, 7, 3))
        ]
    if spec.key == "delighted.unsubscribes":
        return [delighted.delighted_unsubscribe("9401", "a@acme.example", unsubscribed_at=at_ten)]
    if spec.key == "delighted.bounces":
        return [delighted.delighted_bounce("9402", "b@acme.example", bounced_at=at_ten)]
    if spec.key == "zendesk.satisfaction_ratings":
        return [
            vendor.satisfaction_rating(9200 + n, score=score, created_at=at, updated_at=at)
            for n, score in enumerate(("good", "bad", "offered"))
        ]
    if spec.key == "zendesk.csat_survey_responses":
        return [
            zendesk_csat.csat_survey_response(
                f"01JP{n:022d}", 9250 + n, [zendesk_csat.rating_answer(rating, at, points=5)]
            )
            for n, rating in enumerate((5, 3, 1))
        ]
    if spec.key == "stripe.coupons":
        return [vendor.coupon(f"C{n}", created=at_ten, percent_off=p) for n, p in enumerate((10, 25, 50))]
    raise AssertionError(f"{spec.key}: the demo delivers no file of it; give it records here")


def mart_keys() -> set:
    return {*marts_asset_keys(), marts_published().key}


def copy_landing(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_*"))
    return target


def bad_value(f: Field, rng: random.Random, csv: bool, lenient: bool):
    """A value of `f` the contract rejects (the Python oracle says so), or None when its kind has none (free text)."""
    choices = CSV_BAD_VALUES.get(f.kind, []) if csv else BAD_VALUES[f.kind]
    if f.values and f.on_unknown == "reject":
        choices = [*choices, "pulse", "weekly"]
    choices = [value for value in choices if expected(f, value, lenient=lenient) == REJECT]
    return rng.choice(choices) if choices else None


def csv_line(values: list[str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' for value in values)


def append_bad_records(landing: Path, days: dict, rng: random.Random) -> dict[str, list[tuple[int, str]]]:
    """One record per contract field with a bad value, appended to each entity's last day file: entity -> [(line,
    field)]."""
    appended: dict[str, list[tuple[int, str]]] = {}
    for spec in ENTITIES:
        lf = landing_file(landing, spec, days[spec.key])
        lines = lf.path.read_bytes().splitlines()
        new: list[str] = []
        for number, f in enumerate(spec.fields):
            value = bad_value(f, rng, spec.layout == "csv", spec.layout == "segment_tracks")
            if value is None:
                continue
            if spec.layout == "csv":
                row = {name: "" for name in spec.csv_columns}
                row.update(
                    response_id=f"bad_{number}",
                    send_id=f"bad_{number}",
                    survey_type="nps",
                    score="9",
                    responded_at="2026-10-30T10:00:00Z",
                    sent_at="2026-10-30T10:00:00Z",
                )
                row = {name: row[name] for name in spec.csv_columns}
                row[f.name] = value
                new.append(csv_line(list(row.values())))
            else:
                record = place(spec, f, value)
                key = (
                    "messageId"
                    if spec.layout == "segment_tracks"
                    else ("response_id" if spec.source == "typeform" else "id")
                )
                if f.name != key:
                    record[key] = 990_000 + number if spec.source == "zendesk" else f"bad_{number}"
                if spec.source == "typeform":
                    record["token"] = record["landing_id"] = f"bad_{number}"
                new.append(dumps(record))
            assert expected(f, value, lenient=spec.layout == "segment_tracks") == REJECT, (spec.key, f.name, value)
            appended.setdefault(spec.key, []).append((len(lines) + len(new), f.name))
        lf.path.write_bytes(b"\n".join([*lines, *(line.encode() for line in new)]) + b"\n")
    return appended


def test_every_bad_contract_value_is_quarantined_and_the_marts_build(pipeline, small_landing, full_run, tmp_path):
    landing = copy_landing(small_landing, tmp_path / "landing")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    day = new_day(landing)
    days = {spec.key: day for spec in ENTITIES}
    appended = append_bad_records(landing, days, random.Random(18))
    assert sum(len(records) for records in appended.values()) >= 100

    result = pipeline.run(warehouse, landing, day, day)

    assert result.success
    assert mart_keys() <= {event.asset_key for event in result.get_asset_materialization_events()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for spec in ENTITIES:
            rejects = dict(
                con.execute(
                    f"select _line_number, reason from {spec.rejects_table} where _partition_date = ?",
                    [days[spec.key]],
                ).fetchall()
            )
            for line, name in appended[spec.key]:
                assert line in rejects, (spec.key, name, line)
                leaf = name.split(".")[-1].split("]")[-1]
                assert leaf in rejects[line] or name in rejects[line], (spec.key, name, rejects[line])
            # Every copied demo record still loads (the appended records are all rejected).
            demo_lines = len(landing_file(landing, spec, day).path.read_bytes().splitlines()) - len(appended[spec.key])
            [(loaded, superseded)] = con.execute(
                "select records_loaded, records_read - records_loaded - records_rejected from raw_meta.file_loads "
                "where source = ? and entity = ? and partition_date = ?",
                [spec.source, spec.entity, day],
            ).fetchall()
            assert loaded + superseded == demo_lines - (1 if spec.layout == "csv" else 0), spec.key


@st.composite
def corruptions(draw):
    """For each entity: the line to corrupt (a fraction of its file) and how."""
    kinds = ["invalid_utf8", "cut", "bad_value", "key_twice", "blank_required", "garbage"]
    return {
        spec.key: (draw(st.floats(0, 0.999)), draw(st.sampled_from(kinds)), draw(st.integers(0, 10**6)))
        for spec in ENTITIES
    }


def corrupt(landing: Path, days: dict, plan: dict) -> dict[str, int]:
    """Corrupt one record of each entity's last day file; entity -> the corrupted line's number."""
    touched = {}
    for spec in ENTITIES:
        path = landing_file(landing, spec, days[spec.key]).path
        lines = path.read_bytes().split(b"\n")
        first = 1 if spec.layout == "csv" else 0  # never the CSV header
        candidates = [i for i in range(first, len(lines)) if lines[i].strip()]
        position, how, seed = plan[spec.key]
        index = candidates[int(position * len(candidates))]
        rng = random.Random(seed)
        line = lines[index]
        if how == "invalid_utf8":
            cut = rng.randrange(len(line))
            line = line[:cut] + b"\xe9\xff" + line[cut:]
        elif how == "cut":
            line = line[: rng.randrange(1, max(2, len(line) // 2))]
        elif how == "garbage":
            line = bytes(rng.randrange(33, 127) for _ in range(40))
        elif spec.layout == "csv":
            cells = line.decode().split(",")
            cells[rng.randrange(1, len(cells))] = rng.choice(["x,y,z", "", "ten"])
            line = ",".join(cells).encode()
        else:
            record = json.loads(line)
            fields = [f for f in spec.fields if f.within is None and f.element is None and f.column is None]
            f = rng.choice(fields or list(spec.fields))
            if how == "bad_value" and f.column is None:
                value = rng.choice(BAD_VALUES[f.kind])
                path_record = record
                *parents, leaf = f.name.split(".")
                for name in parents:
                    path_record = (
                        path_record.setdefault(name, {}) if isinstance(path_record.get(name, {}), dict) else {}
                    )
                path_record[leaf] = value
                line = dumps(record).encode()
            elif how == "key_twice":
                key = rng.choice(list(record))
                text = dumps(record)
                line = (text[:-1] + f", {json.dumps(key)}: {json.dumps('again')}" + "}").encode()
            else:
                for f in spec.fields:
                    if f.required and f.column is None and f.within is None and f.element is None:
                        record.pop(f.name.split(".")[0], None)
                        break
                line = dumps(record).encode()
        lines[index] = line
        path.write_bytes(b"\n".join(lines))
        touched[spec.key] = index + 1
    return touched


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=corruptions())
def test_any_single_corrupted_record_leaves_the_run_complete_and_every_mart_refreshed(
    pipeline, small_landing, full_run, tmp_path_factory, plan
):
    folder = tmp_path_factory.mktemp("corrupted")
    landing = copy_landing(small_landing, folder / "landing")
    warehouse = folder / "warehouse.duckdb"
    shutil.copy(full_run, warehouse)
    day = new_day(landing)
    days = {spec.key: day for spec in ENTITIES}
    touched = corrupt(landing, days, plan)

    result = pipeline.run(warehouse, landing, day, day, expect_success=False)

    assert result.success, [event.message for event in result.all_events if event.is_failure][:3]
    assert mart_keys() <= {event.asset_key for event in result.get_asset_materialization_events()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for spec in ENTITIES:
            line = touched[spec.key]
            rejected = con.execute(
                f"select count(*) from {spec.rejects_table} where _partition_date = ? and _line_number = ?",
                [days[spec.key], line],
            ).fetchall()[0][0]
            loaded = con.execute(
                f"select count(*) from {spec.table} where _partition_date = ? and _line_number = ?",
                [days[spec.key], line],
            ).fetchall()[0][0]
            files_rejected = con.execute(
                "select count(*) from raw_meta.rejected_files where source = ? and entity = ?",
                [spec.source, spec.entity],
            ).fetchall()[0][0]
            # The corrupted record is quarantined with its line, or (a corruption that left it valid) loaded;
            # never the whole file rejected for one record.
            assert files_rejected == 0, spec.key
            assert rejected + loaded >= 1, (spec.key, line)
