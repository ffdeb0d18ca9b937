"""The report's charts, one function per chart, each returning an inline SVG (report/svg.py). Rows of periods carry
`is_partial`: a period not over at the data's as-of date is drawn apart (dashed, hollow, labelled "partial")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from report import formatting as fmt
from report.queries import SEGMENT_TYPES
from report.svg import Chart, Panel, nice_ticks

COLORS = {
    "nps": "#1f5fa8",
    "band": "rgba(31, 95, 168, 0.18)",
    "fast": "#d9822b",
    "target": "#2e8540",
    "few": "#b8b8b8",
    "ces": "#6a3d9a",
    "mrr": "#9ecae1",
}
# One colour per month in the themes chart, the same in both panels so the legend holds for each.
MONTH_COLORS = ("#9ecae1", "#4292c6", "#08519c", "#08306b")
NPS_TICKS = [-100, -50, 0, 50, 100]


def _period_label(grain: str, start: date) -> str:
    return f"{start:%b %Y}" if grain == "month" else fmt.quarter(start) if grain == "quarter" else f"{start:%d %b}"


def _date_panel(chart: Chart, rows: list[dict[str, Any]], y_range: tuple[float, float]) -> Panel:
    days = [row["period_start"].toordinal() for row in rows]
    return chart.panel(y_range, x_range=(min(days), max(days)))


def _x_labels(rows: list[dict[str, Any]], grain: str, most: int = 12) -> list[tuple[object, str]]:
    step = max(1, -(-len(rows) // most))
    return [(row["period_start"], _period_label(grain, row["period_start"])) for row in rows[::step]]


def _line_with_partial(
    panel: Panel, rows: list[dict[str, Any]], column: str, color: str, hover: Callable[[dict[str, Any]], str]
) -> None:
    """A solid line over the complete periods; the partial ones dashed from the last complete period, hollow and
    labelled "partial", since their value is of the days so far."""
    done = [row for row in rows if not row["is_partial"] and row[column] is not None]
    partial = [row for row in rows if row["is_partial"] and row[column] is not None]
    panel.line([(row["period_start"], row[column]) for row in done], color)
    if partial:
        panel.line([(row["period_start"], row[column]) for row in done[-1:] + partial], color, dashed=True)
    for row in done:
        panel.marker(row["period_start"], row[column], color, title=hover(row))
    for row in partial:
        panel.marker(row["period_start"], row[column], color, hollow=True, title=hover(row) + " (partial)")
        panel.text(panel.x(row["period_start"]), panel.y(row[column]) - 12, "partial", color=color)


def trend_figure(rows: list[dict[str, Any]], grain: str) -> str:
    chart = Chart(f"NPS by {grain}, with its 95% interval")
    panel = _date_panel(chart, rows, (-100, 100))
    panel.axes(NPS_TICKS, x_labels=_x_labels(rows, grain))
    panel.band(
        [(row["period_start"], row["nps_ci_high"]) for row in rows],
        [(row["period_start"], row["nps_ci_low"]) for row in rows],
        COLORS["band"],
    )
    _line_with_partial(
        panel,
        rows,
        "nps",
        COLORS["nps"],
        lambda row: (
            f"{_period_label(grain, row['period_start'])}: NPS {fmt.num(row['nps'])} "
            f"({fmt.num(row['nps_ci_low'])} to {fmt.num(row['nps_ci_high'])}), {row['responses']} responses"
        ),
    )
    chart.legend = [("NPS", COLORS["nps"], "line"), ("95% interval", COLORS["band"], "box")]
    if any(row["is_partial"] for row in rows):
        chart.legend.append((f"partial {grain} (so far)", COLORS["nps"], "dashed"))
    return chart.render()


def band_order(value: str) -> tuple[float, str]:
    """MRR bands by their lower bound ('0', '<100', '100-499', ..., '2000+'), 'unknown' last; others by name."""
    if value == "unknown":
        return (float("inf"), value)
    digits = value.lstrip("<").split("-")[0].rstrip("+")
    if not digits.isdigit():
        return (0.0, value)
    return (float(digits) - (0.5 if value.startswith("<") else 0), value)


def segment_figure(rows: list[dict[str, Any]], min_responses: int) -> str:
    """The latest complete quarter (the latest one, labelled partial, when none is complete); a segment with fewer
    than `min_responses` responses is drawn grey and thin, its n on every bar, so it cannot dominate the eye."""
    complete = [row["period_start"] for row in rows if not row["is_partial"]]
    latest = max(complete or [row["period_start"] for row in rows])
    title = f"NPS by segment, {fmt.quarter(latest)}" + ("" if complete else " (partial, so far)")
    chart = Chart(title + ", with 95% intervals", height=400)
    for index, kind in enumerate(SEGMENT_TYPES):
        data = sorted(
            (row for row in rows if row["segment_type"] == kind and row["period_start"] == latest),
            key=lambda row: (
                band_order(row["segment_value"])
                if kind == "mrr_band"
                else (row["segment_value"] == "unknown", row["segment_value"])
            ),
        )
        labels = [row["segment_value"] for row in data]
        panel = chart.panel((-100, 100), index=index, count=len(SEGMENT_TYPES), categories=labels)
        panel.axes(NPS_TICKS)
        panel.text(panel.left + panel.width / 2, panel.top - 8, fmt.segment_name(kind), size=13)
        for row in data:
            few = row["responses"] < min_responses
            x, width = panel.x(row["segment_value"]), panel.band_width(0.25 if few else 0.7)
            if row["nps"] is None:
                continue
            panel.vbar(
                x,
                width,
                row["nps"],
                COLORS["few"] if few else COLORS["nps"],
                title=f"{row['segment_value']}: NPS {fmt.num(row['nps'])} ({fmt.num(row['nps_ci_low'])} to "
                f"{fmt.num(row['nps_ci_high'])}), {row['responses']} responses",
            )
            panel.error_bar(x, row["nps_ci_low"], row["nps_ci_high"], "#999" if few else "#333")
            panel.text(x, panel.top + panel.height + 30, f"n={row['responses']}" + (" few" if few else ""))
    chart.legend = [("NPS", COLORS["nps"], "box"), (f"under {min_responses} responses", COLORS["few"], "box")]
    return chart.render()


def themes_figure(rows: list[dict[str, Any]]) -> str:
    """Share of the category's comments per theme, one bar per month (the partial month hatched)."""
    months = sorted({row["month_start"] for row in rows})
    partial = {row["month_start"] for row in rows if row["is_partial"]}
    colors = {month: MONTH_COLORS[(index - len(months)) % len(MONTH_COLORS)] for index, month in enumerate(months)}
    themes = {
        category: sorted({row["theme_label"] for row in rows if row["nps_category"] == category})
        for category in ("detractor", "promoter")
    }
    height = max(260, 120 + 22 * len(months) * max(len(labels) for labels in themes.values()))
    chart = Chart(f"Comment themes, latest {len(months)} months (% of the category's comments)", height=height)
    for index, (category, labels) in enumerate(themes.items()):
        panel = chart.panel((0, 100), index=index, count=2, gap=200)
        panel.left += 100 if index == 0 else 0
        panel.width -= 100 if index == 0 else 0
        panel.text(panel.left + panel.width / 2, panel.top - 8, f"{category.capitalize()} themes", size=13)
        for tick in (0, 25, 50, 75, 100):
            x = panel.left + panel.width * tick / 100
            panel.parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{panel.top}" y2="{panel.top + panel.height}" stroke="#e5e5e5"/>'
            )
            panel.text(x, panel.top + panel.height + 16, f"{tick}%", color="#555")
        slot = panel.height / max(len(labels), 1)
        thickness = min(18.0, slot * 0.8 / max(len(months), 1))
        for position, label in enumerate(labels):
            center = panel.top + slot * (position + 0.5)
            panel.text(panel.left - 8, center + 4, label, anchor="end")
            for offset, month in enumerate(months):
                row = next(
                    (
                        r
                        for r in rows
                        if r["nps_category"] == category and r["theme_label"] == label and r["month_start"] == month
                    ),
                    None,
                )
                if row is None:
                    continue
                y = center + (offset - (len(months) - 1) / 2) * thickness
                panel.hbar(
                    y,
                    thickness * 0.9,
                    row["share_of_comments"] * 100,
                    colors[month],
                    title=f"{label}, {fmt.month(month)}{' (partial)' if month in partial else ''}: "
                    f"{fmt.pct(row['share_of_comments'])} ({row['comments']} comments, {row['accounts']} accounts, "
                    f"{fmt.usd(row['mrr_usd'])} MRR)",
                    hatched=month in partial,
                )
    chart.legend = [
        (
            fmt.month(month) + (" (partial)" if month in partial else ""),
            colors[month],
            "hatched" if month in partial else "box",
        )
        for month in months
    ]
    return chart.render()


