"""Our product catalog: plans, Stripe products and per-seat prices (a fixed catalog, independent of the seed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

PLANS: tuple[str, ...] = ("starter", "growth", "business", "enterprise")
PLAN_WEIGHTS: tuple[float, ...] = (0.45, 0.32, 0.16, 0.07)
# Monthly price per seat, in minor units, by currency.
MONTHLY_SEAT_PRICE: dict[str, dict[str, int]] = {
    "usd": {"starter": 1900, "growth": 4900, "business": 9900, "enterprise": 19900},
    "eur": {"starter": 1900, "growth": 4500, "business": 9500, "enterprise": 18900},
    "gbp": {"starter": 1500, "growth": 3900, "business": 7900, "enterprise": 15900},
}
ANNUAL_MULTIPLIER = 10  # two months free
# When the catalog was set up in Stripe (before any demo window: the products land on the window's first day).
CATALOG_CREATED = 1672531200  # 2023-01-01T00:00:00Z
CATALOG_UPDATED = 1704067200  # 2024-01-01T00:00:00Z, the last edit in the Dashboard
SEAT_RANGE: dict[str, tuple[int, int]] = {
    "starter": (1, 5),
    "growth": (3, 20),
    "business": (10, 60),
    "enterprise": (25, 150),
}

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@cache
def _fixed_id(prefix: str, name: str, length: int) -> str:
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(_ALPHANUMERIC))
        chars.append(_ALPHANUMERIC[index])
    return prefix + "".join(chars)


def plan_rank(plan: str) -> int:
    return PLANS.index(plan)


def product_id(plan: str) -> str:
    return _fixed_id("prod_", f"product:{plan}", 14)


def product_name(plan: str) -> str:
    """The plan's name as customers and the team know it: the Stripe Product's `name`."""
    return plan.capitalize()


def render_product(plan: str) -> dict:
    """The Stripe Product object (https://docs.stripe.com/api/products/object), as `GET /v1/products` lists it."""
    return {
        "id": product_id(plan),
        "object": "product",
        "active": True,
        "created": CATALOG_CREATED,
        "default_price": Price(plan, "month", "usd").id,
        "description": f"{product_name(plan)} plan, billed per seat.",
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": product_name(plan),
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": "txcd_10103001",
        "type": "service",
        "unit_label": "seat",
        "updated": CATALOG_UPDATED,
        "url": None,
    }


@dataclass(frozen=True)
class Price:
    plan: str
    interval: str  # month | year
    currency: str

    @property
    def id(self) -> str:
        return _fixed_id("price_", f"price:{self.plan}:{self.interval}:{self.currency}", 24)

    @property
    def unit_amount(self) -> int:
        monthly = MONTHLY_SEAT_PRICE[self.currency][self.plan]
        return monthly * ANNUAL_MULTIPLIER if self.interval == "year" else monthly

    @property
    def lookup_key(self) -> str:
        key = f"{self.plan}_{'monthly' if self.interval == 'month' else 'annual'}"
        return key if self.currency == "usd" else f"{key}_{self.currency}"

    def to_stripe(self) -> dict:
        """The Stripe Price object (a fresh copy)."""
        cached = _price_object(self)
        return {**cached, "recurring": dict(cached["recurring"])}


@cache
def _price_object(price: Price) -> dict:
    return {
        "id": price.id,
        "object": "price",
        "active": True,
        "currency": price.currency,
        "lookup_key": price.lookup_key,
        # As in most Stripe accounts, prices carry no nickname but the first one created (Starter, USD, monthly);
        # the plan's name is on the Product.
        "nickname": product_name(price.plan) if price == Price("starter", "month", "usd") else None,
        "product": product_id(price.plan),
        "recurring": {"interval": price.interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": str(price.unit_amount),
    }
