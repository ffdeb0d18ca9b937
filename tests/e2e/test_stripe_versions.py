"""Stripe objects of every API version, discounts and cancellations, through the real loader and dbt.

One subscription (two items, an item discount and a subscription discount) is landed in the shapes of 2024-06-20,
2025-03-31.basil and 2025-09-30.clover (tests/e2e/stripe_versions.py): each loads to the same staging values.
Coupons of every duration (once, repeating, forever), an amount_off larger than the price, a yearly EUR price with a
EUR coupon, and two cancellations (asked for, payment failed) then give month-end MRR, which is computed here again
from the landing files by the rule of docs/metrics.md ("MRR"), and the churn type of docs/sources.md. Discounts
named by id only (an event's object) and clover coupons named by id (priced from stripe/coupons) are priced from
the objects landed under those ids; ones never landed are left out and warned about.
"""

from __future__ import annotations

import csv
import json
from calendar import monthrange
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

import settings
from settings import DBT_PROJECT_DIR
from tests.e2e import stripe_versions as s
from tests.e2e.dbt_tests import dbt_test_results
from tests.e2e.landing_files import write_jsonl

pytestmark = pytest.mark.e2e

FIRST, CANCEL_DAY, LAST = "2026-01-05", "2026-03-10", "2026-04-02"
VERSIONS = {"v1": s.PRE_BASIL, "v2": s.BASIL, "v3": s.CLOVER}
MONTHS = [date(2026, m, 1) for m in (1, 2, 3, 4)]


def versioned_subscription(number: str, version: str) -> dict:
    sub = f"sub_{number}"
    ten = s.coupon("TENOFF", "forever", percent_off=10)
    five = s.coupon("ADDON5", "forever", amount_off=500, currency="usd")
    item_discount = s.discount(version, f"di_item_{number}", five, sub, FIRST, item=f"si_addon_{number}")
    items = [
        (f"si_pro_{number}", s.price(f"price_pro_{number}", "Pro", 10000), 1, []),
        (f"si_addon_{number}", s.price(f"price_addon_{number}", "Addon", 2000), 2, [item_discount]),
    ]
    return s.subscription(
        version,
        sub,
        f"cus_{number}",
        FIRST,
        items,
        discounts=(s.discount(version, f"di_sub_{number}", ten, sub, FIRST),),
    )


def single(number: str, amount: int, version: str = s.CLOVER, *, coupon=None, end=None, **options) -> dict:
    sub = f"sub_{number}"
    currency, interval = options.pop("currency", "usd"), options.pop("interval", "month")
    items = [(f"si_{number}", s.price(f"price_{number}", "Plan", amount, currency, interval), 1, [])]
    discounts = () if coupon is None else (s.discount(version, f"di_{number}", coupon, sub, FIRST, end=end),)
    return s.subscription(version, sub, f"cus_{number}", FIRST, items, discounts=discounts, **options)


def unexpanded(sub: dict, quantity: int = 1) -> dict:
    """The subscription as an event holds it (Stripe never expands an event's object): discounts as ids."""
    sub = json.loads(json.dumps(sub))
    sub["discounts"] = [d["id"] if isinstance(d, dict) else d for d in sub["discounts"]]
    for item in sub["items"]["data"]:
        item["discounts"] = [d["id"] if isinstance(d, dict) else d for d in item["discounts"]]
        item["quantity"] = quantity
    return sub


def by_coupon_id(sub: dict) -> dict:
    """A clover subscription as the API returns it: each Discount's `source.coupon` is the coupon's id."""
    sub = json.loads(json.dumps(sub))
    for d in sub["discounts"]:
        d["source"]["coupon"] = d["source"]["coupon"]["id"]
    return sub


def canceled(number: str, amount: int, reason: str, feedback=None, comment=None) -> dict:
    return single(number, amount, status="canceled", canceled=CANCEL_DAY, cancellation=(reason, feedback, comment))


