"""Zendesk connector against the fake incremental exports: cursor and time-based pages, metric sets, limits,
retries, refused token, and `start_time` on the next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.api.connector import ApiFetchError, fetch
from tests.api.conftest import FAST, assert_complete, files_containing, load_source
from tests.api.fake_vendors import FakeVendorServer, Zendesk

NOW = datetime.now(UTC).replace(microsecond=0)
TICKETS = "/api/v2/incremental/tickets/cursor.json"
USERS = "/api/v2/incremental/users/cursor.json"
ORGANIZATIONS = "/api/v2/incremental/organizations.json"


@pytest.fixture
def zendesk() -> Zendesk:
    vendor = Zendesk()
    vendor.organizations_page_size = 3
    for i in range(5):
        org = vendor.add_organization(NOW - timedelta(days=20, hours=i), f"acc_{i:05d}")
        user = vendor.add_user(NOW - timedelta(days=15, hours=i), org["id"])
        for t in range(2):
            vendor.add_ticket(NOW - timedelta(days=10 - i, hours=t), user["id"], org["id"])
    for ticket_id in sorted(vendor.tickets)[:4]:
        vendor.solve_ticket(ticket_id, NOW - timedelta(days=2, minutes=ticket_id % 60))
    return vendor


@pytest.fixture
def server(zendesk: Zendesk):
    with FakeVendorServer(zendesk) as running:
        yield running


def settings_env(server: FakeVendorServer, zendesk: Zendesk, token: str, **extra: str):
    env = {
        **FAST,
        "NPS_ZENDESK_API_URL": server.url,
        "NPS_ZENDESK_EMAIL": zendesk.email,
        "NPS_ZENDESK_API_TOKEN": token,
        "NPS_ZENDESK_PAGE_SIZE": "4",
        **extra,
    }
    return env.get


def expected(zendesk: Zendesk) -> dict[str, dict[str, dict]]:
    return {
        "tickets": {str(k): v for k, v in zendesk.tickets.items()},
        "ticket_metrics": {str(m["id"]): m for m in zendesk.metric_sets.values()},
        "users": {str(k): v for k, v in zendesk.users.items()},
        "organizations": {str(k): v for k, v in zendesk.organizations.items()},
        "satisfaction_ratings": {str(k): v for k, v in zendesk.satisfaction_ratings.items()},
        "csat_survey_responses": dict(zendesk.csat_survey_responses),
    }


def test_cursor_and_time_based_pages_within_the_rate_limit(zendesk, server, landing, warehouse):
    # Scaled down from 10 a minute: the fake allows 4 requests in any second, the client is set to 3.5 a second.
    server.rate_limit = (4, 1.0)
    result = fetch(
        "zendesk", landing, settings_env(server, zendesk, zendesk.token, NPS_ZENDESK_REQUESTS_PER_MINUTE="210")
    )
    tickets = server.calls(TICKETS)
    # 10 tickets at 4 a page: start_time first, then only the cursor; metric sets side-loaded.
    assert len(tickets) == 3
    assert tickets[0].param("start_time") == "1" and tickets[0].param("include") == "metric_sets"
    assert all(c.param("start_time") is None and c.param("cursor") for c in tickets[1:])
    assert len(server.calls(USERS)) == 2
    # 5 organizations, the time-based export answering 3 a page: next_page starts at the page's end_time, so the
    # last organization of a page comes again at the top of the next (as on Zendesk), and is kept once.
    organizations = server.calls(ORGANIZATIONS)
    ordered = sorted(zendesk.organizations.values(), key=lambda o: o["updated_at"])
    starts = [int(datetime.fromisoformat(ordered[i]["updated_at"]).timestamp()) for i in (2, 4)]
    assert [c.param("start_time") for c in organizations] == ["1", *map(str, starts)]
    assert all(c.status == 200 for c in server.calls())
    assert result.rows_fetched >= 30
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))


def test_429_500_and_reset_are_retried(zendesk, server, landing, warehouse):
    server.fail(TICKETS, "429", retry_after="1", on_request=2)
    server.fail(USERS, "500", on_request=1)
    server.fail(ORGANIZATIONS, "reset", on_request=2)
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    tickets = server.calls(TICKETS)
    assert [c.status for c in tickets] == [200, 429, 200, 200]
    assert tickets[2].at - tickets[1].at >= 0.95 and tickets[2].query == tickets[1].query
    assert [c.status for c in server.calls(USERS)] == [500, 200, 200]
    organizations = server.calls(ORGANIZATIONS)
    assert [c.status for c in organizations] == [200, -1, 200, 200]
    assert organizations[1].query == organizations[2].query
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))


def test_refused_token_fails_clearly_and_leaves_no_state(zendesk, server, landing, warehouse, tmp_path: Path):
    bad = "zd_wrong_token_000000"
    with pytest.raises(ApiFetchError) as raised:
        fetch("zendesk", landing, settings_env(server, zendesk, bad))
    message = str(raised.value)
    assert "Zendesk API refused the credentials (401 Unauthorized) at GET /api/v2/incremental/" in message
    assert "NPS_ZENDESK_API_TOKEN" in message and bad not in message
    # Refused half-way (the token revoked between two pages of the ticket export): nothing is kept.
    server.fail(TICKETS, "401", on_request=2)
    with pytest.raises(ApiFetchError):
        fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    assert not (landing / "zendesk").exists()
    server.clear()
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    assert server.calls(TICKETS)[0].param("start_time") == "1"
    assert server.calls(USERS)[0].param("start_time") == "1"
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))
    assert files_containing(tmp_path, bad) == [] and files_containing(tmp_path, zendesk.token) == []


def test_incremental_second_run_starts_at_the_last_change(zendesk, server, landing, warehouse):
    env = settings_env(server, zendesk, zendesk.token)
    fetch("zendesk", landing, env)
    load_source(landing, warehouse, "zendesk")
    last_ticket = max(t["generated_timestamp"] for t in zendesk.tickets.values())
    last_user = max(int(datetime.fromisoformat(u["updated_at"]).timestamp()) for u in zendesk.users.values())
    last_org = max(int(datetime.fromisoformat(o["updated_at"]).timestamp()) for o in zendesk.organizations.values())

    # Since then: one open ticket solved (its metric set changes too), one new ticket, one new user.
    open_ticket = sorted(t for t, v in zendesk.tickets.items() if v["status"] == "new")[0]
    zendesk.solve_ticket(open_ticket, NOW - timedelta(minutes=30))
    user = zendesk.add_user(NOW - timedelta(minutes=25), None)
    new_ticket = zendesk.add_ticket(NOW - timedelta(minutes=20), user["id"], None)
    server.clear()

    fetch("zendesk", landing, env)
    assert server.calls(TICKETS)[0].param("start_time") == str(last_ticket)
    assert server.calls(USERS)[0].param("start_time") == str(last_user)
    assert server.calls(ORGANIZATIONS)[0].param("start_time") == str(last_org)
    assert len(server.calls(TICKETS)) == 1  # the last ticket of the first run (inclusive bound), + 2 changed
    landed = load_source(landing, warehouse, "zendesk")
    assert_complete(landed, expected(zendesk))
    assert landed.latest["tickets"][str(open_ticket)]["status"] == "solved"
    assert str(new_ticket["id"]) in landed.latest["tickets"]
    metric = zendesk.metric_sets[open_ticket]
    assert landed.latest["ticket_metrics"][str(metric["id"])]["solved_at"] == metric["solved_at"]


def test_a_cursor_less_than_a_minute_old_is_moved_back(landing, warehouse):
    # Zendesk answers 422 to a start_time under a minute old; a run right after a change must not trip on it.
    vendor = Zendesk()
    org = vendor.add_organization(NOW - timedelta(seconds=5), "acc_00001")
    vendor.add_ticket(
        NOW - timedelta(seconds=5), vendor.add_user(NOW - timedelta(seconds=5), org["id"])["id"], org["id"]
    )
    with FakeVendorServer(vendor) as server:
        env = settings_env(server, vendor, vendor.token)
        fetch("zendesk", landing, env)
        server.clear()
        fetch("zendesk", landing, env)
        assert all(c.status == 200 for c in server.calls())
        # (CSAT survey responses filter on filter[created_at_start], not start_time.)
        exports = [c for c in server.calls() if not c.path.startswith("/api/v2/guide/")]
        assert all(int(c.param("start_time")) <= datetime.now(UTC).timestamp() - 60 for c in exports)
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(vendor))
