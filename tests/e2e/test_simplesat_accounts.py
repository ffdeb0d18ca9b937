"""SimpleSAT responses without an email, tied to accounts by the customer's other fields, through the real loader
and dbt: the help-desk ticket (`ticket.external_id`, the Zendesk ticket id) -> its organization, the customer's
help-desk user id (`customer.external_id`, the Zendesk user id) -> the user's organization, then the email, then
`customer.company` naming exactly one account's Zendesk organizations (else Stripe customers). An ambiguous company
stays unmatched. CES and CSAT answers count per ticket category and per team member, also without a Zendesk ticket.

The objects are SimpleSAT's response objects (`POST /api/v1/responses/search`, tests/ingestion/catalogue.py) built
with the helper of tests/e2e/test_simplesat_responses.py; Zendesk and Stripe objects as their APIs return them. The
expected accounts are written here from the fixture by the rules of docs/sources.md, not computed by the models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from settings import DBT_PROJECT_DIR
from tests.e2e.landing_files import write_jsonl
from tests.e2e.test_simplesat_responses import response
from tests.e2e.zendesk_csat_landing import ticket

pytestmark = pytest.mark.e2e

AT = "2026-01-01T00:00:00Z"
# Zendesk organizations: (id, name, external_id = our account id). "Umbrella" names two accounts' organizations.
ORGANIZATIONS = [
    (361, "Acme Corp", "acc_ticket"),
    (362, "Globex", "acc_user"),
    (363, "Initech", "acc_company"),
    (364, "Umbrella", "acc_umbrella_1"),
    (365, "umbrella ", "acc_umbrella_2"),
]
USER_ID = 5001  # a Globex person
TICKET_ID = 812  # filed under Acme Corp, tagged refund; the catalogue's responses carry ticket.external_id "812"


def customer(number: int, external_id: str | None = None, company: str | None = None, email: str | None = None):
    """SimpleSAT's `customer` object; these respondents gave no email unless told."""
    return {
        "id": 3300 + number,
        "external_id": external_id,
        "name": f"Person {number}",
        "email": email,
        "company": company,
        "custom_attributes": {},
        "tags": [],
    }


def member(external_id: str) -> list[dict]:
    return [
        {
            "id": 60 + int(external_id) % 10,
            "external_id": external_id,
            "name": f"Agent {external_id}",
            "email": f"agent{external_id}@support.example",
            "role": "agent",
            "is_primary": True,
            "custom_attributes": {},
        }
    ]


def simplesat_ticket(external_id: str) -> dict:
    return {"id": 4400 + int(external_id) % 100, "external_id": external_id, "subject": "Help", "custom_attributes": {}}


RESPONSES = [
    # Ticket 812 is Acme Corp's, though the customer's user id (5001) is Globex's: the ticket wins.
    response(1, "ces", "6", "2026-03-02T09:00:00Z", customer=customer(1, str(USER_ID)), team_members=member("71")),
    # Ticket 9999 is unknown to Zendesk: the user id 5001 ties it to Globex.
    response(
        2,
        "csat",
        "5",
        "2026-03-02T10:00:00Z",
        customer=customer(2, f" {USER_ID} "),
        ticket=simplesat_ticket("9999"),
        team_members=member("72"),
    ),
    # No ticket, a user id that is no Zendesk user: the company, trimmed and in any case, is Initech's alone.
    response(3, "nps", "9", "2026-03-02T11:00:00Z", customer=customer(3, "cust-3", "  INITECH ")),
    # "Umbrella" names the organizations of two accounts: unmatched, never a guess.
    response(4, "nps", "3", "2026-03-02T12:00:00Z", customer=customer(4, None, "Umbrella")),
    # A name no Zendesk organization has; one Stripe customer (one account) has it.
    response(5, "nps", "10", "2026-03-02T13:00:00Z", customer=customer(5, None, "hooli")),
    # The email (a Stripe customer's) beats the company (Initech).
    response(6, "nps", "7", "2026-03-02T14:00:00Z", customer=customer(6, None, "Initech", "Pay@Hooli.example")),
    # CES without a ticket, answered to team member 73: counted for agent 73 under no_ticket.
    response(
        7,
        "ces",
        "3",
        "2026-03-02T15:00:00Z",
        customer=customer(7, None, "Umbrella"),
        ticket=None,
        team_members=member("73"),
    ),
    # CES on ticket 812 without a team member: the ticket's assignee (74) is the agent.
    response(8, "ces", "7", "2026-03-02T16:00:00Z", customer=customer(8), team_members=None),
]

