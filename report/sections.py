"""The report's sections beyond NPS: CES (trend and by ticket category, with the refund split). Each writes one
section into the page, or says what is missing."""

from __future__ import annotations

from datetime import date
from typing import Any

from report import figures, periods
from report import formatting as fmt
from report.html import Page, table
from report.significance import nps_change

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
