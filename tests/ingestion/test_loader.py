"""The raw loader: partitions replace themselves, nothing is duplicated, bad files are named with their line."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import LandingFileError, dates_present, landing_file
from ingestion.loader import load_file
from ingestion.registry import ENTITIES, get_entity

DAY = date(2026, 3, 2)
AT = "2026-03-02T10:00:00Z"
SURVEY_HEADER = (
    "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at"
)


def ticket(ticket_id: int, status: str, updated_at: str) -> dict:
    return {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "status": status,
        "tags": ["refund", "billing"],
        "via": {"channel": "email"},
        "organization_id": 361,
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": updated_at,
    }


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        yield connection


def load(con, landing: Path, source: str, entity: str, day: date = DAY, batch: str = "b1", **kwargs):
    return load_file(con, landing_file(landing, get_entity(source, entity), day), batch, **kwargs)


def test_json_partition_load_keeps_vendor_object_and_latest_line(con, landing):
    write_lines(
        landing / "zendesk/tickets/2026-03-02.jsonl",
        [
            json.dumps(ticket(101, "new", "2026-03-02T08:00:00Z")),
            "",
            json.dumps(ticket(102, "open", "2026-03-02T09:00:00Z")),
            json.dumps(ticket(101, "solved", "2026-03-02T17:00:00Z")),
        ],
    )
    result = load(con, landing, "zendesk", "tickets")
    assert (result.records_read, result.records_loaded, result.duplicates_in_file) == (3, 2, 1)
    rows = con.execute(
        "select record_id, payload ->> 'status', _line_number, _source_file, _partition_date "
        "from raw_zendesk.tickets order by record_id"
    ).fetchall()
    # Line 2 is blank: the ticket lines are 1, 3 and 4, and the later version of ticket 101 (line 4) wins.
    assert rows == [
        ("101", "solved", 4, "zendesk/tickets/2026-03-02.jsonl", DAY),
        ("102", "open", 3, "zendesk/tickets/2026-03-02.jsonl", DAY),
    ]
    payload = json.loads(
        con.execute("select payload from raw_zendesk.tickets where record_id = '102'").fetchall()[0][0]
    )
    assert payload == ticket(102, "open", "2026-03-02T09:00:00Z")


def test_reloading_a_partition_replaces_it_and_unchanged_files_are_skipped(con, landing):
    path = write_lines(
        landing / "zendesk/tickets/2026-03-02.jsonl", [json.dumps(ticket(1, "open", "2026-03-02T08:00:00Z"))]
    )
    assert load(con, landing, "zendesk", "tickets").status == "loaded"
    assert load(con, landing, "zendesk", "tickets", batch="b2").status == "unchanged"
    assert con.execute("select count(*), min(_batch_id) from raw_zendesk.tickets").fetchall() == [(1, "b1")]

    write_lines(
        path,
        [json.dumps(ticket(1, "solved", "2026-03-02T09:00:00Z")), json.dumps(ticket(2, "new", "2026-03-02T09:00:00Z"))],
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load(con, landing, "zendesk", "tickets", batch="b3").status == "loaded"
    assert con.execute(
        "select record_id, payload ->> 'status', _batch_id from raw_zendesk.tickets order by 1"
    ).fetchall() == [("1", "solved", "b3"), ("2", "new", "b3")]
    # Forcing the same content again changes nothing but the batch id.
    load(con, landing, "zendesk", "tickets", batch="b4", force=True)
    assert con.execute("select count(*) from raw_zendesk.tickets").fetchall() == [(2,)]


def test_other_partitions_are_untouched(con, landing):
    write_lines(
        landing / "stripe/customers/2026-03-01.jsonl",
        [json.dumps({"id": "cus_A", "object": "customer", "created": 1772323200})],
    )
    write_lines(
        landing / "stripe/customers/2026-03-02.jsonl",
        [json.dumps({"id": "cus_A", "email": "new@a.com", "created": 1772323200})],
    )
    load(con, landing, "stripe", "customers", day=date(2026, 3, 1))
    load(con, landing, "stripe", "customers", day=date(2026, 3, 2))
    load(con, landing, "stripe", "customers", day=date(2026, 3, 1), force=True)
    # Two versions of one customer, one per day: staging picks the latest.
    assert con.execute("select _partition_date, record_id from raw_stripe.customers order by 1").fetchall() == [
        (date(2026, 3, 1), "cus_A"),
        (date(2026, 3, 2), "cus_A"),
    ]


def test_typeform_key_falls_back_to_token(con, landing):
    write_lines(
        landing / "typeform/responses/2026-03-02.jsonl",
        [
            json.dumps({"response_id": "r1", "token": "r1", "submitted_at": "2026-03-02T10:00:00Z"}),
            json.dumps({"token": "t2", "answers": [], "submitted_at": "2026-03-02T11:00:00Z"}),
        ],
    )
    load(con, landing, "typeform", "responses")
    assert con.execute("select record_id from raw_typeform.responses order by 1").fetchall() == [("r1",), ("t2",)]


def test_csv_loads_text_columns_and_quoted_commas(con, landing):
    write_lines(
        landing / "surveys/responses/2026-03-02.csv",
        [
            SURVEY_HEADER,
            'r1,nps,relational,9,"Fast, friendly ""support""",a@acme.com,acc_00001,,email,relationship,2026-03-02T10:00:00Z',
            "r2,ces,transactional,3,,b@acme.com,,4411,email,support_ticket,2026-03-02T11:00:00Z",
        ],
    )
    result = load(con, landing, "surveys", "responses")
    assert (result.records_read, result.records_loaded) == (2, 2)
    assert con.execute(
        "select response_id, score, comment, account_id, ticket_id, _line_number from raw_surveys.responses order by 1"
    ).fetchall() == [
        ("r1", "9", 'Fast, friendly "support"', "acc_00001", None, 2),
        ("r2", "3", None, None, "4411", 3),
    ]


