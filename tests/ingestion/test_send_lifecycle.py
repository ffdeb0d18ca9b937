"""The optional columns of the survey CSVs: a send's lifecycle (delivered, opened, reminded, bounced, unsubscribed)
and a response's send_id. Files without them still load; a lifecycle time before the send is quarantined with its
file, line and field; a warehouse created before the columns gains them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.landing import landing_file
from ingestion.loader import load_file
from ingestion.registry import get_entity

DAY = date(2026, 3, 2)
SENT = "2026-03-02T10:00:00Z"
OLD_SENDS = "send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"
SENDS = OLD_SENDS + ",delivered_at,opened_at,reminded_at,bounced_at,unsubscribed_at"
OLD_RESPONSES = (
    "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at"
)


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        yield connection


def write(landing: Path, entity: str, lines: list[str]) -> Path:
    path = landing / "surveys" / entity / f"{DAY.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(con, landing: Path, entity: str):
    return load_file(con, landing_file(landing, get_entity("surveys", entity), DAY), "b1")


def test_a_sends_file_without_the_lifecycle_columns_loads_them_empty(con, tmp_path):
    write(tmp_path, "sends", [OLD_SENDS, f"s1,nps,relational,email,relationship,acc_1,a@x.com,{SENT}"])
    assert load(con, tmp_path, "sends").records_loaded == 1
    assert con.execute(
        "select send_id, delivered_at, reminded_at, unsubscribed_at from raw_surveys.sends"
    ).fetchall() == [("s1", None, None, None)]


def test_a_lifecycle_time_before_the_send_is_quarantined_with_file_line_and_field(con, tmp_path):
    rows = [
        SENDS,
        # line 2: every time at the send or later (equal is allowed: an in-app prompt is shown as it is sent)
        f"s1,nps,relational,email,relationship,acc_1,a@x.com,{SENT},{SENT},2026-03-02T11:00:00Z,2026-03-05T10:00:00Z,,",
        # line 3: a reminder a minute before the send
        f"s2,nps,relational,email,relationship,acc_1,b@x.com,{SENT},,,2026-03-02T09:59:00Z,,",
        # line 4: a bounce the day before, with a time zone offset
        f"s3,ces,transactional,email,support_ticket,acc_1,c@x.com,{SENT},,,,2026-03-02T10:30:00+02:00,",
        # line 5: an unsubscribe after the send, no other event
        f"s4,csat,transactional,email,support_ticket,acc_1,d@x.com,{SENT},,,,,2026-03-03T08:00:00Z",
    ]
    write(tmp_path, "sends", rows)
    result = load(con, tmp_path, "sends")
    assert (result.records_loaded, result.records_rejected) == (2, 2)
    assert con.execute("select send_id from raw_surveys.sends order by 1").fetchall() == [("s1",), ("s4",)]
    assert con.execute(
        "select _source_file, _line_number, reason from raw_surveys.sends_rejects order by _line_number"
    ).fetchall() == [
        (
            "surveys/sends/2026-03-02.csv",
            3,
            "reminded_at 2026-03-02T09:59:00Z is before sent_at 2026-03-02T10:00:00Z",
        ),
        (
            "surveys/sends/2026-03-02.csv",
            4,
            "bounced_at 2026-03-02T10:30:00+02:00 is before sent_at 2026-03-02T10:00:00Z",
        ),
    ]


def test_a_warehouse_created_before_the_lifecycle_columns_gains_them(con, tmp_path):
    con.execute("create schema raw_surveys")
    con.execute(
        "create table raw_surveys.sends (send_id varchar, survey_type varchar, survey_kind varchar, channel varchar, "
        "touchpoint varchar, account_id varchar, email varchar, sent_at varchar, _partition_date date, "
        "_source_file varchar, _line_number bigint, _batch_id varchar, _loaded_at timestamp)"
    )
    write(tmp_path, "sends", [SENDS, f"s1,nps,relational,email,relationship,acc_1,a@x.com,{SENT},{SENT},,,,"])
    assert load(con, tmp_path, "sends").records_loaded == 1
    assert con.execute("select send_id, delivered_at, opened_at from raw_surveys.sends").fetchall() == [
        ("s1", SENT, None)
    ]


@pytest.mark.parametrize(
    ("header", "row", "send_id"),
    [
        (OLD_RESPONSES, f"r1,nps,relational,9,,a@x.com,acc_1,,email,relationship,{SENT}", None),
        (OLD_RESPONSES + ",send_id", f"r1,nps,relational,9,,a@x.com,acc_1,,email,relationship,{SENT},s1", "s1"),
    ],
)
def test_a_response_send_id_is_optional(con, tmp_path, header, row, send_id):
    write(tmp_path, "responses", [header, row])
    assert load(con, tmp_path, "responses").records_loaded == 1
    assert con.execute("select response_id, send_id from raw_surveys.responses").fetchall() == [("r1", send_id)]
