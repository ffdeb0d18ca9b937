"""The report's sections beyond the NPS charts: CES, the change against the previous period, churn-risk tiers, goals
and verbatims. Each writes one section into the page, or says what is missing."""

from __future__ import annotations

import html
from datetime import date
from typing import Any

from analytics.significance import nps_change
from report import figures, periods
from report import formatting as fmt
from report.html import Page, table

REFUND = "refund_related"


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 60:.1f} h" if value >= 60 else f"{value:.0f} min"


def ces(page: Page, monthly: list[dict[str, Any]], categories: list[dict[str, Any]], as_of: date | None) -> None:
    """CES per month (partial month drawn apart) and per ticket category in the latest complete quarter."""
    title = "Customer effort (CES)"
    if not monthly:
        page.no_data("ces", title, "marts.ces_by_period has no CES responses.")
        return
    body = page.chart("chart-ces-monthly", figures.ces_trend_figure(monthly, "month"))
    categories = periods.mark(categories, "quarter", as_of)
    complete = [row["period_start"] for row in categories if not row["is_partial"]]
    quarter = max(complete or [row["period_start"] for row in categories], default=None)
    rows = [row for row in categories if row["period_start"] == quarter]
    label = "" if quarter is None else fmt.quarter(quarter) + ("" if complete else " (partial, so far)")
    if not any(row["ticket_category"] != "no_ticket" for row in rows):
        body += (
            '<p class="no-data">No support data: no CES response is linked to a Zendesk ticket'
            + (f" in {label}" if label else "")
            + ", so CES by ticket category and the refund split cannot be shown.</p>"
        )
    else:
        figure = figures.ces_category_figure(rows, f"CES by ticket category, {label}")
        body += page.chart("chart-ces-categories", figure)
        by_category = {row["ticket_category"]: row for row in rows}
        refund, other = by_category.get(REFUND), by_category.get("other")
        if refund and other:
            body += (
                f'<p class="finding">Refund-related tickets: CES {refund["ces_mean"]:.2f} '
                f"({fmt.pct(refund['ces_easy_share'])} easy, {refund['responses']} responses) against "
                f"{other['ces_mean']:.2f} ({fmt.pct(other['ces_easy_share'])} easy, {other['responses']}) for other "
                f"tickets in {label}: {refund['ces_mean'] - other['ces_mean']:+.2f} points.</p>"
            )
        body += table(
            ["ticket category", "responses", "CES (1-7)", "easy (5-7)", "median first reply", "median resolution"],
            [
                [
                    row["ticket_category"],
                    row["responses"],
                    f"{row['ces_mean']:.2f}",
                    fmt.pct(row["ces_easy_share"]),
                    _minutes(row["median_first_reply_minutes"]),
                    _minutes(row["median_resolution_minutes"]),
                ]
                for row in rows
            ],
            numeric=(1, 2, 3, 4, 5),
        )
    page.section(
        "ces",
        title,
        body,
        intro="Mean CES (1-7, 7 = very easy) per month, and per ticket category of the linked Zendesk ticket "
        "(refund_related by its tags, other, no_ticket) in the latest complete quarter; medians over the distinct "
        "tickets (marts.ces_by_period).",
    )


