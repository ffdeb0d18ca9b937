"""Stripe: products (the fixed catalog), customers, subscriptions, invoices and charges, rendered from the
simulated lifecycles.

Amounts are in minor units, times are epoch seconds. Every mutable object is written again, whole, on
each day it changed: a subscription on renewals, plan changes, past-due spells and cancellation; an
invoice when a retry is attempted, when it is paid or marked uncollectible; a charge when refunded;
a customer when it becomes (or stops being) delinquent.
"""

from __future__ import annotations

from demo.accounts import Account
from demo.catalog import CATALOG_UPDATED, PLANS, product_id, render_product
from demo.lifecycle import AccountLifecycle, Charge, Invoice, Subscription, SubscriptionVersion
from demo.writer import LandingWriter

_DECLINE_MESSAGE = "The bank did not return any further details with this decline."


def customer_created(account: Account) -> int:
    return account.signup_ts - 20 - account.index % 40


def customer_metadata(account: Account) -> dict:
    """Our account id (dbt var stripe_account_id_metadata_key) and who referred the customer (var
    stripe_referred_by_metadata_key), as the sign-up flow writes them."""
    metadata = {"account_id": account.account_id} if account.has_account_metadata else {}
    if account.referred_by is not None:
        metadata["referred_by"] = account.referred_by
    return metadata


def render_customer(account: Account, delinquent: bool) -> dict:
    country, city = account.country, account.city
    return {
        "id": account.stripe_customer_id,
        "object": "customer",
        "address": {
            "city": city.name,
            "country": country.code,
            "line1": account.street_line,
            "line2": None,
            "postal_code": account.postal_code,
            "state": city.state,
        },
        "balance": 0,
        "created": customer_created(account),
        "currency": account.currency,
        "default_source": None,
        "delinquent": delinquent,
        "description": None,
        "discount": None,
        "email": account.billing_email,
        "invoice_prefix": account.invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": account.payment_method_id,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": customer_metadata(account),
        "name": account.name,
        "phone": account.phone,
        "preferred_locales": [country.language],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def render_subscription(account: Account, sub: Subscription, version: SubscriptionVersion) -> dict:
    item = version.item
    return {
        "id": sub.id,
        "object": "subscription",
        "application": None,
        "billing_cycle_anchor": sub.billing_cycle_anchor,
        "cancel_at": version.cancel_at,
        "cancel_at_period_end": version.cancel_at_period_end,
        "canceled_at": version.canceled_at,
        "cancellation_details": {
            "comment": None,
            "feedback": version.cancellation_feedback,
            "reason": version.cancellation_reason,
        },
        "collection_method": "charge_automatically",
        "created": sub.created,
        "currency": account.currency,
        "current_period_end": version.current_period_end,
        "current_period_start": version.current_period_start,
        "customer": account.stripe_customer_id,
        "days_until_due": None,
        "default_payment_method": account.payment_method_id,
        "ended_at": version.ended_at,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": item.id,
                    "object": "subscription_item",
                    "created": item.created,
                    "metadata": {},
                    "price": item.price.to_stripe(),
                    "quantity": item.quantity,
                    "subscription": sub.id,
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={sub.id}",
        },
        "livemode": False,
        "metadata": {},
        "start_date": sub.created,
        "status": version.status,
        "trial_end": sub.trial_end,
        "trial_start": sub.trial_start,
    }


