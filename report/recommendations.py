"""Plain-language recommendations, computed from the same rows the charts show (see docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from analytics.significance import nps_change, verdict
from analytics.themes.marts import ESCALATION_EXCLUDED
from report import formatting as fmt
from report import periods
from report.queries import SLA_WEEKS

# A segment needs this many responses in both quarters before its move is worth a recommendation.
MIN_SEGMENT_RESPONSES = 5
PARTIAL_NOTE = " (the last complete {period}: the current one is partial and left out)"


@dataclass(frozen=True)
class Recommendation:
    """One sentence for a reader, and the numbers behind it (as computed, unrounded)."""

    kind: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


def _latest_complete(starts: set[date], grain: str, as_of: date | None) -> tuple[list[date], bool]:
    """The complete periods among `starts` (oldest first), and whether a later partial one was left out."""
    done = sorted(start for start in starts if not periods.is_partial(grain, start, as_of))
    return done, any(start > (done[-1] if done else date.min) for start in starts if start not in done)


def largest_detractor_theme(themes: list[dict[str, Any]], as_of: date | None = None) -> Recommendation | None:
    """The theme (praise and other aside) with most detractor comments in the latest complete month with detractor
    comments."""
    detractor = [row for row in themes if row["nps_category"] == "detractor"]
    months, skipped = _latest_complete({row["month_start"] for row in detractor}, "month", as_of)
    if not months:
        return None
    month = months[-1]
    candidates = [row for row in detractor if row["month_start"] == month and row["theme"] not in ESCALATION_EXCLUDED]
    if not candidates:
        return None
    top = min(candidates, key=lambda row: (-row["comments"], row["theme"]))
    numbers = {
        "month_start": month,
        "skipped_partial_month": skipped,
        "theme": top["theme"],
        "theme_label": top["theme_label"],
        "comments": top["comments"],
        "category_comments": top["category_comments"],
        "share_of_comments": top["share_of_comments"],
        "accounts": top["accounts"],
        "mrr_usd": top["mrr_usd"],
    }
    note = PARTIAL_NOTE.format(period="month") if skipped else ""
    text = (
        f"The largest detractor theme in {fmt.month(month)}{note} is {top['theme_label']} "
        f"({fmt.pct(top['share_of_comments'])} of detractor comments: {top['comments']} of {top['category_comments']}, "
        f"{top['accounts']} accounts, {fmt.usd(top['mrr_usd'])} MRR). Take it to the product backlog with its comments."
    )
    return Recommendation("largest_detractor_theme", text, numbers)


def segment_moved_most(rows: list[dict[str, Any]], as_of: date | None = None) -> Recommendation | None:
    """The plan, region or MRR band whose NPS changed most between the latest two complete quarters (known segments
    with at least MIN_SEGMENT_RESPONSES responses in both), with the two-sample test of the change."""
    quarters, skipped = _latest_complete({row["period_start"] for row in rows}, "quarter", as_of)
    if len(quarters) < 2:
        return None
    previous, latest = quarters[-2], quarters[-1]
    by_segment: dict[tuple[str, str], dict[date, dict[str, Any]]] = {}
    for row in rows:
        by_segment.setdefault((row["segment_type"], row["segment_value"]), {})[row["period_start"]] = row
    moves = []
    for (segment_type, segment_value), found in by_segment.items():
        before, after = found.get(previous), found.get(latest)
        if segment_value == "unknown" or before is None or after is None:
            continue
        if min(before["responses"], after["responses"]) < MIN_SEGMENT_RESPONSES:
            continue
        test = nps_change(
            (before["promoters"], before["detractors"], before["responses"]),
            (after["promoters"], after["detractors"], after["responses"]),
        )
        moves.append((segment_type, segment_value, before, after, test))
    if not moves:
        return None
    segment_type, segment_value, before, after, test = min(
        moves, key=lambda move: (-abs(move[4].change), move[0], move[1])
    )
    numbers = {
        "segment_type": segment_type,
        "segment_value": segment_value,
        "previous_quarter": previous,
        "latest_quarter": latest,
        "skipped_partial_quarter": skipped,
        "nps_from": test.nps_from,
        "nps_to": test.nps_to,
        "change": test.change,
        "responses_from": before["responses"],
        "responses_to": after["responses"],
        "change_ci": (test.ci_low, test.ci_high),
        "z": test.z,
        "p_value": test.p_value,
        "significant": test.significant,
    }
    note = ", the last complete quarters (the current one is partial and left out)" if skipped else ""
    text = (
        f"{fmt.segment_name(segment_type)} {segment_value} moved most from {fmt.quarter(previous)} to "
        f"{fmt.quarter(latest)}{note}: NPS {fmt.num(test.nps_from)} -> {fmt.num(test.nps_to)} "
        f"({fmt.signed(test.change)} points on {before['responses']} and {after['responses']} responses; "
        f"{verdict(test)})."
    )
    return Recommendation("segment_moved_most", text, numbers)


def followup_attainment(
    sla: list[dict[str, Any]], target: float, as_of: date | None = None, *, has_support_data: bool = True
) -> Recommendation | None:
    """Detractor follow-up over the latest SLA_WEEKS complete weeks with a deadline passed, against the target; says
    so instead when there is no support data (no follow-up ticket at all) or nothing is due yet."""
    if not has_support_data:
        return Recommendation(
            "followup_attainment",
            "No support data: no survey response has a follow-up Zendesk ticket, so detractor follow-up cannot be "
            "measured. Connect Zendesk (or check that follow-up tickets carry the response id) before judging it.",
            {"has_support_data": False},
        )
    due = [row for row in sla if row["target_due"] and not periods.is_partial("week", row["week_start"], as_of)]
    if not due:
        return Recommendation(
            "followup_attainment",
            "No detractor follow-up deadline has passed in a complete week yet: nothing to judge.",
            {"has_support_data": True, "target_due": 0},
        )
    weeks = due[-SLA_WEEKS:]
    met, total = sum(row["met_target"] for row in weeks), sum(row["target_due"] for row in weeks)
    fast_met = sum(row["met_fast_target"] or 0 for row in weeks)
    fast_total = sum(row["fast_target_due"] or 0 for row in weeks)
    attainment = met / total
    fast = fast_met / fast_total if fast_total else None
    numbers = {
        "has_support_data": True,
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
    span = f"the {len(weeks)} complete weeks from {weeks[0]['week_start']:%d %b} to {weeks[-1]['week_start']:%d %b %Y}"
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
        "top_account_name": top.get("account_name"),
        "top_revenue_at_risk_usd": top["revenue_at_risk_usd"],
        "top_risk_score": top["risk_score"],
    }
    text = (
        f"Call the {len(accounts)} accounts with most revenue at risk first: {fmt.usd(total)} of MRR at risk between "
        f"them; the largest is {fmt.account(top)} ({fmt.usd(top['revenue_at_risk_usd'])} of "
        f"{fmt.usd(top['mrr_usd'])} MRR, risk score {top['risk_score']}: {top['risk_drivers'] or 'no driver named'})."
    )
    return Recommendation("revenue_at_risk", text, numbers)
