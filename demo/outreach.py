"""Customer success outreach planted for the outcome marts: save calls to at-risk accounts (Zendesk Talk voice
tickets tagged at_risk_call; churn_save_rate) and referrals by happy customers (Stripe customer metadata
referred_by; referral_revenue)."""

from __future__ import annotations

from demo.accounts import Account
from demo.config import DAY, Window
from demo.lifecycle import AccountLifecycle
from demo.seeding import py_rng
from demo.support import _AGENT_GROUPS, Ticket, agent_id

SAVE_CALL_TAG = "at_risk_call"  # in dbt var save_call_tags
REFERRED_SHARE = 0.3  # accounts signing up inside the window that came through a referral
REFERRER_MIN_HEALTH = 0.75  # most referrers are healthy accounts (promoters, once they answered)
HEALTHY_REFERRER_SHARE = 0.85


def save_call_tickets(lives: list[AccountLifecycle], window: Window, seed: int) -> list[Ticket]:
    """A voice ticket per save call (AccountLifecycle.save_calls): logged by the agent who made the outbound call,
    solved at the end of the call."""
    agents = [i for i, group in enumerate(_AGENT_GROUPS) if group == "success"]
    tickets = []
    for life in lives:
        account = life.account
        for call in life.save_calls:
            rng = py_rng(seed, "save_call_ticket", account.index, call)
            requester = (account.contacts_at(call) or account.contacts[:1])[0]
            solved = call + rng.randrange(5 * 60, 40 * 60)
            if solved >= window.end_ts:
                continue
            ticket = Ticket(
                account=account,
                requester=requester,
                created=call,
                category=SAVE_CALL_TAG,
                channel="voice",
                type="task",
                priority="normal",
                subject=f"Outbound call to {requester.name}",
                description="Check-in call from customer success about the account's recent experience.",
                tags=[SAVE_CALL_TAG, "outbound_call"],
                group="success",
                assignee=agent_id(rng.choice(agents)),
                assigned_at=call,
                first_reply=call + 60,
                solves=[solved],
                reopened_at=None,
                closed_at=solved + 4 * DAY,
                replies=1,
                pending_until=solved,
                on_hold_minutes=0,
                group_stations=1,
                assignee_stations=1,
            )
            ticket.events = [(call, "new"), (solved, "solved"), (ticket.closed_at, "closed")]
            tickets.append(ticket)
    return tickets


def plant_referrals(accounts: list[Account], window: Window, seed: int) -> None:
    """Set `referred_by` on a share of the accounts that sign up inside the window: the account id of an account
    that signed up at least 30 days before, most often a healthy one."""
    for account in accounts:
        if account.signup_ts < window.start_ts:
            continue
        rng = py_rng(seed, "referral", account.index)
        if rng.random() >= REFERRED_SHARE:
            continue
        earlier = [other for other in accounts if other.signup_ts < account.signup_ts - 30 * DAY]
        healthy = [other for other in earlier if other.health >= REFERRER_MIN_HEALTH]
        pool = healthy if healthy and rng.random() < HEALTHY_REFERRER_SHARE else earlier
        if pool:
            account.referred_by = rng.choice(pool).account_id
