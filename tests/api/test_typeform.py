"""Typeform connector against the fake Responses API: `before` pages, limits, retries, refused token, `since`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.api.connector import ApiFetchError, fetch
from tests.api.conftest import FAST, assert_complete, files_containing, load_source
from tests.api.fake_vendors import FakeVendorServer, Typeform

NOW = datetime.now(UTC).replace(microsecond=0)
FORMS = ("Ab12Cd", "Zx98Yw")


@pytest.fixture
def typeform() -> Typeform:
    vendor = Typeform()
    for i in range(13):
        vendor.add_response(FORMS[0], NOW - timedelta(days=9 - i % 9, hours=i), score=i % 11)
    for i in range(4):
        vendor.add_response(FORMS[1], NOW - timedelta(days=3, minutes=i), score=9)
    return vendor


@pytest.fixture
def server(typeform: Typeform):
    with FakeVendorServer(typeform) as running:
        yield running


def settings_env(server: FakeVendorServer, token: str, **extra: str):
    env = {
        **FAST,
        "NPS_TYPEFORM_API_URL": server.url,
        "NPS_TYPEFORM_TOKEN": token,
        "NPS_TYPEFORM_FORM_IDS": ",".join(FORMS),
        "NPS_TYPEFORM_PAGE_SIZE": "5",
        **extra,
    }
    return env.get


def expected(typeform: Typeform) -> dict[str, dict[str, dict]]:
    return {"responses": {item["response_id"]: item for item in typeform.all_items()}}


def test_pages_with_before_token_within_the_rate_limit(typeform, server, landing, warehouse):
    # Typeform allows 2 requests a second: the fake answers 429 beyond that, the client's default rate keeps under.
    server.rate_limit = (2, 1.0)
    result = fetch("typeform", landing, settings_env(server, typeform.token, NPS_TYPEFORM_REQUESTS_PER_MINUTE=""))
    calls = server.calls(f"/forms/{FORMS[0]}/responses")
    # 13 responses, newest first, 5 a page: 3 pages, each older page asked with the last token of the previous.
    assert [c.param("before") for c in calls] == [None, *(c.param("before") for c in calls[1:])]
    assert len(calls) == 3 and all(c.param("page_size") == "5" for c in calls)
    assert all(c.status == 200 for c in server.calls())
    starts = [c.at for c in server.calls()]
    assert all(later - earlier >= 0.45 for earlier, later in itertools.pairwise(starts))
    assert result.rows_fetched == 17
    assert_complete(load_source(landing, warehouse, "typeform"), expected(typeform))
    days = sorted(p.name for p in (landing / "typeform" / "responses").iterdir())
    assert len(days) == len({item["submitted_at"][:10] for item in typeform.all_items()})


def test_429_with_retry_after_is_waited_for(typeform, server, landing, warehouse):
    server.fail(f"/forms/{FORMS[0]}/responses", "429", retry_after="1", on_request=2)
    fetch("typeform", landing, settings_env(server, typeform.token))
    calls = server.calls(f"/forms/{FORMS[0]}/responses")
    assert [c.status for c in calls] == [200, 429, 200, 200]
    assert calls[2].at - calls[1].at >= 0.95 and calls[2].query == calls[1].query
    assert_complete(load_source(landing, warehouse, "typeform"), expected(typeform))


def test_500_then_success_and_a_reset_mid_page(typeform, server, landing, warehouse):
    server.fail(f"/forms/{FORMS[0]}/responses", "500", on_request=2)
    server.fail(f"/forms/{FORMS[1]}/responses", "reset", on_request=1)
    fetch("typeform", landing, settings_env(server, typeform.token))
    assert [c.status for c in server.calls(f"/forms/{FORMS[0]}/responses")] == [200, 500, 200, 200]
    assert [c.status for c in server.calls(f"/forms/{FORMS[1]}/responses")] == [-1, 200]
    assert_complete(load_source(landing, warehouse, "typeform"), expected(typeform))


def test_refused_token_fails_clearly_and_leaves_no_state(typeform, server, landing, warehouse, tmp_path: Path):
    bad = "tfp_expired_token_777777"
    with pytest.raises(ApiFetchError) as raised:
        fetch("typeform", landing, settings_env(server, bad))
    message = str(raised.value)
    assert f"Typeform API refused the credentials (401 Unauthorized) at GET /forms/{FORMS[0]}/responses" in message
    assert "NPS_TYPEFORM_TOKEN" in message and bad not in message
    # Refused on the second form, after the first form's pages were read: nothing of them is kept either.
    server.fail(f"/forms/{FORMS[1]}/responses", "401")
    with pytest.raises(ApiFetchError, match=f"GET /forms/{FORMS[1]}/responses"):
        fetch("typeform", landing, settings_env(server, typeform.token))
    assert not (landing / "typeform").exists()
    server.clear()
    fetch("typeform", landing, settings_env(server, typeform.token))
    assert all(c.param("since") is None for c in server.calls())
    assert_complete(load_source(landing, warehouse, "typeform"), expected(typeform))
    assert files_containing(tmp_path, bad) == [] and files_containing(tmp_path, typeform.token) == []


def test_incremental_second_run_asks_since_the_last_submission(typeform, server, landing, warehouse):
    env = settings_env(server, typeform.token)
    fetch("typeform", landing, env)
    load_source(landing, warehouse, "typeform")
    last = {form: max(i["submitted_at"] for i in typeform.forms[form]) for form in FORMS}
    new = [typeform.add_response(FORMS[0], NOW - timedelta(minutes=m), score=3) for m in (40, 20)]
    server.clear()

    fetch("typeform", landing, env)
    for form in FORMS:
        calls = server.calls(f"/forms/{form}/responses")
        assert [c.param("since") for c in calls] == [last[form].rstrip("Z")]
    # Only the new responses and the last one of the previous run (since is inclusive) were served.
    assert len(server.calls(f"/forms/{FORMS[0]}/responses")) == 1
    landed = load_source(landing, warehouse, "typeform")
    assert_complete(landed, expected(typeform))
    assert {item["response_id"] for item in new} <= set(landed.latest["responses"])


def test_lookback_rereads_a_window_before_the_cursor_and_merges_it_away(typeform, server, landing, warehouse):
    fetch("typeform", landing, settings_env(server, typeform.token))
    last = max(i["submitted_at"] for i in typeform.forms[FORMS[0]])
    server.clear()
    fetch("typeform", landing, settings_env(server, typeform.token, NPS_API_LOOKBACK_SECONDS="86400"))
    since = server.calls(f"/forms/{FORMS[0]}/responses")[0].param("since")
    assert datetime.fromisoformat(since + "+00:00") == datetime.fromisoformat(last) - timedelta(days=1)
    assert_complete(load_source(landing, warehouse, "typeform"), expected(typeform))
