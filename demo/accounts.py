"""The customer accounts: who they are, what they bought first, and the latent health behind the planted effects."""

from __future__ import annotations

import random
from dataclasses import dataclass

from demo.catalog import PLAN_WEIGHTS, PLANS, SEAT_RANGE
from demo.config import DAY, DemoConfig, Window
from demo.geography import COUNTRIES, City, Country, TimeZone
from demo.people import (
    COMPANY_CORES,
    COMPANY_KINDS,
    COMPANY_PREFIXES,
    FIRST_NAMES,
    LAST_NAMES,
    slug,
)
from demo.seeding import py_rng

ZENDESK_ORG_BASE = 360_000_100_000
ZENDESK_USER_BASE = 361_500_000_000
MAX_PRODUCT_USERS = 150
TRIAL_DAYS = 14
_ANNUAL_SHARE = {"starter": 0.12, "growth": 0.2, "business": 0.3, "enterprise": 0.5}
_CARD_BRANDS = (("visa", 0.55), ("mastercard", 0.3), ("amex", 0.15))


@dataclass
class Person:
    """Someone at a customer who uses the product; contacts (the first few) also exist in Zendesk."""

    name: str
    email: str
    user_id: str  # Segment userId
    ip: str
    created_ts: int
    zendesk_user_id: int | None = None  # set for contacts

    @property
    def is_contact(self) -> bool:
        return self.zendesk_user_id is not None


@dataclass
class Account:
    index: int
    account_id: str
    name: str
    domain: str
    country: Country
    city: City
    street_line: str
    postal_code: str
    time_zone: TimeZone
    currency: str
    plan: str
    seats: int
    interval: str
    health: float
    signup_ts: int
    trial: bool
    people: list[Person]
    contact_count: int
    billing_email: str
    has_account_metadata: bool
    stripe_customer_id: str
    invoice_prefix: str
    payment_method_id: str
    card_brand: str
    card_last4: str
    zendesk_org_id: int
    zendesk_org_created_ts: int
    phone: str | None
    referred_by: str | None = None  # the referring account's id (demo/outreach.py), in Stripe customer metadata

    @property
    def contacts(self) -> list[Person]:
        return self.people[: self.contact_count]

    def contacts_at(self, ts: int) -> list[Person]:
        return [p for p in self.contacts if p.created_ts <= ts]


def weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def random_chars(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def stripe_id(rng: random.Random, prefix: str, length: int = 24) -> str:
    return prefix + random_chars(rng, ALNUM, length)


def local_business_ts(rng: random.Random, day_ts: int, zone: TimeZone, hour_mean: float = 13.0) -> int:
    """A moment on the UTC day `day_ts` around local working hours (wrapped into that UTC day)."""
    local_hour = min(23.9, max(0.0, rng.gauss(hour_mean, 2.5)))
    seconds = int((local_hour - zone.utc_offset_hours) * 3600) % DAY
    return day_ts + seconds


def _postal(rng: random.Random, pattern: str) -> str:
    return "".join(
        rng.choice("0123456789") if ch == "#" else rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") if ch == "@" else ch
        for ch in pattern
    )


def _company(rng: random.Random, country: Country, used_domains: set[str]) -> tuple[str, str]:
    base = rng.choice(COMPANY_PREFIXES) + rng.choice(COMPANY_CORES)
    kind = rng.choice(COMPANY_KINDS)
    name = f"{base} {kind} {rng.choice(country.legal_suffixes)}"
    stem = slug(base) if rng.random() < 0.6 else slug(base + kind)
    domain = f"{stem}.{country.tld}"
    number = 2
    while domain in used_domains:
        domain = f"{stem}{number}.{country.tld}"
        number += 1
    used_domains.add(domain)
    return name, domain


def _email(rng: random.Random, first: str, last: str, domain: str, used: set[str]) -> str:
    f, surname = slug(first), slug(last)
    local = rng.choices(
        [f"{f}.{surname}", f"{f[0]}{surname}", f"{f}{surname[0]}", f, f"{f}_{surname}"], weights=[6, 2, 1, 1, 1]
    )[0]
    candidate, number = local, 2
    while candidate in used:
        candidate = f"{local}{number}"
        number += 1
    used.add(candidate)
    return f"{candidate}@{domain}"


def _signup_ts(rng: random.Random, window: Window, zone: TimeZone) -> tuple[int, bool]:
    start, end = window.start_ts, window.end_ts - DAY
    in_window = rng.random() < 1 / 3
    if in_window:
        last = max(start, end - 3 * DAY)
        day = start + rng.randrange((last - start) // DAY + 1) * DAY
    else:
        earliest = min(end - 3 * 365 * DAY, start - 365 * DAY)
        day = earliest + rng.randrange((start - earliest) // DAY) * DAY
    return local_business_ts(rng, day, zone), in_window


def build_account(config: DemoConfig, window: Window, index: int, used_domains: set[str]) -> Account:
    rng = py_rng(config.seed, "account", index)
    country = rng.choices(COUNTRIES, weights=[c.weight for c in COUNTRIES])[0]
    zone = rng.choice(country.time_zones)
    name, domain = _company(rng, country, used_domains)
    plan = rng.choices(PLANS, weights=PLAN_WEIGHTS)[0]
    low, high = SEAT_RANGE[plan]
    seats = max(low, min(high, round(low * (high / low) ** (rng.random() ** 1.4))))
    health = rng.betavariate(2.6, 1.6)
    signup_ts, in_window = _signup_ts(rng, window, zone)
    age_days = max(1, (window.end_ts - signup_ts) // DAY)

    contact_count = rng.choices([1, 2, 3, 4, 5], weights=[2, 3, 3, 2, 1])[0]
    user_count = min(MAX_PRODUCT_USERS, max(seats, contact_count))
    used_locals: set[str] = set()
    people = []
    for k in range(user_count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if k == 0:
            created = signup_ts + rng.randrange(60, 3 * 3600)
        else:
            created = signup_ts + rng.randrange(3600, max(2 * 3600, min(age_days, 540) * DAY))
        person = Person(
            name=f"{first} {last}",
            email=_email(rng, first, last, domain, used_locals),
            user_id=f"usr_{rng.getrandbits(64):016x}",
            ip=f"{rng.randrange(24, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            created_ts=created,
        )
        if k < contact_count:
            person.zendesk_user_id = ZENDESK_USER_BASE + index * 131 + k * 7
        people.append(person)

    billing_email = rng.choices(
        [f"billing@{domain}", people[0].email, f"finance@{domain}", f"accounts@{domain}"], weights=[5, 3, 1, 1]
    )[0]
    city = rng.choice(country.cities)
    phone = (
        f"{country.phone_prefix} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}" if rng.random() < 0.3 else None
    )
    return Account(
        index=index,
        account_id=f"acc_{index + 1:05d}",
        name=name,
        domain=domain,
        country=country,
        city=city,
        street_line=f"{rng.randrange(1, 400)} {rng.choice(country.streets)}",
        postal_code=_postal(rng, city.postal_pattern),
        time_zone=zone,
        currency=weighted(rng, country.currencies),
        plan=plan,
        seats=seats,
        interval="year" if rng.random() < _ANNUAL_SHARE[plan] else "month",
        health=health,
        signup_ts=signup_ts,
        trial=in_window and rng.random() < 0.55,
        people=people,
        contact_count=contact_count,
        billing_email=billing_email,
        has_account_metadata=rng.random() >= 0.03,
        stripe_customer_id=stripe_id(rng, "cus_", 14),
        invoice_prefix=random_chars(rng, UPPER_ALNUM, 8),
        payment_method_id=stripe_id(rng, "pm_", 24),
        card_brand=weighted(rng, _CARD_BRANDS),
        card_last4=f"{rng.randrange(10000):04d}",
        zendesk_org_id=ZENDESK_ORG_BASE + index * 17 + 3,
        zendesk_org_created_ts=signup_ts + rng.randrange(120, 2 * DAY),
        phone=phone,
    )


def build_accounts(config: DemoConfig, window: Window) -> list[Account]:
    used_domains: set[str] = set()
    return [build_account(config, window, index, used_domains) for index in range(config.accounts)]