def test_an_optional_csv_column_may_be_left_out_of_the_header(con, landing):
    """The sends file's `variant` came later: a file without it loads with variant null, one with it keeps it, and a
    file without a required column is still refused."""
    header = "send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"
    write_lines(
        landing / "surveys/sends/2026-03-02.csv", [header, "s1,nps,relational,email,x,acc_1,,2026-03-02T10:00:00Z"]
    )
    write_lines(
        landing / "surveys/sends/2026-03-03.csv",
        [header + ",variant", "s2,nps,relational,email,x,acc_1,,2026-03-03T10:00:00Z,Subject_Question"],
    )
    load(con, landing, "surveys", "sends")
    load(con, landing, "surveys", "sends", day=date(2026, 3, 3))
    rows = con.execute("select send_id, variant, _extra_columns from raw_surveys.sends order by 1").fetchall()
    assert rows == [("s1", None, None), ("s2", "Subject_Question", None)]  # as landed; staging lower-cases it


def test_segment_events_are_typed_and_unique_across_files(con, landing):
    event = {
        "type": "track",
        "messageId": "m-1",
        "event": "Report Created",
        "userId": "usr_1",
        "timestamp": "2026-03-01T10:00:00.000Z",
        "context": {"groupId": "acc_00001", "library": {"name": "analytics.js"}},
        "properties": {"report_id": 7},
    }
    write_lines(landing / "segment/tracks/2026-03-01.jsonl", [json.dumps(event)])
    retry = dict(event, timestamp="2026-03-01T10:00:00.000Z")
    write_lines(
        landing / "segment/tracks/2026-03-02.jsonl", [json.dumps(retry), json.dumps(dict(event, messageId="m-2"))]
    )
    load(con, landing, "segment", "tracks", day=date(2026, 3, 1))
    second = load(con, landing, "segment", "tracks", day=date(2026, 3, 2))
    assert (second.records_read, second.records_loaded, second.duplicates_across_files) == (2, 1, 1)
    assert con.execute(
        "select message_id, event, user_id, account_id, properties ->> 'report_id', _partition_date "
        "from raw_segment.tracks order by 1"
    ).fetchall() == [
        ("m-1", "Report Created", "usr_1", "acc_00001", "7", date(2026, 3, 1)),
        ("m-2", "Report Created", "usr_1", "acc_00001", "7", date(2026, 3, 2)),
    ]


