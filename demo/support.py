"""Zendesk: organizations, users, tickets and ticket metrics.

Unhealthy and at-risk accounts file more tickets. About one ticket in eight is refund-related
(tag `refund`): those take longer, bounce between more replies and get reopened more often, which is
why their effort scores come out low. Granted refunds are applied to the account's latest Stripe charge.

Closing the loop: a Zendesk trigger opens a ticket (tag `nps_followup`, the response id in a custom field)
for most detractor answers and for some promoters; the customer-success agent's first reply is the outreach.
Most detractors hear back within a day, under half within 4 hours, and some never do.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo import experiments
from demo.accounts import Account, Person, local_business_ts
from demo.config import DAY, Window
from demo.lifecycle import AccountLifecycle
from demo.people import AGENT_NAMES, slug
from demo.seeding import py_rng
from demo.texts import TICKET_TEXTS
from demo.timestamps import business_minutes, iso_z
from demo.writer import LandingWriter

SUBDOMAIN_URL = "https://acme-support.zendesk.com/api/v2"
SUPPORT_ADDRESS = "support@acme.com"
BRAND_ID = 360_000_031_337
CONTACT_REASON_FIELD = 360_001_234_567
NPS_RESPONSE_FIELD = 360_001_234_568  # dbt var zendesk_nps_response_field_id
FIRST_TICKET_ID = 20_001
# Zendesk creates a user on the fly when a follow-up ticket goes to someone it does not know yet.
FOLLOW_UP_REQUESTER_BASE = 362_000_000_000
AGENT_USER_BASE = 361_000_000_000
GROUPS = {"billing": 360_000_201_001, "technical": 360_000_201_002, "success": 360_000_201_003}
_AGENT_GROUPS = ("billing",) * 3 + ("technical",) * 5 + ("success",) * 4
_CATEGORY_GROUP = {
    "refund_request": "billing",
    "billing_question": "billing",
    "bug_report": "technical",
    "performance": "technical",
    "integration": "technical",
    "how_to": "success",
    "feature_request": "success",
    "account_access": "success",
    "nps_followup": "success",
}
_ORGANIC_CATEGORIES = (
    ("how_to", 0.26),
    ("bug_report", 0.18),
    ("feature_request", 0.12),
    ("account_access", 0.09),
    ("performance", 0.09),
    ("integration", 0.08),
    ("billing_question", 0.08),
)
_TAGS = {
    "refund_request": ("refund", "billing"),
    "billing_question": ("billing", "invoice"),
    "how_to": ("how_to",),
    "bug_report": ("bug",),
    "account_access": ("login",),
    "performance": ("performance",),
    "feature_request": ("feature_request",),
    "integration": ("integrations",),
    "nps_followup": ("nps_followup",),
}
_TYPES = {
    "refund_request": (("question", 0.6), ("task", 0.4)),
    "billing_question": (("question", 1.0),),
    "how_to": (("question", 1.0),),
    "feature_request": (("question", 0.8), ("task", 0.2)),
    "bug_report": (("incident", 0.85), ("problem", 0.15)),
    "account_access": (("incident", 1.0),),
    "performance": (("incident", 0.7), ("problem", 0.3)),
    "integration": (("incident", 1.0),),
}
_PRIORITIES = {
    "technical": (("low", 0.1), ("normal", 0.5), ("high", 0.3), ("urgent", 0.1)),
    "billing": (("low", 0.15), ("normal", 0.6), ("high", 0.22), ("urgent", 0.03)),
    "success": (("low", 0.3), ("normal", 0.6), ("high", 0.09), ("urgent", 0.01)),
}
_REPLY_MEDIAN_MINUTES = {"urgent": 25, "high": 70, "normal": 180, "low": 420}
_CHANNELS = (("email", 0.5), ("web", 0.3), ("chat", 0.15), ("api", 0.05))


def agent_id(index: int) -> int:
    return AGENT_USER_BASE + index * 97


def _pick(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass
class Ticket:
    account: Account
    requester: Person
    created: int
    category: str
    channel: str
    type: str
    priority: str
    subject: str
    description: str
    tags: list[str]
    group: str
    assignee: int
    assigned_at: int
    first_reply: int
    solves: list[int]  # every time it was solved (reopened tickets have two)
    reopened_at: int | None
    closed_at: int
    replies: int
    pending_until: int  # the requester's answer (end of the first pending spell)
    on_hold_minutes: int
    group_stations: int
    assignee_stations: int
    id: int = 0
    events: list[tuple[int, str]] = field(default_factory=list)
    nps_response_id: str | None = None

    @property
    def refund(self) -> bool:
        return "refund" in self.tags

    @property
    def first_solved(self) -> int:
        return self.solves[0]

    @property
    def metric_id(self) -> int:
        return 360_100_000_000 + self.id


class _SupportSimulation:
    def __init__(self, life: AccountLifecycle, window: Window, seed: int):
        self.life = life
        self.account = life.account
        self.window = window
        self.rng = py_rng(seed, "support", life.account.index)
        self.tickets: list[Ticket] = []

    def rate_per_day(self, ts: int) -> float:
        account, life = self.account, self.life
        sentiment = max(0.0, min(1.0, life.sentiment(ts)))
        monthly = 0.45 + 2.2 * (1 - sentiment) ** 2
        monthly *= 0.7 + 0.15 * math.log2(1 + len(account.people))
        if ts - account.signup_ts < 30 * DAY:
            monthly *= 1.6
        return monthly / 30

    def ticket(self, created: int, category: str, extra_tags: tuple[str, ...] = ()) -> None:
        rng, account = self.rng, self.account
        contacts = account.contacts_at(created) or account.contacts[:1]
        requester = contacts[0] if rng.random() < 0.4 else rng.choice(contacts)
        group = _CATEGORY_GROUP[category]
        priority = _pick(rng, _PRIORITIES[group])
        refund = category == "refund_request"
        subject, description = rng.choice(TICKET_TEXTS[category])
        tags = [*_TAGS[category], *extra_tags, f"plan_{self.plan_at(created)}"]
        if refund and rng.random() < 0.3 and "cancellation" not in tags:
            tags.append("double_charge")
        agents = [i for i, g in enumerate(_AGENT_GROUPS) if g == group]
        assignee = agent_id(rng.choice(agents))

        reply_minutes = _REPLY_MEDIAN_MINUTES[priority] * (1.4 if refund else 1.0) * math.exp(rng.gauss(0, 0.8))
        first_reply = created + max(60, int(reply_minutes * 60))
        assigned_at = max(created + 30, first_reply - rng.randrange(60, 1800))
        replies = (2 + _poisson(rng, 2.2)) if refund else (1 + _poisson(rng, 0.9))
        hours = (60.0 if refund else 16.0) * math.exp(rng.gauss(0, 0.9))
        solved = max(first_reply + 300, created + int(hours * 3600))
        pending_until = first_reply + int((solved - first_reply) * rng.uniform(0.3, 0.7)) if replies > 1 else solved
        on_hold = rng.randrange(60, 1440) if rng.random() < 0.05 else 0
        solves = [solved]
        reopened_at = None
        if rng.random() < (0.22 if refund else 0.07):
            reopened_at = solved + rng.randrange(6 * 3600, 4 * DAY)
            solves.append(reopened_at + max(600, int(10 * 3600 * math.exp(rng.gauss(0, 0.8)))))
            replies += 1 + _poisson(rng, 0.8)
        escalated = rng.random() < 0.1
        ticket = Ticket(
            account=account,
            requester=requester,
            created=created,
            category=category,
            channel=_pick(rng, _CHANNELS),
            type=_pick(rng, _TYPES[category]),
            priority=priority,
            subject=subject,
            description=description,
            tags=tags,
            group=group,
            assignee=assignee,
            assigned_at=assigned_at,
            first_reply=first_reply,
            solves=solves,
            reopened_at=reopened_at,
            closed_at=solves[-1] + 4 * DAY,
            replies=replies,
            pending_until=pending_until,
            on_hold_minutes=on_hold,
            group_stations=2 if escalated else 1,
            assignee_stations=(2 if escalated else 1) + (1 if rng.random() < 0.1 else 0),
        )
        events = [(created, "new"), (first_reply, "pending")]
        if replies > 1:
            events.append((pending_until, "open"))
        events.append((solves[0], "solved"))
        if reopened_at is not None:
            events += [(reopened_at, "open"), (solves[1], "solved")]
        events.append((ticket.closed_at, "closed"))
        ticket.events = events
        self.tickets.append(ticket)
        if refund:
            self.refund(ticket)

    def plan_at(self, ts: int) -> str:
        plan = self.account.plan
        for when, name, _ in self.life.plan_history:
            if when <= ts:
                plan = name
        return plan

    def refund(self, ticket: Ticket) -> None:
        """Most refund requests are granted on the latest successful charge, when the ticket is solved."""
        rng = self.rng
        if rng.random() >= 0.7:
            return
        charges = self.life.succeeded_charges_before(ticket.created)
        if not charges:
            return
        charge = charges[-1]
        left = charge.amount - charge.refunded_by(ticket.first_solved)
        if left <= 0:
            return
        amount = left if rng.random() < 0.6 else max(1, int(left * rng.uniform(0.2, 0.6)))
        charge.refunds.append((max(charge.created + 600, ticket.first_solved - rng.randrange(60, 1800)), amount))

    def run(self) -> list[Ticket]:
        rng, window, life = self.rng, self.window, self.life
        # Organic tickets: a thinned Poisson process while subscribed (and a week after).
        peak = 3.5 / 30
        ts = max(window.start_ts, self.account.signup_ts)
        while True:
            ts += int(rng.expovariate(peak) * DAY) + 1
            if ts >= window.end_ts:
                break
            subscribed = life.is_active(ts) or life.is_active(ts - 7 * DAY)
            if not subscribed or rng.random() >= self.rate_per_day(ts) / peak:
                continue
            created = local_business_ts(rng, ts - ts % DAY, self.account.time_zone, 12.0)
            sentiment = max(0.0, min(1.0, life.sentiment(created)))
            if rng.random() < 0.08 + 0.1 * (1 - sentiment):
                self.ticket(created, "refund_request")
            else:
                self.ticket(created, _pick(rng, _ORGANIC_CATEGORIES))
        # Tickets that follow billing events.
        for failed in life.payment_failures:
            if rng.random() < 0.35:
                self.ticket(failed + rng.randrange(3600, 2 * DAY), "billing_question", ("payment_failed",))
        for churn in life.churns:
            if churn.kind == "voluntary" and rng.random() < 0.3:
                self.ticket(churn.requested_ts + rng.randrange(600, 3 * DAY), "refund_request", ("cancellation",))
        return [t for t in self.tickets if window.start_ts <= t.created < window.end_ts]


def simulate_support(lives: list[AccountLifecycle], window: Window, seed: int) -> list[Ticket]:
    """All tickets, numbered like Zendesk does: one sequence, in creation order."""
    return number_tickets([t for life in lives for t in _SupportSimulation(life, window, seed).run()])


def number_tickets(tickets: list[Ticket]) -> list[Ticket]:
    """Sort by creation and number from FIRST_TICKET_ID (again after follow-ups join the list)."""
    tickets.sort(key=lambda t: (t.created, t.account.index, t.requester.email, t.category))
    for number, ticket in enumerate(tickets):
        ticket.id = FIRST_TICKET_ID + number
    return tickets


FOLLOW_UP_SHARE = {"detractor": 0.85, "promoter": 0.35}
FOLLOW_UP_MEDIAN_HOURS = {"detractor": 4.5, "promoter": 20.0}
_FOLLOW_UP_TEXTS = {
    "detractor": ("Following up on your feedback", "Thank you for your honest score. Could we talk about it?"),
    "promoter": ("Thank you for your feedback!", "Thanks for recommending us. Anything we could do even better?"),
}


def follow_up_tickets(answers: list[tuple], window: Window, seed: int) -> list[Ticket]:
    """Follow-up tickets for NPS answers given as (account, person, response id, responded at, score[, response]),
    in time order. A detractor's case gets its variant of each follow-up experiment as a tag, and the planted effect
    of its variant and reply time on the person's next answer (demo/experiments.py) raises that answer's score when
    it comes (the 6th item, the survey response, when given).

    A respondent Zendesk does not know yet (a product user who never filed a ticket) becomes a Zendesk user when
    the ticket is created: `person.zendesk_user_id` is set then, and `new_requesters` lists them for writing.
    """
    tickets = []
    planted: dict[int, int] = {}  # id(person) -> points on their next NPS answer
    for account, person, response_id, responded, score, *response in answers:
        points = planted.pop(id(person), 0)
        if points and response:
            score = experiments.rescore(response[0], points, py_rng(seed, "follow_up_rescore", response_id))
        kind = "detractor" if score <= 6 else "promoter" if score >= 9 else None
        if kind is None:
            continue
        rng = py_rng(seed, "follow_up", response_id)
        if rng.random() >= FOLLOW_UP_SHARE[kind]:
            continue
        created = responded + rng.randrange(30, 300)  # the trigger fires when the answer arrives
        variants = experiments.case_variants(response_id) if kind == "detractor" else []
        median = experiments.reply_median_hours(variants, FOLLOW_UP_MEDIAN_HOURS[kind])
        first_reply = responded + int(median * 3600 * math.exp(rng.gauss(0, 1.0)))
        first_reply = max(created + 120, first_reply)
        solved = first_reply + int((20 if kind == "detractor" else 2) * 3600 * math.exp(rng.gauss(0, 0.8)))
        if created >= window.end_ts:
            continue
        if person.zendesk_user_id is None:
            person.zendesk_user_id = FOLLOW_UP_REQUESTER_BASE + account.index * 1000 + account.people.index(person)
        agents = [i for i, g in enumerate(_AGENT_GROUPS) if g == "success"]
        subject, description = _FOLLOW_UP_TEXTS[kind]
        replies = 1 + (_poisson(rng, 1.5) if kind == "detractor" else 0)
        ticket = Ticket(
            account=account,
            requester=person,
            created=created,
            category="nps_followup",
            channel="api",
            type="task",
            priority="high" if kind == "detractor" else "low",
            subject=subject,
            description=description,
            tags=["nps_followup", kind, f"score_{score}", *(variant.tag for variant in variants)],
            group="success",
            assignee=agent_id(rng.choice(agents)),
            assigned_at=created + 60,
            first_reply=first_reply,
            solves=[solved],
            reopened_at=None,
            closed_at=solved + 4 * DAY,
            replies=replies,
            pending_until=solved,
            on_hold_minutes=0,
            group_stations=1,
            assignee_stations=1,
            nps_response_id=response_id,
        )
        ticket.events = [(created, "new"), (first_reply, "pending"), (solved, "solved"), (ticket.closed_at, "closed")]
        tickets.append(ticket)
        if kind == "detractor":
            planted[id(person)] = experiments.next_score_points(variants, first_reply - responded)
    return tickets


# -- rendering --------------------------------------------------------------------------------------


def _status_at(ticket: Ticket, ts: int) -> str:
    status = "new"
    for when, name in ticket.events:
        if when <= ts:
            status = name
    return status


def render_ticket(ticket: Ticket, ts: int) -> dict:
    """The ticket as the incremental export returns it after its last update at `ts`."""
    status = _status_at(ticket, ts)
    assigned = ts >= ticket.assigned_at
    account, requester = ticket.account, ticket.requester
    if ticket.channel == "email":
        source = {
            "from": {"address": requester.email, "name": requester.name},
            "to": {"address": SUPPORT_ADDRESS, "name": "Acme Support"},
            "rel": None,
        }
    else:
        source = {"from": {}, "to": {}, "rel": None}
    return {
        "id": ticket.id,
        "url": f"{SUBDOMAIN_URL}/tickets/{ticket.id}.json",
        "external_id": None,
        "via": {"channel": ticket.channel, "source": source},
        "created_at": iso_z(ticket.created),
        "updated_at": iso_z(ts),
        "generated_timestamp": ts,
        "type": ticket.type,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": status,
        "recipient": SUPPORT_ADDRESS if ticket.channel == "email" else None,
        "requester_id": requester.zendesk_user_id,
        "submitter_id": requester.zendesk_user_id,
        "assignee_id": ticket.assignee if assigned else None,
        "organization_id": account.zendesk_org_id,
        "group_id": GROUPS[ticket.group] if assigned else None,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": sorted(ticket.tags),
        "custom_fields": [
            {"id": CONTACT_REASON_FIELD, "value": ticket.category},
            {"id": NPS_RESPONSE_FIELD, "value": ticket.nps_response_id},
        ],
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
    }


def _minutes(start: int, end: int) -> dict[str, int]:
    return {"calendar": max(0, (end - start) // 60), "business": business_minutes(start, end)}


def render_metrics(ticket: Ticket, solved: int) -> dict:
    """Ticket Metrics as of a solve (`solved` is the first or, for reopened tickets, the final solve)."""
    final = solved == ticket.solves[-1] and len(ticket.solves) > 1
    reopens = 1 if final else 0
    pending = ticket.pending_until - ticket.first_reply
    full = solved - ticket.created
    hold = ticket.on_hold_minutes * 60
    agent_wait = {"calendar": pending // 60, "business": business_minutes(ticket.first_reply, ticket.pending_until)}
    requester_wait = max(0, full - pending - hold) // 60
    requester_wait_business = max(
        0, business_minutes(ticket.created, solved) - agent_wait["business"] - ticket.on_hold_minutes // 3
    )
    replies = ticket.replies if final or len(ticket.solves) == 1 else max(1, ticket.replies - 1)
    return {
        "id": ticket.metric_id,
        "ticket_id": ticket.id,
        "url": f"{SUBDOMAIN_URL}/ticket_metrics/{ticket.metric_id}.json",
        "created_at": iso_z(ticket.created),
        "updated_at": iso_z(solved),
        "group_stations": ticket.group_stations,
        "assignee_stations": ticket.assignee_stations,
        "reopens": reopens,
        "replies": replies,
        "assignee_updated_at": iso_z(solved),
        "requester_updated_at": iso_z(ticket.reopened_at if final and ticket.reopened_at else ticket.pending_until),
        "status_updated_at": iso_z(solved),
        "initially_assigned_at": iso_z(ticket.assigned_at),
        "assigned_at": iso_z(ticket.assigned_at),
        "solved_at": iso_z(solved),
        "latest_comment_added_at": iso_z(solved),
        "reply_time_in_minutes": _minutes(ticket.created, ticket.first_reply),
        "first_resolution_time_in_minutes": _minutes(ticket.created, ticket.first_solved),
        "full_resolution_time_in_minutes": _minutes(ticket.created, solved),
        "agent_wait_time_in_minutes": agent_wait,
        "requester_wait_time_in_minutes": {"calendar": requester_wait, "business": requester_wait_business},
        "on_hold_time_in_minutes": {"calendar": ticket.on_hold_minutes, "business": ticket.on_hold_minutes // 3},
    }


def render_organization(account: Account, plan: str, subscribed: bool, updated: int) -> dict:
    tags = [f"plan_{plan}"] if subscribed else [f"plan_{plan}", "churned"]
    return {
        "id": account.zendesk_org_id,
        "url": f"{SUBDOMAIN_URL}/organizations/{account.zendesk_org_id}.json",
        "name": account.name,
        "external_id": account.account_id,
        "domain_names": [account.domain],
        "details": "",
        "notes": "",
        "group_id": None,
        "shared_tickets": False,
        "shared_comments": False,
        "tags": sorted(tags),
        "organization_fields": {},
        "created_at": iso_z(account.zendesk_org_created_ts),
        "updated_at": iso_z(updated),
    }


def _user(
    user_id: int, name: str, email: str, created: int, organization_id: int | None, role: str, account: Account | None
) -> dict:
    zone = account.time_zone if account else None
    locale = account.country.locale if account else "en-US"
    return {
        "id": user_id,
        "url": f"{SUBDOMAIN_URL}/users/{user_id}.json",
        "name": name,
        "email": email,
        "created_at": iso_z(created),
        "updated_at": iso_z(created),
        "time_zone": zone.zendesk if zone else "Eastern Time (US & Canada)",
        "iana_time_zone": zone.iana if zone else "America/New_York",
        "phone": None,
        "locale": locale,
        "locale_id": account.country.zendesk_locale_id if account else 1,
        "organization_id": organization_id,
        "role": role,
        "verified": True,
        "active": True,
        "suspended": False,
        "tags": [],
        "user_fields": {},
    }


def new_requesters(tickets: list[Ticket]) -> list[tuple[Ticket, Person]]:
    """The first ticket of each requester Zendesk created on the fly (not one of the account's contacts)."""
    first: dict[int, tuple[Ticket, Person]] = {}
    for ticket in sorted(tickets, key=lambda t: t.created):
        person = ticket.requester
        if person.zendesk_user_id is not None and person.zendesk_user_id >= FOLLOW_UP_REQUESTER_BASE:
            first.setdefault(person.zendesk_user_id, (ticket, person))
    return list(first.values())


def write_zendesk(writer: LandingWriter, lives: list[AccountLifecycle], tickets: list[Ticket], window: Window) -> None:
    agents_created = window.start_ts - 900 * DAY
    for index, name in enumerate(AGENT_NAMES):
        first, last = name.split(" ")
        created = agents_created + index * 11 * DAY + 3600 * (9 + index % 8)
        email = f"{slug(first)}.{slug(last)}@acme.com"
        record = _user(agent_id(index), name, email, created, None, "agent", None)
        writer.put_json("zendesk", "users", created, agent_id(index), record)
    for life in lives:
        account = life.account
        for person in account.contacts:
            assert person.zendesk_user_id is not None
            record = _user(
                person.zendesk_user_id,
                person.name,
                person.email,
                person.created_ts,
                account.zendesk_org_id,
                "end-user",
                account,
            )
            writer.put_json("zendesk", "users", person.created_ts, person.zendesk_user_id, record)
        created = account.zendesk_org_created_ts
        plan, subscribed = next((p, s) for when, p, s in reversed(life.plan_history) if when <= created)
        writer.put_json(
            "zendesk",
            "organizations",
            created,
            account.zendesk_org_id,
            render_organization(account, plan, subscribed, created),
        )
        for when, new_plan, new_subscribed in life.plan_history:
            if when > created and (new_plan, new_subscribed) != (plan, subscribed):
                plan, subscribed = new_plan, new_subscribed
                writer.put_json(
                    "zendesk",
                    "organizations",
                    when + 300,
                    account.zendesk_org_id,
                    render_organization(account, plan, subscribed, when + 300),
                )
    for ticket, person in new_requesters(tickets):
        account = ticket.account
        user_id = person.zendesk_user_id
        assert user_id is not None
        record = _user(user_id, person.name, person.email, ticket.created, account.zendesk_org_id, "end-user", account)
        writer.put_json("zendesk", "users", ticket.created, user_id, record)
    for ticket in tickets:
        versions: dict[int, int] = {}
        for when, _ in ticket.events:
            versions[when // DAY] = when
        for when in sorted(versions.values()):
            writer.put_json("zendesk", "tickets", when, ticket.id, render_ticket(ticket, when))
        for solved in ticket.solves:
            writer.put_json("zendesk", "ticket_metrics", solved, ticket.metric_id, render_metrics(ticket, solved))
