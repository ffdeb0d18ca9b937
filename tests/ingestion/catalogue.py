"""The bad-input catalogue's cases: crafted landing files across every source, each with its asserted outcome.

The records are built from the vendors' documented objects (Typeform's Responses API item, Zendesk's Ticket,
Ticket Metrics, Satisfaction Rating, User and Organization, Stripe's Customer, Subscription, Invoice and Charge, Segment's track call)
and bent the way real exports and integrations bend them. Families (issue 18): 1 a value the staging models could
not type; 2 a file that would empty a loaded day, or a change the loader must notice; 3 money; 4 the landing folder
itself (tests/ingestion/test_landing_folder.py); 5 a field read one way and checked another.

Outcomes: "file" (rejected whole; `expect` is in the error, which names the file and `line`; the day keeps what
`before` loaded), "records" (`expect` lists (line, reason prefix) of the quarantined records), "warning" (`expect`
is the GX check or the drift report that flags it; the record loads), "loaded" (the record loads as is; `value`
checks how, through the contract's typed SQL: what staging reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

AT = "2026-03-02T10:00:00Z"
CREATED = 1_772_445_600  # 2026-03-02T10:00:00Z
ACCOUNT_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z, when cus_1 (account acc_1) was created
SURVEY_HEADER = (
    "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at"
)
SEND_HEADER = "send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"
HUGE = "x" * 1_000_000
HOSTILE = "'); drop table raw_surveys.responses; -- <script>alert(1)</script><b>bold</b>"
WORLDLY = "سعر مرتفع جدا 😡 — שירות מצוין 👍"


def jsonl(*records: dict | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records).encode()


def csv(header: str, *rows: str) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def nps_answer(score: object = 9, ref: str = "nps_score", kind: str = "nps") -> dict:
    return {"field": {"id": "Hk3sP0qWa", "ref": ref, "type": kind}, "type": "number", "number": score}


def typeform(response_id: str = "tf_1", score: object = 9, **changes) -> dict:
    answers = [nps_answer(score)]
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


def simplesat_answer(metric: str | None, choice: object, answer_id: int = 501, **changes) -> dict:
    """An element of a SimpleSAT response's `answers[]`: only the survey's primary question carries `metric`."""
    return {
        "id": answer_id,
        "question": {"id": answer_id + 1000, "text": "How likely are you to recommend us?", "metric": metric},
        "choice": choice,
        "choice_label": None if choice is None else str(choice),
        "choices": None,
        "sentiment": "Positive",
        "comment": "",
        "follow_up_question": None,
        "follow_up_answer": None,
        "published_as_testimonial": False,
        **changes,
    }


def simplesat(response_id: int = 9001, metric: str = "nps", choice: object = "9", **changes) -> dict:
    """A response object as SimpleSAT's `POST /api/v1/responses/search` returns it (API v1 reference)."""
    return {
        "id": response_id,
        "survey": {"id": 77, "name": "Quarterly NPS", "metric": metric, "survey_type": "email"},
        "tags": None,
        "created": AT,
        "modified": AT,
        "ip_address": "203.0.113.7",
        "source": "email",
        "ticket": {"id": 4401, "external_id": "812", "subject": "Export fails", "custom_attributes": {}},
        "team_members": [
            {
                "id": 61,
                "external_id": "900001",
                "name": "Sam Agent",
                "email": "sam@support.example",
                "role": "agent",
                "is_primary": True,
                "custom_attributes": {},
            }
        ],
        "customer": {
            "id": 3301,
            "external_id": "cust-1",
            "name": "Ana Pereira",
            "email": "ana@acme.com",
            "company": "Acme",
            "custom_attributes": {},
            "tags": [],
        },
        "answers": [simplesat_answer(metric, choice)],
        **changes,
    }


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


def send_row(send_id: str = "s1", **changes: str) -> str:
    row = {
        "send_id": send_id,
        "survey_type": "nps",
        "survey_kind": "relational",
        "channel": "email",
        "touchpoint": "relationship",
        "account_id": "acc_1",
        "email": "ana@acme.com",
        "sent_at": AT,
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
        "tags": ["billing"],
        "via": {"channel": "email"},
        "created_at": AT,
        "updated_at": AT,
        **changes,
    }


def metric(metric_id: int = 1, **changes) -> dict:
    return {
        "id": metric_id,
        "ticket_id": 100 + metric_id,
        "reopens": 0,
        "replies": 1,
        "reply_time_in_minutes": {"calendar": 30, "business": 20},
        "full_resolution_time_in_minutes": {"calendar": 300, "business": 200},
        "created_at": AT,
        "updated_at": AT,
        **changes,
    }


def satisfaction_rating(rating_id: int = 1, **changes) -> dict:
    """A Satisfaction Ratings API object (legacy CSAT): the ticket's group and assignee when it was rated."""
    return {
        "id": rating_id,
        "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{rating_id}.json",
        "assignee_id": 7001,
        "group_id": 360001,
        "requester_id": 5001,
        "ticket_id": 100 + rating_id,
        "score": "good",
        "comment": None,
        "reason": None,
        "reason_id": None,
        "reason_code": None,
        "created_at": AT,
        "updated_at": AT,
        **changes,
    }


def user(user_id: int = 1, **changes) -> dict:
    return {
        "id": user_id,
        "email": "ana@acme.com",
        "organization_id": 361,
        "role": "end-user",
        "created_at": AT,
        **changes,
    }


def organization(organization_id: int = 1, **changes) -> dict:
    return {"id": organization_id, "name": "Acme", "external_id": "acc_1", "created_at": AT, **changes}


def customer(customer_id: str = "cus_9", **changes) -> dict:
    return {
        "id": customer_id,
        "object": "customer",
        "created": CREATED,
        "email": "ana@acme.com",
        "metadata": {"account_id": "acc_9"},
        **changes,
    }


def product(product_id: str = "prod_9", **changes) -> dict:
    return {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": CREATED,
        "metadata": {},
        "name": "Pro",
        "updated": CREATED,
        **changes,
    }


def coupon(coupon_id: str = "Z4OV52SU", **changes) -> dict:
    """The Coupon object of Stripe's API reference (its example: 25.5% off for 3 months)."""
    return {
        "id": coupon_id,
        "object": "coupon",
        "amount_off": None,
        "created": CREATED,
        "currency": None,
        "duration": "repeating",
        "duration_in_months": 3,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": None,
        "percent_off": 25.5,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
        **changes,
    }


