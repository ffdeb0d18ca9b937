"""The change between two NPS values and its significance: a two-sample z-test of the difference, each NPS's
variance from its multinomial counts (docs/metrics.md, "Change against the previous period")."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


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
        return self.p_value is not None and self.p_value < 0.05


def nps_variance(promoters: int, detractors: int, responses: int) -> float:
    """var(NPS) on the -1..1 scale: (pP + pD - (pP - pD)^2) / n."""
    share_p, share_d = promoters / responses, detractors / responses
    return (share_p + share_d - (share_p - share_d) ** 2) / responses


def nps_change(before: tuple[int, int, int], after: tuple[int, int, int]) -> NpsChange:
    """`before` and `after` are (promoters, detractors, responses), each with responses > 0."""
    nps_from = 100 * (before[0] - before[1]) / before[2]
    nps_to = 100 * (after[0] - after[1]) / after[2]
    change = nps_to - nps_from
    std_error = 100 * math.sqrt(nps_variance(*before) + nps_variance(*after))
    if std_error == 0:
        z = p_value = None
    else:
        z = change / std_error
        p_value = math.erfc(abs(z) / math.sqrt(2))
    return NpsChange(
        nps_from, nps_to, change, std_error, change - Z_95 * std_error, change + Z_95 * std_error, z, p_value
    )


def verdict(result: NpsChange) -> str:
    """The test in words, e.g. '95% interval of the change -3.1 to +12.0, p = 0.24: may be noise'."""
    interval = f"95% interval of the change {result.ci_low:+.1f} to {result.ci_high:+.1f}"
    if result.p_value is None:
        return f"{interval}: exact (no variance in either period)"
    p_text = "p < 0.001" if result.p_value < 0.001 else f"p = {result.p_value:.3f}"
    meaning = "a real move" if result.significant else "may be noise"
    return f"{interval}, {p_text}: {meaning}"
