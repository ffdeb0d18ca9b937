"""The demo's experiments: the variants of seed experiments, assigned as the survey tool (sends) and the follow-up
case sender (outbound/experiments.py, a hash of the response id) assign them, and the effects planted for the e2e
test of marts.experiment_results to find:

- relational NPS e-mails with the subject line `subject_question` are answered 10 points more often;
- a detractor whose case followed the script `script_listen_first` answers 2 points higher next time, and one
  whose first reply came within 4 hours 3 points higher (the `timing_within_4h` cases get a 2-hour median reply,
  the others 4.5 hours: about 75% against 45% within 4 hours).
"""

from __future__ import annotations

import random
from functools import cache

from demo.texts import PASSIVE_REASONS, PROMOTER_REASONS
from outbound import experiments

RESPONSE_UPLIFT = {"subject_question": 0.10}  # added to the chance that a send of the variant is answered
NEXT_SCORE_POINTS = {"script_listen_first": 2}  # added to the respondent's next NPS answer (capped at 10)
FAST_REPLY_HOURS, FAST_REPLY_POINTS = 4, 3  # a first reply within 4 hours: the next answer 3 points higher
REPLY_MEDIAN_HOURS = {"timing_within_4h": 2.0}  # instead of the usual median of the first reply


@cache
def _variants() -> tuple[experiments.Variant, ...]:
    return tuple(experiments.load())


def send_variant(send_id: str) -> str | None:
    """The variant of the first send experiment of the seed (the survey tool records one label per send)."""
    chosen = experiments.assign(_variants(), send_id, applies_to="send")
    return chosen[0].variant if chosen else None


def response_uplift(variant: str | None) -> float:
    return RESPONSE_UPLIFT.get(variant or "", 0.0)


def case_variants(response_id: str) -> list[experiments.Variant]:
    return experiments.assign(_variants(), response_id, applies_to="followup_case")


def reply_median_hours(variants: list[experiments.Variant], usual: float) -> float:
    return min([REPLY_MEDIAN_HOURS.get(v.variant, usual) for v in variants] or [usual])


def next_score_points(variants: list[experiments.Variant], reply_seconds: int) -> int:
    points = sum(NEXT_SCORE_POINTS.get(v.variant, 0) for v in variants)
    return points + (FAST_REPLY_POINTS if reply_seconds <= FAST_REPLY_HOURS * 3600 else 0)


def rescore(response, points: int, rng: random.Random) -> int:
    """Raise an NPS answer by `points` (at most 10); a comment of the old category gets one of the new."""
    before = response.score
    response.score = min(10, before + points)
    if response.comment and _category(response.score) != _category(before):
        pool = {"promoter": PROMOTER_REASONS, "passive": PASSIVE_REASONS}[_category(response.score)]
        response.comment = rng.choice(pool)
    return response.score


def _category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