def overall_changes(rows_by_grain: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """For each grain, the overall NPS of the latest complete period against the one before, with the test."""
    changes = []
    for grain, rows in rows_by_grain.items():
        done = [row for row in rows if not row["is_partial"] and row["responses"]]
        if len(done) < 2:
            continue
        before, after = done[-2], done[-1]
        test = nps_change(
            (before["promoters"], before["detractors"], before["responses"]),
            (after["promoters"], after["detractors"], after["responses"]),
        )
        changes.append({"grain": grain, "before": before, "after": after, "test": test})
    return changes


def changes_table(changes: list[dict[str, Any]]) -> str:
    name = {"month": fmt.month, "quarter": fmt.quarter}
    return (
        "<h3>Change against the previous period</h3>"
        + table(
            ["period", "NPS", "change", "95% interval of the change", "p-value", "reading"],
            [
                [
                    f"{name[item['grain']](item['before']['period_start'])} -> "
                    f"{name[item['grain']](item['after']['period_start'])}",
                    f"{fmt.num(item['test'].nps_from)} -> {fmt.num(item['test'].nps_to)} "
                    f"(n {item['before']['responses']} -> {item['after']['responses']})",
                    fmt.signed(item["test"].change),
                    f"{item['test'].ci_low:+.1f} to {item['test'].ci_high:+.1f}",
                    "n/a" if item["test"].p_value is None else f"{item['test'].p_value:.3f}",
                    "a real move (p < 0.05)" if item["test"].significant else "may be noise",
                ]
                for item in changes
            ],
            numeric=(2, 4),
        )
        + '<p class="intro">Latest complete month and quarter against the one before: a two-sample z-test of the '
        "difference, each NPS's variance from its counts (docs/metrics.md).</p>"
    )


def risk_tiers(page: Page, tiers: list[dict[str, Any]]) -> None:
    title = "Churn-risk tiers and revenue at risk"
    if not tiers:
        page.no_data("risk-tiers", title, "marts.dim_accounts has no account with a churn-risk tier.")
        return
    total_accounts = sum(row["accounts"] for row in tiers)
    total_mrr = sum(row["mrr_usd"] or 0 for row in tiers)
    total_risk = sum(row["revenue_at_risk_usd"] or 0 for row in tiers)
    body = page.chart("chart-risk-tiers", figures.risk_tier_figure(tiers)) + table(
        ["tier", "accounts", "share of accounts", "MRR", "revenue at risk", "share of revenue at risk"],
        [
            [
                row["risk_tier"],
                row["accounts"],
                fmt.pct(row["accounts"] / total_accounts),
                fmt.usd(row["mrr_usd"]),
                fmt.usd(row["revenue_at_risk_usd"]),
                fmt.pct((row["revenue_at_risk_usd"] or 0) / total_risk) if total_risk else "n/a",
            ]
            for row in tiers
        ]
        + [["all", total_accounts, fmt.pct(1.0), fmt.usd(total_mrr), fmt.usd(total_risk), ""]],
        numeric=(1, 2, 3, 4, 5),
    )
    page.section(
        "risk-tiers",
        title,
        body,
        intro="Paying accounts per churn-risk tier as of the latest day; revenue at risk = MRR x risk score / 100 "
        "(marts.dim_accounts).",
    )


GOAL_FORMATS = {
    "nps": fmt.num,
    "detractor_share": fmt.pct,
    "response_rate": fmt.pct,
    "followup_24h_attainment": fmt.pct,
}


def goals(page: Page, rows: list[dict[str, Any]], as_of: date | None, has_support_data: bool) -> None:
    title = "Goal progress"
    if not rows:
        page.no_data("goals", title, "marts.goal_progress is empty.")
        return
    quarter = rows[0]["quarter_start"]
    partial = periods.is_partial("quarter", quarter, as_of)
    body_rows = []
    for row in rows:
        show = GOAL_FORMATS.get(row["metric"], fmt.num)
        if row["metric"] == "followup_24h_attainment" and not has_support_data:
            actual, progress, status = "no support data", "", "not measurable"
        else:
            actual = show(row["actual"])
            if row["actual_ci_low"] is not None and row["actual_ci_high"] is not None:
                actual += f" ({show(row['actual_ci_low'])} to {show(row['actual_ci_high'])})"
            progress = fmt.pct(row["progress"]) if row["progress"] is not None else ""
            status = row["status"] or ""
        body_rows.append([row["goal"], show(row["baseline"]), show(row["target"]), actual, progress, status])
    label = fmt.quarter(quarter) + (" (partial, so far)" if partial else "")
    page.section(
        "goals",
        f"Goal progress, {label}",
        table(["goal", "baseline", "target", "actual (95% interval)", "progress", "status"], body_rows, (1, 2, 3, 4)),
        intro="The goals of seed goals.csv in the latest quarter: baseline = the previous quarter, progress = "
        "(actual - baseline) / (target - baseline); a partial quarter is in progress (marts.goal_progress).",
    )


def verbatims(page: Page, rows: list[dict[str, Any]]) -> None:
    title = "What customers said: comments per top theme"
    if not rows:
        page.no_data("verbatims", title, "No classified detractor or promoter comment in a complete month.")
        return
    body = ""
    for category in ("detractor", "promoter"):
        themes: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["nps_category"] == category:
                themes.setdefault(row["theme_label"], []).append(row)
        if not themes:
            continue
        body += f"<h3>{category.capitalize()}s</h3>"
        for label, comments in themes.items():
            items = "".join(
                f'<li><q>{html.escape(row["comment"])}</q> <span class="who">score {row["score"]}, '
                f"{row['response_date']}, {html.escape(fmt.account(row) if row['account_id'] else 'no account')}"
                "</span></li>"
                for row in comments
            )
            body += (
                f'<div class="verbatims"><h4>{html.escape(label)} ({comments[0]["theme_comments"]} comments)</h4>'
                f"<ul>{items}</ul></div>"
            )
    page.section(
        "verbatims",
        title,
        body,
        intro="The newest comments of the themes with most detractor and promoter comments in the complete months "
        "of the themes chart (marts.fct_survey_responses with marts.comment_classifications).",
    )
