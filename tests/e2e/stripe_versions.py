"""Stripe Subscription, Discount, Coupon and Invoice objects as each API version documents them, for the e2e tests
of tests/e2e/test_stripe_versions.py.

Shapes from Stripe's API reference and changelog, and the object classes of stripe-python (`_subscription.py`,
`_subscription_item.py`, `_discount.py`, `_coupon.py`, `_invoice.py`):
  - before 2025-03-31.basil (here 2024-06-20): the subscription's `current_period_start/end`, its one `discount`
    (a Discount with the Coupon embedded) and `discounts` (ids unless expanded); an invoice's `subscription`;
  - 2025-03-31.basil: the billing period on each item (`items.data[].current_period_start/end`), no `discount`,
    `discounts` expanded (`expand[]=data.discounts`); an invoice's subscription in
    `parent.subscription_details.subscription`;
  - 2025-09-30.clover: a Discount's coupon in `source: {type: 'coupon', coupon}` instead of `coupon`.
Item discounts (`items.data[].discounts`) arrive expanded (`expand[]=data.items.data.discounts`).
"""

from __future__ import annotations

from datetime import UTC, datetime

PRE_BASIL, BASIL, CLOVER = "2024-06-20", "2025-03-31.basil", "2025-09-30.clover"


def epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def coupon(coupon_id: str, duration: str, *, percent_off=None, amount_off=None, currency=None, months=None) -> dict:
    """The Coupon object: `amount_off` in the minor unit of `currency`; `duration_in_months` for repeating."""
    return {
        "id": coupon_id,
        "object": "coupon",
        "amount_off": amount_off,
        "created": epoch("2025-12-01"),
        "currency": currency,
        "duration": duration,
        "duration_in_months": months,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": coupon_id,
        "percent_off": percent_off,
        "redeem_by": None,
        "times_redeemed": 1,
        "valid": True,
    }


def discount(version: str, discount_id: str, the_coupon: dict, sub_id: str, start: str, *, item=None, end=None):
    """The Discount object; from clover its coupon is under `source`."""
    obj = {
        "id": discount_id,
        "object": "discount",
        "checkout_session": None,
        "customer": None,
        "end": None if end is None else epoch(end),
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "start": epoch(start),
        "subscription": sub_id,
        "subscription_item": item,
    }
    if version == CLOVER:
        obj["source"] = {"type": "coupon", "coupon": the_coupon}
    else:
        obj["coupon"] = the_coupon
    return obj


def price(price_id: str, nickname: str, unit_amount: int, currency: str = "usd", interval: str = "month") -> dict:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": currency,
        "lookup_key": None,
        "nickname": nickname,
        "product": f"prod_{price_id}",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def subscription(
    version: str,
    sub_id: str,
    customer: str,
    created: str,
    items: list[tuple[str, dict, int, list[dict]]],
    *,
    discounts: tuple[dict, ...] = (),
    period: tuple[str, str] = ("2026-03-05", "2026-04-05"),
    status: str = "active",
    canceled: str | None = None,
    cancellation: tuple[str | None, str | None, str | None] = (None, None, None),
) -> dict:
    """A Subscription of `version`: items are (item id, price, quantity, the item's expanded discounts);
    `discounts` the subscription-level Discount objects (before basil: the first is `discount`, and `discounts`
    holds the ids only, as the list endpoint returns them unexpanded)."""
    start, end = epoch(period[0]), epoch(period[1])
    data = []
    for item_id, item_price, quantity, item_discounts in items:
        item = {
            "id": item_id,
            "object": "subscription_item",
            "created": epoch(created),
            "discounts": item_discounts,
            "metadata": {},
            "price": item_price,
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }
        if version != PRE_BASIL:
            item |= {"current_period_start": start, "current_period_end": end}
        data.append(item)
    reason, feedback, comment = cancellation
    obj = {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": epoch(created),
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None if canceled is None else epoch(canceled),
        "cancellation_details": {"comment": comment, "feedback": feedback, "reason": reason},
        "collection_method": "charge_automatically",
        "created": epoch(created),
        "currency": data[0]["price"]["currency"],
        "customer": customer,
        "ended_at": None if canceled is None else epoch(canceled),
        "items": {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "livemode": False,
        "metadata": {},
        "start_date": epoch(created),
        "status": status,
        "trial_end": None,
        "trial_start": None,
    }
    if version == PRE_BASIL:
        obj |= {
            "current_period_start": start,
            "current_period_end": end,
            "discount": discounts[0] if discounts else None,
            "discounts": [d["id"] for d in discounts],
        }
    else:
        obj["discounts"] = list(discounts)
    return obj


def invoice(version: str, invoice_id: str, customer: str, sub_id: str, created: str, total: int) -> dict:
    obj = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": total,
        "created": epoch(created),
        "currency": "usd",
        "customer": customer,
        "period_end": epoch(created),
        "period_start": epoch(created),
        "status": "paid",
        "status_transitions": {"paid_at": epoch(created)},
        "total": total,
    }
    if version == PRE_BASIL:
        obj["subscription"] = sub_id
    else:
        obj["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub_id},
        }
    return obj


def customer(number: str, country: str | None = "US", region: str | None = None) -> dict:
    """A Customer; `region` goes to metadata["region"] (the default of dbt var stripe_region_metadata_key)."""
    metadata = {"account_id": f"acc_{number}"} | ({} if region is None else {"region": region})
    return {
        "id": f"cus_{number}",
        "object": "customer",
        "address": None if country is None else {"country": country},
        "created": epoch("2026-01-04"),
        "currency": "usd",
        "email": f"billing@{number}.example",
        "livemode": False,
        "metadata": metadata,
        "name": f"Account {number}",
    }
