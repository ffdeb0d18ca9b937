"""Zendesk CSAT survey responses (customizable CSAT) through the connector: cursor pages (`page[size]`,
`page[after]` = `meta.after_cursor` while `meta.has_more`), `filter[created_at_start]` on the next run at the oldest
response still open to change, a changed rating, 429 with Retry-After, a refused token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.api.connector import ApiFetchError, fetch
from tests.api.conftest import assert_complete, load_source
from tests.api.fake_vendors import FakeVendorServer, Zendesk
from tests.api.fake_zendesk_csat_survey import PATH, respond
from tests.api.test_zendesk import expected, settings_env

NOW = datetime.now(UTC).replace(microsecond=0)
# Days ago each ticket's survey was answered (a response can change for 7 days) and its rating.
ANSWERED = ((20, 5), (18, 4), (16, 1), (12, 3), (6, 2), (4, 5), (2, 4))


@pytest.fixture
def zendesk() -> Zendesk:
    vendor = Zendesk()
    org = vendor.add_organization(NOW - timedelta(days=30), "acc_00001")
    user = vendor.add_user(NOW - timedelta(days=30), org["id"])
    for days, rating in ANSWERED:
        ticket = vendor.add_ticket(NOW - timedelta(days=days + 2), user["id"], org["id"])
        vendor.solve_ticket(ticket["id"], NOW - timedelta(days=days + 1))
        respond(vendor, ticket["id"], NOW - timedelta(days=days), rating, comment=f"rated {rating}")
    return vendor


@pytest.fixture
def server(zendesk: Zendesk):
    with FakeVendorServer(zendesk) as running:
        yield running


def ratings(landed) -> dict[str, int]:
    return {
        response_id: next(a["rating"] for a in response["answers"] if a["type"] == "rating_scale")
        for response_id, response in landed.latest["csat_survey_responses"].items()
    }


def test_pages_follow_the_after_cursor_while_has_more(zendesk, server, landing, warehouse):
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    calls = server.calls(PATH)
    # 7 responses at 4 a page: the first asks from the start, the next adds page[after] and keeps the filter.
    assert [c.status for c in calls] == [200, 200]
    assert calls[0].param("page[size]") == "4" and calls[0].param("filter[created_at_start]") == "1"
    assert calls[0].param("page[after]") is None
    assert calls[1].param("page[after]") and calls[1].param("filter[created_at_start]") == "1"
    landed = load_source(landing, warehouse, "zendesk")
    assert_complete(landed, expected(zendesk))
    assert sorted(ratings(landed).values()) == sorted(rating for _, rating in ANSWERED)
    # Each response on the day it was answered (its answers' updated_at).
    days = {path.stem for path in (landing / "zendesk" / "csat_survey_responses").glob("*.jsonl")}
    assert days == {(NOW - timedelta(days=d)).date().isoformat() for d, _ in ANSWERED}


def test_next_run_starts_at_the_oldest_response_still_open_and_gets_the_change(zendesk, server, landing, warehouse):
    env = settings_env(server, zendesk, zendesk.token)
    fetch("zendesk", landing, env)
    load_source(landing, warehouse, "zendesk")
    # Answered 6, 4 and 2 days ago: open to change for 7 days; the oldest of them is where the next run starts.
    oldest_open = int((NOW - timedelta(days=6)).timestamp())
    ticket_id = next(t for t in zendesk.tickets if str(t) == _ticket_answered(zendesk, days=4))
    changed_at = NOW - timedelta(minutes=30)
    changed = respond(zendesk, ticket_id, changed_at, 1, comment="it broke again")
    server.clear()

    fetch("zendesk", landing, env)
    calls = server.calls(PATH)
    assert [c.param("filter[created_at_start]") for c in calls] == [str(oldest_open)]
    landed = load_source(landing, warehouse, "zendesk")
    assert_complete(landed, expected(zendesk))
    assert ratings(landed)[changed["id"]] == 1
    # The changed response lands again on the day of its change (yesterday when the test runs in the first 30
    # minutes after midnight UTC).
    day = landing / "zendesk" / "csat_survey_responses" / f"{changed_at.date().isoformat()}.jsonl"
    assert changed["id"] in day.read_text()


def _ticket_answered(zendesk: Zendesk, days: int) -> str:
    at = (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (response,) = [r for r in zendesk.csat_survey_responses.values() if r["answers"][0]["created_at"] == at]
    return response["subjects"][0]["id"]


def test_429_with_retry_after_is_waited_out(zendesk, server, landing, warehouse):
    server.fail(PATH, "429", retry_after="1", on_request=2)
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    calls = server.calls(PATH)
    assert [c.status for c in calls] == [200, 429, 200]
    assert calls[2].at - calls[1].at >= 0.95 and calls[2].query == calls[1].query
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))


def test_a_token_refused_on_the_second_page_fails_clearly_and_keeps_nothing(zendesk, server, landing, warehouse):
    server.fail(PATH, "401", on_request=2)
    with pytest.raises(ApiFetchError) as raised:
        fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    assert f"Zendesk API refused the credentials (401 Unauthorized) at GET {PATH}" in str(raised.value)
    assert not (landing / "zendesk").exists()
    server.clear()
    fetch("zendesk", landing, settings_env(server, zendesk, zendesk.token))
    assert server.calls(PATH)[0].param("filter[created_at_start]") == "1"
    assert_complete(load_source(landing, warehouse, "zendesk"), expected(zendesk))
