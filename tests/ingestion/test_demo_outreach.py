"""The outreach the demo plants for the outcome marts (demo/outreach.py, demo/lifecycle.py), read back from the
landing files alone: save calls raise the share of cancellations taken back, and referrals name earlier accounts
in the Stripe customer metadata. About 45 s (the demo without usage events)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from demo import DemoConfig, generate
from demo.lifecycle import SAVE_CALL_DAYS
from tests.e2e import reference

CONFIG = DemoConfig(accounts=1500, months=12, end_date=date(2026, 10, 31), seed=3, events_per_account_day=0.0)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("outreach")
    generate(landing, CONFIG)
    return landing


def test_a_save_call_makes_more_customers_take_their_cancellation_back(landing: Path):
    organizations = {
        str(o["id"]): o.get("external_id") for o in reference.latest(landing, "zendesk", "organizations").values()
    }
    calls: dict[str, list[datetime]] = defaultdict(list)
    for ticket in reference.latest(landing, "zendesk", "tickets").values():
        if ticket["via"]["channel"] == "voice":
            assert "at_risk_call" in ticket["tags"]  # dbt var save_call_tags finds them too
            calls[organizations[str(ticket["organization_id"])]].append(reference.parse_time(ticket["created_at"]))
    account_of = {
        cid: c.get("metadata", {}).get("account_id")
        for cid, c in reference.latest(landing, "stripe", "customers").items()
    }
    versions = defaultdict(list)
    for day, number, subscription in reference.json_versions(landing, "stripe", "subscriptions"):
        versions[subscription["id"]].append((day, number, subscription))
    requests = {True: [], False: []}  # called -> whether each request was taken back
    for history in versions.values():
        history.sort(key=lambda version: version[:2])
        pending = False
        for position, (_, _, subscription) in enumerate(history):
            if subscription["cancel_at_period_end"] and not pending and subscription["status"] != "canceled":
                asked = datetime.fromtimestamp(subscription["canceled_at"], UTC)
                account = account_of.get(subscription["customer"])
                latest_call = asked + timedelta(days=SAVE_CALL_DAYS[1] + 1)
                called = any(asked < call <= latest_call for call in calls.get(account, []))
                taken_back = any(
                    not later["cancel_at_period_end"] and later["status"] != "canceled"
                    for _, _, later in history[position + 1 :]
                )
                requests[called].append(taken_back)
            pending = subscription["cancel_at_period_end"]
    called, not_called = requests[True], requests[False]
    assert len(called) >= 50 and len(not_called) >= 40
    rate_called, rate_not_called = sum(called) / len(called), sum(not_called) / len(not_called)
    print(f"\ntaken back: {rate_called:.2f} of {len(called)} called, {rate_not_called:.2f} of {len(not_called)} not")
    # Planted: 55% with a call, 35% without.
    assert 0.45 <= rate_called <= 0.7
    assert 0.2 <= rate_not_called <= 0.45
    assert rate_called - rate_not_called > 0.1


def test_referrals_name_earlier_accounts_in_the_stripe_metadata(landing: Path):
    customers = list(reference.latest(landing, "stripe", "customers").values())
    created = {c["metadata"]["account_id"]: c["created"] for c in customers if c.get("metadata", {}).get("account_id")}
    window_start = datetime(2025, 11, 1, tzinfo=UTC).timestamp()
    new = [c for c in customers if c["created"] >= window_start and c.get("metadata", {}).get("account_id")]
    referred = [c for c in new if c["metadata"].get("referred_by")]
    assert 0.2 <= len(referred) / len(new) <= 0.4
    for customer in referred:
        referrer = customer["metadata"]["referred_by"]
        assert referrer != customer["metadata"]["account_id"]
        if referrer in created:  # a referrer without an account id in its own metadata is still named
            assert created[referrer] < customer["created"] - 29 * 86_400
    assert len({c["metadata"]["referred_by"] for c in referred}) >= 20
