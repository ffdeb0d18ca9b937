"""Accounts with a known churn hazard, landed as vendor files: an independent generator for the churn-risk test
(tests/e2e/test_churn_planted.py). Not the demo generator, and nothing here reads the platform's SQL.

Each account pays a monthly Stripe subscription. Every day it is active it may ask to cancel (Stripe: canceled_at
set, cancel_at_period_end true, the subscription ends at its period end) with a daily hazard

    h(t) = H0 * exp(B_USAGE * decline(t) + B_SCORE * depth(t) + B_FAILED * failed_30d(t))

where decline(t) is the share its product usage fell by (from a random onset day on), depth(t) = max(0, 7 - the
latest NPS score it gave) / 7 and failed_30d(t) whether a charge failed in the last 30 days. A request is withdrawn
in WITHDRAWN of cases. Each monthly charge fails with the account's own probability (latent), and a failed charge
ends the subscription 14 days later in UNRECOVERED of cases (involuntary churn). Usage events land in Segment, NPS
answers in the survey CSV (scores fall with the usage decline), failed charges in Stripe.

The true risk of an account on a day is its probability to churn within 90 days given everything the generator
knows that day (the hazard held constant; a request pending; a failure not yet recovered; its latent failure rate).
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.e2e import stripe_versions as s
from tests.e2e.landing_files import write_jsonl

START, END = date(2025, 10, 1), date(2026, 6, 30)
HORIZON = 90
H0, B_USAGE, B_SCORE, B_FAILED = 0.0006, 2.5, 2.2, 1.5
WITHDRAWN, UNRECOVERED = 0.1, 0.35
PLANS = {"Starter": 4900, "Growth": 9900, "Business": 29900}
CORE, OTHER = "Report Created", "Dashboard Viewed"


def days(first: date, last: date):
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def stamp(day: date, hour: int = 12) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, min(day.day, 28))


@dataclass
class Account:
    number: int
    created: date
    plan: str
    seats: int
    usage_rate: float
    failure_rate: float
    sentiment: float
    onset: date | None
    severity: float
    answers: list[tuple[date, int]] = field(default_factory=list)
    failures: list[date] = field(default_factory=list)  # failed charges
    requests: list[tuple[date, date | None]] = field(default_factory=list)  # (asked, withdrawn on)
    ended: date | None = None
    ended_by: str | None = None

    @property
    def id(self) -> str:
        return f"acc_{self.number:04d}"

    def decline(self, day: date) -> float:
        return self.severity if self.onset is not None and day >= self.onset else 0.0

    def latest_score(self, day: date) -> int | None:
        known = [score for answered, score in self.answers if answered <= day]
        return known[-1] if known else None

    def depth(self, day: date) -> float:
        score = self.latest_score(day)
        return 0.0 if score is None else max(0, 7 - score) / 7

    def failed_30d(self, day: date) -> bool:
        return any(day - timedelta(days=29) <= failed <= day for failed in self.failures)

    def hazard(self, day: date) -> float:
        exponent = B_USAGE * self.decline(day) + B_SCORE * self.depth(day) + B_FAILED * self.failed_30d(day)
        return H0 * math.exp(exponent)

    def pending_request(self, day: date) -> bool:
        return any(asked <= day and (withdrawn is None or day < withdrawn) for asked, withdrawn in self.requests)

    def true_risk(self, day: date) -> float:
        """P(churn within 90 days | what the generator knows on `day`)."""
        if self.pending_request(day):
            return 1 - WITHDRAWN
        unrecovered = [f for f in self.failures if f <= day < f + timedelta(days=14)]
        involuntary_now = UNRECOVERED if unrecovered else 0.0
        involuntary_later = 1 - (1 - UNRECOVERED * self.failure_rate) ** 3
        voluntary = (1 - WITHDRAWN) * (1 - math.exp(-HORIZON * self.hazard(day)))
        return 1 - (1 - voluntary) * (1 - involuntary_now) * (1 - involuntary_later)


def simulate(count: int, seed: int) -> list[Account]:
    rng = random.Random(seed)
    accounts = []
    for number in range(count):
        new = rng.random() < 0.2
        created = (
            START + timedelta(days=rng.randrange(150)) if new else date(2023, 1, 1) + timedelta(days=rng.randrange(970))
        )
        onset = START + timedelta(days=rng.randrange((END - START).days)) if rng.random() < 0.35 else None
        account = Account(
            number=number,
            created=created,
            plan=rng.choice(list(PLANS)),
            seats=rng.randint(1, 5),
            usage_rate=math.exp(rng.gauss(math.log(2.0), 0.4)),
            failure_rate=0.25 if rng.random() < 0.25 else 0.03,
            sentiment=rng.gauss(8.0, 1.8),
            onset=onset,
            severity=rng.uniform(0.2, 0.95),
        )
        live(account, rng)
        accounts.append(account)
    return accounts


def live(account: Account, rng: random.Random) -> None:
    """The account's days from its first in the window to END: answers, failures, requests, the end."""
    first = max(account.created, START)
    renewal = account.created
    while renewal <= first:
        renewal = add_month(renewal)
    next_answer = first + timedelta(days=rng.randrange(1, 120))
    ends_at: date | None = None
    for day in days(first, END):
        if ends_at is not None and day >= ends_at:
            account.ended = day
            return
        if day == next_answer:
            mood = account.sentiment - 5 * account.decline(day) + rng.gauss(0, 1.2)
            account.answers.append((day, max(0, min(10, round(mood)))))
            next_answer = day + timedelta(days=rng.randrange(60, 120))
        if day == renewal:
            renewal = add_month(renewal)
            pending = ends_at is not None
            if not pending and rng.random() < account.failure_rate:
                account.failures.append(day)
                if rng.random() < UNRECOVERED:
                    ends_at, account.ended_by = day + timedelta(days=14), "payment_failed"
        if ends_at is None and not account.pending_request(day) and rng.random() < account.hazard(day):
            withdrawn = day + timedelta(days=rng.randint(3, 10)) if rng.random() < WITHDRAWN else None
            if withdrawn is not None and withdrawn >= renewal:
                withdrawn = None  # too late to withdraw: the period ended first
            account.requests.append((day, withdrawn))
            if withdrawn is None:
                ends_at, account.ended_by = renewal, "cancellation_requested"


