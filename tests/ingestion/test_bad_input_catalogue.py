"""The bad-input catalogue: crafted bad landing files across every source, each with its asserted outcome.

Every case goes through the loader and the GX suite exactly as the raw Dagster asset runs them, and every
case also asserts the guarantees that hold whatever the input:
- reconciliation: for each loaded file, records read = loaded + rejected + superseded (+ already loaded);
- quarantine: each rejected record is in `<entity>_rejects` with its reason, file, line and raw text;
- the guard: no critical expectation fails on what was loaded (bad records never reach the raw table);
- a file rejected whole loads nothing, is listed in raw_meta.rejected_files and stays in the landing folder.

Outcomes: "file" (rejected whole; `expect` is in the error, which names the file and `line`), "records"
(`expect` lists (line, reason prefix) of the quarantined records), "warning" (`expect` is the GX check or
the drift report that flags it; the record loads), "loaded" (the record loads as is; `value` checks how).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import pytest

from ingestion.landing import landing_file
from ingestion.loader import load_files
from ingestion.quality import validate_partitions
from ingestion.registry import get_entity

DAY = date(2026, 3, 2)
AT = "2026-03-02T10:00:00Z"
ACCOUNT_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z, when cus_1 (account acc_1) was created
SURVEY_HEADER = (
    "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at"
)
SEND_HEADER = "send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"


def jsonl(*records: dict | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records).encode()


def csv(header: str, *rows: str) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def typeform(response_id: str = "tf_1", score: object = 9, **changes) -> dict:
    answers = [{"field": {"id": "Hk3sP0qWa", "ref": "nps_score", "type": "nps"}, "type": "number", "number": score}]
    if "comment" in changes:
        answers.append(
            {
                "field": {"id": "Qz8", "ref": "nps_reason", "type": "long_text"},
                "type": "text",
                "text": changes["comment"],
            }
        )
    record = {
        "landing_id": response_id,
        "token": response_id,
        "response_id": response_id,
        "response_type": "completed",
        "landed_at": AT,
        "submitted_at": AT,
        "hidden": {"account_id": "acc_1", "email": "ana@acme.com", "survey_kind": "relational"},
        "answers": answers,
    }
    record.update({key: value for key, value in changes.items() if key != "comment"})
    return record


def survey_row(response_id: str = "r1", score: str = "9", **changes: str) -> str:
    row = {
        "response_id": response_id,
        "survey_type": "nps",
        "survey_kind": "relational",
        "score": score,
        "comment": "",
        "email": "ana@acme.com",
        "account_id": "acc_1",
        "ticket_id": "",
        "channel": "email",
        "touchpoint": "relationship",
        "responded_at": AT,
        **changes,
    }
    return ",".join(row.values())


def ticket(ticket_id: int | None = 1, **changes) -> dict:
    return {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "status": "open",
        "organization_id": 361,
        "requester_id": 5001,
        "created_at": AT,
        "updated_at": AT,
        **changes,
    }


def charge(charge_id: str = "ch_1", **changes) -> dict:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 4900,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": "cus_1",
        "created": 1_772_445_600,
        "status": "succeeded",
        **changes,
    }


def invoice(invoice_id: str = "in_1", **changes) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": 4900,
        "amount_paid": 4900,
        "currency": "usd",
        "customer": "cus_1",
        "created": 1_772_445_600,
        "status": "paid",
        **changes,
    }


def track(message_id: str | None = "m1", **changes) -> dict:
    return {
        "type": "track",
        "messageId": message_id,
        "event": "Report Created",
        "userId": "u1",
        "timestamp": "2026-03-02T10:00:00.000Z",
        "context": {"groupId": "acc_1"},
        "properties": {},
        **changes,
    }


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    entity: str
    content: bytes
    outcome: Literal["file", "records", "warning", "loaded"]
    expect: object = None
    loaded: int = 0
    line: int | None = None
    # (SQL over the raw table, expected rows) for what was loaded.
    value: tuple[str, list] | None = None
    superseded: int = 0


HUGE = "x" * 1_000_000
HOSTILE = "'); drop table raw_surveys.responses; -- <script>alert(1)</script><b>bold</b>"
WORLDLY = "سعر مرتفع جدا 😡 — שירות מצוין 👍"

CASES = [
    # --- files that cannot be read at all ---------------------------------------------------------------------
    Case(
        "latin1_bytes",
        "zendesk",
        "users",
        b'{"id": 1}\n{"id": 2, "name": "Ren\xe9"}\n',
        "file",
        "not valid UTF-8",
        line=2,
    ),
    Case("empty_file", "surveys", "sends", b"", "file", "empty file", line=1),
    Case(
        "renamed_column",
        "surveys",
        "responses",
        csv(SURVEY_HEADER.replace("responded_at", "submitted_at"), survey_row()),
        "file",
        "missing required column(s): responded_at",
        line=1,
    ),
    Case(
        "missing_column",
        "surveys",
        "sends",
        csv(
            "send_id,survey_type,channel,touchpoint,account_id,email,sent_at", f"s1,nps,email,relationship,acc_1,,{AT}"
        ),
        "file",
        "missing required column(s): survey_kind",
        line=1,
    ),
    # --- records quarantined, the rest of the file loads ------------------------------------------------------
    Case(
        "malformed_json_line",
        "typeform",
        "responses",
        jsonl(typeform("tf_1"), '{"response_id": "tf_2", "answers": [}', typeform("tf_3")),
        "records",
        [(2, "not valid JSON")],
        loaded=2,
    ),
    Case(
        "truncated_last_line",
        "zendesk",
        "tickets",
        jsonl(ticket(1)) + b'{"id": 2, "status": "op',
        "records",
        [(2, "not valid JSON")],
        loaded=1,
    ),
    Case(
        "json_array_line",
        "zendesk",
        "tickets",
        jsonl(ticket(1), "[1, 2]"),
        "records",
        [(2, "line is JSON but not an object")],
        loaded=1,
    ),
    *(
        Case(
            f"survey_score_{label}",
            "surveys",
            "responses",
            csv(SURVEY_HEADER, survey_row("r1", score), survey_row("r2", "10")),
            "records",
            [(2, reason)],
            loaded=1,
        )
        for label, score, reason in [
            ("ten", "ten", 'score "ten" is not a whole number'),
            ("11", "11", "score 11 is outside 0-10 for nps"),
            ("minus_1", "-1", "score -1 is outside 0-10 for nps"),
            ("7_5", "7.5", 'score "7.5" is not a whole number'),
            ("null", "", "score is missing"),
        ]
    ),
    Case(
        "ces_score_8",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", "8", survey_type="ces"), survey_row("r2", "7", survey_type="ces")),
        "records",
        [(2, "score 8 is outside 1-7 for ces")],
        loaded=1,
    ),
    *(
        Case(
            f"typeform_score_{label}",
            "typeform",
            "responses",
            jsonl(typeform("tf_1", score), typeform("tf_2", 10)),
            "records",
            [(1, f"NPS answer {shown} is not a whole number from 0 to 10")],
            loaded=1,
        )
        for label, score, shown in [
            ("ten", "ten", '"ten"'),
            ("11", 11, "11"),
            ("minus_1", -1, "-1"),
            ("7_5", 7.5, "7.5"),
            ("null", None, "null"),
        ]
    ),
    Case(
        "unknown_survey_type",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", "3", survey_type="pulse"), survey_row("r2")),
        "records",
        [(2, 'survey_type "pulse" is not one of nps, ces, csat')],
        loaded=1,
    ),
    Case(
        "ticket_missing_updated_at",
        "zendesk",
        "tickets",
        jsonl({key: value for key, value in ticket(1).items() if key != "updated_at"}, ticket(2)),
        "records",
        [(1, "missing required field updated_at")],
        loaded=1,
    ),
    Case(
        "segment_malformed_line",
        "segment",
        "tracks",
        jsonl(track("m1")) + b'{"messageId": "m2", "event": \n' + jsonl(track("m3")),
        "records",
        [(2, "not valid JSON")],
        loaded=2,
    ),
    Case(
        "unreadable_submitted_at",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", submitted_at="last Tuesday"), typeform("tf_2")),
        "records",
        [(1, 'submitted_at "last Tuesday" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "created_not_unix_time",
        "stripe",
        "charges",
        jsonl(charge("ch_1", created="2026-03-02"), charge("ch_2")),
        "records",
        [(1, 'created "2026-03-02" is not a Unix time in seconds')],
        loaded=1,
    ),
    Case(
        "organization_id_not_a_number",
        "zendesk",
        "tickets",
        jsonl(ticket(1, organization_id="acme"), ticket(2)),
        "records",
        [(1, 'organization_id "acme" is not a whole number')],
        loaded=1,
    ),
    Case(
        "paid_not_boolean",
        "stripe",
        "charges",
        jsonl(charge("ch_1", paid="yes"), charge("ch_2", paid="true")),
        "records",
        [(1, 'paid "yes" is not true or false')],
        loaded=1,
    ),
    Case(
        "item_quantity_text",
        "stripe",
        "subscriptions",
        jsonl(
            {
                "id": "sub_1",
                "customer": "cus_1",
                "created": 1_772_445_600,
                "status": "active",
                "items": {"data": [{"id": "si_1", "quantity": "two", "price": {"unit_amount": 4900}}]},
            },
            {
                "id": "sub_2",
                "customer": "cus_1",
                "created": 1_772_445_600,
                "status": "active",
                "items": {"data": [{"id": "si_2", "quantity": 2, "price": {"unit_amount_decimal": "4900.5"}}]},
            },
        ),
        "records",
        [(1, "an item of items.data has a quantity")],
        loaded=1,
    ),
    Case(
        "amount_beyond_any_invoice",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", amount_due=10**20), invoice("in_2")),
        "records",
        [(1, "amount_due 100000000000000000000 is not a non-negative whole amount")],
        loaded=1,
    ),
    Case(
        "survey_null_id",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row(""), survey_row("r2")),
        "records",
        [(2, "record has no primary key")],
        loaded=1,
    ),
    Case(
        "ticket_null_id",
        "zendesk",
        "tickets",
        jsonl(ticket(None), ticket(2)),
        "records",
        [(1, "record has no primary key")],
        loaded=1,
    ),
    Case(
        "segment_no_message_id",
        "segment",
        "tracks",
        jsonl(track(None), track("m2")),
        "records",
        [(1, "event has no messageId")],
        loaded=1,
    ),
    Case(
        "future_timestamp",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", submitted_at="2999-01-01T00:00:00Z"), typeform("tf_2")),
        "records",
        [(1, "submitted_at 2999-01-01T00:00:00Z is more than a day in the future")],
        loaded=1,
    ),
    Case(
        "epoch_zero_created",
        "stripe",
        "charges",
        jsonl(charge("ch_1", created=0), charge("ch_2")),
        "records",
        [(1, "created 0 is before 2000-01-01")],
        loaded=1,
    ),
    Case(
        "unreadable_timestamp",
        "segment",
        "tracks",
        jsonl(track("m1", timestamp="yesterday"), track("m2")),
        "records",
        [(1, 'event_timestamp "yesterday" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "negative_amount",
        "stripe",
        "charges",
        jsonl(charge("ch_1", amount=-500), charge("ch_2")),
        "records",
        [(1, "amount -500 is not a non-negative whole amount in minor units")],
        loaded=1,
    ),
    Case(
        "unknown_currency",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", currency="xyz"), invoice("in_2")),
        "records",
        [(1, 'currency "xyz" is not an ISO 4217 code')],
        loaded=1,
    ),
    Case(
        "missing_required_field",
        "stripe",
        "subscriptions",
        jsonl(
            {"id": "sub_1", "object": "subscription", "customer": "cus_1", "created": 1_772_445_600},
            {
                "id": "sub_2",
                "object": "subscription",
                "customer": "cus_1",
                "created": 1_772_445_600,
                "status": "active",
            },
        ),
        "records",
        [(1, "missing required field status")],
        loaded=1,
    ),
    # --- loaded, and flagged by a warning ---------------------------------------------------------------------
    Case(
        "absurd_amount",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", amount_due=9_999_999_999_99, amount_paid=0), invoice("in_2")),
        "warning",
        "gx_amount_due_not_absurd",
        loaded=2,
    ),
    Case(
        "unknown_account",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", hidden={"account_id": "acc_999", "email": "x@y.com"}), typeform("tf_2")),
        "warning",
        "gx_account_known",
        loaded=2,
    ),
    Case(
        "before_account_created",
        "stripe",
        "charges",
        jsonl(charge("ch_1", created=ACCOUNT_CREATED - 86_400), charge("ch_2")),
        "warning",
        "gx_created_after_account_created",
        loaded=2,
    ),
    Case(
        "unknown_ticket_status",
        "zendesk",
        "tickets",
        jsonl(ticket(1, status="escalated"), ticket(2)),
        "warning",
        "gx_status_in_set",
        loaded=2,
    ),
    Case(
        "new_json_field",
        "zendesk",
        "tickets",
        jsonl(ticket(1, sentiment_score=0.4), ticket(2)),
        "warning",
        ["sentiment_score"],
        loaded=2,
        value=("select payload ->> 'sentiment_score' from raw_zendesk.tickets where record_id = '1'", [("0.4",)]),
    ),
    Case(
        "new_csv_column",
        "surveys",
        "responses",
        csv(f"{SURVEY_HEADER},nps_driver", f"{survey_row()},pricing"),
        "warning",
        ["nps_driver"],
        loaded=1,
        value=("select _extra_columns ->> 'nps_driver' from raw_surveys.responses", [("pricing",)]),
    ),
    Case(
        "new_segment_field",
        "segment",
        "tracks",
        jsonl(track("m1", experiment="b")),
        "warning",
        ["experiment"],
        loaded=1,
    ),
    # --- loaded as is -----------------------------------------------------------------------------------------
    Case(
        "utf8_bom_and_crlf",
        "zendesk",
        "users",
        b"\xef\xbb\xbf" + jsonl({"id": 1, "name": "Zoë", "created_at": AT}).replace(b"\n", b"\r\n"),
        "loaded",
        loaded=1,
        value=("select record_id, payload ->> 'name' from raw_zendesk.users", [("1", "Zoë")]),
    ),
    Case(
        "quoted_newlines_in_csv",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row(comment='"Line one\nline two, with ""quotes"""'), survey_row("r2")),
        "loaded",
        loaded=2,
        value=(
            "select comment from raw_surveys.responses where response_id = 'r1'",
            [('Line one\nline two, with "quotes"',)],
        ),
    ),
    Case(
        "timezone_less_timestamp",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row(responded_at="2026-03-02 10:00:00")),
        "loaded",
        loaded=1,
        value=(
            "select responded_at::timestamptz = timestamptz '2026-03-02 10:00:00+00' from raw_surveys.responses",
            [(True,)],
        ),
    ),
    Case(
        "one_megabyte_comment",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", comment=HUGE)),
        "loaded",
        loaded=1,
        value=("select length(payload ->> '$.answers[1].text') from raw_typeform.responses", [(1_000_000,)]),
    ),
    Case(
        "sql_and_html_comment",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row(comment=f'"{HOSTILE}"')),
        "loaded",
        loaded=1,
        value=("select comment from raw_surveys.responses", [(HOSTILE,)]),
    ),
    Case(
        "emoji_and_rtl_comment",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", comment=WORLDLY)),
        "loaded",
        loaded=1,
        value=("select payload ->> '$.answers[1].text' from raw_typeform.responses", [(WORLDLY,)]),
    ),
    Case(
        "duplicate_id_conflicting_content",
        "zendesk",
        "tickets",
        jsonl(ticket(1, status="open"), ticket(1, status="solved"), ticket(2)),
        "loaded",
        loaded=2,
        superseded=1,
        value=(
            "select record_id, payload ->> 'status' from raw_zendesk.tickets order by 1",
            [("1", "solved"), ("2", "open")],
        ),
    ),
]


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


