"""The survey send lists: one import file per survey tool from a hand-made marts.survey_send_list, each contact
once per fatigue window through the ledger (a list day 89 days after the last is held, 90 is not), a dry run by
default that never blocks a live list, re-runs that write nothing, and spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
import os
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outbound import ledger, outbox, send_lists
from outbound.ledger import Message, Outcome
from outbound.send_lists import SendListConfig

DAY = date(2026, 6, 10)
FORM = "https://acme.typeform.com/to/abc123"
LIVE = SendListConfig(live=True, typeform_url=FORM)
DRY = SendListConfig(live=False, typeform_url=FORM)

# email, survey_name, survey_type, survey_kind, touchpoint, survey_tool, ticket_id, account_id, account_name, plan
ROWS = [
    ("ann@one.com", "relational_nps", "nps", "relational", "relationship", "delighted", None, "acc_1", "One, Inc.",
     "growth"),
    ("bob@two.com", "support_ces", "ces", "transactional", "support_ticket", "simplesat", 11, "acc_2",
     "=HYPERLINK(\"http://x\")", "+plan"),
    ("cy@three.com", "onboarding_nps", "nps", "transactional", "onboarding", "typeform", None, "acc_3",
     "@three \"quoted\"\nline", "-1+1"),
    ("ann@one.com", "support_ces", "ces", "transactional", "support_ticket", "simplesat", 12, "acc_1", "One, Inc.",
     "growth"),
]  # fmt: skip


def build(con: duckdb.DuckDBPyConnection, rows=ROWS, day: date = DAY) -> None:
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists seeds")
    con.execute(
        "create or replace table seeds.survey_fatigue_rules as select * from (values "
        "('relational', '*', 90, 'r'), ('transactional', '*', 60, 't'), ('transactional', 'ces', 0, 'x')) "
        "as t(survey_kind, survey_type, min_days_between, rule)"
    )
    con.execute(
        """
        create or replace table marts.survey_send_list (
            list_date date, email varchar, survey_name varchar, survey_type varchar, survey_kind varchar,
            touchpoint varchar, channel varchar, survey_tool varchar, reason varchar, trigger_event varchar,
            trigger_at timestamp, days_since_trigger integer, ticket_id bigint, account_id varchar,
            account_name varchar, plan varchar, last_sent_at timestamp, sample_quarter date
        )
        """
    )
    for email, name, stype, kind, touchpoint, tool, ticket, account, account_name, plan in rows:
        con.execute(
            "insert into marts.survey_send_list values (?, ?, ?, ?, ?, ?, 'email', ?, 'why', 'e', null, 0, ?, ?, ?, "
            "?, null, null)",
            [day, email, name, stype, kind, touchpoint, tool, ticket, account, account_name, plan],
        )


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        build(connection)
        yield connection


def test_one_file_per_tool_in_its_import_format(con, tmp_path):
    result = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path / "outbox")
    assert result.files == [
        "send_lists/delighted/2026-06-10.csv",
        "send_lists/simplesat/2026-06-10.csv",
        "send_lists/typeform/2026-06-10.csv",
    ]
    folder = tmp_path / "outbox" / "send_lists"
    header, rows = read(folder / "delighted" / "2026-06-10.csv")
    # Delighted: email, name, then properties; Account ID and Plan as the Delighted connector reads them back.
    assert header[:4] == ["email", "name", "Account ID", "Plan"]
    assert rows == [
        {"email": "ann@one.com", "name": "", "Account ID": "acc_1", "Plan": "growth", "Company": "One, Inc.",
         "Touchpoint": "relationship", "Ticket ID": "", "List Date": "2026-06-10", "Survey": "relational_nps"},
    ]  # fmt: skip
    header, rows = read(folder / "simplesat" / "2026-06-10.csv")
    # Simplesat reads the first four columns by position.
    assert header[:4] == ["First Name", "Last Name", "Email", "Company"]
    assert [(r["Email"], r["Ticket ID"], r["Company"], r["Plan"]) for r in rows] == [
        ("ann@one.com", "12", "One, Inc.", "growth"),
        ("bob@two.com", "11", '\'=HYPERLINK("http://x")', "'+plan"),
    ]
    header, rows = read(folder / "typeform" / "2026-06-10.csv")
    assert header == list(send_lists.TOOL_COLUMNS["typeform"])
    assert rows[0]["company"] == '\'@three "quoted"\nline' and rows[0]["plan"] == "'-1+1"
    assert rows[0]["survey_link"] == (
        f"{FORM}#account_id=acc_3&email=cy%40three.com&survey_kind=transactional&touchpoint=onboarding&channel=email"
    )
    assert {row.status for row in ledger.rows(con, "survey_send:")} == {"logged"}
    assert sorted(row.message_key for row in ledger.rows(con, "survey_send:")) == [
        "survey_send:relational:ann@one.com:2026-06-10",
        "survey_send:transactional:ann@one.com:2026-06-10",
        "survey_send:transactional:bob@two.com:2026-06-10",
        "survey_send:transactional:cy@three.com:2026-06-10",
    ]


def test_a_rerun_writes_nothing_new(con, tmp_path):
    first = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    files = {path: path.read_bytes() for path in tmp_path.rglob("*.csv")}
    second = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    assert len(first.rows.delivered) == 4
    assert second.rows.delivered == [] and len(second.rows.skipped) == 4 and second.files == []
    assert {path: path.read_bytes() for path in tmp_path.rglob("*.csv")} == files


def test_dry_run_is_the_default_and_never_blocks_the_live_list(con, tmp_path, monkeypatch):
    for name in (send_lists.LIVE_VARIABLE, send_lists.TOOLS_VARIABLE, send_lists.TYPEFORM_URL_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    dry = send_lists.write_send_lists(con, outbox=tmp_path)
    assert not dry.live and all(file.startswith("send_lists/dry_run/") for file in dry.files)
    assert {row.status for row in ledger.rows(con, "survey_send_dry_run:")} == {"dry_run"}
    assert read(tmp_path / "send_lists/dry_run/typeform/2026-06-10.csv")[1][0]["survey_link"] == ""
    assert not (tmp_path / "send_lists" / "delighted").exists()
    live = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    assert len(live.rows.delivered) == 4 and live.held_by_ledger == 0


@pytest.mark.parametrize(
    ("kind_row", "days_later", "held"),
    [(0, 89, True), (0, 90, False), (1, 59, True), (1, 60, False)],
)
def test_the_ledger_holds_a_contact_within_the_fatigue_window(con, tmp_path, kind_row, days_later, held):
    send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    build(con, [ROWS[kind_row]], DAY + timedelta(days=days_later))  # the sends have not landed: same mart row
    result = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    assert result.held_by_ledger == int(held)
    assert len(result.rows.delivered) == int(not held)


def test_only_the_configured_tools_and_a_crash_between_append_and_ledger(con, tmp_path):
    only = SendListConfig(live=True, tools=("simplesat",))
    send_lists.write_send_lists(con, config=only, outbox=tmp_path)
    assert sorted(p.name for p in (tmp_path / "send_lists").iterdir()) == ["simplesat"]
    # A crash after the append, before the ledger write: the row is found in the file and recorded, not re-added.
    con.execute(f"delete from {ledger.TABLE} where message_key = 'survey_send:transactional:bob@two.com:2026-06-10'")
    again = send_lists.write_send_lists(con, config=only, outbox=tmp_path)
    assert again.rows.delivered == ["survey_send:transactional:bob@two.com:2026-06-10"]
    assert [r["Email"] for r in read(tmp_path / "send_lists/simplesat/2026-06-10.csv")[1]] == [
        "ann@one.com",
        "bob@two.com",
    ]


def test_configuration_errors_name_the_variable(monkeypatch):
    monkeypatch.setenv(send_lists.LIVE_VARIABLE, "yes please")
    with pytest.raises(ValueError, match="NPS_SEND_LISTS_LIVE"):
        SendListConfig.from_env()
    monkeypatch.setenv(send_lists.LIVE_VARIABLE, "TRUE")
    monkeypatch.setenv(send_lists.TOOLS_VARIABLE, "delighted, qualtrics")
    with pytest.raises(ValueError, match=r"NPS_SEND_LISTS_TOOLS.*qualtrics"):
        SendListConfig.from_env()
    monkeypatch.setenv(send_lists.TOOLS_VARIABLE, " Delighted ")
    assert SendListConfig.from_env() == SendListConfig(live=True, tools=("delighted",), typeform_url=None)


def test_the_asset_runs_twice_and_lists_each_once(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.actions.assets import survey_send_lists
    from orchestration.defs.resources import WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        build(connection)
    monkeypatch.delenv("NPS_OUTBOX_DIR", raising=False)
    monkeypatch.delenv(send_lists.LIVE_VARIABLE, raising=False)
    resources = {"warehouse": WarehouseResource(database=str(warehouse))}
    for _ in range(2):
        assert dg.materialize([survey_send_lists], resources=resources).success
    rows = read(tmp_path / "outbox/send_lists/dry_run/simplesat/2026-06-10.csv")[1]
    assert [r["Email"] for r in rows] == ["ann@one.com", "bob@two.com"]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


FORMULA = st.sampled_from(["=", "+", "-", "@", "\t", "\r"])


@given(st.one_of(st.text(), st.builds(lambda start, rest: start + rest, FORMULA, st.text())))
def test_any_text_round_trips_through_a_csv_reader_and_never_starts_a_formula(text):
    cell = send_lists.neutralise(text)
    assert cell == (f"'{text}" if text[:1] in {"=", "+", "-", "@", "\t", "\r"} and not is_number(text) else text)
    assert not cell.startswith(outbox.FORMULA_STARTS) or is_number(cell)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerow([cell, "x"])
    assert next(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [cell, "x"]


def test_a_batch_is_recorded_as_one_message_at_a_time_would_be(tmp_path):
    """ledger.deliver_all records what ledger.deliver records for the same outcomes: the carry-over first, a failed
    row retried (attempts 2, first attempt kept), a delivered row never touched again, sent_at only when delivered."""

    def run(batched: bool) -> list[tuple]:
        with duckdb.connect(str(tmp_path / f"{batched}.duckdb")) as con:
            ledger.record(con, "k:old-failed", channel="c", payload={"n": 0}, status=ledger.FAILED, error="down")
            ledger.record(con, "k:done", channel="c", payload={"n": 1}, status=ledger.DRY_RUN)
            messages = [Message(f"k:{n}", {"n": n}) for n in ("done", "a", "b", "c")]
            outcome = {"k:old-failed": Outcome(ledger.DRY_RUN), "k:a": Outcome(ledger.DRY_RUN)}
            outcome |= {"k:b": Outcome(ledger.FAILED, error="disk full"), "k:c": Outcome(ledger.DRY_RUN)}
            seen: list[str] = []
            if batched:
                summary = ledger.deliver_all(
                    con,
                    messages,
                    lambda batch: [seen.append(m.key) or outcome[m.key] for m in batch],
                    channel="c",
                    carry_over_prefix="k:",
                )
            else:
                send = lambda m: seen.append(m.key) or outcome[m.key]  # noqa: E731
                summary = ledger.deliver(con, messages, send, channel="c", carry_over_prefix="k:")
            assert seen == ["k:old-failed", "k:a", "k:b", "k:c"]
            assert (summary.delivered, summary.failed, summary.skipped) == (
                ["k:old-failed", "k:a", "k:c"],
                ["k:b"],
                ["k:done"],
            )
            return con.execute(
                f"select message_key, channel, payload::varchar, status, attempts, first_attempt_at < last_attempt_at, "
                f"sent_at is not null, error from {ledger.TABLE} order by 1"
            ).fetchall()

    rows = run(batched=True)
    assert rows == run(batched=False)
    assert [(key, attempts, sent) for key, _, _, _, attempts, _, sent, _ in rows] == [
        ("k:a", 1, True),
        ("k:b", 1, False),
        ("k:c", 1, True),
        ("k:done", 1, True),
        ("k:old-failed", 2, True),
    ]


def test_each_file_is_appended_and_fsynced_once_per_run(con, tmp_path, monkeypatch):
    """The rows of a list are appended together: one fsync per file, not one per row (29 s for the 2,890 rows of
    the `make run` demo's first run one at a time, 0.2 s this way)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    result = send_lists.write_send_lists(con, config=LIVE, outbox=tmp_path)
    written = sorted(str(tmp_path / file) for file in result.files)
    assert len(result.rows.delivered) > len(written)  # more rows than files
    assert sorted(synced) == written
