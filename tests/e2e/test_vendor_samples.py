"""Hand-written vendor-shaped data the generator never produces, with every expected number worked out by hand.

Covers: a Typeform item with only a `token`, answers in another order, no hidden fields at all, a time with a UTC
offset, a response re-delivered on a later day; a survey export with a BOM, CRLF line ends, extra and reordered
columns and upper-case values; emails in mixed case; a ticket whose refund tag arrives in a later update.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tests.e2e.landing_files import write_jsonl
from tests.e2e.reference import nps_interval

pytestmark = pytest.mark.e2e


def nps_answer(score: int, reason: str | None = None, reason_first: bool = False) -> list[dict]:
    answers = [
        {"field": {"id": "Hk3sP0qWa", "ref": "nps_score", "type": "opinion_scale"}, "type": "number", "number": score}
    ]
    if reason is not None:
        text = {"field": {"id": "Qz8LmN2xR", "ref": "nps_reason", "type": "long_text"}, "type": "text", "text": reason}
        answers = [text, *answers] if reason_first else [*answers, text]
    return answers


def typeform(response_id: str | None, token: str, submitted_at: str, hidden: dict | None, answers: list[dict]) -> dict:
    item = {
        "landing_id": token,
        "token": token,
        "landed_at": submitted_at,
        "submitted_at": submitted_at,
        "answers": answers,
        "metadata": {"platform": "other", "referer": "https://acme.typeform.com/to/Ab12Cd", "browser": "default"},
    }
    if response_id is not None:
        item["response_id"] = response_id
    if hidden is not None:
        item["hidden"] = hidden
    return item


def write_csv(landing: Path, source: str, entity: str, day: str, lines: list[str]) -> None:
    path = landing / source / entity / f"{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))


def ticket(ticket_id: int, tags: list[str], updated_at: str, status: str) -> dict:
    return {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "via": {"channel": "email"},
        "created_at": "2026-03-01T08:00:00Z",
        "updated_at": updated_at,
        "type": "question",
        "subject": "Help",
        "status": status,
        "priority": "normal",
        "requester_id": 9001,
        "organization_id": 777,
        "tags": tags,
        "custom_fields": [],
    }


def metrics(metric_id: int, ticket_id: int, first_reply: int, resolution: int) -> dict:
    return {
        "id": metric_id,
        "ticket_id": ticket_id,
        "created_at": "2026-03-01T08:00:00Z",
        "updated_at": "2026-03-02T09:00:00Z",
        "reopens": 0,
        "replies": 2,
        "solved_at": "2026-03-02T09:00:00Z",
        "reply_time_in_minutes": {"calendar": first_reply, "business": first_reply},
        "full_resolution_time_in_minutes": {"calendar": resolution, "business": resolution},
    }


@pytest.fixture(scope="module")
def warehouse(pipeline, tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("vendor_samples")
    relational = {"touchpoint": "relationship", "survey_kind": "relational"}
    write_jsonl(
        landing,
        "typeform",
        "responses",
        "2026-03-02",
        [
            typeform(
                "tf1",
                "tf1",
                "2026-03-02T10:00:00Z",
                {"account_id": "acc_A", "email": "ann@alpha.com", **relational},
                nps_answer(10, "Love it"),
            ),
            typeform(
                "tf2",
                "tf2",
                "2026-03-02T11:00:00Z",
                {"account_id": "", "email": " Bob@Beta.IO ", **relational},
                nps_answer(6, "Slow", reason_first=True),
            ),
            typeform("tf3", "tf3", "2026-03-02T12:00:00Z", None, nps_answer(8)),
        ],
    )
    write_jsonl(
        landing,
        "typeform",
        "responses",
        "2026-03-03",
        [
            # 23:30 at UTC-2 is 01:30 UTC on 4 March: a day-grain row of its own.
            typeform(
                None,
                "tf4",
                "2026-03-03T23:30:00-02:00",
                {"account_id": "acc_A", "email": "ann@alpha.com", **relational},
                nps_answer(0),
            ),
            # tf1 delivered again: still one response.
            typeform(
                "tf1",
                "tf1",
                "2026-03-02T10:00:00Z",
                {"account_id": "acc_A", "email": "ann@alpha.com", **relational},
                nps_answer(10, "Love it"),
            ),
        ],
    )
    write_csv(
        landing,
        "surveys",
        "responses",
        "2026-03-02",
        [
            "response_id,respondent_name,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at",
            's1,Bob,NPS,Transactional,9,"Setup was quick, thanks",bob@beta.io,acc_B,,in_app,onboarding,2026-03-02T12:00:00Z',
            "s2,Carol,ces,transactional,2,Refund took ages,CAROL@gamma.org,,5001,email,support_ticket,2026-03-02T13:00:00Z",
            "s3,Dan,ces,transactional,7,,dan@alpha.com,acc_A,5002,email,support_ticket,2026-03-02T14:00:00Z",
            "s4,Dan,csat,transactional,4,,dan@alpha.com,acc_A,5002,email,support_ticket,2026-03-02T14:05:00Z",
            "s5,Ann,nps,transactional,7,,ann@alpha.com,acc_A,,sms,feature_use,2026-03-02T15:00:00Z",
        ],
    )
    sends = ["send_id,survey_type,survey_kind,channel,touchpoint,account_id,email,sent_at"]
    sends += [f"e{i},nps,relational,email,relationship,acc_A,ann@alpha.com,2026-03-01T09:00:00Z" for i in range(6)]
    sends += [f"i{i},nps,transactional,in_app,onboarding,acc_B,bob@beta.io,2026-03-02T11:59:00Z" for i in range(2)]
    sends += [
        "m1,nps,transactional,sms,feature_use,acc_A,ann@alpha.com,2026-03-02T14:00:00Z",
        "m2,nps,transactional,sms,feature_use,acc_A,ann@alpha.com,2026-03-02T14:00:00Z",
        "c1,ces,transactional,email,support_ticket,,carol@gamma.org,2026-03-02T12:00:00Z",
    ]
    write_csv(landing, "surveys", "sends", "2026-03-01", [sends[0], *[s for s in sends[1:] if "2026-03-01" in s]])
    write_csv(landing, "surveys", "sends", "2026-03-02", [sends[0], *[s for s in sends[1:] if "2026-03-02" in s]])
    write_jsonl(
        landing,
        "zendesk",
        "organizations",
        "2026-03-01",
        [
            {
                "id": 777,
                "name": "Beta",
                "external_id": "acc_B",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-03-01T00:00:00Z",
            },
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "users",
        "2026-03-01",
        [
            {
                "id": 9001,
                "name": "Bob",
                "email": "bob@beta.io",
                "organization_id": 777,
                "role": "end-user",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-03-01T00:00:00Z",
            },
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-01",
        [
            ticket(5001, [], "2026-03-01T08:00:00Z", "open"),
            ticket(5002, ["how_to"], "2026-03-01T08:00:00Z", "open"),
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-02",
        [
            ticket(5001, ["refund", "billing"], "2026-03-02T09:00:00Z", "solved"),
            ticket(5002, ["how_to"], "2026-03-02T09:00:00Z", "solved"),
        ],
    )
    write_jsonl(
        landing, "zendesk", "ticket_metrics", "2026-03-02", [metrics(1, 5001, 30, 600), metrics(2, 5002, 10, 100)]
    )
    write_jsonl(
        landing,
        "stripe",
        "customers",
        "2026-03-01",
        [
            {
                "id": "cus_A",
                "object": "customer",
                "created": 1704067200,
                "email": "billing@alpha.com",
                "address": {"country": "US"},
                "currency": "usd",
                "metadata": {"account_id": "acc_A"},
            },
            {
                "id": "cus_C",
                "object": "customer",
                "created": 1704067200,
                "email": "carol@gamma.org",
                "address": {"country": "DE"},
                "currency": "eur",
                "metadata": {"account_id": "acc_C"},
            },
        ],
    )
    warehouse = tmp_path_factory.mktemp("vendor_samples_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 3))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_responses_are_tied_to_accounts_and_none_is_lost(warehouse):
    assert rows(
        warehouse,
        "select response_id, survey_type, score, account_id, account_match_method, nps_category "
        "from marts.fct_survey_responses order by 1",
    ) == [
        ("s1", "nps", 9, "acc_B", "provided", "promoter"),
        ("s2", "ces", 2, "acc_C", "stripe_email", None),
        ("s3", "ces", 7, "acc_A", "provided", None),
        ("s4", "csat", 4, "acc_A", "provided", None),
        ("s5", "nps", 7, "acc_A", "provided", "passive"),
        ("tf1", "nps", 10, "acc_A", "provided", "promoter"),
        ("tf2", "nps", 6, "acc_B", "zendesk_email", "detractor"),
        ("tf3", "nps", 8, None, "unmatched", "passive"),
        ("tf4", "nps", 0, "acc_A", "provided", "detractor"),
    ]
    assert rows(
        warehouse,
        "select response_id, responded_at, comment, channel, survey_kind from marts.fct_survey_responses "
        "where response_id in ('tf2', 'tf4', 's1') order by 1",
    ) == [
        (
            "s1",
            datetime(2026, 3, 2, 12, 0),
            "Setup was quick, thanks",
            "in_app",
            "transactional",
        ),
        ("tf2", datetime(2026, 3, 2, 11, 0), "Slow", "email", "relational"),
        ("tf4", datetime(2026, 3, 4, 1, 30), None, "email", "relational"),
    ]


def test_nps_numbers(warehouse):
    # 6 NPS responses: promoters tf1, s1; passives tf3, s5; detractors tf2, tf4. 10 NPS sends.
    [summary] = rows(
        warehouse,
        "select responses, promoters, passives, detractors, nps, nps_ci_low, nps_ci_high, "
        "nps_sends, response_rate, unmatched_responses, ces_responses, ces_mean from marts.program_summary",
    )
    low, high = nps_interval(2, 2, 6)
    assert summary == pytest.approx((6, 2, 2, 2, 0.0, low, high, 10, 0.6, 1, 2, 4.5))
    by_channel = rows(
        warehouse,
        "select segment_value, responses, nps, sends, response_rate from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'channel' order by 1",
    )
    # email: tf1 (P), tf2 (D), tf3 (Pa), tf4 (D) -> -25 on 6 sends; in_app: s1 -> +100 on 2; sms: s5 -> 0 on 2.
    expected = [("email", 4, -25.0, 6, 4 / 6), ("in_app", 1, 100.0, 2, 0.5), ("sms", 1, 0.0, 2, 0.5)]
    assert by_channel == [pytest.approx(row) for row in expected]
    by_day = rows(
        warehouse,
        "select period_start, responses, promoters, detractors, sends from marts.nps_by_period "
        "where period_grain = 'day' and segment_type = 'overall' order by 1",
    )
    assert by_day == [(date(2026, 3, 1), 0, 0, 0, 6), (date(2026, 3, 2), 5, 2, 1, 4), (date(2026, 3, 4), 1, 0, 1, 0)]
    week = rows(
        warehouse,
        "select period_start, responses, sends from marts.nps_by_period "
        "where period_grain = 'week' and segment_type = 'overall' order by 1",
    )
    # 1 March 2026 is a Sunday: its send falls in the week of Monday 23 February.
    assert week == [(date(2026, 2, 23), 0, 6), (date(2026, 3, 2), 6, 4)]
    regions = rows(
        warehouse,
        "select segment_value, responses from marts.nps_by_period "
        "where period_grain = 'quarter' and segment_type = 'region' order by 1",
    )
    assert regions == [("NA", 3), ("unknown", 3)]


def test_ces_numbers_use_the_latest_ticket_version(warehouse):
    result = rows(
        warehouse,
        "select segment_type, segment_value, responses, ces_mean, ces_easy_share, "
        "median_first_reply_minutes, median_resolution_minutes from marts.ces_by_period "
        "where period_grain = 'month' and segment_type in ('overall', 'ticket_category') order by 1, 2",
    )
    expected = [
        ("overall", "all", 2, 4.5, 0.5, 20.0, 350.0),
        ("ticket_category", "other", 1, 7.0, 1.0, 10.0, 100.0),
        ("ticket_category", "refund_related", 1, 2.0, 0.0, 30.0, 600.0),
    ]
    assert result == [pytest.approx(row) for row in expected]
