"""Survey sends and responses: relational NPS on Typeform, transactional NPS, CES and CSAT as CSV exports.

- Relational NPS (Typeform, email): every contact about twice a year, never within 90 days, from 90
  days after the contact appeared. About 20% respond.
- Transactional NPS (in-app right after a "Report Created", or after onboarding in-app / by SMS):
  a random share of product users each quarter, never within 60 days of their last one. About 45%
  respond in-app.
- CES (1-7) or CSAT (1-5) by email after a ticket is solved. Refund tickets score low on CES.
Every response has the send it answers, made earlier, with the same type, kind, channel, touchpoint,
account and email (the CSV responses name it: send_id). Scores follow the account's sentiment at the time (see
lifecycle). Each send's delivery, opens, bounces, unsubscribes and reminders: demo.send_lifecycle.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo import experiments
from demo.accounts import LOWER_ALNUM, Account, Person, local_business_ts, random_chars
from demo.config import DAY, Window
from demo.lifecycle import AccountLifecycle
from demo.people import EMAIL_PROVIDERS, FIRST_NAMES, LAST_NAMES, slug
from demo.seeding import py_rng
from demo.send_lifecycle import add_lifecycle, versions
from demo.support import Ticket
from demo.texts import (
    DETRACTOR_REASONS,
    EASY_COMMENTS,
    HARD_COMMENTS,
    NEUTRAL_COMMENTS,
    PASSIVE_REASONS,
    PROMOTER_REASONS,
)
from demo.timestamps import iso_z
from demo.writer import LandingWriter
from ingestion.surveys import RESPONSE_COLUMNS, SEND_COLUMNS

# The CSV headers are the landing contract's, defined once in ingestion/surveys.
TYPEFORM_FORM = "https://acme.typeform.com/to/Ab12Cd"
NPS_FIELD = {"id": "Hk3sP0qWa", "ref": "nps_score", "type": "nps"}
REASON_FIELD = {"id": "Qz8LmN2xR", "ref": "nps_reason", "type": "long_text"}
RELATIONAL_CYCLE_DAYS = 182
RESPONSE_RATE = {"relational": 0.2, "in_app": 0.45, "sms": 0.3, "ticket": 0.25}
_USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 "
        "Safari/537.36",
        "other",
        "default",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
        "Safari/605.1.15",
        "other",
        "default",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "mobile",
        "touch",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 "
        "Mobile Safari/537.36",
        "mobile",
        "touch",
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0", "other", "default"),
)


@dataclass
class Response:
    response_id: str
    responded_at: int
    score: int
    comment: str | None


@dataclass
class Send:
    send_id: str
    survey_type: str  # nps | ces | csat
    survey_kind: str  # relational | transactional
    channel: str  # email | in_app | sms
    touchpoint: str
    account_id: str  # "" when the sending tool did not know it
    email: str
    sent_at: int
    ticket: Ticket | None = None
    response: Response | None = None
    lifecycle: dict[str, int] = field(default_factory=dict)  # demo.send_lifecycle
    variant: str | None = None  # the experiment variant the survey tool recorded (seed experiments)

    @property
    def on_typeform(self) -> bool:
        return self.survey_kind == "relational"


@dataclass
class SurveyPlan:
    sends: list[Send]
    # (epoch ms, account index, person index): the "Report Created" each in-app feature survey follows
    core_events: list[tuple[int, int, int]]


def nps_score(rng: random.Random, sentiment: float) -> int:
    latent = sentiment + rng.gauss(0, 0.17)
    return max(0, min(10, round(3.5 + 6.6 * latent)))


def nps_reason(rng: random.Random, score: int) -> str:
    pool = PROMOTER_REASONS if score >= 9 else PASSIVE_REASONS if score >= 7 else DETRACTOR_REASONS
    return rng.choice(pool)


def effort_comment(rng: random.Random, score: int, easy_from: int, hard_below: int) -> str:
    pool = EASY_COMMENTS if score >= easy_from else HARD_COMMENTS if score < hard_below else NEUTRAL_COMMENTS
    return rng.choice(pool)


def _clip(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


class _AccountSurveys:
    def __init__(self, life: AccountLifecycle, tickets: list[Ticket], window: Window, seed: int):
        self.life = life
        self.account: Account = life.account
        self.tickets = tickets
        self.window = window
        self.rng = py_rng(seed, "surveys", life.account.index)
        self.seed = seed
        self.sends: list[Send] = []
        self.core_events: list[tuple[int, int, int]] = []
        self.last_transactional: dict[int, int] = {}

    def sentiment(self, ts: int) -> float:
        return self.life.sentiment(ts)

    def send(
        self,
        ts: int,
        survey_type: str,
        kind: str,
        channel: str,
        touchpoint: str,
        person: Person,
        ticket: Ticket | None = None,
        empty_account_p: float = 0.08,
    ) -> Send:
        rng = self.rng
        blank = person.is_contact and rng.random() < empty_account_p
        item = Send(
            send_id=f"snd_{rng.getrandbits(64):016x}",
            survey_type=survey_type,
            survey_kind=kind,
            channel=channel,
            touchpoint=touchpoint,
            account_id="" if blank else self.account.account_id,
            email=person.email,
            sent_at=ts,
            ticket=ticket,
        )
        self.sends.append(item)
        return item

    def respond(self, item: Send, rate: float, delay: int, rng: random.Random | None = None) -> Response | None:
        rng = rng or self.rng
        if rng.random() >= rate:
            return None
        responded = item.sent_at + delay
        if responded >= self.window.end_ts:
            return None
        return self.answer(item, responded)

    def answer(self, item: Send, responded: int) -> Response:
        typeform_id = random_chars(self.rng, LOWER_ALNUM, 32)
        response_id = typeform_id if item.on_typeform else f"rsp_{typeform_id[:16]}"
        item.response = Response(response_id, responded, 0, None)
        return item.response

    def answer_after_reminder(self, item: Send, responded: int) -> None:
        response = self.answer(item, responded)
        if item.survey_type == "nps":
            response.score = nps_score(self.rng, self.sentiment(responded))
            if self.rng.random() < 0.75:
                response.comment = nps_reason(self.rng, response.score)
        else:
            self.score_ticket(item, response)

    def nps(
        self, item: Send, rate: float, delay: int, shift: float, reason_p: float, rng: random.Random | None = None
    ) -> None:
        rng = rng or self.rng
        response = self.respond(item, rate, delay, rng)
        if response is not None:
            response.score = nps_score(rng, self.sentiment(response.responded_at) + shift)
            if rng.random() < reason_p:
                response.comment = nps_reason(rng, response.score)

    def nps_in_experiment(self, item: Send, rate: float, delay: int, shift: float, reason_p: float) -> None:
        """`nps` for a send of an experiment: a variant's uplift answers some sends the usual rate leaves
        unanswered, drawn from a stream of their own (the account's other numbers do not move)."""
        item.variant = experiments.send_variant(item.send_id)
        self.nps(item, rate, delay, shift, reason_p)
        uplift = experiments.response_uplift(item.variant)
        if item.response is None and uplift:
            extra = py_rng(self.seed, "send_experiment", item.send_id)
            self.nps(item, uplift / (1 - rate), delay, shift, reason_p, extra)

    def active(self, ts: int) -> bool:
        return self.window.start_ts <= ts < self.window.end_ts and self.life.is_active(ts)

    def relational(self) -> None:
        rng, account = self.rng, self.account
        for person in account.contacts:
            anchor = person.created_ts + 90 * DAY + rng.randrange(0, 60) * DAY
            k = max(0, (self.window.start_ts - anchor) // (RELATIONAL_CYCLE_DAYS * DAY) - 1)
            previous = None
            while True:
                day = anchor + k * RELATIONAL_CYCLE_DAYS * DAY + rng.randint(-14, 14) * DAY
                k += 1
                if day >= self.window.end_ts:
                    break
                ts = local_business_ts(rng, day - day % DAY, account.time_zone, 10.5)
                if previous is not None and ts - previous < 90 * DAY:
                    continue
                if not self.active(ts):
                    continue
                previous = ts
                item = self.send(ts, "nps", "relational", "email", "relationship", person, empty_account_p=0.1)
                delay = int(min(6 * DAY, 8 * 3600 * math.exp(rng.gauss(0, 1.2)))) + rng.randrange(60, 600)
                rate = 0.15 + 0.1 * max(0.0, min(1.0, self.sentiment(ts)))
                self.nps_in_experiment(item, rate, delay, 0.0, 0.75)

    def onboarding(self) -> None:
        rng, account = self.rng, self.account
        if account.signup_ts < self.window.start_ts:
            return
        ts = account.signup_ts + rng.randint(28, 32) * DAY + rng.randrange(-3 * 3600, 3 * 3600)
        if not self.active(ts):
            return
        person = account.people[0]
        channel = "sms" if rng.random() < 0.25 else "in_app"
        item = self.send(ts, "nps", "transactional", channel, "onboarding", person)
        self.last_transactional[0] = ts
        delay = rng.randrange(15, 240) if channel == "in_app" else rng.randrange(120, 6 * 3600)
        self.nps(item, RESPONSE_RATE[channel], delay, 0.0, 0.5)

    def feature_use(self) -> None:
        """Each quarter a random 40% of product users get an in-app NPS right after creating a report."""
        rng, account, window = self.rng, self.account, self.window
        block = 91 * DAY
        for block_start in range(window.start_ts, window.end_ts, block):
            for index, person in enumerate(account.people):
                if rng.random() >= 0.4:
                    continue
                ts = block_start + rng.randrange(block)
                ts = local_business_ts(rng, ts - ts % DAY, account.time_zone, 13.0)
                used = ts - rng.randrange(60, 900)
                if person.created_ts > used or not (self.active(used) and self.active(ts)):
                    continue
                if ts - self.last_transactional.get(index, -(10**12)) < 60 * DAY:
                    continue
                self.last_transactional[index] = ts
                self.core_events.append((used * 1000 + rng.randrange(1000), account.index, index))
                item = self.send(ts, "nps", "transactional", "in_app", "feature_use", person)
                self.nps(item, RESPONSE_RATE["in_app"], rng.randrange(10, 180), 0.04, 0.5)

    def after_tickets(self) -> None:
        rng = self.rng
        for ticket in self.tickets:
            kind = rng.choices(("ces", "csat", None), weights=(0.8, 0.15, 0.05))[0]
            solved = ticket.first_solved
            if kind is None or not self.window.start_ts <= solved < self.window.end_ts:
                continue
            ts = solved + rng.randrange(300, 5400)
            item = self.send(ts, kind, "transactional", "email", "support_ticket", ticket.requester, ticket)
            delay = int(min(5 * DAY, 3 * 3600 * math.exp(rng.gauss(0, 1.1)))) + rng.randrange(30, 300)
            response = self.respond(item, RESPONSE_RATE["ticket"], delay)
            if response is not None:
                self.score_ticket(item, response)

    def score_ticket(self, item: Send, response: Response) -> None:
        """CES or CSAT after a solved ticket: lower after a refund, a reopen or a slow resolution."""
        rng, ticket, kind = self.rng, item.ticket, item.survey_type
        assert ticket is not None
        solved = ticket.first_solved
        when = response.responded_at
        sentiment = self.sentiment(when)
        slow = (solved - ticket.created) > 72 * 3600
        reopened = ticket.reopened_at is not None and ticket.reopened_at <= when
        if kind == "ces":
            mu = (3.3 if ticket.refund else 5.6) - 0.8 * reopened - 0.4 * slow + 0.8 * (sentiment - 0.6)
            response.score = _clip(rng.gauss(mu, 1.0), 1, 7)
            easy, hard = 6, 4
        else:
            mu = (2.8 if ticket.refund else 4.3) - 0.5 * reopened - 0.3 * slow + 0.6 * (sentiment - 0.6)
            response.score = _clip(rng.gauss(mu, 0.8), 1, 5)
            easy, hard = 5, 3
        if rng.random() < 0.45:
            response.comment = effort_comment(rng, response.score, easy, hard)

    def run(self) -> _AccountSurveys:
        self.relational()
        self.onboarding()
        self.feature_use()
        self.after_tickets()
        lifecycle_rng = py_rng(self.seed, "send-lifecycle", self.account.index)
        add_lifecycle(self.sends, self.window, lifecycle_rng, self.answer_after_reminder)
        return self


def _orphans(sends: list[Send], window: Window, seed: int) -> list[Send]:
    """Relational sends to addresses that match no account (forwarded links, personal inboxes, leavers).

    About 1% of relational responses (at least one, so every dataset exercises the unmatched path),
    from sends answered at the usual email rate.
    """
    rng = py_rng(seed, "orphans")
    answered = sum(1 for s in sends if s.on_typeform and s.response is not None)
    responses = max(1, round(0.01 * answered))
    result = []
    for number in range(round(responses / RESPONSE_RATE["relational"])):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{slug(first)}.{slug(last)}{rng.randrange(10, 99)}@{rng.choice(EMAIL_PROVIDERS)}"
        day = window.start_ts + rng.randrange(max(1, window.days - 1)) * DAY
        ts = day + rng.randrange(9 * 3600, 14 * 3600)
        item = Send(f"snd_{rng.getrandbits(64):016x}", "nps", "relational", "email", "relationship", "", email, ts)
        if number < responses:
            responded = min(ts + rng.randrange(600, 20 * 3600), window.end_ts - 1)
            score = nps_score(rng, rng.uniform(0.2, 0.9))
            comment = nps_reason(rng, score) if rng.random() < 0.75 else None
            item.response = Response(random_chars(rng, LOWER_ALNUM, 32), responded, score, comment)
        result.append(item)
    return result


def plan_surveys(lives: list[AccountLifecycle], tickets: list[Ticket], window: Window, seed: int) -> SurveyPlan:
    by_account: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        by_account.setdefault(ticket.account.index, []).append(ticket)
    sends: list[Send] = []
    core_events: list[tuple[int, int, int]] = []
    for life in lives:
        done = _AccountSurveys(life, by_account.get(life.account.index, []), window, seed).run()
        sends += done.sends
        core_events += done.core_events
    orphans = _orphans(sends, window, seed)
    rng = py_rng(seed, "send-lifecycle", "orphans")

    def answer_orphan(item: Send, responded: int) -> None:
        score = nps_score(rng, rng.uniform(0.2, 0.9))
        comment = nps_reason(rng, score) if rng.random() < 0.75 else None
        item.response = Response(random_chars(rng, LOWER_ALNUM, 32), responded, score, comment)

    add_lifecycle(orphans, window, rng, answer_orphan)
    sends += orphans
    return SurveyPlan(sends=sends, core_events=sorted(core_events))


def render_typeform(item: Send, response: Response, rng: random.Random) -> dict:
    user_agent, platform, browser = rng.choice(_USER_AGENTS)
    landed = max(item.sent_at + 5, response.responded_at - rng.randrange(20, 420))
    answers: list[dict] = [{"field": dict(NPS_FIELD), "type": "number", "number": response.score}]
    if response.comment:
        answers.append({"field": dict(REASON_FIELD), "type": "text", "text": response.comment})
    return {
        "landing_id": response.response_id,
        "token": response.response_id,
        "response_id": response.response_id,
        "response_type": "completed",
        "landed_at": iso_z(landed),
        "submitted_at": iso_z(response.responded_at),
        "metadata": {
            "user_agent": user_agent,
            "platform": platform,
            "referer": f"{TYPEFORM_FORM}?account_id=xxxxx&email=xxxxx&survey_kind=xxxxx&touchpoint=xxxxx",
            "network_id": f"{rng.getrandbits(40):010x}",
            "browser": browser,
        },
        "hidden": {
            "account_id": item.account_id,
            "email": item.email,
            "touchpoint": item.touchpoint,
            "survey_kind": item.survey_kind,
        },
        "calculated": {"score": 0},
        "variables": [],
        "answers": answers,
    }


def write_surveys(writer: LandingWriter, plan: SurveyPlan, seed: int) -> None:
    writer.declare_csv("surveys", "responses", RESPONSE_COLUMNS)
    writer.declare_csv("surveys", "sends", SEND_COLUMNS)
    rng = py_rng(seed, "typeform-metadata")
    for item in plan.sends:
        send = {
            "send_id": item.send_id,
            "survey_type": item.survey_type,
            "survey_kind": item.survey_kind,
            "channel": item.channel,
            "touchpoint": item.touchpoint,
            "account_id": item.account_id,
            "email": item.email,
            "sent_at": iso_z(item.sent_at),
            "variant": item.variant,
        }
        for ts, lifecycle in versions(item):
            writer.put_csv("surveys", "sends", ts, item.send_id, {**send, **lifecycle})
        response = item.response
        if response is None:
            continue
        if item.on_typeform:
            record = render_typeform(item, response, rng)
            writer.put_json("typeform", "responses", response.responded_at, response.response_id, record)
            continue
        writer.put_csv(
            "surveys",
            "responses",
            response.responded_at,
            response.response_id,
            {
                "response_id": response.response_id,
                "survey_type": item.survey_type,
                "survey_kind": item.survey_kind,
                "score": response.score,
                "comment": response.comment,
                "email": item.email,
                "account_id": item.account_id,
                "ticket_id": item.ticket.id if item.ticket else None,
                "channel": item.channel,
                "touchpoint": item.touchpoint,
                "responded_at": iso_z(response.responded_at),
                "send_id": item.send_id,
            },
        )
