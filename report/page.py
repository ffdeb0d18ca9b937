"""The NPS report: one self-contained HTML file (inline SVG charts, no script) rendered from the marts, with
plain-language recommendations computed from the same numbers. See docs/metrics.md for every figure's formula."""

from __future__ import annotations

import html
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

import settings
from report import figures, periods, queries, sections
from report import formatting as fmt
from report.html import NO_DATA, Page, table
from report.recommendations import (
    MIN_SEGMENT_RESPONSES,
    Recommendation,
    followup_attainment,
    largest_detractor_theme,
    revenue_at_risk,
    segment_moved_most,
)

LATEST_NAME = "latest.html"


@dataclass(frozen=True)
class ReportResult:
    path: Path
    latest_path: Path
    size_bytes: int
    charts: list[str]
    sections_without_data: list[str]
    recommendations: list[Recommendation]
    overall_nps: float | None
    overall_nps_ci: tuple[float | None, float | None]
    duration_seconds: float
    # The overall NPS of the latest complete month and quarter against the previous one: grain, before, after, test.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def recommendations_markdown(self) -> str:
        return "\n".join(f"- {item.text}" for item in self.recommendations) or "- " + NO_DATA


def reports_dir(warehouse: Path | None = None) -> Path:
    """`NPS_REPORTS_DIR`, else `reports/` beside the warehouse (settings.py)."""
    return settings.reports_dir(warehouse)


def report_path(directory: Path, day: date | None = None) -> Path:
    """`<directory>/nps_report_<YYYY-MM-DD>.html`, by default today (UTC): one file a day, a re-run replaces it."""
    return Path(directory) / f"nps_report_{(day or datetime.now(UTC).date()).isoformat()}.html"