def test_a_re_sent_event_is_looked_for_within_the_resend_window(con, landing):
    """An earlier copy is looked for within `resend_window_days` (30 for Segment) either side of the loaded day:
    a copy 30 days later is recognised, one 31 days later is loaded again (and the whole-table unique test of a
    full dbt build would name it)."""
    spec = get_entity("segment", "tracks")
    assert spec.resend_window_days == 30
    first, within, beyond = date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1)
    for day, message_ids in ((first, ["m-1", "m-2"]), (within, ["m-1", "m-3"]), (beyond, ["m-2", "m-4"])):
        events = [
            {"type": "track", "messageId": m, "event": "Report Created", "userId": "usr_1",
             "timestamp": f"{day.isoformat()}T10:00:00.000Z", "context": {"groupId": "acc_00001"}}
            for m in message_ids
        ]  # fmt: skip
        write_lines(landing / f"segment/tracks/{day.isoformat()}.jsonl", [json.dumps(e) for e in events])
    load(con, landing, "segment", "tracks", day=first)
    second = load(con, landing, "segment", "tracks", day=within)
    third = load(con, landing, "segment", "tracks", day=beyond)
    assert (second.records_loaded, second.duplicates_across_files) == (1, 1)
    assert (third.records_loaded, third.duplicates_across_files) == (2, 0)
    assert con.execute(
        "select message_id, _partition_date from raw_segment.tracks order by 1, 2"
    ).fetchall() == [
        ("m-1", first), ("m-2", first), ("m-2", beyond), ("m-3", within), ("m-4", beyond),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "entity", "content", "line", "words"),
    [
        ("surveys", "responses", b"response_id,score,score\nr1,9,9\n", 1, 'header names column "score" twice'),
        ("surveys", "sends", b"send_id,survey_type\ns1,nps\n", 1, "missing required column(s): survey_kind"),
        ("surveys", "sends", b"", 1, "empty file"),
    ],
)
def test_unreadable_files_are_rejected_whole_with_file_and_line(con, landing, source, entity, content, line, words):
    spec = get_entity(source, entity)
    path = landing / spec.landing_subdir / f"{DAY.isoformat()}.{spec.extension}"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(LandingFileError) as raised:
        load(con, landing, source, entity)
    assert raised.value.path == str(path)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"{path}, line {line}: ")
    assert words in str(raised.value)
    # Nothing of the file reached the raw table; the file is listed for replay and stays where it is.
    assert con.execute(f"select count(*) from {spec.table}").fetchall() == [(0,)]
    assert con.execute("select source_file, line_number from raw_meta.rejected_files").fetchall() == [
        (f"{spec.landing_subdir}/{DAY.isoformat()}.{spec.extension}", line)
    ]
    assert path.exists()


def test_dates_present_reads_file_names_per_entity(landing):
    write_lines(landing / "zendesk/tickets/2026-03-02.jsonl", ["{}"])
    write_lines(landing / "surveys/sends/2026-02-27.csv", ["send_id"])
    write_lines(landing / "surveys/sends/notes.txt", ["ignored"])
    write_lines(landing / "surveys/sends/2026-02-28.jsonl", ["wrong extension for this entity"])
    assert dates_present(landing, ENTITIES) == [date(2026, 2, 27), date(2026, 3, 2)]


