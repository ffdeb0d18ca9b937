"""The landing folder is walked safely (family 4 of the bad-input catalogue): whatever it holds, the definitions
load, nothing outside it is read, and every entry that is not a day file is listed with its reason.

Each case builds entries in a landing folder and goes through what the raw asset runs: `scan` (the listing in
raw_meta.landing_ignored and the `landing_files_recognised` warning), `day_files` (the files of the run's days, or
their refusal, listed in raw_meta.rejected_files) and the loader.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import dates_present, day_files, scan
from ingestion.loader import ensure_tables, load_files, record_landing_scan, record_refused_files
from ingestion.registry import ENTITIES, get_entity
from tests.ingestion.catalogue import SEND_HEADER, csv, jsonl, send_row, simplesat, ticket, track, typeform
from tests.ingestion.catalogue_delighted import delighted_response

DAY = date(2026, 3, 2)


@dataclass(frozen=True)
class LandingCase:
    name: str
    build: Callable[[Path, Path], None]  # (landing folder, a folder outside it)
    # (relative path, reason fragment) listed as not loaded.
    ignored: tuple[tuple[str, str], ...] = ()
    # (source/entity, day, reason fragment) refused when the day is loaded.
    refused: tuple[tuple[str, date, str], ...] = ()
    # source/entity -> records that load for DAY.
    loads: dict[str, int] = field(default_factory=dict)
    # Relative paths that must not be listed (hidden files, state folders).
    silent: tuple[str, ...] = ()


def put(path: Path, content: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


TRACKS = jsonl(track("m1"), track("m2"))

LANDING_CASES = [
    LandingCase(
        "impossible_date",
        lambda landing, _: put(landing / "typeform/responses/2026-02-30.jsonl", jsonl(typeform())),
        ignored=(("typeform/responses/2026-02-30.jsonl", "2026-02-30 is not a calendar date"),),
    ),
    LandingCase(
        "month_thirteen",
        lambda landing, _: put(landing / "surveys/sends/2026-13-01.csv", csv(SEND_HEADER, send_row())),
        ignored=(("surveys/sends/2026-13-01.csv", "2026-13-01 is not a calendar date"),),
    ),
    LandingCase(
        "directory_named_like_a_day_file",
        lambda landing, _: (landing / "zendesk/tickets/2026-03-02.jsonl").mkdir(parents=True),
        ignored=(("zendesk/tickets/2026-03-02.jsonl", "a directory, not a file"),),
        refused=(("zendesk/tickets", DAY, "a directory, not a file"),),
    ),
    LandingCase(
        "link_to_a_system_file",
        lambda landing, _: link(landing / "segment/tracks/2026-03-02.jsonl", Path("/etc/passwd")),
        ignored=(("segment/tracks/2026-03-02.jsonl", "outside the landing folder"),),
        refused=(("segment/tracks", DAY, "outside the landing folder"),),
    ),
    LandingCase(
        "link_to_a_file_outside",
        lambda landing, outside: link(
            landing / "zendesk/tickets/2026-03-02.jsonl", put(outside / "tickets.jsonl", jsonl(ticket(1)))
        ),
        refused=(("zendesk/tickets", DAY, "outside the landing folder"),),
    ),
    LandingCase(
        "link_with_dot_dot_out",
        lambda landing, outside: (
            put(outside / "secrets.csv", csv(SEND_HEADER, send_row())),
            link(landing / "surveys/sends/2026-03-02.csv", Path("../../../outside/secrets.csv")),
        ),
        refused=(("surveys/sends", DAY, "outside the landing folder"),),
    ),
    LandingCase(
        "link_to_nothing",
        lambda landing, _: link(landing / "segment/tracks/2026-03-02.jsonl", landing / "gone.jsonl"),
        ignored=(("segment/tracks/2026-03-02.jsonl", "a symbolic link to nothing"),),
        refused=(("segment/tracks", DAY, "a symbolic link to nothing"),),
    ),
    LandingCase(
        "link_inside_the_landing_folder",
        lambda landing, _: link(
            landing / "segment/tracks/2026-03-02.jsonl", put(landing / "segment/tracks/2026-03-01.jsonl", TRACKS)
        ),
        loads={"segment/tracks": 2},
    ),
    LandingCase(
        "entity_folder_linked_outside",
        lambda landing, outside: (
            put(outside / "tickets/2026-03-02.jsonl", jsonl(ticket(1))),
            link(landing / "zendesk/tickets", outside / "tickets"),
        ),
        ignored=(("zendesk/tickets", "outside the landing folder"),),
        refused=(("zendesk/tickets", DAY, "outside the landing folder"),),
    ),
    LandingCase(
        "fifo_named_like_a_day_file",
        lambda landing, _: (
            (landing / "segment/tracks").mkdir(parents=True),
            os.mkfifo(landing / "segment/tracks/2026-03-02.jsonl"),
        ),
        ignored=(("segment/tracks/2026-03-02.jsonl", "not a regular file"),),
        refused=(("segment/tracks", DAY, "not a regular file"),),
    ),
    LandingCase(
        "json_extension",
        lambda landing, _: put(landing / "zendesk/tickets/2026-03-02.json", jsonl(ticket(1))),
        ignored=(("zendesk/tickets/2026-03-02.json", "not named <YYYY-MM-DD>.jsonl"),),
    ),
    LandingCase(
        "backup_suffix",
        lambda landing, _: put(landing / "zendesk/tickets/2026-03-02.jsonl.bak", jsonl(ticket(1))),
        ignored=(("zendesk/tickets/2026-03-02.jsonl.bak", "not named <YYYY-MM-DD>.jsonl"),),
    ),
    LandingCase(
        "upper_case_extension",
        lambda landing, _: put(landing / "surveys/sends/2026-03-02.CSV", csv(SEND_HEADER, send_row())),
        ignored=(("surveys/sends/2026-03-02.CSV", "not named <YYYY-MM-DD>.csv"),),
    ),
    LandingCase(
        "csv_where_jsonl_belongs",
        lambda landing, _: put(landing / "stripe/charges/2026-03-02.csv", b"id,amount\nch_1,100\n"),
        ignored=(("stripe/charges/2026-03-02.csv", ".csv file: stripe/charges files are .jsonl"),),
    ),
    LandingCase(
        "compressed_csv",
        lambda landing, _: put(
            landing / "surveys/sends/2026-03-02.csv.gz", gzip.compress(csv(SEND_HEADER, send_row()))
        ),
        ignored=(("surveys/sends/2026-03-02.csv.gz", "compressed: surveys/sends files are plain .csv"),),
    ),
    LandingCase(
        "date_without_zero_padding",
        lambda landing, _: put(landing / "segment/tracks/2026-3-2.jsonl", TRACKS),
        ignored=(("segment/tracks/2026-3-2.jsonl", "not named <YYYY-MM-DD>.jsonl or .jsonl.gz"),),
    ),
    LandingCase(
        "export_suffix_in_the_name",
        lambda landing, _: put(landing / "typeform/responses/2026-03-02-export.jsonl", jsonl(typeform())),
        ignored=(("typeform/responses/2026-03-02-export.jsonl", "not named <YYYY-MM-DD>.jsonl"),),
    ),
    LandingCase(
        # A saved API page (the search envelope) is not one response per line: named like one, it is ignored.
        "simplesat_search_page_saved_as_json",
        lambda landing, _: put(landing / "simplesat/responses/2026-03-02.json", jsonl(simplesat())),
        ignored=(("simplesat/responses/2026-03-02.json", "not named <YYYY-MM-DD>.jsonl"),),
    ),
    LandingCase(
        # A Delighted API page saved whole (a bare JSON array) as .json is not one object per line: ignored.
        "delighted_api_page_saved_as_json",
        lambda landing, _: put(
            landing / "delighted/survey_responses/2026-03-02.json", json.dumps([delighted_response()]).encode()
        ),
        ignored=(("delighted/survey_responses/2026-03-02.json", "not named <YYYY-MM-DD>.jsonl"),),
    ),
    LandingCase(
        "misspelled_source_folder",
        lambda landing, _: put(landing / "zendsk/tickets/2026-03-02.jsonl", jsonl(ticket(1))),
        ignored=(("zendsk", "not the folder of a known source"),),
    ),
    LandingCase(
        "unknown_entity_folder",
        lambda landing, _: put(landing / "zendesk/ticket/2026-03-02.jsonl", jsonl(ticket(1))),
        ignored=(("zendesk/ticket", "not the folder of a known zendesk entity"),),
    ),
    LandingCase(
        "file_in_the_landing_root",
        lambda landing, _: put(landing / "export.csv", b"a,b\n"),
        ignored=(("export.csv", "not the folder of a known source"),),
    ),
    LandingCase(
        "hidden_and_state_entries_are_skipped",
        lambda landing, _: (
            put(landing / "zendesk/tickets/.2026-03-02.jsonl.tmp", b"{"),
            put(landing / "zendesk/.DS_Store", b"\x00"),
            put(landing / "_s3/segment.json", b"{}"),
            put(landing / "zendesk/tickets/2026-03-02.jsonl", jsonl(ticket(1))),
        ),
        loads={"zendesk/tickets": 1},
        silent=("zendesk/tickets/.2026-03-02.jsonl.tmp", "zendesk/.DS_Store", "_s3", "_s3/segment.json"),
    ),
    LandingCase(
        "plain_and_gzip_for_one_day",
        lambda landing, _: (
            put(landing / "segment/tracks/2026-03-02.jsonl", TRACKS),
            put(landing / "segment/tracks/2026-03-02.jsonl.gz", gzip.compress(TRACKS)),
        ),
        refused=(("segment/tracks", DAY, "2026-03-02.jsonl is there too"),),
    ),
]


@pytest.mark.parametrize("case", LANDING_CASES, ids=[case.name for case in LANDING_CASES])
def test_landing_entry(tmp_path: Path, case: LandingCase):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    landing.mkdir()
    outside.mkdir()
    case.build(landing, outside)

    # The walk never raises, whatever the folder holds (the partitions definition reads it when Dagster loads).
    listing = scan(landing, ENTITIES)
    dates_present(landing, ENTITIES)
    ignored = {(entry.path, entry.reason) for entry in listing.ignored}
    for path, reason in case.ignored:
        assert any(p == path and reason in r for p, r in ignored), (path, reason, ignored)
    for path in case.silent:
        assert all(p != path for p, _ in ignored)

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        for spec in ENTITIES:
            ensure_tables(con, spec)
            files, refused = day_files(landing, spec, [DAY])
            key = f"{spec.source}/{spec.entity}"
            expected_refusals = [(day, reason) for entity, day, reason in case.refused if entity == key]
            assert len(refused) == len(expected_refusals)
            for (lf, error), (day, reason) in zip(refused, expected_refusals, strict=True):
                assert lf.partition_date == day and reason in str(error) and str(lf.path) in str(error)
            record_refused_files(con, spec, refused, "landing")
            record_landing_scan(con, spec, listing.ignored_in(spec))
            result = load_files(con, files, "landing")
            assert result.errors == []
            loaded = sum(load.records_loaded for load in result.loads)
            assert loaded == case.loads.get(key, 0)
        listed = con.execute("select source_file, reason from raw_meta.rejected_files").fetchall()
        assert len(listed) == len(case.refused)
        # Nothing outside the landing folder was read: no row anywhere holds a line of /etc/passwd or of the
        # files in `outside`.
        for spec in ENTITIES:
            for table in (spec.table, spec.rejects_table):
                rows = con.execute(f"select * from {table}").fetchall()
                assert not any("root:" in str(row) or "/outside/" in str(row) for row in rows)


def test_partitions_start_survives_any_landing_folder(tmp_path: Path, monkeypatch):
    """The definitions load (the partitions read the landing folder) whatever the folder holds."""
    from orchestration.defs.partitions import partitions_start

    landing = tmp_path / "landing"
    put(landing / "typeform/responses/2019-02-29.jsonl", jsonl(typeform()))  # not a calendar date
    put(landing / "typeform/responses/2018-13-01.jsonl", jsonl(typeform()))
    (landing / "zendesk/tickets/2018-01-01.jsonl").mkdir(parents=True)
    link(landing / "segment/tracks/2018-01-02.jsonl", Path("/etc/passwd"))
    os.mkfifo(landing / "segment/tracks/2018-01-03.jsonl")
    put(landing / "zendesk/tickets/2019-03-01.jsonl", jsonl(ticket(1)))
    monkeypatch.delenv("NPS_PARTITIONS_START", raising=False)
    monkeypatch.setenv("NPS_LANDING_DIR", str(landing))
    assert partitions_start() == date(2019, 3, 1)


def test_every_entity_is_covered_by_a_case_of_its_folder():
    covered = {entity for case in LANDING_CASES for entity, _, _ in case.refused} | {
        "/".join(path.split("/")[:2]) for case in LANDING_CASES for path, _ in case.ignored
    }
    sources = {spec.source for spec in ENTITIES}
    assert sources <= {name.split("/")[0] for name in covered}
    assert get_entity("segment", "tracks").accepts_gzip
