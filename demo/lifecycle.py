"""Each account's commercial life: subscriptions, renewals, payments, plan changes, risk and churn.

This is where the planted effects start. A latent health (0-1) drives everything: healthy accounts
expand (and feel better afterwards), unhealthy ones fail payments and fall "at risk". An at-risk
spell makes the account's people score low, file more tickets and use the product less; about half
of them end in a cancellation 30-75 days later, with usage falling in the 30-60 days before it. A cancellation
at the period's end gets a save call from customer success in half of the cases, 1-5 days later (a Zendesk voice
ticket, demo/outreach.py); a call makes the customer withdraw the cancellation more often (SAVED_WITH_CALL
against SAVED_WITHOUT_CALL: planted for churn_save_rate).
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from dataclasses import dataclass, field

from demo.accounts import TRIAL_DAYS, Account, stripe_id
from demo.catalog import PLANS, SEAT_RANGE, Price, plan_rank
from demo.config import DAY, Window
from demo.seeding import py_rng
from demo.timestamps import add_months, utc_day

RETRY_AFTER_DAYS = (3, 5, 7)  # Stripe smart retries: 3, 8 and 15 days after the first failure
EXPANSION_LIFT = 0.1  # sentiment lift per expansion (at most two count)
AT_RISK_DIP = 0.42  # sentiment drop while at risk
SAVE_CALL_SHARE = 0.5  # cancellations at the period's end that get a save call
SAVE_CALL_DAYS = (1, 5)  # the call comes this many days after the cancellation request
SAVED_WITH_CALL, SAVED_WITHOUT_CALL = 0.55, 0.35  # who withdraws the cancellation before the period ends
_FEEDBACK = (
    ("too_expensive", 0.3),
    ("missing_features", 0.2),
    ("switched_service", 0.15),
    ("unused", 0.15),
    ("low_quality", 0.1),
    ("customer_service", 0.05),
    ("too_complex", 0.05),
)
_FAILURES = (
    ("card_declined", "Your card was declined.", "generic_decline", 0.45),
    ("card_declined", "Your card has insufficient funds.", "insufficient_funds", 0.3),
    ("expired_card", "Your card has expired.", "expired_card", 0.2),
    (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
        "processing_error",
        0.05,
    ),
)


@dataclass
class Item:
    id: str
    created: int
    price: Price
    quantity: int


@dataclass
class SubscriptionVersion:
    ts: int
    status: str
    item: Item
    current_period_start: int
    current_period_end: int
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    cancellation_reason: str | None = None
    cancellation_feedback: str | None = None


@dataclass
class Subscription:
    id: str
    created: int
    billing_cycle_anchor: int
    trial_start: int | None
    trial_end: int | None
    versions: list[SubscriptionVersion] = field(default_factory=list)


@dataclass
class Charge:
    id: str
    invoice_id: str
    payment_intent: str
    amount: int
    created: int
    succeeded: bool
    failure: tuple[str, str, str] | None = None  # failure_code, failure_message, outcome reason
    description: str = "Subscription update"
    refunds: list[tuple[int, int]] = field(default_factory=list)  # (ts, amount)

    def refunded_by(self, ts: int) -> int:
        return sum(amount for when, amount in self.refunds if when <= ts)


@dataclass
class InvoiceLine:
    id: str
    amount: int
    quantity: int
    price: Price
    period_start: int
    period_end: int
    proration: bool
    description: str


@dataclass
class Invoice:
    id: str
    number: str
    subscription_id: str
    created: int
    period_start: int
    period_end: int
    billing_reason: str
    lines: list[InvoiceLine]
    payment_intent: str
    charges: list[Charge] = field(default_factory=list)
    next_attempts: list[int] = field(default_factory=list)  # planned retry times (only those that happen)
    paid_at: int | None = None
    marked_uncollectible_at: int | None = None

    @property
    def amount_due(self) -> int:
        return max(0, sum(line.amount for line in self.lines))


@dataclass
class Churn:
    requested_ts: int  # when the customer cancelled (or the last payment retry failed)
    ended_ts: int
    kind: str  # voluntary | involuntary | trial
    decline_days: int  # usage falls over this many days before requested_ts
    decline_depth: float  # by this share at the end of the decline


@dataclass
class AccountLifecycle:
    account: Account
    subscriptions: list[Subscription] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    delinquency: list[tuple[int, bool]] = field(default_factory=list)
    plan_history: list[tuple[int, str, bool]] = field(default_factory=list)  # (ts, plan, subscribed)
    active: list[tuple[int, int]] = field(default_factory=list)  # subscribed [start, end)
    at_risk: list[tuple[int, int]] = field(default_factory=list)
    churns: list[Churn] = field(default_factory=list)
    save_calls: list[int] = field(default_factory=list)  # customer success calls after a cancellation request
    expansions: list[int] = field(default_factory=list)
    downgrades: list[int] = field(default_factory=list)
    payment_failures: list[int] = field(default_factory=list)
    health_steps: list[tuple[int, float]] = field(default_factory=list)

    def is_active(self, ts: int) -> bool:
        return any(start <= ts < end for start, end in self.active)

    def in_risk(self, ts: int) -> bool:
        return any(start <= ts < end for start, end in self.at_risk)

    def health_at(self, ts: int) -> float:
        index = bisect_right([t for t, _ in self.health_steps], ts) - 1
        return self.health_steps[max(index, 0)][1]

    def sentiment(self, ts: int) -> float:
        """How the account feels about us at `ts` (roughly 0-1): the driver of every score it gives."""
        lifted = min(2, sum(1 for t in self.expansions if t <= ts)) * EXPANSION_LIFT
        lowered = min(2, sum(1 for t in self.downgrades if t <= ts)) * 0.06
        dip = AT_RISK_DIP if self.in_risk(ts) else 0.0
        return self.health_at(ts) + lifted - lowered - dip

    def succeeded_charges_before(self, ts: int) -> list[Charge]:
        return [c for inv in self.invoices for c in inv.charges if c.succeeded and c.created < ts and c.amount > 0]


class _Simulation:
    """Discrete-event simulation of one account, from signup to the end of the window."""

    def __init__(self, account: Account, window: Window, seed: int):
        self.account = account
        self.window = window
        self.rng: random.Random = py_rng(seed, "lifecycle", account.index)
        self.seed = seed
        self.life = AccountLifecycle(account=account)
        self.health = account.health
        self.queue: list[tuple[int, int, str, dict]] = []
        self.counter = 0
        self.invoice_seq = 0
        # state of the current subscription
        self.episode = 0
        self.sub: Subscription | None = None
        self.state: SubscriptionVersion | None = None
        self.active_since = 0
        self.risk_until: int | None = None
        self.delinquent = False

    # -- helpers -------------------------------------------------------------------------------
    def push(self, ts: int, kind: str, **data) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (ts, self.counter, kind, {"episode": self.episode, **data}))

    def next_boundary(self, anchor: int, interval: str, k: int) -> int:
        return add_months(anchor, k * (12 if interval == "year" else 1))

    def snapshot(self, ts: int, **changes) -> SubscriptionVersion:
        assert self.state is not None and self.sub is not None
        values = {**self.state.__dict__, "ts": ts, **changes}
        self.state = SubscriptionVersion(**values)
        self.sub.versions.append(self.state)
        return self.state

    def set_delinquent(self, ts: int, value: bool) -> None:
        if value != self.delinquent:
            self.delinquent = value
            self.life.delinquency.append((ts, value))

    def new_invoice(self, ts: int, reason: str, lines: list[InvoiceLine], period: tuple[int, int]) -> Invoice:
        assert self.sub is not None
        self.invoice_seq += 1
        invoice = Invoice(
            id=stripe_id(self.rng, "in_"),
            number=f"{self.account.invoice_prefix}-{self.invoice_seq:04d}",
            subscription_id=self.sub.id,
            created=ts,
            period_start=period[0],
            period_end=period[1],
            billing_reason=reason,
            lines=lines,
            payment_intent=stripe_id(self.rng, "pi_"),
        )
        if ts >= self.window.start_ts:
            self.life.invoices.append(invoice)
        return invoice

    def line(self, item: Item, amount: int, period: tuple[int, int], proration: bool, text: str) -> InvoiceLine:
        return InvoiceLine(
            id=stripe_id(self.rng, "il_"),
            amount=amount,
            quantity=item.quantity,
            price=item.price,
            period_start=period[0],
            period_end=period[1],
            proration=proration,
            description=text,
        )

    def attempt(self, invoice: Invoice, ts: int, failure_p: float) -> bool:
        """One payment attempt: a new Charge either way."""
        failed = self.rng.random() < failure_p
        failure = None
        if failed:
            pick = self.rng.choices(_FAILURES, weights=[f[3] for f in _FAILURES])[0]
            failure = (pick[0], pick[1], pick[2])
        description = {
            "subscription_create": "Subscription creation",
            "subscription_cycle": "Subscription cycle",
        }.get(invoice.billing_reason, "Subscription update")
        invoice.charges.append(
            Charge(
                id=stripe_id(self.rng, "ch_"),
                invoice_id=invoice.id,
                payment_intent=invoice.payment_intent,
                amount=invoice.amount_due,
                created=ts,
                succeeded=not failed,
                failure=failure,
                description=description,
            )
        )
        if not failed:
            invoice.paid_at = ts
        return not failed

    def failure_probability(self, ts: int) -> float:
        risk = 0.12 if self.risk_until is not None and ts < self.risk_until else 0.0
        return 0.012 + 0.10 * (1 - self.health) ** 2 + risk

    # -- episodes ------------------------------------------------------------------------------
    def start_subscription(self, ts: int, plan: str, seats: int, interval: str, trial: bool) -> None:
        self.episode += 1
        rng = self.rng
        price = Price(plan, interval, self.account.currency)
        item = Item(id=stripe_id(rng, "si_", 14), created=ts, price=price, quantity=seats)
        trial_end = ts + TRIAL_DAYS * DAY if trial else None
        sub = Subscription(
            id=stripe_id(rng, "sub_"),
            created=ts,
            billing_cycle_anchor=trial_end or ts,
            trial_start=ts if trial else None,
            trial_end=trial_end,
        )
        self.sub = sub
        self.life.subscriptions.append(sub)
        self.active_since = ts
        self.life.plan_history.append((ts, plan, True))
        start = self.window.start_ts
        if trial_end is not None:
            self.state = SubscriptionVersion(ts, "trialing", item, ts, trial_end)
            sub.versions.append(self.state)
            invoice = self.new_invoice(
                ts,
                "subscription_create",
                [
                    self.line(item, 0, (ts, trial_end), False, f"Trial period for {plan.capitalize()}"),
                ],
                (ts, trial_end),
            )
            invoice.paid_at = ts
            self.push(trial_end, "trial_end")
            return
        # Paid from day one. Accounts that signed up before the window only show their state at its start.
        k = 0
        while self.next_boundary(ts, interval, k + 1) <= start:
            k += 1
        period = (self.next_boundary(ts, interval, k), self.next_boundary(ts, interval, k + 1))
        self.invoice_seq += k
        self.state = SubscriptionVersion(ts, "active", item, *period)
        sub.versions.append(self.state)
        if ts >= start:
            invoice = self.new_invoice(
                ts,
                "subscription_create",
                [
                    self.line(item, price.unit_amount * seats, period, False, f"{seats} seat x {plan.capitalize()}"),
                ],
                period,
            )
            self.attempt(invoice, ts + rng.randrange(2, 40), 0.0)
        self.push(period[1], "renew", k=k + 1)
        self.push(max(ts, start) + rng.randrange(DAY), "tick")

    def end_subscription(self, ts: int, kind: str, requested_ts: int, reason: str, feedback: str | None) -> None:
        assert self.state is not None
        self.snapshot(
            ts,
            status="canceled",
            ended_at=ts,
            canceled_at=self.state.canceled_at or requested_ts,
            cancel_at_period_end=self.state.cancel_at_period_end,
            cancellation_reason=reason,
            cancellation_feedback=feedback,
        )
        self.life.active.append((self.active_since, ts))
        self.life.plan_history.append((ts, self.state.item.price.plan, False))
        rng = self.rng
        if kind == "voluntary":
            decline_days, depth = rng.randint(30, 60), rng.uniform(0.3, 0.7)
        elif kind == "involuntary":
            decline_days, depth = rng.randint(20, 40), rng.uniform(0.05, 0.35)
        else:
            decline_days, depth = 0, 0.0
        self.life.churns.append(Churn(requested_ts, ts, kind, decline_days, depth))
        if self.risk_until is not None:
            self.close_risk(min(self.risk_until, ts))
        self.episode += 1  # invalidates everything still queued for this subscription
        comeback = {"voluntary": 0.18, "involuntary": 0.35, "trial": 0.08}[kind]
        if rng.random() < comeback:
            delay = rng.randint(3, 40) if kind == "involuntary" else rng.randint(30, 150)
            self.push(ts + delay * DAY + rng.randrange(DAY), "reactivate")

    def close_risk(self, ts: int) -> None:
        start, _ = self.life.at_risk[-1]
        self.life.at_risk[-1] = (start, ts)
        self.risk_until = None

    # -- event handlers ------------------------------------------------------------------------
    def on_trial_end(self, ts: int, data: dict) -> None:
        assert self.state is not None
        if self.rng.random() < 0.55 + 0.4 * self.health:
            interval = self.state.item.price.interval
            period = (ts, self.next_boundary(ts, interval, 1))
            self.snapshot(ts, status="active", current_period_start=period[0], current_period_end=period[1])
            self.bill_period(ts, period, "subscription_cycle")
            self.push(period[1], "renew", k=2)
            self.push(ts + self.rng.randrange(DAY), "tick")
        else:
            self.end_subscription(ts, "trial", ts, "cancellation_requested", None)

    def bill_period(self, ts: int, period: tuple[int, int], reason: str) -> None:
        assert self.state is not None
        item = self.state.item
        amount = item.price.unit_amount * item.quantity
        text = f"{item.quantity} seat x {item.price.plan.capitalize()}"
        invoice = self.new_invoice(ts, reason, [self.line(item, amount, period, False, text)], period)
        if self.attempt(invoice, ts + self.rng.randrange(2, 40), self.failure_probability(ts)):
            return
        self.life.payment_failures.append(invoice.charges[-1].created)
        self.set_delinquent(invoice.charges[-1].created, True)
        self.snapshot(invoice.charges[-1].created, status="past_due")
        when = invoice.charges[-1].created
        for days in RETRY_AFTER_DAYS:
            when += days * DAY
            invoice.next_attempts.append(when)
        self.push(invoice.next_attempts[0], "retry", invoice=invoice, attempt=1)

    def on_renew(self, ts: int, data: dict) -> None:
        assert self.state is not None and self.sub is not None
        if self.state.cancel_at_period_end:
            self.end_subscription(
                ts,
                "voluntary",
                self.state.canceled_at or ts,
                "cancellation_requested",
                self.state.cancellation_feedback,
            )
            return
        interval = self.state.item.price.interval
        period = (ts, self.next_boundary(self.sub.billing_cycle_anchor, interval, data["k"]))
        self.snapshot(ts, current_period_start=period[0], current_period_end=period[1])
        if ts >= self.window.start_ts:
            self.bill_period(ts, period, "subscription_cycle")
        self.push(period[1], "renew", k=data["k"] + 1)

    def on_retry(self, ts: int, data: dict) -> None:
        invoice: Invoice = data["invoice"]
        attempt = data["attempt"]
        success_p = 0.35 + 0.45 * self.health - (0.15 if self.risk_until is not None else 0.0)
        if self.attempt(invoice, ts, 1 - success_p):
            invoice.next_attempts = invoice.next_attempts[:attempt]
            self.set_delinquent(ts, False)
            self.snapshot(ts, status="active")
            return
        if attempt < len(RETRY_AFTER_DAYS):
            self.push(invoice.next_attempts[attempt], "retry", invoice=invoice, attempt=attempt + 1)
            return
        invoice.marked_uncollectible_at = ts + 3600
        self.end_subscription(ts + 3600, "involuntary", ts + 3600, "payment_failed", None)

    def on_tick(self, ts: int, data: dict) -> None:
        assert self.state is not None
        rng, h = self.rng, self.health
        if self.state.status in ("active", "past_due") and not self.state.cancel_at_period_end:
            if rng.random() < 0.012 + 0.075 * h * h:
                self.push(ts + rng.randrange(30 * DAY), "expand")
            if rng.random() < 0.004 + 0.035 * (1 - h) ** 2:
                self.push(ts + rng.randrange(30 * DAY), "downgrade")
            if self.risk_until is None and rng.random() < 0.008 + 0.16 * (1 - h) ** 2.5:
                self.push(ts + rng.randrange(30 * DAY), "risk")
        self.push(ts + 30 * DAY, "tick")

    def change_item(self, ts: int, plan: str, seats: int) -> None:
        assert self.state is not None
        old = self.state.item
        if plan == old.price.plan and seats == old.quantity:
            return
        price = Price(plan, old.price.interval, self.account.currency)
        if plan == old.price.plan:
            item = Item(old.id, old.created, price, seats)
        else:
            item = Item(stripe_id(self.rng, "si_", 14), ts, price, seats)
        self.snapshot(ts, item=item)
        self.life.plan_history.append((ts, plan, True))
        start, end = self.state.current_period_start, self.state.current_period_end
        fraction = (end - ts) / (end - start)
        credit = -round(old.price.unit_amount * old.quantity * fraction)
        debit = round(price.unit_amount * seats * fraction)
        if debit + credit > 0 and self.state.status == "active":
            day = f"after {utc_day(ts):%d %b %Y}"
            lines = [
                self.line(old, credit, (ts, end), True, f"Unused time on {old.price.plan.capitalize()} {day}"),
                self.line(item, debit, (ts, end), True, f"Remaining time on {plan.capitalize()} {day}"),
            ]
            invoice = self.new_invoice(ts, "subscription_update", lines, (ts, end))
            self.attempt(invoice, ts + self.rng.randrange(2, 40), 0.0)

    def on_expand(self, ts: int, data: dict) -> None:
        assert self.state is not None
        if self.state.status != "active" or self.state.cancel_at_period_end or self.risk_until is not None:
            return
        item, rng = self.state.item, self.rng
        plan, seats = item.price.plan, item.quantity
        if plan != PLANS[-1] and rng.random() < 0.4:
            plan = PLANS[plan_rank(plan) + 1]
            seats = max(seats, SEAT_RANGE[plan][0])
        else:
            seats += max(1, round(seats * rng.uniform(0.1, 0.5)))
        self.change_item(ts, plan, seats)
        self.life.expansions.append(ts)
        self.health = min(0.98, self.health + 0.05)
        self.life.health_steps.append((ts, self.health))

    def on_downgrade(self, ts: int, data: dict) -> None:
        assert self.state is not None
        if self.state.status != "active" or self.state.cancel_at_period_end:
            return
        item, rng = self.state.item, self.rng
        plan, seats = item.price.plan, item.quantity
        if plan != PLANS[0] and (rng.random() < 0.4 or seats == 1):
            plan = PLANS[plan_rank(plan) - 1]
            seats = min(seats, SEAT_RANGE[plan][1])
        elif seats > 1:
            seats -= max(1, round(seats * rng.uniform(0.1, 0.3)))
        else:
            return
        self.change_item(ts, plan, seats)
        self.life.downgrades.append(ts)

    def on_risk(self, ts: int, data: dict) -> None:
        assert self.state is not None
        if self.state.status == "canceled" or self.risk_until is not None:
            return
        rng = self.rng
        churns = rng.random() < 0.45 + 0.4 * (1 - self.health)
        if churns:
            until = ts + rng.randint(30, 75) * DAY + rng.randrange(DAY)
            self.push(until, "cancel")
        else:
            until = ts + rng.randint(30, 90) * DAY
            self.push(until, "risk_end")
        self.risk_until = until
        self.life.at_risk.append((ts, until))

    def on_risk_end(self, ts: int, data: dict) -> None:
        if self.risk_until is not None:
            self.close_risk(ts)

    def on_cancel(self, ts: int, data: dict) -> None:
        assert self.state is not None
        if self.state.status == "canceled" or self.state.cancel_at_period_end:
            return
        rng = self.rng
        feedback = rng.choices([f[0] for f in _FEEDBACK], weights=[f[1] for f in _FEEDBACK])[0]
        if self.risk_until is not None:
            self.close_risk(ts)
        if self.state.item.price.interval == "year" or rng.random() < 0.6:
            self.snapshot(
                ts,
                cancel_at_period_end=True,
                cancel_at=self.state.current_period_end,
                canceled_at=ts,
                cancellation_reason="cancellation_requested",
                cancellation_feedback=feedback,
            )
            self.life.at_risk.append((ts, self.state.current_period_end))
            self.risk_until = self.state.current_period_end
            self.plan_save_call(ts)
        else:
            self.end_subscription(ts, "voluntary", ts, "cancellation_requested", feedback)

    def plan_save_call(self, ts: int) -> None:
        """A save call after the cancellation request at `ts`, perhaps, and whether the customer withdraws it before
        the period ends. Its own random stream: the rest of the account's life draws the same numbers as before."""
        assert self.state is not None
        rng = py_rng(self.seed, "save_call", self.account.index, ts)
        period_end = min(self.state.current_period_end, self.window.end_ts)
        call_ts = ts + rng.randint(*SAVE_CALL_DAYS) * DAY + rng.randrange(8 * 3600)
        called = rng.random() < SAVE_CALL_SHARE and call_ts < period_end
        withdraws = rng.random() < (SAVED_WITH_CALL if called else SAVED_WITHOUT_CALL)
        withdraw_ts = call_ts + rng.randrange(600, 3600) if called else ts + rng.randint(2, 20) * DAY
        if called:
            self.life.save_calls.append(call_ts)
        if withdraws and withdraw_ts < period_end:
            self.push(withdraw_ts, "withdraw")

    def on_withdraw(self, ts: int, data: dict) -> None:
        """The customer takes the cancellation back (Stripe: cancel_at_period_end false, the details cleared)."""
        assert self.state is not None
        if self.state.status == "canceled" or not self.state.cancel_at_period_end:
            return
        self.snapshot(
            ts,
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            cancellation_reason=None,
            cancellation_feedback=None,
        )
        if self.risk_until is not None:
            self.close_risk(ts)

    def on_reactivate(self, ts: int, data: dict) -> None:
        last = self.state
        assert last is not None
        plan = last.item.price.plan
        if plan != PLANS[0] and self.rng.random() < 0.4:
            plan = PLANS[plan_rank(plan) - 1]
        seats = max(SEAT_RANGE[plan][0], min(SEAT_RANGE[plan][1], last.item.quantity))
        self.health = max(self.health, self.rng.uniform(0.45, 0.75))
        self.life.health_steps.append((ts, self.health))
        self.set_delinquent(ts, False)
        self.start_subscription(ts, plan, seats, "month", trial=False)

    def run(self) -> AccountLifecycle:
        account = self.account
        self.life.health_steps.append((account.signup_ts, self.health))
        self.start_subscription(account.signup_ts, account.plan, account.seats, account.interval, account.trial)
        handlers = {
            "trial_end": self.on_trial_end,
            "renew": self.on_renew,
            "retry": self.on_retry,
            "tick": self.on_tick,
            "expand": self.on_expand,
            "downgrade": self.on_downgrade,
            "risk": self.on_risk,
            "risk_end": self.on_risk_end,
            "cancel": self.on_cancel,
            "withdraw": self.on_withdraw,
            "reactivate": self.on_reactivate,
        }
        while self.queue:
            ts, _, kind, data = heapq.heappop(self.queue)
            if ts >= self.window.end_ts:
                break
            if kind != "reactivate" and data["episode"] != self.episode:
                continue
            handlers[kind](ts, data)
        assert self.state is not None
        if self.state.status != "canceled":
            self.life.active.append((self.active_since, self.window.end_ts))
        if self.risk_until is not None:
            self.close_risk(min(self.risk_until, self.window.end_ts))
        return self.life


def simulate_lifecycle(account: Account, window: Window, seed: int) -> AccountLifecycle:
    return _Simulation(account, window, seed).run()