def test_a_bad_file_is_set_aside_and_the_other_days_still_load(con, landing):
    from ingestion.loader import load_files

    spec = get_entity("surveys", "sends")
    header = "send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"
    good_1 = write_lines(landing / "surveys/sends/2026-03-01.csv", [header, f"s1,nps,relational,email,x,acc_1,,{AT}"])
    bad = write_lines(landing / "surveys/sends/2026-03-02.csv", [header.replace(",sent_at", ""), "s2,nps,,,,,"])
    write_lines(
        landing / "surveys/sends/2026-03-03.csv",
        [header, f"s4,nps,relational,email,x,acc_1,,{AT}", f"s5,ces,relational,email,x,acc_1,,{AT}"],
    )
    days = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    result = load_files(con, [landing_file(landing, spec, day) for day in days], "b1")
    assert [str(error) for error in result.errors] == [f"{bad}, line 1: header is missing required column(s): sent_at"]
    assert sorted((load.source_file, load.records_loaded) for load in result.loads) == [
        ("surveys/sends/2026-03-01.csv", 1),
        ("surveys/sends/2026-03-03.csv", 2),
    ]
    assert con.execute("select send_id from raw_surveys.sends order by 1").fetchall() == [("s1",), ("s4",), ("s5",)]
    # Once fixed, the bad day loads; the good days are recognised as unchanged.
    write_lines(bad, [header, f"s2,nps,relational,email,x,acc_1,,{AT}", f"s3,nps,relational,email,x,acc_1,,{AT}"])
    again = load_files(con, [landing_file(landing, spec, day) for day in days], "b2")
    assert again.errors == []
    assert sorted((load.source_file, load.status) for load in again.loads) == [
        (str(good_1.relative_to(landing)), "unchanged"),
        ("surveys/sends/2026-03-02.csv", "loaded"),
        ("surveys/sends/2026-03-03.csv", "unchanged"),
    ]
    assert con.execute("select count(*) from raw_surveys.sends").fetchall() == [(5,)]


def _track(message_id: str, **overrides) -> dict:
    return {
        "type": "track",
        "messageId": message_id,
        "event": "Report Created",
        "userId": "usr_1",
        "timestamp": "2026-03-02T10:00:00.000Z",
        "context": {"groupId": "acc_00001"},
        "properties": {"report_id": 7},
        **overrides,
    }


