"""The change between two NPS values and its significance: a two-sample z-test of the difference, each NPS's
variance from its multinomial counts (docs/metrics.md, "Change between two periods"). The one place of this math:
the mart nps_changes (analytics/nps_changes.py, on whole columns), the report and the digest use it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
LEVEL = 0.05  # a change is significant when its two-sided p-value is below this


@dataclass(frozen=True)
class NpsChange:
    nps_from: float
    nps_to: float
    change: float  # points, nps_to - nps_from
    std_error: float  # points
    ci_low: float
    ci_high: float
    z: float | None  # None when both samples have no variance (the change is then exact)
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < LEVEL


def nps_variance(promoters, detractors, responses):
    """var(NPS) on the -1..1 scale: (pP + pD - (pP - pD)^2) / n. Numbers or numpy arrays."""
    share_p, share_d = promoters / responses, detractors / responses
    return (share_p + share_d - (share_p - share_d) ** 2) / responses


def change_test(before: tuple, after: tuple) -> dict[str, np.ndarray]:
    """The test on whole columns: `before` and `after` are (promoters, detractors, responses), each an array (or
    number) with responses > 0. Returns nps_from, nps_to, change, std_error, ci_low, ci_high, z, p_value (points;
    z and p_value NaN where the standard error is 0: every answer the same in both periods, the change is exact)."""
    before = tuple(np.asarray(part, dtype=float) for part in before)
    after = tuple(np.asarray(part, dtype=float) for part in after)
    nps_from = 100 * (before[0] - before[1]) / before[2]
    nps_to = 100 * (after[0] - after[1]) / after[2]
    change = nps_to - nps_from
    # max(0, .): a variance that is 0 in exact arithmetic may come out a hair below it in floating point.
    std_error = 100 * np.sqrt(np.maximum(nps_variance(*before) + nps_variance(*after), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, change / np.where(std_error > 0, std_error, 1.0), np.nan)
    p_value = special.erfc(np.abs(z) / math.sqrt(2))  # 2 * (1 - Phi(|z|)); NaN stays NaN
    return {
        "nps_from": nps_from,
        "nps_to": nps_to,
        "change": change,
        "std_error": std_error,
        "ci_low": change - Z_95 * std_error,
        "ci_high": change + Z_95 * std_error,
        "z": z,
        "p_value": p_value,
    }


def nps_change(before: tuple[int, int, int], after: tuple[int, int, int]) -> NpsChange:
    """`before` and `after` are (promoters, detractors, responses), each with responses > 0."""
    test = {name: float(value) for name, value in change_test(before, after).items()}
    z, p_value = (None, None) if math.isnan(test["z"]) else (test["z"], test["p_value"])
    return NpsChange(
        test["nps_from"],
        test["nps_to"],
        test["change"],
        test["std_error"],
        test["ci_low"],
        test["ci_high"],
        z,
        p_value,
    )


def verdict(result: NpsChange) -> str:
    """The test in words, e.g. '95% interval of the change -3.1 to +12.0, p = 0.24: may be noise'."""
    interval = f"95% interval of the change {result.ci_low:+.1f} to {result.ci_high:+.1f}"
    if result.p_value is None:
        return f"{interval}: exact (no variance in either period)"
    p_text = "p < 0.001" if result.p_value < 0.001 else f"p = {result.p_value:.3f}"
    meaning = "a real move" if result.significant else "may be noise"
    return f"{interval}, {p_text}: {meaning}"