def test_the_catalogue_covers_every_source_and_at_least_30_inputs():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.source for case in CASES} == {"typeform", "surveys", "zendesk", "stripe", "segment"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(con, landing, case: Case):
    spec = get_entity(case.source, case.entity)
    path = write(landing, case.source, case.entity, DAY, case.content)
    result = load_files(con, [landing_file(landing, spec, DAY)], "catalogue")
    outcomes = validate_partitions(con, spec, DAY, DAY)
    loaded_rows = con.execute(f"select count(*) from {spec.table} where _partition_date = ?", [DAY]).fetchall()[0][0]
    rejects = con.execute(
        f"select _line_number, reason, _source_file, raw_record from {spec.rejects_table} order by 1"
    ).fetchall()

    # The guard: whatever came in, no critical expectation fails on what loaded.
    assert [o.expectation.check_name for o in outcomes if o.blocking and not o.passed] == []

    if case.outcome == "file":
        assert len(result.errors) == 1
        error = result.errors[0]
        assert str(error).startswith(f"{path}, line {case.line}: ")
        assert case.expect in str(error)
        assert loaded_rows == 0 and rejects == [] and result.loads == []
        assert con.execute("select source_file, line_number from raw_meta.rejected_files").fetchall() == [
            (str(path.relative_to(landing)), case.line)
        ]
        assert path.read_bytes() == case.content  # kept where it landed, for replay once fixed
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
        content_lines = case.content.decode("utf-8", "replace").splitlines()
        for line, _, source_file, raw_record in rejects:
            assert source_file == load.source_file
            # The raw record is kept: the offending line's text (JSON) or its fields (CSV) are all there.
            original = content_lines[line - 1]
            if spec.layout == "csv":
                assert all(part in raw_record for part in original.split(",") if part)
            elif spec.layout == "segment_tracks" and original.startswith('{"type"'):  # re-serialised, contract fields
                kept = json.loads(raw_record)
                assert {key: value for key, value in json.loads(original).items() if key in kept} == {
                    key: value for key, value in kept.items() if key in json.loads(original)
                }
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
        assert con.execute(sql).fetchall() == expected