SUBSCRIPTIONS = {
    FIRST: [
        *(versioned_subscription(n, v) for n, v in VERSIONS.items()),
        # 50% off the first invoice only of a 200 a month plan.
        single("d1", 20000, coupon=s.coupon("HALF1", "once", percent_off=50)),
        # 30 off for 2 months (Stripe sets the discount's `end`).
        single(
            "d2",
            10000,
            coupon=s.coupon("THIRTY", "repeating", amount_off=3000, currency="usd", months=2),
            end="2026-03-05",
        ),
        # 500 off a 100 plan: never below zero.
        single("d3", 10000, coupon=s.coupon("BIG", "forever", amount_off=50000, currency="usd")),
        # 1200.00 EUR a year, 120.00 EUR off every invoice (a pre-basil object).
        single(
            "d4",
            120000,
            s.PRE_BASIL,
            currency="eur",
            interval="year",
            coupon=s.coupon("EUR120", "forever", amount_off=12000, currency="eur"),
        ),
        single("c1", 5000),
        single("c2", 8000),
        # 20% off, listed expanded (as the API connector asks); later an event holds it by id only.
        single("e1", 10000, s.BASIL, coupon=s.coupon("TWENTY", "forever", percent_off=20)),
        # A discount listed by id only and never seen expanded: it cannot be priced (and a dbt test warns).
        unexpanded(single("e2", 10000, s.BASIL, coupon=s.coupon("UNSEEN", "forever", percent_off=50))),
        # clover: the Discount names its coupon by id (as the API returns it); the terms are in stripe/coupons.
        by_coupon_id(single("e3", 10000, s.CLOVER, coupon=s.coupon("QUARTER", "forever", percent_off=25))),
        # ... and a coupon id stripe/coupons does not hold: not priced (warned about).
        by_coupon_id(single("e4", 10000, s.CLOVER, coupon=s.coupon("GONE", "forever", percent_off=40))),
    ],
    CANCEL_DAY: [
        canceled("c1", 5000, "cancellation_requested", "too_expensive", "Too pricey for a team of three"),
        canceled("c2", 8000, "payment_failed"),
        # The event of a seat added: quantity 2, the 20% discount as its id.
        unexpanded(single("e1", 10000, s.BASIL, coupon=s.coupon("TWENTY", "forever", percent_off=20)), quantity=2),
    ],
    # The latest landed day: months are measured up to it.
    LAST: [versioned_subscription("v1", s.PRE_BASIL)],
}
# Customers without an address: the region from metadata (a region, any case, or a country code), else unknown;
# an address country the seed does not know falls back to metadata too.
ADDRESSES = {"d1": (None, "emea"), "d2": (None, "de"), "d3": (None, None), "d4": ("ZZ", "APAC")}
NUMBERS = sorted({sub["customer"].removeprefix("cus_") for subs in SUBSCRIPTIONS.values() for sub in subs})


def fx_rate(currency: str) -> float:
    with (DBT_PROJECT_DIR / "seeds" / "fx_rates.csv").open() as rates:
        return {row["currency"]: float(row["usd_per_unit"]) for row in csv.DictReader(rates)}[currency]


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def as_date(seconds: int | None) -> date | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).date()


def discount_window(d: dict, interval: str) -> tuple[date, date | None]:
    """When a Discount is in effect: start, until `end`, else start + duration_in_months (repeating), else one
    billing period (once), else for ever."""
    coupon = d.get("coupon") or d["source"]["coupon"]
    start, end = as_date(d["start"]), as_date(d["end"])
    if coupon["duration"] == "once":
        end = add_months(start, 12 if interval == "year" else 1)
    elif coupon["duration"] == "repeating" and end is None:
        end = add_months(start, coupon["duration_in_months"])
    return start, end


def apply(amount: float, discounts: list[dict], day: date, interval: str, per_month: float) -> float:
    """percent_off multiplies, amount_off (minor units of its currency) subtracts per billing period; never < 0."""
    for d in discounts:
        start, end = discount_window(d, interval)
        if start <= day and (end is None or day < end):
            coupon = d.get("coupon") or d["source"]["coupon"]
            if coupon["percent_off"] is not None:
                amount *= 1 - coupon["percent_off"] / 100
            if coupon["amount_off"] is not None:
                amount -= coupon["amount_off"] / 100 * fx_rate(coupon["currency"]) * per_month
    return max(amount, 0.0)


