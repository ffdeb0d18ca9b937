"""Legal but unusual vendor records must not break the build, and every response is still kept.

Metered prices without a unit amount, one-time prices, a subscription of an unknown customer, customers without
address or metadata, tickets without organization, metrics with null minutes, Typeform items without answers,
survey rows without a score or with a non-numeric ticket id (both quarantined), timestamps without a zone or with
an offset.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR
from tests.e2e.dbt_tests import dbt_test_results
from tests.e2e.landing_files import write_jsonl

pytestmark = pytest.mark.e2e

MARCH_1_2100_UTC = 1772402400  # 2026-03-01T22:00:00Z


@pytest.fixture(scope="module")
def warehouse(pipeline, tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("edge_cases")
    metered = {
        "id": "price_m",
        "object": "price",
        "currency": "usd",
        "unit_amount": None,
        "unit_amount_decimal": None,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered"},
        "type": "recurring",
        "nickname": None,
        "lookup_key": None,
        "product": "prod_m",
    }
    yearly_gbp = {
        "id": "price_y",
        "object": "price",
        "currency": "gbp",
        "unit_amount": 120000,
        "recurring": {"interval": "year", "interval_count": 1},
        "type": "recurring",
        "nickname": "Business",
        "product": "prod_b",
    }
    write_jsonl(
        landing,
        "stripe",
        "customers",
        "2026-03-01",
        [
            {
                "id": "cus_X",
                "object": "customer",
                "created": MARCH_1_2100_UTC,
                "email": None,
                "address": None,
                "metadata": {},
            },
            {
                "id": "cus_Y",
                "object": "customer",
                "created": MARCH_1_2100_UTC,
                "email": "y@y.com",
                "metadata": {"account_id": "acc_Y"},
                "address": {"country": None},
            },
        ],
    )
    write_jsonl(
        landing,
        "stripe",
        "subscriptions",
        "2026-03-01",
        [
            {
                "id": "sub_1",
                "object": "subscription",
                "customer": "cus_Y",
                "status": "active",
                "created": MARCH_1_2100_UTC,
                "start_date": MARCH_1_2100_UTC,
                "canceled_at": None,
                "ended_at": None,
                "currency": "usd",
                "items": {
                    "object": "list",
                    "data": [
                        {"id": "si_1", "quantity": None, "price": metered},
                        {"id": "si_2", "quantity": 3, "price": yearly_gbp},
                    ],
                },
            },
            {
                "id": "sub_2",
                "object": "subscription",
                "customer": "cus_unknown",
                "status": "incomplete",
                "created": MARCH_1_2100_UTC,
                "start_date": MARCH_1_2100_UTC,
                "currency": "usd",
                "items": {"object": "list", "data": []},
            },
            {
                "id": "sub_3",
                "object": "subscription",
                "customer": "cus_X",
                "status": "active",
                "created": MARCH_1_2100_UTC,
                "start_date": MARCH_1_2100_UTC,
                "currency": "usd",
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_3",
                            "quantity": 1,
                            "price": {
                                "id": "p1",
                                "currency": "usd",
                                "unit_amount": 5000,
                                "recurring": None,
                                "type": "one_time",
                            },
                        }
                    ],
                },
            },
        ],
    )
    write_jsonl(
        landing,
        "stripe",
        "invoices",
        "2026-03-02",
        [
            {
                "id": "in_1",
                "object": "invoice",
                "customer": "cus_Y",
                "subscription": None,
                "status": "draft",
                "amount_due": 0,
                "amount_paid": 0,
                "currency": "usd",
                "created": MARCH_1_2100_UTC,
            }
        ],
    )
    write_jsonl(
        landing,
        "stripe",
        "charges",
        "2026-03-02",
        [
            {
                "id": "ch_1",
                "object": "charge",
                "customer": None,
                "invoice": None,
                "status": "pending",
                "amount": 100,
                "amount_refunded": 0,
                "currency": "usd",
                "created": MARCH_1_2100_UTC,
            }
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-02",
        [
            {
                "id": 6001,
                "status": "new",
                "tags": [],
                "via": {"channel": "voice"},
                "organization_id": None,
                "requester_id": None,
                "created_at": "2026-03-02T08:00:00Z",
                "updated_at": "2026-03-02T08:00:00Z",
            }
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "ticket_metrics",
        "2026-03-02",
        [
            {
                "id": 9,
                "ticket_id": 6001,
                "created_at": "2026-03-02T08:00:00Z",
                "updated_at": "2026-03-02T08:00:00Z",
                "reopens": None,
                "replies": 0,
                "reply_time_in_minutes": {"calendar": None, "business": None},
                "full_resolution_time_in_minutes": {"calendar": None, "business": None},
            }
        ],
    )
    write_jsonl(
        landing,
        "zendesk",
        "users",
        "2026-03-02",
        [{"id": 1, "name": "Agent", "email": None, "organization_id": None, "role": "agent"}],
    )
    write_jsonl(
        landing, "zendesk", "organizations", "2026-03-02", [{"id": 2, "name": "No external id", "external_id": None}]
    )
    write_jsonl(
        landing,
        "typeform",
        "responses",
        "2026-03-02",
        [
            {
                "landing_id": "x",
                "token": "tf9",
                "response_id": "tf9",
                "landed_at": "2026-03-02T10:00:00Z",
                "submitted_at": "2026-03-02T10:00:00Z",
                "answers": [],
            },
            {
                "token": "tf10",
                "response_id": "tf10",
                "landed_at": "2026-03-02T10:00:00Z",
                "submitted_at": "2026-03-02T10:00:00Z",
                "hidden": {"account_id": "acc_Y"},
                "answers": None,
            },
        ],
    )
    write_jsonl(
        landing,
        "segment",
        "tracks",
        "2026-03-02",
        [
            {
                "type": "track",
                "messageId": "m1",
                "event": "Signed In",
                "timestamp": "2026-03-02T10:00:00Z",
                "anonymousId": "a1",
                "context": {},
                "properties": {},
            },
            {
                "type": "track",
                "messageId": "m2",
                "event": "Report Created",
                "userId": "u",
                "timestamp": "2026-03-02T10:00:00.123+01:00",
                "context": {"groupId": "acc_Y"},
            },
        ],
    )
    responses = landing / "surveys" / "responses" / "2026-03-03.csv"
    responses.parent.mkdir(parents=True)
    responses.write_text(
        "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at\n"
        "q1,nps,relational,,no score,a@a.com,,,email,relationship,2026-03-03T10:00:00Z\n"
        "q2,ces,transactional,5,,z@z.com,,abc,email,support_ticket,2026-03-03T10:00:00+05:30\n"
        "q3,nps,,10,,,acc_Y,,,,2026-03-03 10:00:00\n"
        "q4,csat,transactional,4,,t@typo.com,acc_typo,,email,support_ticket,2026-03-03T11:00:00Z\n"
    )
    warehouse = tmp_path_factory.mktemp("edge_cases_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 3))  # asserts the run succeeded
    return warehouse


def test_every_response_is_kept_with_what_could_be_read(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select response_id, survey_type, score, account_id, responded_at, ticket_id "
            "from marts.fct_survey_responses order by 1"
        ).fetchall()
    # q2's ticket id "abc" is not a ticket id: quarantined (it used to load with no ticket, silently).
    assert rows == [
        ("q3", "nps", 10, "acc_Y", datetime(2026, 3, 3, 10, 0), None),
        ("q4", "csat", 4, "acc_typo", datetime(2026, 3, 3, 11, 0), None),
        ("tf10", "nps", None, "acc_Y", datetime(2026, 3, 2, 10, 0), None),
        ("tf9", "nps", None, None, datetime(2026, 3, 2, 10, 0), None),
    ]


def test_scored_responses_only_count_towards_nps(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        summary = con.execute(
            "select responses, promoters, nps, unmatched_responses, ces_responses, ces_mean from marts.program_summary"
        ).fetchall()
    assert summary == [(1, 1, 100.0, 1, 0, None)]


def test_a_survey_row_without_a_score_is_quarantined_not_lost(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rejects = con.execute(
            "select reason, _source_file, _line_number, raw_record ->> '$.response_id' from raw_surveys.responses_rejects "
            "order by _line_number"
        ).fetchall()
    assert rejects == [
        ("missing required field score", "surveys/responses/2026-03-03.csv", 2, "q1"),
        ('ticket_id "abc" is not a whole number', "surveys/responses/2026-03-03.csv", 3, "q2"),
    ]


def test_mrr_skips_metered_and_one_time_prices(warehouse):
    rates = {
        row["currency"].lower(): float(row["usd_per_unit"])
        for row in csv.DictReader((DBT_PROJECT_DIR / "seeds" / "fx_rates.csv").open())
    }
    # sub_1: metered item (no unit amount) counts 0; 3 seats x GBP 1,200 a year = GBP 300 a month.
    expected_mrr = 3 * 1200 / 12 * rates["gbp"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(mrr, band, plan, region)] = con.execute(
            "select mrr_usd, mrr_band, plan, region from marts.fct_survey_responses where response_id = 'q3'"
        ).fetchall()
    assert mrr == pytest.approx(expected_mrr)
    assert band == "100-499"
    assert plan == "Business"
    assert region == "unknown"


def test_an_account_id_known_to_no_source_is_kept_and_warned_about(warehouse, tmp_path):
    [result] = dbt_test_results(warehouse, "assert_survey_accounts_are_known", tmp_path / "target")
    assert (result["status"], result["failures"]) == ("warn", 1)