def test_gzipped_usage_events_load_like_plain_ones(con, landing, tmp_path):
    lines = [json.dumps(_track("m-1")), "", '{"messageId": "m-2", "event": ', json.dumps(_track("m-3", event=None))]
    lines.append(json.dumps(_track("m-4")))
    folder = landing / "segment/tracks"
    folder.mkdir(parents=True)
    # The same content once plain and once gzip-compressed, in two warehouses: raw rows and rejects must match.
    (folder / "2026-03-02.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    gz = load(con, landing, "segment", "tracks")
    plain_landing = tmp_path / "plain"
    write_lines(plain_landing / "segment/tracks/2026-03-02.jsonl", lines)
    with duckdb.connect(str(tmp_path / "plain.duckdb")) as plain_con:
        plain = load(plain_con, plain_landing, "segment", "tracks")
        expected = [
            plain_con.execute(f"select * exclude (_loaded_at, _source_file) from {table} order by all").fetchall()
            for table in ("raw_segment.tracks", "raw_segment.tracks_rejects")
        ]
    assert gz.source_file == "segment/tracks/2026-03-02.jsonl.gz"
    assert (gz.records_read, gz.records_loaded, gz.records_rejected) == (4, 2, 2)
    assert (plain.records_read, plain.records_loaded, plain.records_rejected) == (4, 2, 2)
    for table, rows in zip(("raw_segment.tracks", "raw_segment.tracks_rejects"), expected, strict=True):
        assert con.execute(f"select * exclude (_loaded_at, _source_file) from {table} order by all").fetchall() == rows
    # The malformed line (3) and the event without a name (4, counting the blank line 2) are quarantined by line.
    assert con.execute("select _line_number, _source_file from raw_segment.tracks_rejects order by 1").fetchall() == [
        (3, "segment/tracks/2026-03-02.jsonl.gz"),
        (4, "segment/tracks/2026-03-02.jsonl.gz"),
    ]
    assert dates_present(landing, ENTITIES) == [DAY]


def test_a_broken_gzip_file_is_rejected_whole_and_a_day_cannot_have_both(con, landing):
    folder = landing / "segment/tracks"
    folder.mkdir(parents=True)
    content = gzip.compress(("\n".join(json.dumps(_track(f"m-{n}")) for n in range(2000)) + "\n").encode())
    cut = folder / "2026-03-02.jsonl.gz"
    cut.write_bytes(content[: len(content) // 2])
    with pytest.raises(LandingFileError, match="not a readable gzip file") as raised:
        load(con, landing, "segment", "tracks")
    assert raised.value.path == str(cut)
    assert raised.value.line is not None and raised.value.line > 1
    assert con.execute("select count(*) from raw_segment.tracks").fetchall() == [(0,)]
    assert con.execute("select source_file from raw_meta.rejected_files").fetchall() == [
        ("segment/tracks/2026-03-02.jsonl.gz",)
    ]
    write_lines(folder / "2026-03-02.jsonl", [json.dumps(_track("m-1"))])
    with pytest.raises(LandingFileError, match=r"2026-03-02\.jsonl is there too"):
        landing_file(landing, get_entity("segment", "tracks"), DAY)


def test_a_usage_load_that_died_before_settling_is_taken_out_by_the_next(con, landing):
    from ingestion.loader import load_files

    spec = get_entity("segment", "tracks")
    days = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    for number, day in enumerate(days):
        # Several files: the appending connections take them from one queue, each numbered on its own.
        lines = [json.dumps(_track(f"m-{number}-{n}", timestamp=f"{day}T10:00:00Z")) for n in range(50)]
        # The second day has a malformed line 11: that file goes through the line-by-line path, the others not.
        bad = ["not json"] if number == 1 else []
        write_lines(landing / f"segment/tracks/{day}.jsonl", [*lines[:10], *bad, *lines[10:]])
    load_files(con, [landing_file(landing, spec, days[0])], "b1")
    # A load that appended its rows and died before its settling transaction: its rows are still in the table.
    con.execute(
        "insert into raw_meta.loads_in_progress values ('segment', 'tracks', 'dead', timestamp '2026-03-03 00:00:00')"
    )
    con.execute(
        "insert into raw_segment.tracks (message_id, _partition_date, _source_file, _line_number, _batch_id, "
        "_loaded_at) values ('m-0-0', date '2026-03-02', 'segment/tracks/2026-03-02.jsonl', 1, 'dead', "
        "timestamp '2026-03-03 00:00:00')"
    )
    result = load_files(con, [landing_file(landing, spec, day) for day in days[1:]], "b2")
    loads = [(load.records_read, load.records_loaded, load.records_rejected) for load in result.loads]
    assert loads == [(51, 50, 1), (50, 50, 0)]
    assert con.execute("select count(*) from raw_meta.loads_in_progress").fetchall() == [(0,)]
    assert con.execute(
        "select _partition_date, count(*), count(distinct message_id), min(_line_number), max(_line_number), "
        "count(*) filter (_batch_id = 'dead') from raw_segment.tracks group by 1 order by 1"
    ).fetchall() == [(days[0], 50, 50, 1, 50, 0), (days[1], 50, 50, 1, 51, 0), (days[2], 50, 50, 1, 50, 0)]
    assert con.execute("select _source_file, _line_number from raw_segment.tracks_rejects").fetchall() == [
        ("segment/tracks/2026-03-02.jsonl", 11)
    ]
    # The event numbered 10 in each file: line 11, or 12 after the malformed line.
    assert con.execute(
        "select message_id, _line_number from raw_segment.tracks where message_id like 'm-_-10' order by 1"
    ).fetchall() == [("m-0-10", 11), ("m-1-10", 12), ("m-2-10", 11)]


def test_an_edit_that_keeps_size_and_time_is_noticed(con, landing):
    """Change detection is by content: an edit that keeps the size and the modification time is loaded."""
    path = write_lines(landing / "zendesk/tickets/2026-03-02.jsonl", [json.dumps(ticket(101, "open", AT))])
    first = load(con, landing, "zendesk", "tickets")
    stat = path.stat()
    path.write_text(path.read_text().replace('"open"', '"hold"'))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    second = load(con, landing, "zendesk", "tickets", batch="b2")
    assert (first.status, second.status) == ("loaded", "loaded")
    assert con.execute("select payload ->> 'status' from raw_zendesk.tickets").fetchall() == [("hold",)]
    assert load(con, landing, "zendesk", "tickets", batch="b3").status == "unchanged"


def test_force_reads_and_validates_every_file_again(con, landing):
    write_lines(landing / "zendesk/tickets/2026-03-02.jsonl", [json.dumps(ticket(101, "open", AT))])
    load(con, landing, "zendesk", "tickets")
    assert load(con, landing, "zendesk", "tickets", batch="b2").status == "unchanged"
    forced = load(con, landing, "zendesk", "tickets", batch="b3", force=True)
    assert (forced.status, forced.records_loaded) == ("loaded", 1)
    assert con.execute("select _batch_id from raw_zendesk.tickets").fetchall() == [("b3",)]


def test_files_are_validated_again_when_their_rules_change(con, landing):
    """A currency gaining an exchange rate changes the rules: the quarantined charge loads at the next load."""
    from ingestion.contracts.settings import ContractSettings, load_settings
    from ingestion.loader import load_files

    spec = get_entity("stripe", "charges")
    charge = {"id": "ch_1", "amount": 12345, "currency": "kwd", "created": 1_772_445_600}
    write_lines(landing / "stripe/charges/2026-03-02.jsonl", [json.dumps(charge)])
    files = [landing_file(landing, spec, DAY)]
    settings = load_settings()
    before = load_files(con, files, "b1", settings=settings).loads[0]
    assert (before.records_loaded, before.records_rejected) == (0, 1)
    assert load_files(con, files, "b2", settings=settings).loads[0].status == "unchanged"
    with_rate = ContractSettings(settings.vars, settings.rated_currencies | {"kwd"})
    after = load_files(con, files, "b3", settings=with_rate).loads[0]
    assert (after.status, after.records_loaded, after.records_rejected) == ("loaded", 1, 0)
    assert con.execute("select count(*) from raw_stripe.charges_rejects").fetchall() == [(0,)]


def test_a_day_is_emptied_only_on_purpose(con, landing, tmp_path, monkeypatch):
    """An empty file over a loaded day is refused; `cli empty-day` empties it, and the empty file then stays
    unchanged (neither refused nor loaded again)."""
    from orchestration import cli

    path = write_lines(landing / "zendesk/tickets/2026-03-02.jsonl", [json.dumps(ticket(101, "open", AT))])
    load(con, landing, "zendesk", "tickets")
    path.write_bytes(b"")
    with pytest.raises(LandingFileError, match=r"holds no records .* the day holds 1 loaded record"):
        load(con, landing, "zendesk", "tickets", batch="b2")
    assert con.execute("select count(*) from raw_zendesk.tickets").fetchall() == [(1,)]
    con.close()

    monkeypatch.setenv("NPS_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("NPS_LANDING_DIR", str(landing))
    path.write_text(json.dumps(ticket(101, "open", AT)) + "\n")
    assert cli.main(["empty-day", "zendesk/tickets", "2026-03-02"]) == 2  # the file still holds data: refused
    path.write_bytes(b"")
    assert cli.main(["empty-day", "zendesk/tickets", "2026-03-02"]) == 0
    assert cli.main(["empty-day", "zendesk/nothing", "2026-03-02"]) == 2

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as again:
        assert again.execute("select count(*) from raw_zendesk.tickets").fetchall() == [(0,)]
        assert load(again, landing, "zendesk", "tickets", batch="b3").status == "unchanged"
        assert again.execute("select count(*) from raw_meta.rejected_files").fetchall() == [(0,)]
