"""Coverage of followup_effect's 95% intervals when contact is assigned at random, so the truth is known.

The generator only plants: accounts of three plans and two MRR bands per plan, each with one to four detractor
responses (score 0-6); every response is put in within_4h, within_24h or later_or_never at random (30%, 30%, 40%),
independently of everything else. The next score is a baseline of the stratum plus an account effect (shared by
the account's responses: clustered) plus noise, plus PLANTED[group] (within_4h +1 point, within_24h 0); not rounded,
so the effect on the treated is PLANTED[group] exactly, whatever strata are matched. Churn within 90 days and MRR
after 6 months belong to the account (one draw per account, from its plan and an account effect) and do not depend
on contact: their true difference is 0 for both fast groups. The estimation function is the mart's own
(followup_effect.effects on the frame of followup_effect.units' shape); no estimator is called to obtain the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics import followup_effect

PLANS = {"Starter": (0.0, 0.12), "Growth": (0.5, 0.08), "Business": (1.0, 0.05)}  # next-score shift, churn
BANDS = {"Starter": ("0-99", "100-499"), "Growth": ("100-499", "500-1999"), "Business": ("500-1999", "2000+")}
GROUPS = {"within_4h": 0.3, "within_24h": 0.3, "later_or_never": 0.4}
PLANTED = {("within_4h", "next_score"): 1.0, ("within_24h", "next_score"): 0.0}  # any other (group, outcome): 0
CHECKED = ("next_score", "churn_90d", "nrr_6m")


def sample(seed: int, accounts: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(accounts):
        plan = list(PLANS)[number % 3]
        band = BANDS[plan][int(rng.integers(0, 2))]
        shift, churn = PLANS[plan]
        account_effect = rng.normal(0, 1.0)
        mrr = float(rng.lognormal(6, 0.8))
        churned = rng.random() < churn * np.exp(0.5 * rng.normal())
        after = 0.0 if churned else mrr * float(np.exp(rng.normal(0, 0.2)))
        for index in range(1 + int(rng.poisson(0.7)) % 4):
            score = int(rng.integers(0, 7))
            group = str(rng.choice(list(GROUPS), p=list(GROUPS.values())))
            next_score = (
                2.0
                + 0.6 * score
                + shift
                + account_effect
                + rng.normal(0, 1.5)
                + PLANTED.get((group, "next_score"), 0.0)
            )
            answered = rng.random() < 0.6
            rows.append(
                {
                    "response_id": f"r{number:04d}_{index}",
                    "contact_group": group,
                    "stratum": (plan, band, score),
                    "account_id": f"acc_{number:04d}",
                    "cluster": f"acc_{number:04d}",
                    "next_score": next_score if answered else None,
                    "next_nps": None,
                    "churn_90d": float(churned),
                    "nrr_6m": after,
                    "starting_mrr_usd": mrr,
                }
            )
    return pd.DataFrame(rows)


def coverage(samples: int, accounts: int) -> dict[tuple[str, str], int]:
    """Samples (seeds 0, 1, ...) whose 95% interval of each fast group's difference contains the planted truth."""
    covered = {(group, outcome): 0 for group in ("within_4h", "within_24h") for outcome in CHECKED}
    for seed in range(samples):
        result = followup_effect.effects(sample(seed, accounts)).set_index(["contact_group", "outcome"])
        for key in covered:
            truth = PLANTED.get(key, 0.0)
            covered[key] += bool(result.loc[key, "ci_low"] <= truth <= result.loc[key, "ci_high"])
    return covered


def test_the_intervals_cover_the_planted_effects_when_contact_is_random():
    covered = coverage(samples=200, accounts=250)  # about 430 detractor responses per sample, 40 strata
    print(f"covered of 200: {covered}")
    # Measured (docs/metrics.md): next_score 185 and 192, churn_90d 192 and 196, nrr_6m 178 and 184 of 200; the
    # estimator before the small-sample corrections: 81-90 of 100. NRR, a ratio carried by a few large accounts per
    # cell, stays below 95%: its floor is lower, and says so.
    for (group, outcome), count in covered.items():
        floor = 170 if outcome == "nrr_6m" else 180  # 85% / 90% of 200
        assert floor <= count <= 199, (group, outcome, covered)  # 199: not an interval that always covers


if __name__ == "__main__":  # python tests/analytics/test_followup_effect_coverage.py SAMPLES ACCOUNTS
    import sys
    import time

    started = time.perf_counter()
    samples, accounts = int(sys.argv[1]), int(sys.argv[2])
    print(samples, accounts, coverage(samples, accounts), f"{time.perf_counter() - started:.0f} s")
