"""Stripe as most accounts hold it: prices without a nickname or lookup key, the plan's name on the Product.

Objects are shaped as Stripe's API reference documents them (Product, Price, Subscription; API version
2026-06-24.dahlia of stripe-python, whose Product and Price fields are unchanged since 2024-04-10), with
`price.product` as an id and as an expanded Product. They go through the real loader and dbt (the `daily_pipeline`
job); each account's plan is computed here from the landing files by the documented rule (price nickname, else the
product's latest name, else the expanded product's name, else lookup_key, else 'unknown product <id>').
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.e2e.landing_files import write_jsonl

pytestmark = pytest.mark.e2e

FEB_1 = 1769904000  # 2026-02-01T00:00:00Z
MAR_1 = 1772323200  # 2026-03-01T00:00:00Z
MAR_2 = MAR_1 + 86_400


def product(product_id: str, name: str, updated: int, *, active: bool = True) -> dict:
    """The Product object as `GET /v1/products` lists it (docs.stripe.com/api/products/object)."""
    return {
        "id": product_id,
        "object": "product",
        "active": active,
        "created": FEB_1 - 86_400 * 300,
        "default_price": None,
        "description": None,
        "images": [],
        "marketing_features": [],
        "livemode": False,
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": updated,
        "url": None,
    }


def price(price_id: str, product_ref: str | dict, unit_amount: int, **labels: str | None) -> dict:
    """The Price object (docs.stripe.com/api/prices/object): `nickname` and `lookup_key` null unless given."""
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": FEB_1 - 86_400 * 300,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": labels.get("lookup_key"),
        "metadata": {},
        "nickname": labels.get("nickname"),
        "product": product_ref,
        "recurring": {"interval": "month", "interval_count": 1, "trial_period_days": None, "usage_type": "licensed"},
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def subscription(number: int, item_price: dict) -> dict:
    sub_id = f"sub_1Pq{number}xYzAbC"
    return {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": FEB_1,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "created": FEB_1,
        "currency": "usd",
        "customer": f"cus_Q{number}aBcDeF",
        "ended_at": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_Q{number}gHiJkL",
                    "object": "subscription_item",
                    "created": FEB_1,
                    "current_period_start": MAR_1,
                    "current_period_end": MAR_1 + 86_400 * 31,
                    "metadata": {},
                    "price": item_price,
                    "quantity": 1,
                    "subscription": sub_id,
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "livemode": False,
        "metadata": {},
        "start_date": FEB_1,
        "status": "active",
        "trial_end": None,
        "trial_start": None,
    }


# Day 1: the catalog as first synced; day 2: "Growth (beta)" renamed to "Growth" (`updated` moves).
PRODUCTS = {
    "2026-03-01": [
        product("prod_StarterAbc123", "Starter", FEB_1),
        product("prod_GrowthAbc1234", "Growth (beta)", FEB_1),
        product("prod_ScaleAbc12345", "Scale", FEB_1, active=False),
    ],
    "2026-03-02": [product("prod_GrowthAbc1234", "Growth", MAR_2 + 3600)],
}
# Account i has customer cus_Q<i>... and subscription sub_1Pq<i>...; its largest (only) item's price:
PRICES = {
    # No nickname, no lookup key, product as an id: the product's name.
    1: price("price_1A", "prod_StarterAbc123", 1900),
    # Product expanded (a retrieve with expand[]=items.data.price.product), with the name it had then: the
    # catalog's current name wins.
    2: price("price_2A", product("prod_GrowthAbc1234", "Growth (beta)", FEB_1), 4900),
    # An archived product still names the plan of its subscriptions; lookup_key is only a fallback.
    3: price("price_3A", "prod_ScaleAbc12345", 9900, lookup_key="scale_monthly"),
    # A product neither listed nor expanded: visible, never 'none'.
    4: price("price_4A", "prod_MissingAbc123", 2900),
    # A nickname is the team's own label for this price: it wins.
    5: price("price_5A", "prod_StarterAbc123", 1500, nickname="Starter (legacy)"),
}
# Two NPS answers per account on 2 March: (score, score).
SCORES = {1: (10, 9), 2: (3, 10), 3: (8, 6), 4: (9, 9), 5: (0, 7)}


def expected_plans(landing: Path) -> dict[str, str]:
    """account id -> plan, from the landing files: the rule of docs/sources.md written again in Python."""
    names: dict[str, tuple[int, str]] = {}
    for path in sorted((landing / "stripe" / "products").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            if obj["id"] not in names or obj["updated"] >= names[obj["id"]][0]:
                names[obj["id"]] = (obj["updated"], obj["name"])
    accounts = {}
    for path in (landing / "stripe" / "customers").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            accounts[obj["id"]] = obj["metadata"]["account_id"]
    plans = {}
    for path in (landing / "stripe" / "subscriptions").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            sub = json.loads(line)
            item_price = sub["items"]["data"][0]["price"]
            ref = item_price["product"]
            product_id = ref["id"] if isinstance(ref, dict) else ref
            expanded = ref.get("name") if isinstance(ref, dict) else None
            catalog = names.get(product_id, (0, None))[1]
            plans[accounts[sub["customer"]]] = (
                item_price["nickname"]
                or catalog
                or expanded
                or item_price["lookup_key"]
                or f"unknown product {product_id}"
            )
    return plans


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("stripe_products")
    customers = [
        {
            "id": f"cus_Q{i}aBcDeF",
            "object": "customer",
            "address": {
                "city": None,
                "country": "US",
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "created": FEB_1 - 3600,
            "currency": "usd",
            "email": f"billing@acct{i}.example",
            "livemode": False,
            "metadata": {"account_id": f"acc_{i}"},
            "name": f"Account {i}",
        }
        for i in PRICES
    ]
    write_jsonl(landing, "stripe", "customers", "2026-03-01", customers)
    for day, objects in PRODUCTS.items():
        write_jsonl(landing, "stripe", "products", day, objects)
    write_jsonl(landing, "stripe", "subscriptions", "2026-03-01", [subscription(i, p) for i, p in PRICES.items()])
    header = (
        "response_id,survey_type,survey_kind,score,comment,email,account_id,ticket_id,channel,touchpoint,responded_at"
    )
    lines = [header]
    for i, scores in SCORES.items():
        for n, score in enumerate(scores):
            lines.append(
                f"r{i}{n},nps,relational,{score},,person{n}@acct{i}.example,acc_{i},,email,relationship,"
                f"2026-03-02T1{n}:00:00Z"
            )
    path = landing / "surveys" / "responses" / "2026-03-02.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("stripe_products_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date(2026, 3, 1), date(2026, 3, 2))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_rule_written_here_gives_the_names_people_know(landing):
    # The reference itself, against the values by hand: it must not simply agree with the model.
    assert expected_plans(landing) == {
        "acc_1": "Starter",
        "acc_2": "Growth",
        "acc_3": "Scale",
        "acc_4": "unknown product prod_MissingAbc123",
        "acc_5": "Starter (legacy)",
    }


def test_each_account_has_its_products_name(warehouse, landing):
    expected = expected_plans(landing)
    current = rows(
        warehouse,
        "select account_id, plan from intermediate.int_account_billing_historized where valid_to_date is null",
    )
    assert dict(current) == expected
    at_response = rows(warehouse, "select distinct account_id, plan from marts.fct_survey_responses")
    assert dict(at_response) == expected
    assert not any(plan == "none" for _, plan in at_response)


def test_the_catalog_is_staged_with_its_latest_names(warehouse):
    assert rows(
        warehouse, "select product_id, product_name, is_active from staging.stg_stripe__products order by 1"
    ) == [
        ("prod_GrowthAbc1234", "Growth", True),
        ("prod_ScaleAbc12345", "Scale", False),
        ("prod_StarterAbc123", "Starter", True),
    ]


def test_nps_by_plan_is_computed_on_those_plans(warehouse, landing):
    by_plan: dict[str, list[int]] = defaultdict(list)
    for account, plan in expected_plans(landing).items():
        by_plan[plan].extend(SCORES[int(account.removeprefix("acc_"))])
    expected = []
    for plan, scores in sorted(by_plan.items()):
        promoters = sum(score >= 9 for score in scores)
        detractors = sum(score <= 6 for score in scores)
        expected.append((plan, len(scores), 100.0 * (promoters - detractors) / len(scores)))
    result = rows(
        warehouse,
        "select segment_value, responses, nps from marts.nps_by_period "
        "where period_grain = 'month' and segment_type = 'plan' order by 1",
    )
    assert result == [pytest.approx(row) for row in expected]
