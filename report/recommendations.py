"""Plain-language recommendations, computed from the same rows the charts show (see docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from analytics.themes.marts import ESCALATION_EXCLUDED
from report import formatting as fmt
from report.queries import SLA_WEEKS

# A segment needs this many responses in both quarters before its move is worth a recommendation.
MIN_SEGMENT_RESPONSES = 5


@dataclass(frozen=True)
class Recommendation:
    """One sentence for a reader, and the numbers behind it (as computed, unrounded)."""

    kind: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


def largest_detractor_theme(themes: list[dict[str, Any]]) -> Recommendation | None:
    """The theme (praise and other aside) with most detractor comments in the latest month with detractor comments."""
    detractor = [row for row in themes if row["nps_category"] == "detractor"]
    if not detractor:
        return None
    month = max(row["month_start"] for row in detractor)
    candidates = [row for row in detractor if row["month_start"] == month and row["theme"] not in ESCALATION_EXCLUDED]
    if not candidates:
        return None
    top = min(candidates, key=lambda row: (-row["comments"], row["theme"]))
    numbers = {
        "month_start": month,
        "theme": top["theme"],
        "theme_label": top["theme_label"],
        "comments": top["comments"],
        "category_comments": top["category_comments"],
        "share_of_comments": top["share_of_comments"],
        "accounts": top["accounts"],
        "mrr_usd": top["mrr_usd"],
    }
    text = (
        f"The largest detractor theme in {fmt.month(month)} is {top['theme_label']} "
        f"({fmt.pct(top['share_of_comments'])} of detractor comments: {top['comments']} of {top['category_comments']}, "
        f"{top['accounts']} accounts, {fmt.usd(top['mrr_usd'])} MRR). Take it to the product backlog with its comments."
    )
    return Recommendation("largest_detractor_theme", text, numbers)


def segment_moved_most(rows: list[dict[str, Any]]) -> Recommendation | None:
    """The plan, region or MRR band whose NPS changed most between the latest two quarters (known segments with at
    least MIN_SEGMENT_RESPONSES responses in both)."""
    quarters = sorted({row["period_start"] for row in rows})
    if len(quarters) < 2:
        return None
    previous, latest = quarters[-2], quarters[-1]
    by_segment: dict[tuple[str, str], dict[date, dict[str, Any]]] = {}
    for row in rows:
        by_segment.setdefault((row["segment_type"], row["segment_value"]), {})[row["period_start"]] = row
    moves = []
    for (segment_type, segment_value), periods in by_segment.items():
        before, after = periods.get(previous), periods.get(latest)
        if segment_value == "unknown" or before is None or after is None:
            continue
        if min(before["responses"], after["responses"]) < MIN_SEGMENT_RESPONSES:
            continue
        if before["nps"] is None or after["nps"] is None:
            continue
        moves.append((segment_type, segment_value, before, after, after["nps"] - before["nps"]))
    if not moves:
        return None
    segment_type, segment_value, before, after, change = min(moves, key=lambda move: (-abs(move[4]), move[0], move[1]))
    overlap = before["nps_ci_low"] <= after["nps_ci_high"] and after["nps_ci_low"] <= before["nps_ci_high"]
    verdict = (
        "the intervals overlap, so the move may be noise" if overlap else "the intervals do not overlap: a real move"
    )
    numbers = {
        "segment_type": segment_type,
        "segment_value": segment_value,
        "previous_quarter": previous,
        "latest_quarter": latest,
        "nps_from": before["nps"],
        "nps_to": after["nps"],
        "change": change,
        "responses_from": before["responses"],
        "responses_to": after["responses"],
        "ci_from": (before["nps_ci_low"], before["nps_ci_high"]),
        "ci_to": (after["nps_ci_low"], after["nps_ci_high"]),
        "intervals_overlap": overlap,
    }
    text = (
        f"{fmt.segment_name(segment_type)} {segment_value} moved most: "
        f"NPS {fmt.num(before['nps'])} -> {fmt.num(after['nps'])} "
        f"({fmt.signed(change)} points from {fmt.quarter(previous)} to {fmt.quarter(latest)}; 95% intervals "
        f"{fmt.num(before['nps_ci_low'])} to {fmt.num(before['nps_ci_high'])} on {before['responses']} responses and "
        f"{fmt.num(after['nps_ci_low'])} to {fmt.num(after['nps_ci_high'])} on {after['responses']}; {verdict})."
    )
    return Recommendation("segment_moved_most", text, numbers)


def followup_attainment(sla: list[dict[str, Any]], target: float) -> Recommendation | None:
    """Detractor follow-up over the latest SLA_WEEKS weeks with a deadline passed, against the target."""
    due = [row for row in sla if row["target_due"]]
    if not due:
        return None
    weeks = due[-SLA_WEEKS:]
    met, total = sum(row["met_target"] for row in weeks), sum(row["target_due"] for row in weeks)
    fast_met = sum(row["met_fast_target"] or 0 for row in weeks)
    fast_total = sum(row["fast_target_due"] or 0 for row in weeks)
    attainment = met / total
    fast = fast_met / fast_total if fast_total else None
    numbers = {
        "first_week": weeks[0]["week_start"],
        "last_week": weeks[-1]["week_start"],
        "weeks": len(weeks),
        "met_target": met,
        "target_due": total,
        "target_attainment": attainment,
        "met_fast_target": fast_met,
        "fast_target_due": fast_total,
        "fast_target_attainment": fast,
        "target": target,
        "below_target": attainment < target,
    }
    span = f"the {len(weeks)} weeks from {weeks[0]['week_start']:%d %b} to {weeks[-1]['week_start']:%d %b %Y}"
    fast_text = f"; within 4 h: {fmt.pct(fast)} ({fast_met} of {fast_total})" if fast is not None else ""
    if attainment < target:
        text = (
            f"Detractor follow-up is below target: {fmt.pct(attainment)} contacted within 24 h over {span} "
            f"({met} of {total} due), against {fmt.pct(target)}{fast_text}. "
            f"{total - met} {'detractor' if total - met == 1 else 'detractors'} waited longer: staff the queue "
            "or route NPS follow-ups first."
        )
    else:
        text = (
            f"Detractor follow-up meets its target: {fmt.pct(attainment)} contacted within 24 h over {span} "
            f"({met} of {total} due), target {fmt.pct(target)}{fast_text}."
        )
    return Recommendation("followup_attainment", text, numbers)


def revenue_at_risk(accounts: list[dict[str, Any]]) -> Recommendation | None:
    if not accounts:
        return None
    total = sum(row["revenue_at_risk_usd"] for row in accounts)
    top = accounts[0]
    numbers = {
        "accounts": len(accounts),
        "revenue_at_risk_usd": total,
        "top_account_id": top["account_id"],
        "top_revenue_at_risk_usd": top["revenue_at_risk_usd"],
        "top_risk_score": top["risk_score"],
    }
    text = (
        f"Call the {len(accounts)} accounts with most revenue at risk first: {fmt.usd(total)} of MRR at risk between "
        f"them; the largest is {top['account_id']} ({fmt.usd(top['revenue_at_risk_usd'])} of "
        f"{fmt.usd(top['mrr_usd'])} MRR, risk score {top['risk_score']}: {top['risk_drivers'] or 'no driver named'})."
    )
    return Recommendation("revenue_at_risk", text, numbers)
