"""Zendesk satisfaction ratings through the connector: cursor pages (`page[size]`, `links.next` while
`meta.has_more`), `start_time` on the next run, a rating changed from bad to good, 429 with Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.api.connector import fetch
from tests.api.conftest import assert_complete, load_source
from tests.api.fake_vendors import FakeVendorServer, Zendesk
from tests.api.fake_zendesk_csat import PATH, rate
from tests.api.test_zendesk import expected, settings_env

NOW = datetime.now(UTC).replace(microsecond=0)
SCORES = ("good", "bad", "offered", "good", "good", "bad", "offered")


@pytest.fixture
def zendesk() -> Zendesk:
    vendor = Zendesk()
    org = vendor.add_organization(NOW - timedelta(days=30), "acc_00001")
    user = vendor.add_user(NOW - timedelta(days=30), org["id"])
    for i, score in enumerate(SCORES):
        ticket = vendor.add_ticket(NOW - timedelta(days=20 - i), user["id"], org["id"])
        vendor.solve_ticket(ticket["id"], NOW - timedelta(days=19 - i))
        rate(vendor, ticket["id"], NOW - timedelta(days=18 - i), score, comment=f"said {i}", assignee_id=7000 + i % 2)
    return vendor


@pytest.fixture
def server(zendesk: Zendesk):
    with FakeVendorServer(zendesk) as running:
        yield running


def test_pages_follow_links_next_while_has_more(zendesk, server, landing, warehouse):
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    calls = server.calls(PATH)
    # 7 ratings at 4 a page (NPS_ZENDESK_PAGE_SIZE): the first asks from the start, the next is links.next.
    assert [c.status for c in calls] == [200, 200]
    assert calls[0].param("page[size]") == "4" and calls[0].param("start_time") == "1"
    assert calls[0].param("page[after]") is None
    assert calls[1].param("page[after]") and calls[1].param("start_time") == "1"
    landed = load_source(landing, warehouse, "zendesk")
    assert_complete(landed, expected(zendesk))
    scores = sorted(r["score"] for r in landed.latest["satisfaction_ratings"].values())
    assert scores == sorted(SCORES)
    # The ticket carries its rating too (read through the tickets' contract).
    rated = [t["satisfaction_rating"] for t in landed.latest["tickets"].values()]
    assert sorted(r["score"] for r in rated) == sorted(SCORES)


def test_next_run_starts_at_the_last_change_and_gets_the_changed_rating(zendesk, server, landing, warehouse):
    env = settings_env(server, zendesk, zendesk.token)
    fetch("zendesk", landing, env)
    load_source(landing, warehouse, "zendesk")
    last = max(int(datetime.fromisoformat(r["updated_at"]).timestamp()) for r in zendesk.satisfaction_ratings.values())
    bad = next(r for r in zendesk.satisfaction_ratings.values() if r["score"] == "bad")
    rate(zendesk, bad["ticket_id"], NOW - timedelta(minutes=30), "good", comment="fixed after all")
    server.clear()

    fetch("zendesk", landing, env)
    calls = server.calls(PATH)
    assert calls[0].param("start_time") == str(last)
    assert len(calls) == 1
    landed = load_source(landing, warehouse, "zendesk")
    assert_complete(landed, expected(zendesk))
    assert landed.latest["satisfaction_ratings"][str(bad["id"])]["score"] == "good"
    assert landed.latest["satisfaction_ratings"][str(bad["id"])]["comment"] == "fixed after all"


def test_429_with_retry_after_is_waited_out(zendesk, server, landing, warehouse):
    server.fail(PATH, "429", retry_after="1", on_request=2)
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    calls = server.calls(PATH)
    assert [c.status for c in calls] == [200, 429, 200]
    assert calls[2].at - calls[1].at >= 0.95 and calls[2].query == calls[1].query
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))