def render_invoice(account: Account, invoice: Invoice, ts: int) -> dict:
    """The invoice as of `ts`."""
    attempts = [c for c in invoice.charges if c.created <= ts]
    due = invoice.amount_due
    uncollectible = invoice.marked_uncollectible_at is not None and invoice.marked_uncollectible_at <= ts
    paid = invoice.paid_at is not None and invoice.paid_at <= ts
    status = "uncollectible" if uncollectible else "paid" if paid else "open"
    upcoming = [c.created for c in invoice.charges if c.created > ts] + [t for t in invoice.next_attempts if t > ts]
    lines = [
        {
            "id": line.id,
            "object": "line_item",
            "amount": line.amount,
            "currency": account.currency,
            "description": line.description,
            "invoice": invoice.id,
            "period": {"start": line.period_start, "end": line.period_end},
            "price": line.price.to_stripe(),
            "proration": line.proration,
            "quantity": line.quantity,
            "subscription": invoice.subscription_id,
            "type": "subscription",
        }
        for line in invoice.lines
    ]
    return {
        "id": invoice.id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": due,
        "amount_paid": due if paid else 0,
        "amount_remaining": 0 if paid else due,
        "attempt_count": len(attempts),
        "attempted": bool(attempts) or paid,
        "billing_reason": invoice.billing_reason,
        "charge": attempts[-1].id if attempts else None,
        "collection_method": "charge_automatically",
        "created": invoice.created,
        "currency": account.currency,
        "customer": account.stripe_customer_id,
        "customer_email": account.billing_email,
        "customer_name": account.name,
        "livemode": False,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice.id}/lines",
        },
        "next_payment_attempt": None if paid or uncollectible or not upcoming else min(upcoming),
        "number": invoice.number,
        "paid": paid,
        "payment_intent": invoice.payment_intent if due > 0 else None,
        "period_end": invoice.period_end,
        "period_start": invoice.period_start,
        "status": status,
        "status_transitions": {
            "finalized_at": invoice.created,
            "marked_uncollectible_at": invoice.marked_uncollectible_at if uncollectible else None,
            "paid_at": invoice.paid_at if paid else None,
            "voided_at": None,
        },
        "subscription": invoice.subscription_id,
        "subtotal": sum(line.amount for line in invoice.lines),
        "total": sum(line.amount for line in invoice.lines),
    }


def render_charge(account: Account, charge: Charge, ts: int) -> dict:
    refunded = min(charge.amount, charge.refunded_by(ts))
    if charge.succeeded:
        outcome = {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
        failure_code = failure_message = None
    else:
        assert charge.failure is not None
        failure_code, failure_message, reason = charge.failure
        outcome = {
            "network_status": "declined_by_network",
            "reason": reason,
            "risk_level": "normal",
            "seller_message": _DECLINE_MESSAGE,
            "type": "issuer_declined",
        }
    return {
        "id": charge.id,
        "object": "charge",
        "amount": charge.amount,
        "amount_captured": charge.amount if charge.succeeded else 0,
        "amount_refunded": refunded,
        "balance_transaction": f"txn_{charge.id[3:]}" if charge.succeeded else None,
        "captured": charge.succeeded,
        "created": charge.created,
        "currency": account.currency,
        "customer": account.stripe_customer_id,
        "description": charge.description,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "invoice": charge.invoice_id,
        "livemode": False,
        "outcome": outcome,
        "paid": charge.succeeded,
        "payment_intent": charge.payment_intent,
        "payment_method": account.payment_method_id,
        "payment_method_details": {
            "type": "card",
            "card": {"brand": account.card_brand, "last4": account.card_last4, "country": account.country.code},
        },
        "receipt_email": None,
        "refunded": charge.succeeded and refunded >= charge.amount,
        "status": "succeeded" if charge.succeeded else "failed",
    }


def write_stripe(writer: LandingWriter, lives: list[AccountLifecycle]) -> None:
    for plan in PLANS:
        writer.put_json("stripe", "products", CATALOG_UPDATED, product_id(plan), render_product(plan))
    for life in lives:
        account = life.account
        customer = account.stripe_customer_id
        writer.put_json("stripe", "customers", customer_created(account), customer, render_customer(account, False))
        for ts, delinquent in life.delinquency:
            writer.put_json("stripe", "customers", ts, customer, render_customer(account, delinquent))
        for sub in life.subscriptions:
            for version in sub.versions:
                writer.put_json(
                    "stripe", "subscriptions", version.ts, sub.id, render_subscription(account, sub, version)
                )
        for invoice in life.invoices:
            moments = {invoice.created, *(c.created for c in invoice.charges)}
            if invoice.marked_uncollectible_at is not None:
                moments.add(invoice.marked_uncollectible_at)
            for ts in sorted(moments):
                writer.put_json("stripe", "invoices", ts, invoice.id, render_invoice(account, invoice, ts))
            for charge in invoice.charges:
                for ts in sorted({charge.created, *(when for when, _ in charge.refunds)}):
                    writer.put_json("stripe", "charges", ts, charge.id, render_charge(account, charge, ts))