def build_html(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The page, and what it found (charts, empty sections, recommendations, overall NPS)."""
    page = Page()
    as_of = queries.as_of(con)
    overall = queries.overall(con)
    monthly = periods.mark(queries.trend(con, "month"), "month", as_of)
    weekly = periods.mark(queries.trend(con, "week"), "week", as_of)
    quarterly = periods.mark(queries.trend(con, "quarter"), "quarter", as_of)
    changes = sections.overall_changes({"month": monthly, "quarter": quarterly})
    segments = periods.mark(queries.segment_quarters(con), "quarter", as_of)
    themes = periods.mark(queries.themes(con), "month", as_of, key="month_start")
    sla = periods.mark(queries.sla(con), "week", as_of, key="week_start")
    target = queries.followup_target(con)
    support = queries.has_support_data(con)
    accounts = queries.accounts_at_risk(con)
    per_point = queries.revenue_per_point(con)
    ces_monthly = periods.mark(queries.ces_trend(con, "month"), "month", as_of)
    ces_categories = queries.ces_by_ticket_category(con)
    tiers = queries.risk_tiers(con)
    goals = queries.goals(con)
    verbatims = queries.verbatims(con, sorted({row["month_start"] for row in themes if not row["is_partial"]}))

    recommendations = [
        item
        for item in (
            largest_detractor_theme(themes, as_of),
            segment_moved_most(segments, as_of),
            followup_attainment(sla, target, as_of, has_support_data=support) if sla or overall else None,
            revenue_at_risk(accounts),
        )
        if item is not None
    ]
    if recommendations:
        items = "".join(f"<li>{html.escape(item.text)}</li>" for item in recommendations)
        page.section(
            "recommendations",
            "Recommendations",
            f'<ul class="recommendations">{items}</ul>',
            intro="Drawn from the data below, complete periods only (a month, week or quarter whose last day is "
            f"after the data's as-of date, {as_of}, is partial); the numbers behind each are in its section.",
        )
    else:
        page.no_data("recommendations", "Recommendations", "Recommendations need themes, segments or follow-ups.")

    sections.goals(page, goals, as_of, support)

    if monthly or weekly:
        body = (page.chart("chart-nps-monthly", figures.trend_figure(monthly, "month")) if monthly else "") + (
            page.chart("chart-nps-weekly", figures.trend_figure(weekly, "week")) if weekly else ""
        )
        if changes:
            body += sections.changes_table(changes)
        page.section(
            "trend",
            "NPS trend",
            body,
            intro=(
                "Overall NPS per calendar month and per week (Monday) with its 95% adjusted-Wald interval as a band: "
                "a move inside the band is not distinguishable from noise. The current period, not over at the "
                f"data's as-of date ({as_of}), is dashed, hollow and labelled partial."
            ),
        )
    else:
        page.no_data("trend", "NPS trend", "marts.nps_by_period has no responses.")

    sections.ces(page, ces_monthly, ces_categories, as_of)

    if segments:
        page.section(
            "segments",
            "NPS by segment",
            page.chart("chart-nps-segments", figures.segment_figure(segments, MIN_SEGMENT_RESPONSES)),
            intro="Latest complete quarter, by plan, region and MRR band at the time of the response (MRR bands by "
            f"their lower bound); error bars run to the 95% interval; a segment under {MIN_SEGMENT_RESPONSES} "
            "responses is grey and thin, n on every bar.",
        )
    else:
        page.no_data("segments", "NPS by segment", "marts.nps_by_period has no quarter by segment.")

    if themes:
        page.section(
            "themes",
            "Promoter and detractor themes",
            page.chart("chart-themes", figures.themes_figure(themes)),
            intro="Share of the category's comments per theme and month (marts.comment_themes); the current "
            "month, not over yet, is hatched and labelled partial.",
        )
    else:
        page.no_data("themes", "Promoter and detractor themes", "marts.comment_themes is empty.")

    sections.verbatims(page, verbatims)

    if not support and (sla or overall):
        page.no_data("sla", "Closed-loop follow-up", "No support data: no response has a follow-up Zendesk ticket.")
    elif any(row["target_due"] or row["fast_target_due"] for row in sla):
        page.section(
            "sla",
            "Closed-loop follow-up",
            page.chart("chart-sla", figures.sla_figure(sla, target)),
            intro="Detractors (all teams) whose first outreach came within 24 h and 4 h of the response, "
            "of those whose deadline has passed (marts.closed_loop_sla_weekly); the current week is hollow.",
        )
    else:
        page.no_data("sla", "Closed-loop follow-up", "No detractor follow-up deadline has passed yet.")

    sections.risk_tiers(page, tiers)

    if accounts:
        rows_html = table(
            ["account", "plan", "region", "MRR", "risk score", "tier", "revenue at risk", "drivers", "latest NPS"],
            [
                [
                    fmt.account(row),
                    row["plan"],
                    row["region"],
                    fmt.usd(row["mrr_usd"]),
                    row["risk_score"],
                    row["risk_tier"],
                    fmt.usd(row["revenue_at_risk_usd"]),
                    row["risk_drivers"] or "",
                    "" if row["latest_nps_score"] is None else row["latest_nps_score"],
                ]
                for row in accounts
            ],
            numeric=(3, 4, 6, 8),
        )
        page.section(
            "accounts",
            f"Top {queries.TOP_ACCOUNTS} accounts at risk",
            rows_html,
            intro="Revenue at risk = MRR x risk score / 100, as of the latest day (marts.dim_accounts).",
        )
    else:
        page.no_data("accounts", f"Top {queries.TOP_ACCOUNTS} accounts at risk", "No account has revenue at risk.")

    estimated = [row for row in per_point if row["estimate"] is not None and row["ci_low"] is not None]
    if estimated:
        rows_html = table(
            ["horizon", "USD per score point", "95% interval", "p-value", "observations", "accounts", "note"],
            [
                [
                    f"{row['horizon_months']} months",
                    fmt.usd(row["estimate"], 2),
                    f"{fmt.usd(row['ci_low'], 2)} to {fmt.usd(row['ci_high'], 2)}",
                    "" if row["p_value"] is None else f"{row['p_value']:.3f}",
                    row["observations"],
                    row["accounts"],
                    row["note"],
                ]
                for row in per_point
            ],
            numeric=(1, 3, 4, 5),
        )
        page.section(
            "revenue",
            "Revenue per NPS point",
            page.chart("chart-revenue-per-point", figures.revenue_per_point_figure(estimated)) + rows_html,
            intro="MRR change over the horizon associated with one more point of an account's 0-10 score "
            "(OLS, controls for plan, tenure and cohort month): an association, not a causal effect.",
        )
    else:
        notes = (
            "; ".join(str(row["note"]) for row in per_point if row["note"]) or "marts.nps_revenue_per_point is empty."
        )
        page.no_data("revenue", "Revenue per NPS point", notes)

    generated = datetime.now(UTC)
    headline = (
        f'<p class="headline">NPS <strong>{fmt.num(overall["nps"])}</strong> '
        f"(95% interval {fmt.num(overall['nps_ci_low'])} to {fmt.num(overall['nps_ci_high'])}) on "
        f"{overall['responses']:,} responses from {overall['first_response_date']} to "
        f"{overall['last_response_date']}; response rate {fmt.pct(overall['response_rate'])}.</p>"
        if overall
        else f'<p class="headline no-data">{NO_DATA} No NPS responses in the warehouse.</p>'
    )
    meta = f"Generated {generated:%Y-%m-%d %H:%M} UTC" + (f", run {html.escape(run_id)}" if run_id else "")
    document = _TEMPLATE.format(
        css=_CSS,
        headline=headline,
        meta=meta,
        sections="\n".join(page.parts),
    )
    facts = {
        "charts": page.charts,
        "empty": page.empty,
        "recommendations": recommendations,
        "overall_nps": overall["nps"] if overall else None,
        "overall_nps_ci": (overall["nps_ci_low"], overall["nps_ci_high"]) if overall else (None, None),
        "changes": changes,
    }
    return document, facts


def render(con: duckdb.DuckDBPyConnection, output_path: Path, *, run_id: str | None = None) -> ReportResult:
    """Write the report to `output_path` and the same bytes to `latest.html` beside it, each atomically (a reader
    opens the old file or the new one, never half of one)."""
    started = time.monotonic()
    output_path = Path(output_path)
    document, facts = build_html(con, run_id=run_id)
    data = document.encode("utf-8")
    latest = output_path.with_name(LATEST_NAME)
    for target in (output_path, latest):
        _write_atomically(target, data)
    return ReportResult(
        path=output_path,
        latest_path=latest,
        size_bytes=len(data),
        charts=facts["charts"],
        sections_without_data=facts["empty"],
        recommendations=facts["recommendations"],
        overall_nps=facts["overall_nps"],
        overall_nps_ci=facts["overall_nps_ci"],
        duration_seconds=time.monotonic() - started,
        changes=facts["changes"],
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 24px; color: #1b1b1b; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
.meta, .intro { color: #555; font-size: 14px; } .headline { font-size: 18px; }
.no-data { color: #8a5a00; background: #fff6e0; padding: 8px 12px; border-radius: 4px; }
.recommendations li { margin-bottom: 8px; line-height: 1.4; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 5px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; } th { background: #f5f7fa; }
.chart { margin: 12px 0; } .chart svg { display: block; max-width: 100%; height: auto; }
h3 { margin: 18px 0 6px; font-size: 16px; } h4 { margin: 10px 0 4px; font-size: 14px; }
.finding { font-size: 14px; } .verbatims ul { margin: 0 0 8px; } .verbatims li { margin-bottom: 4px; }
.who { color: #666; font-size: 12px; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NPS report</title>
<style>{css}</style>
</head>
<body>
<h1>Customer sentiment: NPS report</h1>
<p class="meta">{meta}. Formulas: docs/metrics.md.</p>
{headline}
{sections}
</body>
</html>
"""
