"""Delighted connector against the fake Delighted: bare-array pages until an empty one, `per_page` at most 100,
the first sync (everything, or from the configured start), the next run's two walks (new responses by `since`,
changed ones by `updated_since` in `asc:updated_at` order), unsubscribes and bounces by `since`, 429 and 401."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from ingestion.api.connector import ApiFetchError, fetch
from ingestion.api.settings import ConfigurationError, vendor_settings
from tests.api.conftest import FAST, assert_complete, files_containing, load_source
from tests.api.fake_delighted import BOUNCES, MAX_PER_PAGE, RESPONSES, UNSUBSCRIBES, Delighted, unix
from tests.api.fake_vendors import FakeVendorServer

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=40)


@pytest.fixture
def delighted() -> Delighted:
    vendor = Delighted()
    # 7 responses over 50 days (2 before the configured start), one unsubscribe, one bounce.
    for i in range(7):
        kind = ("nps", "ces", "csat")[i % 3]
        vendor.add_response(NOW - timedelta(days=50 - 7 * i, hours=3), kind, {"nps": 9, "ces": 6, "csat": 4}[kind])
    vendor.unsubscribe("180001", NOW - timedelta(days=20), "person80001@acme.example")
    vendor.bounce("180002", NOW - timedelta(days=10), "person80002@acme.example")
    return vendor


@pytest.fixture
def server(delighted: Delighted):
    with FakeVendorServer(delighted) as running:
        yield running


def settings_env(server: FakeVendorServer, key: str, **extra: str):
    env = {
        **FAST,
        "NPS_DELIGHTED_REQUESTS_PER_MINUTE": "0",
        "NPS_DELIGHTED_API_URL": server.url + "/v1",
        "NPS_DELIGHTED_API_KEY": key,
        "NPS_DELIGHTED_PAGE_SIZE": "2",
        **extra,
    }
    return env.get


def expected(delighted: Delighted) -> dict[str, dict[str, dict]]:
    return {
        "survey_responses": {rid: delighted.render(obj, expand=True) for rid, obj in delighted.responses.items()},
        "unsubscribes": dict(delighted.unsubscribes),
        "bounces": dict(delighted.bounces),
    }


def landed_day(obj: dict, field: str) -> str:
    return datetime.fromtimestamp(obj[field], UTC).date().isoformat()


def test_the_fake_refuses_a_page_larger_than_100(delighted, server):
    auth = (delighted.key, "")
    too_big = requests.get(server.url + RESPONSES, params={"per_page": MAX_PER_PAGE + 1}, auth=auth, timeout=5)
    assert too_big.status_code == 400
    assert len(requests.get(server.url + RESPONSES, params={"per_page": 100}, auth=auth, timeout=5).json()) == 7
    # The connector never asks for more: the setting is refused before any request.
    with pytest.raises(ConfigurationError, match="NPS_DELIGHTED_PAGE_SIZE must be at most 100"):
        vendor_settings("delighted", Path("/tmp"), settings_env(server, delighted.key, NPS_DELIGHTED_PAGE_SIZE="101"))


def test_a_first_sync_reads_every_page_until_the_empty_one(delighted, server, landing, warehouse):
    result = fetch("delighted", landing, settings_env(server, delighted.key))
    calls = server.calls(RESPONSES)
    assert all(c.status == 200 and c.authorization for c in server.calls())
    # Everything (no start configured), in creation order, persons expanded; pages 1-4 of 2, then the empty 5th.
    assert [int(c.param("page")) for c in calls] == [1, 2, 3, 4, 5]
    assert all(c.param("per_page") == "2" and c.param("expand[]") == "person" for c in calls)
    assert all(c.param("since") is None and c.param("updated_since") is None for c in calls)
    assert [int(c.param("page")) for c in server.calls(UNSUBSCRIBES)] == [1, 2]
    assert [int(c.param("page")) for c in server.calls(BOUNCES)] == [1, 2]
    assert result.rows_fetched == 7 + 1 + 1
    assert_complete(load_source(landing, warehouse, "delighted"), expected(delighted))
    # Each response in the file of its created day (none was updated), each unsubscribe on its day.
    for rid, obj in delighted.responses.items():
        lines = (landing / "delighted" / "survey_responses" / f"{landed_day(obj, 'created_at')}.jsonl").read_text()
        assert rid in {json.loads(line)["id"] for line in lines.splitlines()}
    unsubscribe = delighted.unsubscribes["180001"]
    assert (landing / "delighted" / "unsubscribes" / f"{landed_day(unsubscribe, 'unsubscribed_at')}.jsonl").exists()


def test_a_first_sync_from_the_configured_start(delighted, server, landing, warehouse):
    fetch("delighted", landing, settings_env(server, delighted.key, NPS_DELIGHTED_START=START.isoformat()))
    assert {c.param("since") for c in server.calls()} == {str(unix(START))}
    landed = load_source(landing, warehouse, "delighted")
    after_start = {rid for rid, obj in delighted.responses.items() if obj["created_at"] >= unix(START)}
    assert set(landed.latest["survey_responses"]) == after_start and len(after_start) == 5


def test_the_next_run_walks_new_and_changed_responses_from_the_cursors(delighted, server, landing, warehouse):
    env = settings_env(server, delighted.key)
    fetch("delighted", landing, env)
    newest_created = max(obj["created_at"] for obj in delighted.responses.values())
    newest_unsubscribe = delighted.unsubscribes["180001"]["unsubscribed_at"]
    # The oldest response is edited 20 minutes ago (9 -> 3), a new one arrives, a second person unsubscribes.
    oldest = min(delighted.responses, key=lambda rid: delighted.responses[rid]["created_at"])
    edited_at = NOW - timedelta(minutes=20)
    delighted.update(oldest, edited_at, 3)
    new = delighted.add_response(NOW - timedelta(minutes=10), "nps", 10)
    delighted.unsubscribe("180003", NOW - timedelta(minutes=5), "person80003@acme.example")
    server.clear()

    fetch("delighted", landing, env)
    calls = server.calls(RESPONSES)
    created_walk = [c for c in calls if c.param("since") is not None]
    changed_walk = [c for c in calls if c.param("updated_since") is not None]
    assert len(created_walk) + len(changed_walk) == len(calls)
    # New responses: since the newest created_at landed (inclusive: that one comes again and merges away).
    assert {c.param("since") for c in created_walk} == {str(newest_created)}
    assert [int(c.param("page")) for c in created_walk] == [1, 2]
    # Changed responses: updated_since the newest change landed (the newest created_at: none had changed), oldest
    # change first.
    assert {(c.param("updated_since"), c.param("order")) for c in changed_walk} == {
        (str(newest_created), "asc:updated_at")
    }
    assert {c.param("since") for c in server.calls(UNSUBSCRIBES)} == {str(newest_unsubscribe)}
    landed = load_source(landing, warehouse, "delighted")
    assert_complete(landed, expected(delighted))
    assert landed.latest["survey_responses"][oldest]["score"] == 3
    assert landed.latest["survey_responses"][new["id"]]["score"] == 10
    # The edited response lands again, on its updated day.
    lines = (landing / "delighted" / "survey_responses" / f"{edited_at.date().isoformat()}.jsonl").read_text()
    assert oldest in {json.loads(line)["id"] for line in lines.splitlines()}

    # A third run: the changed walk starts at the edit, the created walk at the new response.
    server.clear()
    fetch("delighted", landing, env)
    changed = {c.param("updated_since") for c in server.calls(RESPONSES) if c.param("updated_since")}
    created = {c.param("since") for c in server.calls(RESPONSES) if c.param("since")}
    assert changed == {str(unix(NOW - timedelta(minutes=10)))} and created == {str(new["created_at"])}


def test_429_waits_for_retry_after_then_asks_the_same_page_again(delighted, server, landing, warehouse):
    server.fail(RESPONSES, "429", retry_after="1", on_request=2)
    fetch("delighted", landing, settings_env(server, delighted.key))
    calls = server.calls(RESPONSES)
    limited = next(i for i, c in enumerate(calls) if c.status == 429)
    retry = calls[limited + 1]
    assert retry.status == 200 and retry.query == calls[limited].query
    assert retry.at - calls[limited].at >= 0.95
    assert_complete(load_source(landing, warehouse, "delighted"), expected(delighted))


def test_a_wrong_key_fails_clearly_and_moves_no_cursor(delighted, server, landing, warehouse, tmp_path: Path):
    bad_key = "dlt_revoked_key_999999"
    with pytest.raises(ApiFetchError) as raised:
        fetch("delighted", landing, settings_env(server, bad_key))
    message = str(raised.value)
    assert "Delighted" in message and "401" in message and f"GET {RESPONSES}" in message
    assert "NPS_DELIGHTED_API_KEY" in message and bad_key not in message
    assert raised.value.credentials_refused
    assert not (landing / "delighted").exists()

    # Refused in the middle (the bounces list, after the responses were read): nothing lands either.
    server.clear()
    server.fail(BOUNCES, "401")
    with pytest.raises(ApiFetchError, match="401"):
        fetch("delighted", landing, settings_env(server, delighted.key))
    assert not (landing / "delighted").exists()

    # No cursor moved: the next good run reads everything again and lands it.
    server.clear()
    fetch("delighted", landing, settings_env(server, delighted.key))
    assert all(c.param("since") is None and c.param("updated_since") is None for c in server.calls())
    assert_complete(load_source(landing, warehouse, "delighted"), expected(delighted))
    assert files_containing(tmp_path, bad_key) == [] and files_containing(tmp_path, delighted.key) == []
