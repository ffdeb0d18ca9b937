"""What happens to a survey send after it goes out: delivered, opened, bounced, unsubscribed, reminded.

- In-app prompts are delivered and seen as they are sent; SMS is delivered within seconds (no open tracking).
- Email: about 2% of the unanswered bounce (never delivered); the rest are delivered within two minutes. Every
  respondent opened the email shortly before answering; about a third of the others open it. About 1% of the
  unanswered delivered sends unsubscribe.
- Reminders (the planted effect): REMINDER_AFTER (3 days) after an email send that is delivered, not unsubscribed
  and still unanswered, half of them at random (REMINDED_SHARE) get a reminder. A reminded send that would not
  have been answered is answered after the reminder with probability REMINDER_LIFT (8%), within 36 hours, so the
  response rate of the reminded sends at risk exceeds that of the others by REMINDER_LIFT times the share of those
  the natural answers leave unanswered (about 7-8 points).
Times that would fall after the window's end are not reported (they have not happened yet).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from demo.config import DAY, Window
from demo.timestamps import iso_z

if TYPE_CHECKING:
    from demo.surveys import Send

LIFECYCLE = ("delivered_at", "opened_at", "reminded_at", "bounced_at", "unsubscribed_at")
REMINDER_AFTER = 3 * DAY
REMINDED_SHARE = 0.5
REMINDER_LIFT = 0.08
BOUNCE_P = 0.02
OPEN_P = 0.35
UNSUBSCRIBE_P = 0.01


def add_lifecycle(
    sends: list[Send], window: Window, rng: random.Random, answer_late: Callable[[Send, int], None]
) -> None:
    """Fill each send's `lifecycle` (event -> epoch seconds); `answer_late(send, ts)` answers a reminded send."""
    for item in sends:
        life = item.lifecycle

        def mark(event: str, ts: int, life: dict[str, int] = life) -> bool:
            if ts < window.end_ts:
                life[event] = ts
            return ts < window.end_ts

        if item.channel == "in_app":
            mark("delivered_at", item.sent_at)
            mark("opened_at", item.sent_at)
            continue
        if item.channel != "email":
            mark("delivered_at", item.sent_at + rng.randrange(1, 30))
            continue
        response = item.response
        if response is None and rng.random() < BOUNCE_P:
            mark("bounced_at", item.sent_at + rng.randrange(5, 600))
            continue
        delivered = item.sent_at + rng.randrange(2, 120)
        if not mark("delivered_at", delivered):
            continue
        if response is not None:
            mark("opened_at", max(delivered, response.responded_at - rng.randrange(30, 600)))
        elif rng.random() < OPEN_P:
            mark("opened_at", delivered + int(min(5 * DAY, 3600 * math.exp(rng.gauss(0, 1.5)))))
        if response is None and rng.random() < UNSUBSCRIBE_P:
            mark("unsubscribed_at", life.get("opened_at", delivered) + rng.randrange(10, 300))
            continue
        reminded = item.sent_at + REMINDER_AFTER
        if response is not None and response.responded_at < reminded:
            continue
        if rng.random() >= REMINDED_SHARE or not mark("reminded_at", reminded):
            continue
        if response is None and rng.random() < REMINDER_LIFT:
            answered = reminded + rng.randrange(600, 36 * 3600)
            if answered < window.end_ts:
                answer_late(item, answered)
                opened = life.get("opened_at")
                if opened is None or opened > answered:
                    life["opened_at"] = answered - rng.randrange(30, 600)


def versions(item: Send) -> list[tuple[int, dict[str, str]]]:
    """The send's landed versions: on its sent day with what had happened by that day's end, and again, whole, on
    the day of its last event when that is later (a mutable record lands again on the day it changes)."""
    sent_day_end = item.sent_at - item.sent_at % DAY + DAY
    first = {event: iso_z(ts) for event, ts in item.lifecycle.items() if ts < sent_day_end}
    result = [(item.sent_at, first)]
    last = max(item.lifecycle.values(), default=item.sent_at)
    if last >= sent_day_end:
        result.append((last, {event: iso_z(ts) for event, ts in item.lifecycle.items()}))
    return result