def sla_figure(rows: list[dict[str, Any]], target: float) -> str:
    rows = [{**row, "period_start": row["week_start"]} for row in rows]
    chart = Chart("Detractors contacted within the deadline, by week of the response (%)")
    panel = _date_panel(chart, rows, (0, 105))
    panel.axes([0, 25, 50, 75, 100], "{:g}%", _x_labels(rows, "week"))
    for name, column, color in (
        ("within 24 h", "target_attainment", COLORS["nps"]),
        ("within 4 h", "fast_target_attainment", COLORS["fast"]),
    ):
        data = [{**row, "value": row[column] * 100} for row in rows if row[column] is not None]
        _line_with_partial(
            panel,
            data,
            "value",
            color,
            lambda row, name=name: f"week of {row['period_start']}: {row['value']:.0f}% {name}",
        )
    panel.hline(target * 100, COLORS["target"], f"target {fmt.pct(target)}")
    chart.legend = [("within 24 h", COLORS["nps"], "line"), ("within 4 h", COLORS["fast"], "line")]
    return chart.render()


def revenue_per_point_figure(rows: list[dict[str, Any]]) -> str:
    low = min(min(row["ci_low"] for row in rows), 0)
    high = max(max(row["ci_high"] for row in rows), 0)
    ticks = nice_ticks(low, high)
    chart = Chart("MRR change per NPS score point, with 95% intervals (clustered by account), USD")
    labels = [f"{row['horizon_months']} months" for row in rows]
    panel = chart.panel((min(ticks[0], low), max(ticks[-1], high)), categories=labels)
    panel.axes(ticks, "${:,.0f}")
    panel.hline(0, "#888")
    for label, row in zip(labels, rows, strict=True):
        x = panel.x(label)
        panel.error_bar(x, row["ci_low"], row["ci_high"])
        panel.marker(label, row["estimate"], COLORS["nps"], radius=6, title=f"{label}: {fmt.usd(row['estimate'], 2)}")
    return chart.render()