EXPECTED_ACCOUNTS = {
    "simplesat-1": ("acc_ticket", "zendesk_ticket"),
    "simplesat-2": ("acc_user", "zendesk_user_id"),
    "simplesat-3": ("acc_company", "company_name"),
    "simplesat-4": (None, "unmatched"),
    "simplesat-5": ("acc_hooli", "company_name"),
    "simplesat-6": ("acc_hooli", "stripe_email"),
    "simplesat-7": (None, "unmatched"),
    "simplesat-8": ("acc_ticket", "zendesk_ticket"),
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("simplesat_accounts")
    organizations = [
        {"id": o, "name": name, "external_id": account, "created_at": AT, "updated_at": AT}
        for o, name, account in ORGANIZATIONS
    ]
    write_jsonl(landing, "zendesk", "organizations", "2026-03-01", organizations)
    user = {
        "id": USER_ID,
        "email": "someone@globex.example",
        "organization_id": 362,
        "role": "end-user",
        "created_at": AT,
        "updated_at": AT,
    }
    write_jsonl(landing, "zendesk", "users", "2026-03-01", [user])
    write_jsonl(
        landing,
        "zendesk",
        "tickets",
        "2026-03-01",
        [ticket(TICKET_ID, "2026-03-01T12:00:00Z", 361, 11, 74, ("refund",))],
    )
    stripe_customer = {
        "id": "cus_H",
        "object": "customer",
        "address": None,
        "created": 1767225600,
        "currency": "usd",
        "email": "pay@hooli.example",
        "livemode": False,
        "metadata": {"account_id": "acc_hooli"},
        "name": "Hooli",
    }
    write_jsonl(landing, "stripe", "customers", "2026-03-01", [stripe_customer])
    write_jsonl(landing, "simplesat", "responses", "2026-03-02", RESPONSES)
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("simplesat_accounts_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 2))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_fixture_has_no_email_where_other_fields_must_tie(landing):
    lines = (landing / "simplesat" / "responses" / "2026-03-02.jsonl").read_text().splitlines()
    emails = {f"simplesat-{o['id']}": o["customer"]["email"] for o in map(json.loads, lines)}
    assert sorted(emails) == sorted(EXPECTED_ACCOUNTS)
    assert [k for k, email in emails.items() if email] == ["simplesat-6"]


def test_each_response_is_tied_by_the_documented_rule(warehouse):
    assert rows(
        warehouse,
        "select response_id, account_id, account_match_method from marts.fct_survey_responses "
        "where source = 'simplesat' order by response_id",
    ) == [(r, *EXPECTED_ACCOUNTS[r]) for r in sorted(EXPECTED_ACCOUNTS)]


def test_the_customer_fields_reach_the_union(warehouse):
    # Text fields load trimmed (the contract), the case kept.
    assert rows(
        warehouse,
        "select response_id, ticket_id, customer_external_id, customer_company "
        "from intermediate.int_survey_responses_unioned where response_id in ('simplesat-1', 'simplesat-3') "
        "order by 1",
    ) == [("simplesat-1", 812, "5001", None), ("simplesat-3", None, "cust-3", "INITECH")]


def test_ces_counts_per_ticket_category_and_team_member(warehouse):
    # CES: 1 (6, ticket 812 refund, member 71), 7 (3, no ticket, member 73), 8 (7, ticket 812, its assignee 74).
    assert rows(
        warehouse,
        "select segment_type, segment_value, responses, ces_mean from marts.ces_by_period "
        "where period_grain = 'month' and segment_type in ('agent', 'ticket_category') order by 1, 2",
    ) == [
        ("agent", "71", 1, 6.0),
        ("agent", "73", 1, 3.0),
        ("agent", "74", 1, 7.0),
        ("ticket_category", "no_ticket", 1, 3.0),
        ("ticket_category", "refund_related", 2, 6.5),
    ]


def test_csat_counts_per_ticket_category_and_team_member(warehouse):
    # CSAT: 2 (5, satisfied; ticket 9999 unknown to Zendesk, member 72).
    assert rows(
        warehouse,
        "select segment_type, segment_value, answered, satisfied from marts.csat_by_period "
        "where period_grain = 'month' and source = 'simplesat' and segment_type in ('agent', 'ticket_category') "
        "order by 1, 2",
    ) == [("agent", "72", 1, 1), ("ticket_category", "no_ticket", 1, 1)]


def test_the_account_resolution_unit_tests_pass(warehouse, tmp_path):
    # The dbt unit tests of int_survey_events_resolved (SimpleSAT's ticket, user id and company steps, the
    # ambiguous names), on a copy of this warehouse, whose tables give the column types of the mocked models.
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "test", "--profiles-dir", ".", "--target-path", str(tmp_path / "target")]
    command += ["--select", "int_survey_events_resolved,test_type:unit"]
    env = {**os.environ, "NPS_DUCKDB_PATH": str(copy), "DO_NOT_TRACK": "1"}
    result = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"].split(".")[-1]: r["status"] for r in results} == {
        "account_resolution_order": "pass",
        "simplesat_account_resolution": "pass",
    }
