"""Stripe connector against the fake Stripe: pages, 429/500/reset retries, refused key, incremental runs, the
product catalog (`GET /v1/products`, read whole on every run, each version on its `updated` day), the coupons
(`GET /v1/coupons`, likewise, on their `created` day) and discounts (expanded in lists, ids in events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.api.connector import ApiFetchError, fetch
from ingestion.api.settings import ConfigurationError
from tests.api.conftest import FAST, assert_complete, files_containing, load_source
from tests.api.fake_vendors import FakeVendorServer, Stripe

NOW = datetime.now(UTC).replace(microsecond=0)
LISTED = ("customers", "subscriptions", "invoices", "charges")
ENTITIES = (*LISTED, "products", "coupons")
PLAN_NAMES = ("Starter", "Growth", "Business", "Enterprise", "Legacy")


def populate(stripe: Stripe, accounts: int, first_day_ago: int = 12) -> None:
    for n, name in enumerate(PLAN_NAMES):
        # The catalog predates the customers; "Legacy" is archived (still listed: no `active` filter is sent).
        stripe.add_product(NOW - timedelta(days=first_day_ago, hours=6 + n), name, active=name != "Legacy")
    # Two coupons of the catalog (their terms never change; each lands on its created day).
    stripe.add_coupon(NOW - timedelta(days=first_day_ago, hours=2), "LAUNCH25", percent_off=25.0)
    stripe.add_coupon(
        NOW - timedelta(days=first_day_ago, hours=1),
        "TENOFF3",
        amount_off=1000,
        currency="eur",
        duration="repeating",
        duration_in_months=3,
    )
    for i in range(accounts):
        at = NOW - timedelta(days=first_day_ago - i % first_day_ago, hours=5, minutes=i)
        customer = stripe.add_customer(at, f"acc_{i:05d}")
        sub = stripe.add_subscription(at + timedelta(minutes=1), customer["id"])
        invoice = stripe.add_invoice(at + timedelta(minutes=2), customer["id"], sub["id"])
        stripe.add_charge(at + timedelta(minutes=3), customer["id"], invoice["id"])


def expected(stripe: Stripe) -> dict[str, dict[str, dict]]:
    return {kind: dict(stripe.objects[kind]) for kind in ENTITIES}


@pytest.fixture
def stripe() -> Stripe:
    vendor = Stripe()
    populate(vendor, 11)
    return vendor


@pytest.fixture
def server(stripe: Stripe):
    with FakeVendorServer(stripe) as running:
        yield running


def settings_env(server: FakeVendorServer, key: str, **extra: str):
    env = {**FAST, "NPS_STRIPE_API_URL": server.url, "NPS_STRIPE_API_KEY": key, "NPS_STRIPE_PAGE_SIZE": "4", **extra}
    return env.get


def test_several_pages_land_every_object_once(stripe, server, landing, warehouse):
    result = fetch("stripe", landing, settings_env(server, stripe.key))
    # 11 objects of each kind at 4 a page: 3 pages per list; 5 products: 2 pages; 2 coupons: 1; one page of (no)
    # events.
    pages = {kind: len(server.calls(f"/v1/{kind}")) for kind in (*ENTITIES, "events")}
    assert pages == {
        **{"customers": 3, "subscriptions": 3, "invoices": 3, "charges": 3},
        **{"products": 2, "coupons": 1, "events": 1},
    }
    assert server.calls("/v1/customers")[0].param("starting_after") is None
    assert all(c.param("status") == "all" for c in server.calls("/v1/subscriptions"))
    assert result.rows_fetched == 51 and result.requests == {"200": 16}
    assert_complete(load_source(landing, warehouse, "stripe"), expected(stripe))


def test_every_request_names_the_pinned_api_version(stripe, server, landing):
    # Default: the newest version staging is tested on, on every request, lists and events alike.
    fetch("stripe", landing, settings_env(server, stripe.key))
    assert {c.stripe_version for c in server.calls("/v1/")} == {"2025-09-30.clover"}

    # Another version, as a user pins it; `account` sends no header, so the account's default version applies.
    server.clear()
    fetch("stripe", landing, settings_env(server, stripe.key, NPS_STRIPE_API_VERSION="2024-06-20"))
    assert {c.stripe_version for c in server.calls("/v1/")} == {"2024-06-20"}
    server.clear()
    fetch("stripe", landing, settings_env(server, stripe.key, NPS_STRIPE_API_VERSION="account"))
    assert {c.stripe_version for c in server.calls("/v1/")} == {None}


def test_a_version_stripe_would_refuse_fails_before_any_request(stripe, server, landing):
    with pytest.raises(ConfigurationError, match=r"NPS_STRIPE_API_VERSION='clover'.*2025-09-30\.clover"):
        fetch("stripe", landing, settings_env(server, stripe.key, NPS_STRIPE_API_VERSION="clover"))
    assert server.calls("/v1/") == []
    # The fake refuses such a header as Stripe does (400), so the check above is what keeps a run from it.
    assert stripe.refused({"Stripe-Version": "clover"}).status == 400
    assert stripe.refused({"Stripe-Version": "2025-09-30.clover"}) is None


def test_429_waits_for_retry_after_then_retries(stripe, server, landing, warehouse):
    server.fail("/v1/invoices", "429", retry_after="1", on_request=2)
    fetch("stripe", landing, settings_env(server, stripe.key))
    calls = server.calls("/v1/invoices")
    limited = next(i for i, c in enumerate(calls) if c.status == 429)
    retry = calls[limited + 1]
    assert retry.status == 200 and retry.query == calls[limited].query
    assert retry.at - calls[limited].at >= 0.95
    assert_complete(load_source(landing, warehouse, "stripe"), expected(stripe))


def test_500_then_success(stripe, server, landing, warehouse):
    server.fail("/v1/subscriptions", "500", on_request=2)
    fetch("stripe", landing, settings_env(server, stripe.key))
    statuses = [c.status for c in server.calls("/v1/subscriptions")]
    assert statuses == [200, 500, 200, 200]
    assert_complete(load_source(landing, warehouse, "stripe"), expected(stripe))


def test_connection_reset_in_the_middle_of_a_page(stripe, server, landing, warehouse):
    server.fail("/v1/charges", "reset", on_request=2)
    fetch("stripe", landing, settings_env(server, stripe.key))
    calls = server.calls("/v1/charges")
    assert [c.status for c in calls] == [200, -1, 200, 200]
    assert calls[1].query == calls[2].query
    assert_complete(load_source(landing, warehouse, "stripe"), expected(stripe))


def test_refused_key_fails_clearly_and_leaves_no_state(stripe, server, landing, warehouse, tmp_path: Path):
    bad_key = "sk_test_revoked_key_999999"
    with pytest.raises(ApiFetchError) as raised:
        fetch("stripe", landing, settings_env(server, bad_key))
    message = str(raised.value)
    assert "Stripe" in message and "GET /v1/customers" in message and "401" in message
    assert "NPS_STRIPE_API_KEY" in message and bad_key not in message
    assert raised.value.credentials_refused
    assert not (landing / "stripe").exists()

    # A key that loses a permission in the middle of a run (a restricted key without invoices): the pages
    # already read are thrown away with the rest.
    server.clear()
    server.fail("/v1/invoices", "401", on_request=2)
    with pytest.raises(ApiFetchError, match="GET /v1/invoices"):
        fetch("stripe", landing, settings_env(server, stripe.key))
    assert not (landing / "stripe").exists()

    # No cursor moved: the next good run starts from the beginning and lands everything.
    server.clear()
    fetch("stripe", landing, settings_env(server, stripe.key))
    assert all(c.param("created[gte]") is None for c in server.calls("/v1/") if c.param("starting_after") is None)
    assert_complete(load_source(landing, warehouse, "stripe"), expected(stripe))
    assert files_containing(tmp_path, bad_key) == [] and files_containing(tmp_path, stripe.key) == []


def test_repeated_500_fails_after_the_retries_without_partial_state(stripe, server, landing):
    server.fail("/v1/charges", "500", on_request=2, times=4)
    with pytest.raises(ApiFetchError, match=r"still answered 500 .* at GET /v1/charges after 4 attempts"):
        fetch("stripe", landing, settings_env(server, stripe.key))
    assert not (landing / "stripe").exists()


def test_incremental_second_run_fetches_only_new_and_changed_objects(stripe, server, landing, warehouse):
    env = settings_env(server, stripe.key)
    fetch("stripe", landing, env)
    load_source(landing, warehouse, "stripe")
    newest = {kind: max(o["created"] for o in stripe.objects[kind].values()) for kind in LISTED}

    # Since the first run: two new customers, one subscription canceled, one charge refunded.
    new = [stripe.add_customer(NOW - timedelta(minutes=30 - i), f"acc_new{i}") for i in range(2)]
    sub_id = sorted(stripe.objects["subscriptions"])[0]
    stripe.change(
        "subscriptions",
        sub_id,
        NOW - timedelta(minutes=20),
        "customer.subscription.updated",
        status="canceled",
        canceled_at=int(NOW.timestamp()) - 1200,
        ended_at=int(NOW.timestamp()) - 1200,
    )
    charge_id = sorted(stripe.objects["charges"])[0]
    stripe.change(
        "charges", charge_id, NOW - timedelta(minutes=10), "charge.refunded", amount_refunded=4900, refunded=True
    )
    server.clear()

    fetch("stripe", landing, env)
    for kind in LISTED:
        first = server.calls(f"/v1/{kind}")[0]
        assert first.param("created[gte]") == str(newest[kind])
    events_call = server.calls("/v1/events")[0]
    assert events_call.param("created[gte]") is None  # no event was seen before: the first read starts empty

    customers_served = {c.param("starting_after") for c in server.calls("/v1/customers")}
    assert customers_served == {None}  # one page: the last customer of the first run (inclusive bound) + 2 new
    landed = load_source(landing, warehouse, "stripe")
    assert_complete(landed, expected(stripe))
    assert landed.latest["subscriptions"][sub_id]["status"] == "canceled"
    assert landed.latest["charges"][charge_id]["amount_refunded"] == 4900
    assert {c["id"] for c in new} <= set(landed.latest["customers"])

    # A third run sees nothing new: it asks from the newest event on, and changes no landing file.
    server.clear()
    third = fetch("stripe", landing, env)
    assert server.calls("/v1/events")[0].param("created[gte]") == str(stripe.events[-1]["created"])
    assert third.files_changed == []


def test_data_fetched_but_not_written_by_a_crashed_run_is_landed_by_the_next(stripe, server, landing, warehouse):
    import dlt

    from ingestion.api.connector import mirror_path, pipeline_name
    from ingestion.api.http import vendor_session
    from ingestion.api.mirror import MIRROR_DATASET
    from ingestion.api.settings import vendor_settings
    from ingestion.stripe.api import stripe_source

    # A run that stopped after dlt extracted the pages, before they reached the mirror.
    settings = vendor_settings("stripe", landing, settings_env(server, stripe.key))
    session, _ = vendor_session(settings)
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name("stripe"),
        pipelines_dir=str(settings.state_dir / "pipelines"),
        destination=dlt.destinations.duckdb(str(mirror_path(settings))),
        dataset_name=MIRROR_DATASET,
    )
    pipeline.extract(stripe_source(settings, session, NOW))
    assert pipeline.has_pending_data and not (landing / "stripe").exists()
    late = stripe.add_customer(NOW - timedelta(minutes=5), "acc_late")

    server.clear()
    fetch("stripe", landing, settings_env(server, stripe.key))
    # The pending package was written first, then this run fetched: nothing lost, nothing twice.
    assert server.calls("/v1/customers")
    landed = load_source(landing, warehouse, "stripe")
    assert_complete(landed, expected(stripe))
    assert late["id"] in landed.latest["customers"]


def test_products_are_listed_whole_each_run_and_land_on_their_updated_day(stripe, server, landing, warehouse):
    env = settings_env(server, stripe.key)
    fetch("stripe", landing, env)
    first_run = {p["id"]: dict(p) for p in stripe.objects["products"].values()}
    growth = next(p for p in first_run.values() if p["name"] == "Growth")
    renamed_at = NOW - timedelta(minutes=15)
    stripe.update_product(growth["id"], renamed_at, name="Growth Plus", active=False)
    server.clear()

    second = fetch("stripe", landing, env)
    calls = server.calls("/v1/products")
    # Every product, active or archived, on every run: no created cursor, no `active` filter; pages follow
    # `starting_after` (the last id of the page before) while `has_more`.
    assert [c.param("created[gte]") for c in calls] == [None, None]
    assert all(c.param("active") is None for c in calls)
    ordered = sorted(first_run.values(), key=lambda p: (p["created"], p["id"]), reverse=True)
    assert [c.param("starting_after") for c in calls] == [None, ordered[3]["id"]]

    folder = landing / "stripe" / "products"
    by_day = {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()] for path in sorted(folder.iterdir())
    }
    # Each version on the UTC day of its `updated`: the old name stays where it was, the rename lands on its day.
    expected_days: dict[str, list[tuple[str, str]]] = {}
    for obj in [*first_run.values(), stripe.objects["products"][growth["id"]]]:
        day = datetime.fromtimestamp(obj["updated"], UTC).date().isoformat()
        expected_days.setdefault(day, []).append((obj["id"], obj["name"]))
    assert {day: sorted((o["id"], o["name"]) for o in objs) for day, objs in by_day.items()} == {
        day: sorted(pairs) for day, pairs in expected_days.items()
    }
    renamed_file = f"stripe/products/{renamed_at.date().isoformat()}.jsonl"
    assert renamed_file in {f.relative_path for f in second.files if f.changed}

    landed = load_source(landing, warehouse, "stripe")
    assert_complete(landed, expected(stripe))
    assert landed.latest["products"][growth["id"]]["name"] == "Growth Plus"
    assert landed.latest["products"][growth["id"]]["active"] is False


def test_discounts_are_expanded_in_lists_and_stay_ids_in_events(stripe, server, landing, warehouse):
    # Since 2025-03-31.basil a subscription's discounts are only in `discounts` and each item's `discounts`: ids
    # unless expanded. Without the expansion MRR could not be net of them.
    subs = sorted(stripe.objects["subscriptions"])
    at = NOW - timedelta(days=13)
    coupon = {"id": "SAVE20", "object": "coupon", "percent_off": 20.0, "amount_off": None, "currency": None}
    coupon |= {"duration": "forever", "duration_in_months": None, "valid": True}
    on_subscription = stripe.add_discount(subs[0], coupon, at)
    on_item = stripe.add_discount(subs[1], coupon | {"id": "ITEM5", "percent_off": 5.0}, at, item=True)
    env = settings_env(server, stripe.key)
    fetch("stripe", landing, env)

    for call in server.calls("/v1/subscriptions"):
        assert call.query["expand[]"] == ["data.discounts", "data.items.data.discounts"]
    landed = load_source(landing, warehouse, "stripe")
    assert_complete(landed, expected(stripe))  # the Discount objects whole, as the fake keeps them
    assert landed.latest["subscriptions"][subs[0]]["discounts"] == [on_subscription]
    assert landed.latest["subscriptions"][subs[1]]["items"]["data"][0]["discounts"] == [on_item]

    # An event holds the subscription unexpanded: its discounts land as ids (staging prices them from the objects).
    stripe.change("subscriptions", subs[0], NOW - timedelta(minutes=5), "customer.subscription.updated")
    fetch("stripe", landing, env)
    landed = load_source(landing, warehouse, "stripe")
    assert landed.latest["subscriptions"][subs[0]]["discounts"] == [on_subscription["id"]]


def test_an_expansion_deeper_than_stripe_allows_is_refused_by_the_fake(stripe, server):
    # The fake enforces Stripe's limit of 4 levels, so the connector's expansions are known to be accepted.
    import requests

    answer = requests.get(
        f"{server.url}/v1/subscriptions",
        params={"expand[]": "data.items.data.price.product"},
        headers={"Authorization": f"Bearer {stripe.key}"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "more than 4 levels" in answer.json()["error"]["message"]


def test_coupons_are_listed_whole_and_a_clover_discount_names_its_coupon(stripe, server, landing, warehouse):
    # From 2025-09-30.clover a Discount's coupon is `source.coupon`, an id (not expanded in lists or events): its
    # terms come from `GET /v1/coupons`, read whole on every run.
    sub_id = sorted(stripe.objects["subscriptions"])[2]
    discount = stripe.add_discount(sub_id, stripe.objects["coupons"]["LAUNCH25"], NOW - timedelta(days=11), clover=True)
    env = settings_env(server, stripe.key)
    fetch("stripe", landing, env)
    landed = load_source(landing, warehouse, "stripe")
    assert_complete(landed, expected(stripe))
    assert landed.latest["subscriptions"][sub_id]["discounts"][0]["source"] == {"type": "coupon", "coupon": "LAUNCH25"}
    assert discount["source"]["coupon"] in landed.latest["coupons"]
    folder = landing / "stripe" / "coupons"
    by_day = {
        path.stem: sorted(json.loads(x)["id"] for x in path.read_text().splitlines()) for path in folder.iterdir()
    }
    expected_days: dict[str, list[str]] = {}
    for coupon in stripe.objects["coupons"].values():
        expected_days.setdefault(datetime.fromtimestamp(coupon["created"], UTC).date().isoformat(), []).append(
            coupon["id"]
        )
    assert by_day == {day: sorted(ids) for day, ids in expected_days.items()}

    server.clear()
    again = fetch("stripe", landing, env)
    assert [c.param("created[gte]") for c in server.calls("/v1/coupons")] == [None]  # whole, no cursor
    assert not any(f.relative_path.startswith("stripe/coupons/") for f in again.files if f.changed)
