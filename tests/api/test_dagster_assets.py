"""The raw assets in API mode: the vendor is fetched once per run before the load; a refused key fails the run
clearly, is not retried, and no credential reaches a log line or metadata. File mode is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tests.api.conftest import FAST
from tests.api.fake_vendors import FakeVendorServer, Stripe
from tests.api.test_stripe import populate

TODAY = datetime.now(UTC).date()


@pytest.fixture
def stripe_server():
    vendor = Stripe()
    populate(vendor, 6, first_day_ago=5)
    with FakeVendorServer(vendor) as server:
        yield vendor, server


def materialize_stripe(tmp_path: Path, monkeypatch, env: dict[str, str]):
    from orchestration.defs.ingestion.assets import raw_assets
    from orchestration.defs.resources import LandingZoneResource, VendorApiResource, WarehouseResource

    for name, value in {**FAST, **env}.items():
        monkeypatch.setenv(name, value)
    assets = [a for a in raw_assets() if a.key.path[0] == "raw_stripe"]
    return dg.materialize(
        assets,
        resources={
            "warehouse": WarehouseResource(database=str(tmp_path / "warehouse.duckdb")),
            "landing": LandingZoneResource(landing_dir=str(tmp_path / "landing")),
            "vendor_apis": VendorApiResource(),
        },
        tags={
            ASSET_PARTITION_RANGE_START_TAG: (TODAY - timedelta(days=7)).isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: TODAY.isoformat(),
        },
        raise_on_error=False,
    )


def event_text(result) -> str:
    return "\n".join(repr(event) for event in result.all_events)


def test_api_mode_fetches_once_per_run_then_loads(stripe_server, tmp_path, monkeypatch):
    vendor, server = stripe_server
    env = {"NPS_SOURCE_MODE_STRIPE": "api", "NPS_STRIPE_API_URL": server.url, "NPS_STRIPE_API_KEY": vendor.key}
    result = materialize_stripe(tmp_path, monkeypatch, env)
    assert result.success
    # Six raw assets, one fetch: each list was read once.
    kinds = ("customers", "products", "coupons", "subscriptions", "invoices", "charges")
    assert [len(server.calls(f"/v1/{kind}")) for kind in kinds] == [1] * 6
    # One materialization per asset and day, each with the fetch's summary; one asset did the fetching.
    fetchers = {
        event.asset_key.to_user_string(): event.materialization.metadata["api_fetch"].value["fetched_by_this_asset"]
        for event in result.get_asset_materialization_events()
    }
    assert len(fetchers) == 6 and sum(fetchers.values()) == 1
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for kind in kinds:
            ids = {row[0] for row in con.execute(f"select record_id from raw_stripe.{kind}").fetchall()}
            assert ids == set(vendor.objects[kind])
    assert vendor.key not in event_text(result)


def test_refused_key_fails_the_run_without_retries_or_leaks(stripe_server, tmp_path, monkeypatch):
    _, server = stripe_server
    bad = "sk_live_should_never_be_seen_42"
    env = {"NPS_SOURCE_MODE_STRIPE": "api", "NPS_STRIPE_API_URL": server.url, "NPS_STRIPE_API_KEY": bad}
    result = materialize_stripe(tmp_path, monkeypatch, env)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures and all(
        "Stripe API refused the credentials" in e.event_specific_data.error.message for e in failures
    )
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)
    assert bad not in event_text(result)
    assert not (tmp_path / "landing" / "stripe").exists()


def test_file_mode_never_calls_the_api(stripe_server, tmp_path, monkeypatch):
    _, server = stripe_server
    monkeypatch.delenv("NPS_SOURCE_MODE_STRIPE", raising=False)
    monkeypatch.delenv("NPS_SOURCE_MODE", raising=False)
    result = materialize_stripe(tmp_path, monkeypatch, {"NPS_STRIPE_API_URL": server.url})
    assert result.success and server.calls() == []
    assert not any("api_fetch" in m.materialization.metadata for m in result.get_asset_materialization_events())
