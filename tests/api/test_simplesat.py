"""SimpleSAT connector against the fake SimpleSAT: explicit date windows (an empty body returns only the last 30
days), `next` followed with the same body, the modified-date cursor, 401 and 429."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from ingestion.api.connector import ApiFetchError, fetch
from tests.api.conftest import FAST, assert_complete, files_containing, load_source
from tests.api.fake_simplesat import SEARCH, SimpleSat
from tests.api.fake_vendors import FakeVendorServer

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=70)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def simplesat() -> SimpleSat:
    vendor = SimpleSat()
    # 11 responses over 65 days: most of them older than the 30 days an empty search would return.
    for i in range(11):
        metric = ("nps", "ces", "csat")[i % 3]
        vendor.add_response(NOW - timedelta(days=65 - 6 * i, hours=2), metric, str(SCALES_LOW[metric] + i % 4))
    return vendor


SCALES_LOW = {"nps": 0, "ces": 1, "csat": 1}


@pytest.fixture
def server(simplesat: SimpleSat):
    with FakeVendorServer(simplesat) as running:
        yield running


def settings_env(server: FakeVendorServer, key: str, **extra: str):
    env = {
        **FAST,
        "NPS_SIMPLESAT_REQUESTS_PER_MINUTE": "0",
        "NPS_SIMPLESAT_API_URL": server.url,
        "NPS_SIMPLESAT_API_KEY": key,
        "NPS_SIMPLESAT_PAGE_SIZE": "2",
        "NPS_SIMPLESAT_START": START.isoformat(),
        **extra,
    }
    return env.get


def expected(simplesat: SimpleSat) -> dict[str, dict[str, dict]]:
    return {"responses": {str(number): obj for number, obj in simplesat.responses.items()}}


def test_the_fake_plays_the_30_day_default_of_an_empty_body(simplesat, server):
    import requests

    answer = requests.post(server.url + SEARCH, json={}, headers={"X-Simplesat-Token": simplesat.key}, timeout=5)
    recent = [r for r in simplesat.responses.values() if parse(r["created"]) >= NOW - timedelta(days=30)]
    assert 0 < answer.json()["count"] == len(recent) < len(simplesat.responses)


def test_a_first_sync_walks_explicit_windows_and_follows_next_with_the_same_body(simplesat, server, landing, warehouse):
    result = fetch("simplesat", landing, settings_env(server, simplesat.key))
    calls = server.calls(SEARCH)
    assert all(c.method == "POST" and c.status == 200 for c in calls)
    # Never an empty body: every request names its window, on the modified date.
    bodies = [c.body for c in calls]
    assert all(set(b) == {"start_date", "end_date", "date_type"} and b["date_type"] == "modified" for b in bodies)
    windows = sorted({(b["start_date"], b["end_date"]) for b in bodies})
    # Consecutive 30-day windows from the configured start to the fetch.
    assert parse(windows[0][0]) == START
    assert all(parse(end) == parse(nxt) for (_, end), (nxt, _) in pairwise(windows))
    assert all(parse(end) - parse(start) <= timedelta(days=30) for start, end in windows)
    assert len(windows) == 3 and parse(windows[-1][1]) >= NOW
    # Each window's pages: page 1, then the `next` links (page 2, 3, ...) with the same body.
    for window in windows:
        pages = [c for c in calls if (c.body["start_date"], c.body["end_date"]) == window]
        inside = [
            r for r in simplesat.responses.values() if parse(window[0]) <= parse(r["modified"]) <= parse(window[1])
        ]
        assert [int(c.param("page")) for c in pages] == list(range(1, max(1, -(-len(inside) // 2)) + 1))
        assert all(c.param("page_size") == "2" for c in pages)
    assert result.rows_fetched == len(simplesat.responses)
    landed = load_source(landing, warehouse, "simplesat")
    assert_complete(landed, expected(simplesat))
    # Each response in the file of its modified day.
    for number, obj in simplesat.responses.items():
        day = obj["modified"][:10]
        lines = (landing / "simplesat" / "responses" / f"{day}.jsonl").read_text().splitlines()
        assert number in {json.loads(line)["id"] for line in lines}


def test_the_next_run_starts_at_the_modified_cursor(simplesat, server, landing, warehouse):
    env = settings_env(server, simplesat.key)
    fetch("simplesat", landing, env)
    newest = max(parse(r["modified"]) for r in simplesat.responses.values())
    # An old response edited today (2 -> 9) and a new one: only the cursor's window is asked for.
    old = min(simplesat.responses)
    edited_at = NOW - timedelta(minutes=20)
    simplesat.modify(old, edited_at, "9")
    simplesat.add_response(NOW - timedelta(minutes=10), "nps", "10")
    server.clear()

    fetch("simplesat", landing, env)
    bodies = [c.body for c in server.calls(SEARCH)]
    assert parse(bodies[0]["start_date"]) == newest and bodies[0]["date_type"] == "modified"
    assert len({(b["start_date"], b["end_date"]) for b in bodies}) == 1
    landed = load_source(landing, warehouse, "simplesat")
    assert_complete(landed, expected(simplesat))
    assert landed.latest["responses"][str(old)]["answers"][0]["choice"] == "9"
    assert f"{edited_at.date().isoformat()}.jsonl" in {p.name for p in (landing / "simplesat" / "responses").iterdir()}


def test_429_waits_for_retry_after_then_resends_the_same_body(simplesat, server, landing, warehouse):
    server.fail(SEARCH, "429", retry_after="1", on_request=2)
    fetch("simplesat", landing, settings_env(server, simplesat.key))
    calls = server.calls(SEARCH)
    limited = next(i for i, c in enumerate(calls) if c.status == 429)
    retry = calls[limited + 1]
    assert retry.status == 200 and retry.query == calls[limited].query and retry.body == calls[limited].body
    assert retry.at - calls[limited].at >= 0.95
    assert_complete(load_source(landing, warehouse, "simplesat"), expected(simplesat))


def test_refused_key_fails_clearly_and_moves_no_cursor(simplesat, server, landing, warehouse, tmp_path: Path):
    bad_key = "ssat_revoked_key_999999"
    with pytest.raises(ApiFetchError) as raised:
        fetch("simplesat", landing, settings_env(server, bad_key))
    message = str(raised.value)
    assert "SimpleSAT" in message and f"POST {SEARCH}" in message and "401" in message
    assert "NPS_SIMPLESAT_API_KEY" in message and bad_key not in message
    assert raised.value.credentials_refused
    assert not (landing / "simplesat").exists()

    # Refused in the middle of the walk: the windows already read are thrown away with the rest.
    server.clear()
    server.fail(SEARCH, "401", on_request=3)
    with pytest.raises(ApiFetchError, match="401"):
        fetch("simplesat", landing, settings_env(server, simplesat.key))
    assert not (landing / "simplesat").exists()

    # No cursor moved: the next good run starts from the configured start again and lands everything.
    server.clear()
    fetch("simplesat", landing, settings_env(server, simplesat.key))
    assert parse(server.calls(SEARCH)[0].body["start_date"]) == START
    assert_complete(load_source(landing, warehouse, "simplesat"), expected(simplesat))
    assert files_containing(tmp_path, bad_key) == [] and files_containing(tmp_path, simplesat.key) == []