def churned_within(account: Account, day: date) -> bool:
    return account.ended is not None and day < account.ended <= day + timedelta(days=HORIZON)


# Landing files in the documented formats (docs/sources.md).


def customer(account: Account) -> dict:
    return {
        "id": f"cus_{account.number:04d}",
        "object": "customer",
        "address": {"country": "US"},
        "created": s.epoch(account.created.isoformat()),
        "currency": "usd",
        "email": f"billing@{account.number:04d}.example",
        "livemode": False,
        "metadata": {"account_id": account.id},
        "name": f"Account {account.number:04d}",
    }


def subscription(account: Account, *, requested=None, ended=None, reason=None) -> dict:
    price = s.price(f"price_{account.plan.lower()}", account.plan, PLANS[account.plan])
    obj = s.subscription(
        s.BASIL,
        f"sub_{account.number:04d}",
        f"cus_{account.number:04d}",
        account.created.isoformat(),
        [(f"si_{account.number:04d}", price, account.seats, [])],
        status="canceled" if ended else "active",
        canceled=ended.isoformat() if ended else None,
        cancellation=(reason, None, None),
    )
    if requested is not None:  # asked to cancel at the period end: still active until then
        obj |= {"canceled_at": s.epoch(requested.isoformat()), "cancel_at_period_end": True}
    return obj


def land(accounts: list[Account], landing: Path, seed: int) -> None:
    rng = random.Random(seed + 1)
    by_day: dict[tuple[str, str, date], list] = {}

    def put(source: str, entity: str, day: date, obj) -> None:
        by_day.setdefault((source, entity, day), []).append(obj)

    for account in accounts:
        first = max(account.created, START)
        put("stripe", "customers", first, customer(account))
        put("stripe", "subscriptions", first, subscription(account))
        for asked, withdrawn in account.requests:
            put("stripe", "subscriptions", asked, subscription(account, requested=asked))
            if withdrawn is not None:
                put("stripe", "subscriptions", withdrawn, subscription(account))
        if account.ended is not None:
            put("stripe", "subscriptions", account.ended, subscription(account, ended=account.ended,
                                                                      reason=account.ended_by))  # fmt: skip
        for number, failed in enumerate(account.failures):
            put("stripe", "charges", failed, failed_charge(account, number, failed))
        for number, (answered, score) in enumerate(account.answers):
            put("surveys", "responses", answered, nps_answer(account, number, answered, score))
        last = account.ended - timedelta(days=1) if account.ended else END
        for day in days(first, last):
            rate = account.usage_rate * (1 - account.decline(day))
            for k in range(poisson(rng, rate)):
                put("segment", "tracks", day, track(account, day, k, rng))
    write_jsonl(landing, "stripe", "coupons", START.isoformat(), [s.coupon("UNUSED", "forever", percent_off=10)])
    for (source, entity, day), objects in sorted(by_day.items(), key=lambda item: item[0]):
        if source == "surveys":
            write_csv(landing / source / entity / f"{day.isoformat()}.csv", objects)
        else:
            write_jsonl(landing, source, entity, day.isoformat(), objects)


def poisson(rng: random.Random, rate: float) -> int:
    threshold, count, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def failed_charge(account: Account, number: int, day: date) -> dict:
    return {
        "id": f"ch_{account.number:04d}_{number}",
        "object": "charge",
        "amount": PLANS[account.plan] * account.seats,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": f"cus_{account.number:04d}",
        "invoice": None,
        "status": "failed",
        "failure_code": "card_declined",
        "paid": False,
        "refunded": False,
        "created": s.epoch(day.isoformat()) + 3600,
    }


def nps_answer(account: Account, number: int, day: date, score: int) -> dict:
    return {
        "response_id": f"r_{account.number:04d}_{number}",
        "survey_type": "nps",
        "survey_kind": "relational",
        "score": str(score),
        "comment": "",
        "email": f"user@{account.number:04d}.example",
        "account_id": account.id,
        "ticket_id": "",
        "channel": "email",
        "touchpoint": "relationship",
        "responded_at": stamp(day, 10),
    }


def track(account: Account, day: date, k: int, rng: random.Random) -> dict:
    return {
        "type": "track",
        "messageId": f"m_{account.number:04d}_{day.isoformat()}_{k}",
        "event": CORE if rng.random() < 0.3 else OTHER,
        "userId": f"u_{account.number:04d}",
        "anonymousId": None,
        "timestamp": stamp(day, 8 + k % 12),
        "context": {"groupId": account.id},
        "properties": {},
    }


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