def subscription_mrr(sub: dict, day: date, known: dict[str, dict], coupons: dict[str, dict]) -> float:
    """`known`: Discount objects by id, from every landed version (a discount listed by id takes its object; one
    never landed expanded is not applied); `coupons`: the landed Coupon objects (a clover Discount names its coupon
    by id; one not landed is not applied)."""
    if sub["status"] not in ("active", "past_due") or sub["ended_at"] is not None:
        return 0.0

    def objects(discounts: list) -> list[dict]:
        found = {}
        for d in discounts:
            d = d if isinstance(d, dict) else known.get(d)
            if d is not None and isinstance(d.get("source", {}).get("coupon"), str):
                coupon = coupons.get(d["source"]["coupon"])
                d = None if coupon is None else {**d, "source": {"type": "coupon", "coupon": coupon}}
            if d is not None:
                found[d["id"]] = d
        return list(found.values())

    total, interval = 0.0, "month"
    for item in sub["items"]["data"]:
        item_price = item["price"]
        interval = item_price["recurring"]["interval"]
        per_month = {"month": 1, "year": 1 / 12}[interval]
        amount = item_price["unit_amount"] / 100 * item["quantity"] * per_month * fx_rate(item_price["currency"])
        total += apply(amount, objects(item["discounts"]), day, interval, per_month)
    per_month = {"month": 1, "year": 1 / 12}[interval]
    subscription_discounts = objects([d for d in [sub.get("discount"), *sub["discounts"]] if d is not None])
    return apply(total, subscription_discounts, day, interval, per_month)