def subscription(subscription_id: str = "sub_1", item: dict | None = None, **changes) -> dict:
    price = {
        "id": "price_1",
        "nickname": "Pro",
        "unit_amount": 4900,
        "currency": "usd",
        "recurring": {"interval": "month", "interval_count": 1},
        "product": "prod_1",
    }
    items = [{"id": "si_1", "object": "subscription_item", "quantity": 1, "price": price, **(item or {})}]
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": "cus_1",
        "created": CREATED,
        "status": "active",
        "currency": "usd",
        "items": {"object": "list", "data": items},
        **changes,
    }


def price_item(**price_changes) -> dict:
    """An item of `subscription` whose price differs by `price_changes`."""
    price = {
        "id": "price_1",
        "nickname": "Pro",
        "unit_amount": 4900,
        "currency": "usd",
        "recurring": {"interval": "month", "interval_count": 1},
        "product": "prod_1",
        **price_changes,
    }
    return {"price": price}


def charge(charge_id: str = "ch_1", **changes) -> dict:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 4900,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": "cus_1",
        "created": CREATED,
        "paid": True,
        "refunded": False,
        "status": "succeeded",
        **changes,
    }


def invoice(invoice_id: str = "in_1", **changes) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": 4900,
        "amount_paid": 4900,
        "total": 4900,
        "currency": "usd",
        "customer": "cus_1",
        "created": CREATED,
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
    # (SQL over the raw table and `typed(<field>)` placeholders, expected rows) for what was loaded.
    value: tuple[str, list] | None = None
    superseded: int = 0
    # A day file loaded before this one (the day's previous content); a "file" outcome must leave it in place.
    before: bytes | None = None
    # Currencies with an exchange rate for this case, instead of the fx_rates seed's.
    rated: tuple[str, ...] | None = None
    family: int = 1
    tags: tuple[str, ...] = field(default_factory=tuple)


def _score_cases():
    for label, score, reason in [
        ("ten", "ten", 'score "ten" is not a whole number'),
        ("11", "11", "score 11 is outside 0-10 for nps"),
        ("minus_1", "-1", "score -1 is outside 0-10 for nps"),
        ("7_5", "7.5", 'score "7.5" is not a whole number'),
        ("null", "", "missing required field score"),
        ("9_0", "9.0", 'score "9.0" is not a whole number'),
        ("plus_9", "+9", 'score "+9" is not a whole number'),
        ("beyond_int32", "99999999999", "score 99999999999 does not fit a 32-bit whole number"),
    ]:
        yield Case(
            f"survey_score_{label}",
            "surveys",
            "responses",
            csv(SURVEY_HEADER, survey_row("r1", score), survey_row("r2", "10")),
            "records",
            [(2, reason)],
            loaded=1,
        )
    for label, score, reason in [
        ("ten", "ten", 'answers[field.ref=nps_score].number "ten" is not a whole number'),
        ("11", 11, "answers[field.ref=nps_score].number 11 is above 10"),
        ("minus_1", -1, "answers[field.ref=nps_score].number -1 is below 0"),
        ("7_5", 7.5, 'answers[field.ref=nps_score].number "7.5" is not a whole number'),
        ("null", None, "missing required field answers[field.ref=nps_score].number"),
        ("9_0", 9.0, 'answers[field.ref=nps_score].number "9.0" is not a whole number'),
        ("1e1", 1e1, 'answers[field.ref=nps_score].number "10.0" is not a whole number'),
        ("beyond_int32", 2**40, "answers[field.ref=nps_score].number 1099511627776 does not fit a 32-bit"),
        ("nested", {"value": 9}, "answers[field.ref=nps_score].number is an object, not a single value"),
    ]:
        yield Case(
            f"typeform_score_{label}",
            "typeform",
            "responses",
            jsonl(typeform("tf_1", score), typeform("tf_2", 10)),
            "records",
            [(1, reason)],
            loaded=1,
        )


def _typed(field_name: str) -> str:
    return "{typed:" + field_name + "}"