def ces_trend_figure(rows: list[dict[str, Any]], grain: str) -> str:
    chart = Chart(f"CES by {grain} (1-7, 7 = very easy)", height=320)
    panel = _date_panel(chart, rows, (1, 7))
    panel.axes(range(1, 8), x_labels=_x_labels(rows, grain))
    _line_with_partial(
        panel,
        rows,
        "ces_mean",
        COLORS["ces"],
        lambda row: (
            f"{_period_label(grain, row['period_start'])}: CES {row['ces_mean']:.2f}, "
            f"{fmt.pct(row['ces_easy_share'])} easy, {row['responses']} responses"
        ),
    )
    chart.legend = [("CES (mean)", COLORS["ces"], "line")]
    return chart.render()


def ces_category_figure(rows: list[dict[str, Any]], title: str) -> str:
    chart = Chart(title, height=300)
    panel = chart.panel((1, 7.5), categories=[row["ticket_category"] for row in rows])
    panel.y_range = (0, 7.5)
    panel.axes(range(0, 8))
    for row in rows:
        x = panel.x(row["ticket_category"])
        color = COLORS["fast"] if row["ticket_category"] == "refund_related" else COLORS["ces"]
        panel.vbar(
            x,
            panel.band_width(0.5),
            row["ces_mean"],
            color,
            title=f"{row['ticket_category']}: CES {row['ces_mean']:.2f}",
        )
        panel.text(x, panel.y(row["ces_mean"]) - 6, f"{row['ces_mean']:.2f} (n={row['responses']})")
    return chart.render()


def risk_tier_figure(rows: list[dict[str, Any]]) -> str:
    high = max(max(row["mrr_usd"] or 0 for row in rows), 1)
    ticks = nice_ticks(0, high)
    chart = Chart("MRR and revenue at risk per churn-risk tier (USD per month)", height=320)
    panel = chart.panel((0, max(ticks[-1], high)), categories=[row["risk_tier"] for row in rows])
    panel.axes(ticks, "${:,.0f}")
    for row in rows:
        x = panel.x(row["risk_tier"])
        panel.vbar(
            x,
            panel.band_width(0.6),
            row["mrr_usd"] or 0,
            COLORS["mrr"],
            title=f"{row['risk_tier']}: {fmt.usd(row['mrr_usd'])} MRR",
        )
        panel.vbar(
            x,
            panel.band_width(0.3),
            row["revenue_at_risk_usd"] or 0,
            COLORS["fast"],
            title=f"{row['risk_tier']}: {fmt.usd(row['revenue_at_risk_usd'])} at risk",
        )
        panel.text(x, panel.y(row["mrr_usd"] or 0) - 6, f"{row['accounts']} accounts")
    chart.legend = [("MRR", COLORS["mrr"], "box"), ("revenue at risk", COLORS["fast"], "box")]
    return chart.render()