def expected_mrr(landing: Path) -> dict[tuple[str, date], float]:
    """(account, month) -> MRR on the month's last day (the last landed day for the last month)."""
    versions: dict[str, list[tuple[date, dict]]] = {}
    for path in sorted((landing / "stripe" / "subscriptions").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            sub = json.loads(line)
            versions.setdefault(sub["customer"].removeprefix("cus_"), []).append((date.fromisoformat(path.stem), sub))
    last = max(day for subs in versions.values() for day, _ in subs)
    known = {
        d["id"]: d
        for subs in versions.values()
        for _, sub in subs
        for d in [sub.get("discount"), *sub["discounts"], *(x for i in sub["items"]["data"] for x in i["discounts"])]
        if isinstance(d, dict)
    }
    coupons = {
        coupon["id"]: coupon
        for path in (landing / "stripe" / "coupons").glob("*.jsonl")
        for coupon in map(json.loads, path.read_text().splitlines())
    }
    result = {}
    for number, landed in versions.items():
        for month in MONTHS:
            measured = min(date(month.year, month.month, monthrange(month.year, month.month)[1]), last)
            in_effect = [sub for day, sub in landed if day <= measured][-1]
            result[(f"acc_{number}", month)] = round(subscription_mrr(in_effect, measured, known, coupons), 6)
    return result


def expected_regions(landing: Path) -> dict[str, str]:
    """account -> region: address.country's region, else metadata["region"] as a region or as a country code."""
    with (DBT_PROJECT_DIR / "seeds" / "country_regions.csv").open() as seed:
        regions = {row["country_code"]: row["region"] for row in csv.DictReader(seed)}
    result = {}
    for path in (landing / "stripe" / "customers").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            country = (obj["address"] or {}).get("country")
            meta = (obj["metadata"].get("region") or "").upper()
            by_meta = meta if meta in regions.values() else regions.get(meta)
            result[obj["metadata"]["account_id"]] = regions.get(country) or by_meta or "unknown"
    return result


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("stripe_versions")
    customers = [s.customer(n, *ADDRESSES.get(n, ("US", None))) for n in NUMBERS]
    write_jsonl(landing, "stripe", "customers", FIRST, customers)
    for day, subs in SUBSCRIPTIONS.items():
        write_jsonl(landing, "stripe", "subscriptions", day, subs)
    invoices = [s.invoice(v, f"in_{n}", f"cus_{n}", f"sub_{n}", FIRST, 12150) for n, v in VERSIONS.items()]
    write_jsonl(landing, "stripe", "invoices", FIRST, invoices)
    # The coupons as `GET /v1/coupons` lists them (GONE is not among them), on the first day the run loads.
    write_jsonl(landing, "stripe", "coupons", FIRST, [s.coupon("QUARTER", "forever", percent_off=25)])
    return landing


@pytest.fixture(scope="module")
def warehouse(pipeline, landing, tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("stripe_versions_warehouse") / "warehouse.duckdb"
    pipeline.run(warehouse, landing, date.fromisoformat(FIRST), date.fromisoformat(LAST))
    return warehouse


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def by_version(warehouse: Path, sql: str) -> dict[str, list[tuple]]:
    """The rows of each versioned subscription (`{n}` in `sql`), its own number taken out of the values."""
    return {
        n: [
            tuple(str(v).replace(n, "N") if isinstance(v, str) else v for v in row)
            for row in rows(warehouse, sql.format(n=n))
        ]
        for n in VERSIONS
    }


def test_every_api_version_loads_to_the_same_staging_values(warehouse):
    items = by_version(
        warehouse,
        "select subscription_item_id, price_nickname, quantity, unit_amount, current_period_started_at, "
        "current_period_ended_at from staging.stg_stripe__subscription_items "
        "where subscription_id = 'sub_{n}' and valid_from_date = '2026-01-05' order by 1",
    )
    assert items["v1"] == [
        ("si_addon_N", "Addon", 2, 20.0, datetime(2026, 3, 5), datetime(2026, 4, 5)),
        ("si_pro_N", "Pro", 1, 100.0, datetime(2026, 3, 5), datetime(2026, 4, 5)),
    ]
    assert items["v2"] == items["v1"] and items["v3"] == items["v1"]
    discounts = by_version(
        warehouse,
        "select discount_id, discount_level, subscription_item_id, coupon_id, percent_off, amount_off, "
        "amount_off_currency, duration, started_at, ended_at from staging.stg_stripe__subscription_discounts "
        "where subscription_id = 'sub_{n}' and valid_from_date = '2026-01-05' order by 1",
    )
    assert discounts["v1"] == [
        ("di_item_N", "item", "si_addon_N", "ADDON5", None, 5.0, "usd", "forever", datetime(2026, 1, 5), None),
        ("di_sub_N", "subscription", None, "TENOFF", 10, None, None, "forever", datetime(2026, 1, 5), None),
    ]
    assert discounts["v2"] == discounts["v1"] and discounts["v3"] == discounts["v1"]
    invoices = rows(warehouse, "select invoice_id, subscription_id from staging.stg_stripe__invoices order by 1")
    assert invoices == [(f"in_{n}", f"sub_{n}") for n in sorted(VERSIONS)]


def test_the_rule_written_here_gives_the_values_by_hand(landing):
    # The reference itself, against arithmetic by hand: it must not simply agree with the model.
    expected = expected_mrr(landing)
    eur = fx_rate("eur")
    by_hand = {
        # (100 + (2 x 20 - 5)) x 0.9, in every month and version.
        **{(f"acc_{n}", m): 121.5 for n in VERSIONS for m in MONTHS},
        # once: Jan 5 - Feb 5 at half price.
        **{("acc_d1", m): v for m, v in zip(MONTHS, (100.0, 200.0, 200.0, 200.0), strict=True)},
        # repeating until Mar 5.
        **{("acc_d2", m): v for m, v in zip(MONTHS, (70.0, 70.0, 100.0, 100.0), strict=True)},
        **{("acc_d3", m): 0.0 for m in MONTHS},
        **{("acc_d4", m): round((1200 - 120) / 12 * eur, 6) for m in MONTHS},
        **{("acc_c1", m): v for m, v in zip(MONTHS, (50.0, 50.0, 0.0, 0.0), strict=True)},
        **{("acc_c2", m): v for m, v in zip(MONTHS, (80.0, 80.0, 0.0, 0.0), strict=True)},
        # 20% off 100, then 2 seats from Mar 10 with the discount given by id.
        **{("acc_e1", m): v for m, v in zip(MONTHS, (80.0, 80.0, 160.0, 160.0), strict=True)},
        **{("acc_e2", m): 100.0 for m in MONTHS},
        **{("acc_e3", m): 75.0 for m in MONTHS},
        **{("acc_e4", m): 100.0 for m in MONTHS},
    }
    assert expected == pytest.approx(by_hand)


def test_month_end_mrr_is_net_of_discounts(warehouse, landing):
    result = rows(warehouse, "select account_id, month_start, mrr_usd from intermediate.int_account_mrr_monthly")
    assert {(account, month): mrr for account, month, mrr in result} == pytest.approx(expected_mrr(landing))
    movements = rows(
        warehouse,
        "select month_start, movement, movement_usd from intermediate.int_account_mrr_monthly "
        "where account_id = 'acc_d1' order by 1",
    )
    assert movements[:2] == [(date(2026, 1, 1), "new", 100.0), (date(2026, 2, 1), "expansion", 100.0)]


def test_list_mrr_and_discount_are_kept_apart(warehouse):
    assert rows(
        warehouse,
        "select subscription_id, valid_from_date, valid_to_date, list_mrr_usd, discount_mrr_usd, mrr_usd "
        "from intermediate.int_subscription_versions_priced where subscription_id in ('sub_v2', 'sub_d1') "
        "order by 1, 2",
    ) == [
        ("sub_d1", date(2026, 1, 5), date(2026, 2, 5), 200.0, 100.0, 100.0),
        ("sub_d1", date(2026, 2, 5), None, 200.0, 0.0, 200.0),
        ("sub_v2", date(2026, 1, 5), None, 140.0, pytest.approx(18.5), pytest.approx(121.5)),
    ]


def test_churn_is_labelled_voluntary_or_involuntary(warehouse):
    assert rows(
        warehouse,
        "select account_id, movement, churn_type from intermediate.int_account_mrr_monthly "
        "where month_start = '2026-03-01' and account_id in ('acc_c1', 'acc_c2', 'acc_v1') order by 1",
    ) == [("acc_c1", "churn", "voluntary"), ("acc_c2", "churn", "involuntary"), ("acc_v1", "none", None)]
    assert rows(
        warehouse,
        "select account_id, subscription_id, stopped_on, churn_type, cancellation_reason, cancellation_feedback, "
        "cancellation_comment, status, plan, mrr_lost_usd from marts.subscription_churn_reasons order by 1",
    ) == [
        (
            "acc_c1",
            "sub_c1",
            date(2026, 3, 10),
            "voluntary",
            "cancellation_requested",
            "too_expensive",
            "Too pricey for a team of three",
            "canceled",
            "Plan",
            50.0,
        ),
        ("acc_c2", "sub_c2", date(2026, 3, 10), "involuntary", "payment_failed", None, None, "canceled", "Plan", 80.0),
    ]
    # The comment in the survey comment themes ("pricey" is a billing word); the failed payment has neither a
    # comment nor a feedback choice. Published for BI tools with the other marts.
    themed = (
        "sub_c1",
        date(2026, 3, 10),
        "voluntary",
        "too_expensive",
        "Too pricey for a team of three",
        "billing_pricing",
        "comment",
        50.0,
    )
    sql = (
        "select subscription_id, stopped_on, churn_type, cancellation_feedback, comment, theme, theme_source, "
        "mrr_lost_usd from marts.churn_reason_themes"
    )
    assert rows(warehouse, sql) == [themed]
    assert rows(settings.serving_path(warehouse), sql) == [themed]


def test_region_comes_from_the_address_else_the_customer_metadata(warehouse, landing):
    expected = expected_regions(landing)
    assert {k: expected[k] for k in ("acc_d1", "acc_d2", "acc_d3", "acc_d4", "acc_v1")} == {
        "acc_d1": "EMEA",
        "acc_d2": "EMEA",
        "acc_d3": "unknown",
        "acc_d4": "APAC",
        "acc_v1": "NA",
    }
    result = rows(warehouse, "select account_id, region from intermediate.int_billing_accounts_aggregated")
    assert dict(result) == expected
    assert rows(
        warehouse,
        "select account_id, region_source from intermediate.int_billing_accounts_aggregated "
        "where account_id in ('acc_d1', 'acc_d3', 'acc_d4', 'acc_v1') order by 1",
    ) == [("acc_d1", "metadata"), ("acc_d3", None), ("acc_d4", "metadata"), ("acc_v1", "address")]
    # The segment the marts use: dim_accounts carries it.
    assert dict(rows(warehouse, "select account_id, region from marts.dim_accounts")) == expected


def test_discounts_and_coupons_named_by_id_are_priced_from_their_objects_and_unknown_ones_warned_about(
    warehouse, tmp_path
):
    assert rows(
        warehouse,
        "select valid_from_date, discount_id, coupon_id, percent_off from staging.stg_stripe__subscription_discounts "
        "where subscription_id in ('sub_e1', 'sub_e2') order by 1",
    ) == [(date(2026, 1, 5), "di_e1", "TWENTY", 20), (date(2026, 3, 10), "di_e1", "TWENTY", 20)]
    assert rows(
        warehouse,
        "select subscription_id, discount_id, coupon_id, percent_off, duration "
        "from staging.stg_stripe__subscription_discounts where subscription_id in ('sub_e3', 'sub_e4') order by 1",
    ) == [("sub_e3", "di_e3", "QUARTER", 25, "forever"), ("sub_e4", "di_e4", "GONE", None, None)]
    [result] = dbt_test_results(warehouse, "assert_stripe_discounts_are_priced", tmp_path / "target")
    # sub_e2's discount id never landed expanded; sub_e4's coupon GONE is not in stripe/coupons.
    assert (result["status"], result["failures"]) == ("warn", 2)