CASES: list[Case] = [
    # === files that cannot be read at all, and files that would empty a loaded day (family 2) ==================
    Case("empty_csv_without_header", "surveys", "sends", b"", "file", "empty file", line=1, family=2),
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
    Case(
        "header_names_a_column_twice",
        "surveys",
        "responses",
        csv(f"{SURVEY_HEADER},score", f"{survey_row()},7"),
        "file",
        'header names column "score" twice (columns 4 and 12)',
        line=1,
        family=5,
    ),
    Case(
        "header_column_without_name",
        "surveys",
        "sends",
        csv(f"{SEND_HEADER},", f"{send_row()},x"),
        "file",
        "header column 9 has no name",
        line=1,
        family=5,
    ),
    Case(
        "empty_file_over_a_loaded_day",
        "typeform",
        "responses",
        b"",
        "file",
        "holds no records (empty, a header only, or blank lines), but the day holds 2 loaded record(s)",
        before=jsonl(typeform("tf_1"), typeform("tf_2")),
        family=2,
    ),
    Case(
        "blank_lines_over_a_loaded_day",
        "zendesk",
        "tickets",
        b"\n\n  \n\r\n",
        "file",
        "holds no records",
        before=jsonl(ticket(1)),
        family=2,
    ),
    Case(
        "header_only_over_a_loaded_day",
        "surveys",
        "responses",
        csv(SURVEY_HEADER),
        "file",
        "holds no records",
        before=csv(SURVEY_HEADER, survey_row("r1"), survey_row("r2")),
        family=2,
    ),
    Case(
        "header_only_sends_over_a_loaded_day",
        "surveys",
        "sends",
        csv(SEND_HEADER) + b"\n\n",
        "file",
        "holds no records",
        before=csv(SEND_HEADER, send_row()),
        family=2,
    ),
    Case(
        "no_valid_record_over_a_loaded_day",
        "stripe",
        "charges",
        jsonl(charge("ch_1", amount="lots"), "not json at all"),
        "file",
        "holds no valid record (all 2 break a rule), but the day holds 1 loaded record(s)",
        before=jsonl(charge("ch_1")),
        family=2,
    ),
    Case(
        "empty_usage_file_over_a_loaded_day",
        "segment",
        "tracks",
        b"\n",
        "file",
        "holds no records",
        before=jsonl(track("m1"), track("m2")),
        family=2,
    ),
    Case(
        "garbage_usage_file_over_a_loaded_day",
        "segment",
        "tracks",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n",
        "file",
        "holds no valid record",
        before=jsonl(track("m1")),
        family=2,
    ),
    Case(
        "empty_metrics_over_a_loaded_day",
        "zendesk",
        "ticket_metrics",
        b"",
        "file",
        "holds no records",
        before=jsonl(metric(1)),
        family=2,
    ),
    Case(
        "empty_subscriptions_over_a_loaded_day",
        "stripe",
        "subscriptions",
        b"",
        "file",
        "holds no records",
        before=jsonl(subscription()),
        family=2,
    ),
    Case("empty_file_on_an_empty_day", "typeform", "responses", b"", "loaded", loaded=0, family=2),
    Case("header_only_on_an_empty_day", "surveys", "responses", csv(SURVEY_HEADER), "loaded", loaded=0, family=2),
    # === lines and rows that cannot be read: quarantined, the rest of the file loads =============================
    Case(
        "latin1_bytes_in_one_line",
        "zendesk",
        "users",
        jsonl(user(1)) + b'{"id": 2, "name": "Ren\xe9", "created_at": "2026-03-02T10:00:00Z"}\n',
        "records",
        [(2, "not valid UTF-8")],
        loaded=1,
    ),
    Case(
        "latin1_bytes_in_one_csv_row",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1"))
        + survey_row("r2", comment="caf\udce9").encode("utf-8", "surrogateescape")
        + b"\n",
        "records",
        [(3, "malformed CSV record: Invalid unicode")],
        loaded=1,
    ),
    Case(
        "latin1_bytes_in_one_event",
        "segment",
        "tracks",
        jsonl(track("m1")) + b'{"messageId": "m2", "event": "Caf\xe9 Opened", "timestamp": "2026-03-02T10:00:00Z"}\n',
        "records",
        [(2, "not valid UTF-8")],
        loaded=1,
    ),
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
        "nan_in_json",
        "stripe",
        "charges",
        jsonl(charge("ch_1"), '{"id": "ch_2", "amount": NaN, "currency": "usd", "created": 1772445600}'),
        "records",
        [(2, "not valid JSON")],
        loaded=1,
    ),
    Case(
        "trailing_comma_in_json",
        "zendesk",
        "organizations",
        jsonl(organization(1), '{"id": 2, "created_at": "2026-03-02T10:00:00Z",}'),
        "records",
        [(2, "not valid JSON")],
        loaded=1,
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
        "csv_row_with_too_many_fields",
        "surveys",
        "sends",
        csv(SEND_HEADER, send_row("s1"), send_row("s2") + ",extra", send_row("s3")),
        "records",
        [(3, "malformed CSV record: Expected Number of Columns")],
        loaded=2,
    ),
    # === values the staging models could not type: quarantined, naming the field (family 1) =====================
    *_score_cases(),
    Case(
        "ces_score_8",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", "8", survey_type="ces"), survey_row("r2", "7", survey_type="ces")),
        "records",
        [(2, "score 8 is outside 1-7 for ces")],
        loaded=1,
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
        "survey_ticket_id_not_a_number",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", ticket_id="ZD-4411"), survey_row("r2", ticket_id="4411")),
        "records",
        [(2, 'ticket_id "ZD-4411" is not a whole number')],
        loaded=1,
        value=(f"select {_typed('ticket_id')} from raw_surveys.responses", [(4411,)]),
    ),
    Case(
        "survey_ticket_id_beyond_int64",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", ticket_id="99999999999999999999"), survey_row("r2")),
        "records",
        [(2, "ticket_id 99999999999999999999 does not fit a 64-bit whole number")],
        loaded=1,
    ),
    Case(
        "survey_impossible_date",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", responded_at="2026-02-30T10:00:00Z"), survey_row("r2")),
        "records",
        [(2, 'responded_at "2026-02-30T10:00:00Z" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "survey_named_time_zone",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", responded_at="2026-03-02 10:00:00 America/New_York"), survey_row("r2")),
        "records",
        [(2, 'responded_at "2026-03-02 10:00:00 America/New_York" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "send_time_as_unix_seconds",
        "surveys",
        "sends",
        csv(SEND_HEADER, send_row("s1", sent_at="1772445600"), send_row("s2")),
        "records",
        [(2, 'sent_at "1772445600" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "send_without_survey_type",
        "surveys",
        "sends",
        csv(SEND_HEADER, send_row("s1", survey_type=""), send_row("s2")),
        "records",
        [(2, "missing required field survey_type")],
        loaded=1,
    ),
    Case(
        "survey_values_with_case_and_spaces",
        "surveys",
        "responses",
        csv(SURVEY_HEADER, survey_row("r1", " 9 ", survey_type=" NPS ", email="Ana@ACME.com ", channel="Email")),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('survey_type')}, {_typed('score')}, {_typed('email')}, {_typed('channel')} "
            "from raw_surveys.responses",
            [("nps", 9, "ana@acme.com", "email")],
        ),
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
        "ticket_id_beyond_int64",
        "zendesk",
        "tickets",
        jsonl(ticket(2**63), ticket(2)),
        "records",
        [(1, "id 9223372036854775808 does not fit a 64-bit whole number")],
        loaded=1,
    ),
    Case(
        "ticket_id_with_letters",
        "zendesk",
        "tickets",
        jsonl(ticket("12a"), ticket(2)),
        "records",
        [(1, 'id "12a" is not a whole number')],
        loaded=1,
    ),
    Case(
        "organization_id_fraction",
        "zendesk",
        "tickets",
        jsonl(ticket(1, organization_id=361.5), ticket(2)),
        "records",
        [(1, 'organization_id "361.5" is not a whole number')],
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
        "ticket_status_as_object",
        "zendesk",
        "tickets",
        jsonl(ticket(1, status={"name": "open"}), ticket(2)),
        "records",
        [(1, "status is an object, not a single value")],
        loaded=1,
    ),
    Case(
        "ticket_tags_as_text",
        "zendesk",
        "tickets",
        jsonl(ticket(1, tags="refund"), ticket(2)),
        "records",
        [(1, "tags is not a list of single values")],
        loaded=1,
    ),
    Case(
        "ticket_tags_with_objects",
        "zendesk",
        "tickets",
        jsonl(ticket(1, tags=[{"name": "refund"}]), ticket(2)),
        "records",
        [(1, "tags is not a list of single values")],
        loaded=1,
    ),
    Case(
        "ticket_channel_as_list",
        "zendesk",
        "tickets",
        jsonl(ticket(1, via={"channel": ["email", "web"]}), ticket(2)),
        "records",
        [(1, "via.channel is a list, not a single value")],
        loaded=1,
    ),
    Case(
        "ticket_custom_fields_not_a_list",
        "zendesk",
        "tickets",
        jsonl(ticket(1, custom_fields={"id": 360001234568, "value": "r1"}), ticket(2)),
        "records",
        [(1, "custom_fields is not a list")],
        loaded=1,
    ),
    Case(
        "ticket_seven_digit_fraction",
        "zendesk",
        "tickets",
        jsonl(ticket(1, created_at="2026-03-02T10:00:00.1234567Z")),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('created_at')} from raw_zendesk.tickets",
            [(__import__("datetime").datetime(2026, 3, 2, 10, 0, 0, 123456),)],
        ),
    ),
    Case(
        "ticket_offset_time",
        "zendesk",
        "tickets",
        jsonl(ticket(1, updated_at="2026-03-02T12:30:00+02:00")),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('updated_at')} from raw_zendesk.tickets",
            [(__import__("datetime").datetime(2026, 3, 2, 10, 30),)],
        ),
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
        "ticket_key_given_twice",
        "zendesk",
        "tickets",
        jsonl(
            '{"id": 1, "status": "open", "id": 2, "created_at": "2026-03-02T10:00:00Z", "updated_at": "2026-03-02T10:00:00Z"}',
            ticket(3),
        ),
        "records",
        [(1, 'key "id" appears twice in the record')],
        loaded=1,
        family=5,
    ),
    Case(
        "metric_minutes_beyond_int32",
        "zendesk",
        "ticket_metrics",
        jsonl(metric(1, reply_time_in_minutes={"calendar": 3_000_000_000, "business": 1}), metric(2)),
        "records",
        [(1, "reply_time_in_minutes.calendar 3000000000 does not fit a 32-bit whole number")],
        loaded=1,
    ),
    Case(
        "metric_negative_reopens",
        "zendesk",
        "ticket_metrics",
        jsonl(metric(1, reopens=-1), metric(2)),
        "records",
        [(1, "reopens -1 is below 0")],
        loaded=1,
    ),
    Case(
        "metric_minutes_given_twice",
        "zendesk",
        "ticket_metrics",
        jsonl(
            '{"id": 1, "ticket_id": 101, "reply_time_in_minutes": {"calendar": 30, "calendar": 3000}, '
            '"created_at": "2026-03-02T10:00:00Z"}',
            metric(2),
        ),
        "records",
        [(1, 'key "calendar" appears twice in reply_time_in_minutes')],
        loaded=1,
    ),
    Case(
        "metric_solved_at_not_a_time",
        "zendesk",
        "ticket_metrics",
        jsonl(metric(1, solved_at="n/a"), metric(2)),
        "records",
        [(1, 'solved_at "n/a" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "metric_without_ticket_id",
        "zendesk",
        "ticket_metrics",
        jsonl(metric(1, ticket_id=None), metric(2)),
        "records",
        [(1, "missing required field ticket_id")],
        loaded=1,
    ),
    Case(
        "user_email_as_object",
        "zendesk",
        "users",
        jsonl(user(1, email={"address": "ana@acme.com"}), user(2)),
        "records",
        [(1, "email is an object, not a single value")],
        loaded=1,
    ),
    Case(
        "organization_numeric_external_id",
        "zendesk",
        "organizations",
        jsonl(organization(1, external_id=42)),
        "loaded",
        loaded=1,
        value=(f"select {_typed('external_id')} from raw_zendesk.organizations where record_id = '1'", [("42",)]),
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
        "typeform_iso_week_date",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", submitted_at="2026-W10-1T10:00:00Z"), typeform("tf_2")),
        "records",
        [(1, 'submitted_at "2026-W10-1T10:00:00Z" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "typeform_time_as_number",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", submitted_at=CREATED), typeform("tf_2")),
        "records",
        [(1, 'submitted_at "1772445600" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "typeform_landed_at_not_a_time",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", landed_at="soon"), typeform("tf_2")),
        "records",
        [(1, 'landed_at "soon" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "typeform_ticket_id_not_a_number",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", hidden={"account_id": "acc_1", "ticket_id": "none"}), typeform("tf_2")),
        "records",
        [(1, 'hidden.ticket_id "none" is not a whole number')],
        loaded=1,
    ),
    Case(
        "typeform_account_as_object",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", hidden={"account_id": {"id": "acc_1"}}), typeform("tf_2")),
        "records",
        [(1, "hidden.account_id is an object, not a single value")],
        loaded=1,
    ),
    Case(
        "typeform_answers_not_a_list",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", answers={"nps": 9}), typeform("tf_2")),
        "records",
        [(1, "answers is not a list")],
        loaded=1,
    ),
    Case(
        "typeform_key_given_twice",
        "typeform",
        "responses",
        jsonl(
            '{"response_id": "tf_1", "submitted_at": "2026-03-02T10:00:00Z", "submitted_at": "2026-03-01T10:00:00Z"}',
            typeform("tf_2"),
        ),
        "records",
        [(1, 'key "submitted_at" appears twice in the record')],
        loaded=1,
        family=5,
    ),
    Case(
        "typeform_hidden_key_given_twice",
        "typeform",
        "responses",
        jsonl(
            '{"response_id": "tf_1", "submitted_at": "2026-03-02T10:00:00Z", '
            '"hidden": {"account_id": "acc_1", "account_id": "acc_2"}}',
            typeform("tf_2"),
        ),
        "records",
        [(1, 'key "account_id" appears twice in hidden')],
        loaded=1,
    ),
    Case(
        "typeform_score_as_digits",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", "9")),
        "loaded",
        loaded=1,
        value=(f"select {_typed('nps_answer.number')} from raw_typeform.responses", [(9,)]),
    ),
    Case(
        "typeform_offset_time",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", submitted_at="2026-03-02T10:00:00+05:30")),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('submitted_at')} from raw_typeform.responses",
            [(__import__("datetime").datetime(2026, 3, 2, 4, 30),)],
        ),
    ),
    # --- the same field read one way and checked another (family 5) --------------------------------------------
    Case(
        "typeform_two_nps_answers",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", answers=[nps_answer(9), nps_answer(2)]), typeform("tf_2")),
        "records",
        [(1, "answer to the NPS question given 2 times (field.ref = nps_score): which one counts is ambiguous")],
        loaded=1,
        family=5,
    ),
    Case(
        "typeform_nps_under_another_ref",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", answers=[nps_answer(3, ref="d2f1a0c4-recommend")]), typeform("tf_2")),
        "records",
        [(1, 'the answer to the NPS question has field ref "d2f1a0c4-recommend", not the configured "nps_score"')],
        loaded=1,
        family=5,
    ),
    Case(
        "typeform_configured_ref_with_other_type",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", answers=[nps_answer(12, kind="rating")]), typeform("tf_2")),
        "records",
        [(1, "answers[field.ref=nps_score].number 12 is above 10")],
        loaded=1,
        family=5,
    ),
    Case(
        "typeform_without_nps_answer",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", answers=[])),
        "loaded",
        loaded=1,
        value=(f"select {_typed('nps_answer.number')} from raw_typeform.responses", [(None,)]),
        family=5,
    ),
    Case(
        "ticket_response_field_twice",
        "zendesk",
        "tickets",
        jsonl(
            ticket(1, custom_fields=[{"id": 360001234568, "value": "r1"}, {"id": 360001234568, "value": "r2"}]),
            ticket(2, custom_fields=[{"id": 360001234568, "value": "r3"}]),
        ),
        "records",
        [(1, "custom field given 2 times (id = 360001234568): which one counts is ambiguous")],
        loaded=1,
        value=(f"select {_typed('nps_response_field.value')} from raw_zendesk.tickets", [("r3",)]),
        family=5,
    ),
    Case(
        "csv_line_after_a_quoted_newline",
        "surveys",
        "responses",
        csv(
            SURVEY_HEADER,
            survey_row("r1", comment='"first line\nsecond line\nthird line"'),
            survey_row("r2", "eleven"),
            survey_row("r3"),
        ),
        "records",
        [(5, 'score "eleven" is not a whole number')],
        loaded=2,
        value=("select response_id, _line_number from raw_surveys.responses order by 1", [("r1", 2), ("r3", 6)]),
        family=5,
    ),
    Case(
        "csv_lines_after_blank_lines",
        "surveys",
        "sends",
        csv(SEND_HEADER, "", send_row("s1"), "", "", send_row("s2", sent_at="when?"), send_row("s3")),
        "records",
        [(6, 'sent_at "when?" is not an ISO-8601 timestamp')],
        loaded=2,
        value=("select send_id, _line_number from raw_surveys.sends order by 1", [("s1", 3), ("s3", 7)]),
        family=5,
    ),
    Case(
        "csv_malformed_row_after_a_quoted_newline",
        "surveys",
        "sends",
        csv(SEND_HEADER, send_row("s1", touchpoint='"two\nlines"'), send_row("s2") + ",x", send_row("s3")),
        "records",
        [(4, "malformed CSV record")],
        loaded=2,
        value=("select send_id, _line_number from raw_surveys.sends order by 1", [("s1", 2), ("s3", 5)]),
        family=5,
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
        "created_in_milliseconds",
        "stripe",
        "charges",
        jsonl(charge("ch_1", created=CREATED * 1000), charge("ch_2")),
        "records",
        [(1, 'created "1772445600000" is not a Unix time in whole seconds (it looks like milliseconds')],
        loaded=1,
    ),
    Case(
        "created_in_microseconds",
        "stripe",
        "customers",
        jsonl(customer("cus_9", created=CREATED * 1_000_000), customer("cus_8")),
        "records",
        [(1, 'created "1772445600000000" is not a Unix time in whole seconds (it looks like milliseconds')],
        loaded=1,
    ),
    Case(
        "created_not_unix_time",
        "stripe",
        "charges",
        jsonl(charge("ch_1", created="2026-03-02"), charge("ch_2")),
        "records",
        [(1, 'created "2026-03-02" is not a Unix time in whole seconds')],
        loaded=1,
    ),
    Case(
        "created_as_digit_string",
        "stripe",
        "customers",
        jsonl(customer("cus_9", created=str(CREATED))),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('created')} from raw_stripe.customers where record_id = 'cus_9'",
            [(__import__("datetime").datetime(2026, 3, 2, 10, 0),)],
        ),
    ),
    Case(
        "trial_end_after_2100",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", trial_end=4_102_444_801), subscription("sub_2")),
        "records",
        [(1, "trial_end 4102444801 is after 2100-01-01")],
        loaded=1,
    ),
    Case(
        "canceled_at_negative",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", canceled_at=-86_400), subscription("sub_2")),
        "records",
        [(1, "canceled_at -86400 is before 2000-01-01")],
        loaded=1,
    ),
    Case(
        "paid_not_boolean",
        "stripe",
        "charges",
        jsonl(charge("ch_1", paid="yes"), charge("ch_2", paid="TRUE")),
        "records",
        [(1, 'paid "yes" is not true or false')],
        loaded=1,
        value=(f"select {_typed('paid')} from raw_stripe.charges", [(True,)]),
    ),
    Case(
        "paid_as_one",
        "stripe",
        "charges",
        jsonl(charge("ch_1", paid=1), charge("ch_2")),
        "records",
        [(1, 'paid "1" is not true or false')],
        loaded=1,
    ),
    Case(
        "deleted_not_boolean",
        "stripe",
        "customers",
        jsonl(customer("cus_9", deleted="maybe"), customer("cus_8")),
        "records",
        [(1, 'deleted "maybe" is not true or false')],
        loaded=1,
    ),
    # --- SimpleSAT: the score is the `choice` string of the survey's primary question -----------------------------
    Case(
        "simplesat_choice_as_string",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, "nps", "10"), simplesat(9002, "ces", "6"), simplesat(9003, "csat", "4")),
        "loaded",
        loaded=3,
        value=(
            f"select {_typed('nps_answer.choice')}, {_typed('ces_answer.choice')}, {_typed('csat_answer.choice')} "
            "from raw_simplesat.responses order by record_id",
            [(10, None, None), (None, 6, None), (None, None, 4)],
        ),
    ),
    Case(
        # The API's empty page written as a day file: it must not wipe the responses already loaded for that day.
        "simplesat_empty_page_over_a_loaded_day",
        "simplesat",
        "responses",
        b"",
        "file",
        "holds no records (empty, a header only, or blank lines), but the day holds 2 loaded record(s)",
        before=jsonl(simplesat(9001), simplesat(9002, "ces", "5")),
        family=2,
    ),
    Case(
        "simplesat_nps_choice_above_scale",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, "nps", "11"), simplesat(9002)),
        "records",
        [(1, "answers[question.metric=nps].choice 11 is above 10")],
        loaded=1,
    ),
    Case(
        "simplesat_ces_choice_zero",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, "ces", "0"), simplesat(9002, "ces", "7")),
        "records",
        [(1, "answers[question.metric=ces].choice 0 is below 1")],
        loaded=1,
    ),
    Case(
        "simplesat_choice_label_not_number",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, "csat", "Very satisfied"), simplesat(9002, "csat", "5")),
        "records",
        [(1, 'answers[question.metric=csat].choice "Very satisfied" is not a whole number')],
        loaded=1,
    ),
    Case(
        "simplesat_no_primary_question",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, answers=[simplesat_answer(None, "Great support")]), simplesat(9002)),
        "records",
        [(1, "answers has no answer to the survey's primary question (question.metric nps)")],
        loaded=1,
        family=5,
    ),
    Case(
        "simplesat_two_primary_answers",
        "simplesat",
        "responses",
        jsonl(simplesat(9001, answers=[simplesat_answer("nps", "9"), simplesat_answer("nps", "2", 502)])),
        "records",
        [(1, "answer to the NPS question given 2 times (question.metric = nps): which one counts is ambiguous")],
        family=5,
    ),
    Case(
        # Null tags and team members (a survey sent outside a ticket), sentiment in any case: the response loads.
        "simplesat_null_team_members_and_tags",
        "simplesat",
        "responses",
        jsonl(
            simplesat(9001, team_members=None, tags=None, answers=[simplesat_answer("nps", "3", sentiment="NEGATIVE")])
        ),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('primary_team_member.email')}, {_typed('nps_answer.sentiment')} "
            "from raw_simplesat.responses",
            [(None, "negative")],
        ),
    ),
    Case(
        "simplesat_missing_created",
        "simplesat",
        "responses",
        jsonl({k: v for k, v in simplesat(9001).items() if k != "created"}, simplesat(9002)),
        "records",
        [(1, "missing required field created")],
        loaded=1,
    ),
    Case(
        "product_active_not_boolean",
        "stripe",
        "products",
        jsonl(product("prod_9", active="yes"), product("prod_8", active=False)),
        "records",
        [(1, 'active "yes" is not true or false')],
        loaded=1,
        value=(f"select {_typed('active')} from raw_stripe.products", [(False,)]),
    ),
    Case(
        "product_updated_in_milliseconds",
        "stripe",
        "products",
        jsonl(product("prod_9", updated=CREATED * 1000), product("prod_8")),
        "records",
        [(1, 'updated "1772445600000" is not a Unix time in whole seconds (it looks like milliseconds')],
        loaded=1,
    ),
    Case(
        # Stripe's deleted object carries no name: it loads, and its plan label falls back visibly downstream.
        "deleted_product_without_name",
        "stripe",
        "products",
        jsonl({"id": "prod_9", "object": "product", "deleted": True}),
        "loaded",
        loaded=1,
        value=(f"select {_typed('name')}, {_typed('deleted')} from raw_stripe.products", [(None, True)]),
    ),
    Case(
        "coupon_percent_off_above_100",
        "stripe",
        "coupons",
        jsonl(coupon("HALF", percent_off=150), coupon("TEN", percent_off=10)),
        "records",
        [(1, "percent_off 150 is above 100")],
        loaded=1,
        value=(f"select {_typed('percent_off')} from raw_stripe.coupons", [(10,)]),
    ),
    Case(
        "coupon_duration_unknown",
        "stripe",
        "coupons",
        jsonl(coupon("X", duration="lifetime"), coupon("Y", duration="forever", duration_in_months=None)),
        "warning",
        "gx_duration_in_set",
        loaded=2,
    ),
    Case(
        "customer_metadata_key_twice",
        "stripe",
        "customers",
        jsonl('{"id": "cus_9", "created": 1772445600, "metadata": {"account_id": "acc_9", "account_id": "acc_8"}}'),
        "records",
        [(1, 'key "account_id" appears twice in metadata')],
        loaded=0,
        family=5,
    ),
    Case(
        "customer_country_lower_case",
        "stripe",
        "customers",
        jsonl(customer("cus_9", address={"country": "nz"})),
        "loaded",
        loaded=1,
        value=(f"select {_typed('address.country')} from raw_stripe.customers where record_id = 'cus_9'", [("NZ",)]),
    ),
    Case(
        "item_quantity_text",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item={"quantity": "two"}), subscription("sub_2", item={"quantity": 2})),
        "records",
        [(1, 'items.data[0].quantity "two" is not a whole number')],
        loaded=1,
    ),
    Case(
        "item_quantity_fraction",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item={"quantity": 2.5}), subscription("sub_2")),
        "records",
        [(1, 'items.data[0].quantity "2.5" is not a whole number')],
        loaded=1,
    ),
    Case(
        "item_quantity_beyond_int32",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item={"quantity": 2**31}), subscription("sub_2")),
        "records",
        [(1, "items.data[0].quantity 2147483648 does not fit a 32-bit whole number")],
        loaded=1,
    ),
    Case(
        "item_unknown_interval",
        "stripe",
        "subscriptions",
        jsonl(
            subscription("sub_1", item=price_item(recurring={"interval": "fortnight", "interval_count": 1})),
            subscription("sub_2"),
        ),
        "records",
        [(1, 'items.data[0].price.recurring.interval "fortnight" is not one of day, week, month, year')],
        loaded=1,
    ),
    Case(
        "item_interval_count_zero",
        "stripe",
        "subscriptions",
        jsonl(
            subscription("sub_1", item=price_item(recurring={"interval": "month", "interval_count": 0})),
            subscription("sub_2"),
        ),
        "records",
        [(1, "items.data[0].price.recurring.interval_count 0 is below 1")],
        loaded=1,
    ),
    Case(
        "items_not_a_list",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", items={"data": {"id": "si_1"}}), subscription("sub_2")),
        "records",
        [(1, "items.data is not a list")],
        loaded=1,
    ),
    # Discounts and API versions (docs/sources.md, Stripe): coupons are read wherever the version puts them.
    Case(
        "discount_percent_off_above_100",
        "stripe",
        "subscriptions",
        jsonl(
            subscription(
                "sub_1",
                discounts=[
                    {
                        "id": "di_1",
                        "object": "discount",
                        "coupon": {"id": "HALF", "percent_off": 150, "duration": "forever"},
                        "start": 1772323200,
                    }
                ],
            ),
            subscription("sub_2"),
        ),
        "records",
        [(1, "discounts[0].coupon.percent_off 150 is above 100")],
        loaded=1,
    ),
    Case(
        "basil_invoice_subscription_under_parent",
        "stripe",
        "invoices",
        jsonl(
            invoice(
                "in_1",
                parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_9"}},
            )
        ),
        "loaded",
        loaded=1,
        value=(f"select {_typed('parent.subscription_details.subscription')} from raw_stripe.invoices", [("sub_9",)]),
    ),
    Case(
        "cancellation_reason_unknown_warns",
        "stripe",
        "subscriptions",
        jsonl(
            subscription(
                "sub_1",
                status="canceled",
                cancellation_details={"reason": "fraud_suspected", "feedback": None, "comment": "moved to a rival"},
            ),
            subscription("sub_2"),
        ),
        "warning",
        "gx_cancellation_details_reason_in_set",
        loaded=2,
    ),
    Case(
        "expanded_customer",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", customer={"id": "cus_1", "object": "customer"})),
        "loaded",
        loaded=1,
        value=(f"select {_typed('customer')} from raw_stripe.subscriptions", [("cus_1",)]),
    ),
    Case(
        "expanded_customer_without_id",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", customer={"object": "customer"}), subscription("sub_2")),
        "records",
        [(1, "customer is neither an id nor an object with an id")],
        loaded=1,
        family=5,
    ),
    Case(
        "missing_required_field",
        "stripe",
        "subscriptions",
        jsonl(
            {"id": "sub_1", "object": "subscription", "customer": "cus_1", "created": CREATED},
            subscription("sub_2"),
        ),
        "records",
        [(1, "missing required field status")],
        loaded=1,
    ),
    # --- money (family 3) --------------------------------------------------------------------------------------
    Case(
        "amount_beyond_any_invoice",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", amount_due=10**20), invoice("in_2")),
        "records",
        [(1, "amount_due 100000000000000000000 does not fit a 64-bit whole number")],
        loaded=1,
        family=3,
    ),
    Case(
        "amount_of_10_to_the_14",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", amount_paid=10**14), invoice("in_2")),
        "records",
        [(1, "amount_paid 100000000000000 is 10^14 minor units or more")],
        loaded=1,
        family=3,
    ),
    Case(
        "negative_amount",
        "stripe",
        "charges",
        jsonl(charge("ch_1", amount=-500), charge("ch_2")),
        "records",
        [(1, "amount -500 is negative")],
        loaded=1,
        family=3,
    ),
    Case(
        "fractional_minor_units",
        "stripe",
        "charges",
        jsonl(charge("ch_1", amount=4900.5), charge("ch_2")),
        "records",
        [(1, 'amount "4900.5" is not a whole amount in minor units')],
        loaded=1,
        family=3,
    ),
    Case(
        "amount_in_exponent_notation",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", amount_due=4.9e3), invoice("in_2")),
        "records",
        [(1, 'amount_due "4900.0" is not a whole amount in minor units')],
        loaded=1,
        family=3,
    ),
    Case(
        "negative_invoice_total",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", total=-1500)),
        "loaded",
        loaded=1,
        value=(f"select {_typed('total')} from raw_stripe.invoices", [(-15.0,)]),
        family=3,
    ),
    Case(
        "unknown_currency",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", currency="xyz"), invoice("in_2")),
        "records",
        [(1, 'currency "xyz" is not an ISO 4217 currency code')],
        loaded=1,
        family=3,
    ),
    Case(
        "gold_is_not_a_currency",
        "stripe",
        "charges",
        jsonl(charge("ch_1", currency="xau"), charge("ch_2")),
        "records",
        [(1, 'currency "xau" is not an ISO 4217 currency code')],
        loaded=1,
        family=3,
    ),
    Case(
        "currency_without_exchange_rate",
        "stripe",
        "invoices",
        jsonl(invoice("in_1", currency="kwd", amount_due=12345), invoice("in_2")),
        "records",
        [(1, "currency kwd has no exchange rate: add it to dbt_project/seeds/fx_rates.csv")],
        loaded=1,
        family=3,
    ),
    Case(
        "item_currency_without_exchange_rate",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item=price_item(currency="omr")), subscription("sub_2")),
        "records",
        [(1, "items.data[0].price.currency omr has no exchange rate")],
        loaded=1,
        family=3,
    ),
    Case(
        "upper_case_currency",
        "stripe",
        "charges",
        jsonl(charge("ch_1", currency="USD", amount=4900)),
        "loaded",
        loaded=1,
        value=(f"select {_typed('currency')}, {_typed('amount')} from raw_stripe.charges", [("usd", 49.0)]),
        family=3,
    ),
    *(
        Case(
            f"three_decimal_currency_{code}",
            "stripe",
            "invoices",
            jsonl(invoice("in_1", currency=code, amount_due=12345, amount_paid=12340, total=12345)),
            "loaded",
            loaded=1,
            value=(
                f"select {_typed('amount_due')}, {_typed('amount_paid')} from raw_stripe.invoices",
                [(12.345, 12.34)],
            ),
            rated=("usd", code),
            family=3,
        )
        for code in ("kwd", "bhd", "jod", "omr", "tnd")
    ),
    *(
        Case(
            f"minor_unit_of_{code}",
            "stripe",
            "charges",
            jsonl(charge("ch_1", currency=code, amount=amount)),
            "loaded",
            loaded=1,
            value=(f"select {_typed('amount')} from raw_stripe.charges", [(major,)]),
            rated=(code,),
            family=3,
        )
        for code, amount, major in [
            ("jpy", 5000, 5000.0),
            ("krw", 12000, 12000.0),
            ("mga", 5000, 5000.0),  # zero-decimal in Stripe's API, two-decimal in ISO 4217
            ("isk", 10000, 100.0),  # two-decimal in Stripe's API, zero-decimal in ISO 4217
            ("huf", 150000, 1500.0),
            ("clf", 10000, 1.0),  # four decimals (ISO 4217)
        ]
    ),
    Case(
        "three_decimal_subscription_price",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item=price_item(currency="kwd", unit_amount=15500))),
        "loaded",
        loaded=1,
        value=(
            "select "
            + _typed("items.data[].price.unit_amount").replace("}", ":element}")
            + " from (select unnest(json_extract(payload, '$.items.data[*]')) as element from raw_stripe.subscriptions)",
            [(15.5,)],
        ),
        rated=("kwd",),
        family=3,
    ),
    Case(
        "decimal_unit_amount_kept_exact",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item=price_item(unit_amount=None, unit_amount_decimal="0.000123456789"))),
        "loaded",
        loaded=1,
        value=(
            "select "
            + _typed("items.data[].price.unit_amount_decimal").replace("}", ":element}")
            + " from (select unnest(json_extract(payload, '$.items.data[*]')) as element from raw_stripe.subscriptions)",
            [(0.00000123456789,)],
        ),
        family=3,
    ),
    Case(
        "decimal_unit_amount_with_13_decimals",
        "stripe",
        "subscriptions",
        jsonl(subscription("sub_1", item=price_item(unit_amount_decimal="12.1234567890123")), subscription("sub_2")),
        "records",
        [(1, 'items.data[0].price.unit_amount_decimal "12.1234567890123" is not an amount in minor units')],
        loaded=1,
        family=3,
    ),
    # --- usage events -------------------------------------------------------------------------------------------
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
        "event_time_in_milliseconds",
        "segment",
        "tracks",
        jsonl(track("m1", timestamp=CREATED * 1000), track("m2")),
        "records",
        [(1, 'event_timestamp "1772445600000" is not an ISO-8601 timestamp')],
        loaded=1,
    ),
    Case(
        "event_name_as_object",
        "segment",
        "tracks",
        jsonl(track("m1", event={"name": "Report Created"}), track("m2")),
        "records",
        [(1, "event is an object or a list, not a single value")],
        loaded=1,
    ),
    Case(
        "event_properties_as_text",
        "segment",
        "tracks",
        jsonl(track("m1", properties="plan=pro"), track("m2")),
        "records",
        [(1, "properties is not an object")],
        loaded=1,
    ),
    Case(
        "event_group_as_object",
        "segment",
        "tracks",
        jsonl(track("m1", context={"groupId": {"id": "acc_1"}}), track("m2")),
        "records",
        [(1, "account_id is an object or a list, not a single value")],
        loaded=1,
    ),
    Case(
        "event_group_given_twice",
        "segment",
        "tracks",
        jsonl(
            '{"messageId": "m1", "event": "Report Created", "timestamp": "2026-03-02T10:00:00Z", '
            '"context": {"groupId": "acc_1", "groupId": "acc_2"}}',
            track("m2"),
        ),
        "records",
        [(1, 'key "groupId" appears twice in context')],
        loaded=1,
        family=5,
    ),
    Case(
        # The second name written with an escape, the same key once decoded: the rule looks at the context's text
        # first (structure.duplicate_key_rule), which must therefore hold the names decoded.
        "event_group_given_twice_once_escaped",
        "segment",
        "tracks",
        jsonl(
            '{"messageId": "m1", "event": "Report Created", "timestamp": "2026-03-02T10:00:00Z", '
            '"context": {"groupId": "acc_1", "group\\u0049d": "acc_2"}}',
            track("m2"),
        ),
        "records",
        [(1, 'key "groupId" appears twice in context')],
        loaded=1,
        family=5,
    ),
    Case(
        "event_key_given_twice",
        "segment",
        "tracks",
        jsonl('{"messageId": "m1", "event": "A", "event": "B", "timestamp": "2026-03-02T10:00:00Z"}', track("m2")),
        "records",
        [(1, 'key "event" appears twice in the event')],
        loaded=1,
        family=5,
    ),
    Case(
        "event_offset_without_colon",
        "segment",
        "tracks",
        jsonl(track("m1", timestamp="2026-03-02T12:00:00.000+0200")),
        "loaded",
        loaded=1,
        value=(
            f"select {_typed('event_timestamp')} from raw_segment.tracks",
            [(__import__("datetime").datetime(2026, 3, 2, 10, 0),)],
        ),
    ),
    Case(
        "message_id_with_spaces",
        "segment",
        "tracks",
        jsonl(track(" m1 ")),
        "loaded",
        loaded=1,
        value=("select message_id from raw_segment.tracks", [("m1",)]),
    ),
    # === loaded, and flagged by a warning ==========================================================================
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
    # === loaded as is ==============================================================================================
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
            f"select {_typed('responded_at')} from raw_surveys.responses",
            [(__import__("datetime").datetime(2026, 3, 2, 10, 0),)],
        ),
    ),
    Case(
        "one_megabyte_comment",
        "typeform",
        "responses",
        jsonl(typeform("tf_1", comment=HUGE)),
        "loaded",
        loaded=1,
        value=(f"select length({_typed('reason_answer.text')}) from raw_typeform.responses", [(1_000_000,)]),
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
        value=(f"select {_typed('reason_answer.text')} from raw_typeform.responses", [(WORLDLY,)]),
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
    # === Zendesk satisfaction ratings (issue 19) ===================================================================
    Case(
        "ticket_satisfaction_rating_read_through_the_contract",
        "zendesk",
        "tickets",
        jsonl(
            ticket(1, satisfaction_rating={"id": 9001, "score": "Bad", "comment": " slow ", "reason": "Took too long"}),
            ticket(2, satisfaction_rating={"score": "offered"}),
            ticket(3, satisfaction_rating=None),
        ),
        "loaded",
        loaded=3,
        value=(
            f"select record_id, {_typed('satisfaction_rating.id')}, {_typed('satisfaction_rating.score')}, "
            f"{_typed('satisfaction_rating.comment')}, {_typed('satisfaction_rating.reason')} "
            "from raw_zendesk.tickets order by record_id",
            [
                ("1", 9001, "bad", "slow", "Took too long"),
                ("2", None, "offered", None, None),
                ("3", None, None, None, None),
            ],
        ),
    ),
    Case(
        "satisfaction_rating_without_ticket",
        "zendesk",
        "satisfaction_ratings",
        jsonl({k: v for k, v in satisfaction_rating(1).items() if k != "ticket_id"}, satisfaction_rating(2)),
        "records",
        [(1, "missing required field ticket_id")],
        loaded=1,
    ),
    Case(
        "satisfaction_rating_group_id_not_a_number",
        "zendesk",
        "satisfaction_ratings",
        jsonl(satisfaction_rating(1, group_id="support"), satisfaction_rating(2)),
        "records",
        [(1, 'group_id "support" is not a whole number')],
        loaded=1,
    ),
    Case(
        "satisfaction_rating_scores_and_reason",
        "zendesk",
        "satisfaction_ratings",
        jsonl(
            satisfaction_rating(1, score="bad", reason="Issue not resolved", reason_code=7),
            satisfaction_rating(2, score="offered"),
        ),
        "loaded",
        loaded=2,
        value=(
            f"select {_typed('ticket_id')}, {_typed('score')}, {_typed('assignee_id')}, {_typed('reason_code')} "
            "from raw_zendesk.satisfaction_ratings order by 1",
            [(101, "bad", 7001, 7), (102, "offered", 7001, None)],
        ),
    ),
    Case(
        "empty_satisfaction_ratings_over_a_loaded_day",
        "zendesk",
        "satisfaction_ratings",
        b"",
        "file",
        "holds no records",
        before=jsonl(satisfaction_rating(1)),
        family=2,
    ),
]

# Delighted's builders and cases are in their own module (it imports this one's Case and helpers).
from tests.ingestion.catalogue_delighted import delighted_cases  # noqa: E402

CASES += delighted_cases()

# Zendesk's CSAT survey responses (customizable CSAT): builders and cases in their own module.
from tests.ingestion.catalogue_zendesk_csat import zendesk_csat_cases  # noqa: E402

CASES += zendesk_csat_cases()
