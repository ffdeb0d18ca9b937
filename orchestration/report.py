"""The NPS report: one self-contained HTML file (Plotly charts, plotly.js inline) rendered from the marts, with
plain-language recommendations computed from the same numbers. See docs/metrics.md for every figure's formula."""

from __future__ import annotations

import html
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from analytics.themes.marts import ESCALATION_EXCLUDED
from orchestration import paths

REPORTS_DIR_VARIABLE = "NPS_REPORTS_DIR"
LATEST_NAME = "latest.html"
# The marts the report reads; the Dagster asset depends on exactly these.
MARTS = (
    "program_summary",
    "nps_by_period",
    "comment_themes",
    "closed_loop_sla_weekly",
    "dim_accounts",
    "nps_revenue_per_point",
    "goal_progress",
)
SEGMENT_TYPES = ("plan", "region", "mrr_band")
# A segment needs this many responses in both quarters before its move is worth a recommendation.
MIN_SEGMENT_RESPONSES = 5
THEME_MONTHS = 3
SLA_WEEKS = 4
TOP_ACCOUNTS = 10
DEFAULT_FOLLOWUP_TARGET = 1.0  # "every detractor contacted within 24 hours" unless goal_progress says otherwise
NO_DATA = "No data yet."
COLORS = {"nps": "#1f5fa8", "band": "rgba(31, 95, 168, 0.18)", "fast": "#d9822b", "target": "#2e8540"}


@dataclass(frozen=True)
class Recommendation:
    """One sentence for a reader, and the numbers behind it (as computed, unrounded)."""

    kind: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


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

    def recommendations_markdown(self) -> str:
        return "\n".join(f"- {item.text}" for item in self.recommendations) or "- " + NO_DATA


def reports_dir(warehouse: Path | None = None) -> Path:
    """`NPS_REPORTS_DIR` (relative values from the repository root), else `reports/` beside the warehouse."""
    value = os.environ.get(REPORTS_DIR_VARIABLE)
    if value:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (paths.REPO_ROOT / path).resolve()
    warehouse = Path(warehouse) if warehouse else paths.duckdb_path()
    return warehouse.parent / "reports"


def report_path(directory: Path, day: date | None = None) -> Path:
    """`<directory>/nps_report_<YYYY-MM-DD>.html`, by default today (UTC): one file a day, a re-run replaces it."""
    return Path(directory) / f"nps_report_{(day or datetime.now(UTC).date()).isoformat()}.html"


# ---------------------------------------------------------------------------------------------------- reading


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0


def _rows(con: duckdb.DuckDBPyConnection, mart: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The query's rows as dicts; none when the mart does not exist yet (a first run, a failed build)."""
    if not _has_table(con, mart):
        return []
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _overall(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = _rows(con, "program_summary", "select * from marts.program_summary")
    return rows[0] if rows and rows[0]["responses"] else None


def _trend(con: duckdb.DuckDBPyConnection, grain: str) -> list[dict[str, Any]]:
    return _rows(
        con,
        "nps_by_period",
        """
        select period_start, responses, nps, nps_ci_low, nps_ci_high, response_rate
        from marts.nps_by_period
        where period_grain = ? and segment_type = 'overall' and responses > 0
        order by period_start
        """,
        [grain],
    )


def _segment_quarters(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every plan, region and MRR band in the latest two quarters with responses."""
    return _rows(
        con,
        "nps_by_period",
        f"""
        with quarters as (
            select distinct period_start from marts.nps_by_period
            where period_grain = 'quarter' and segment_type = 'overall' and responses > 0
            order by period_start desc
            limit 2
        )
        select segment_type, segment_value, period_start, responses, nps, nps_ci_low, nps_ci_high
        from marts.nps_by_period
        where period_grain = 'quarter'
            and segment_type in ({", ".join("?" for _ in SEGMENT_TYPES)})
            and responses > 0
            and period_start in (select period_start from quarters)
        order by segment_type, segment_value, period_start
        """,
        SEGMENT_TYPES,
    )


def _themes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con,
        "comment_themes",
        f"""
        with months as (
            select distinct month_start from marts.comment_themes
            where nps_category in ('promoter', 'detractor')
            order by month_start desc
            limit {THEME_MONTHS}
        )
        select month_start, nps_category, theme, theme_label, comments, category_comments, share_of_comments,
            accounts, mrr_usd
        from marts.comment_themes
        where nps_category in ('promoter', 'detractor') and month_start in (select month_start from months)
        order by month_start, nps_category, comments desc, theme
        """,
    )


def _sla(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con,
        "closed_loop_sla_weekly",
        """
        select week_start, responses, target_due, met_target, target_attainment,
            fast_target_due, met_fast_target, fast_target_attainment, median_hours_to_first_outreach
        from marts.closed_loop_sla_weekly
        where team = 'all' and nps_category = 'detractor'
        order by week_start
        """,
    )


def _accounts_at_risk(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con,
        "dim_accounts",
        f"""
        select account_id, plan, region, mrr_usd, risk_score, risk_tier, revenue_at_risk_usd, risk_drivers,
            latest_nps_score, latest_nps_date
        from marts.dim_accounts
        where revenue_at_risk_usd > 0
        order by revenue_at_risk_usd desc, risk_score desc, account_id
        limit {TOP_ACCOUNTS}
        """,
    )


def _revenue_per_point(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con,
        "nps_revenue_per_point",
        "select * from marts.nps_revenue_per_point where outcome = 'mrr_change_usd' order by horizon_months",
    )


def _followup_target(con: duckdb.DuckDBPyConnection) -> float:
    rows = _rows(
        con,
        "goal_progress",
        """
        select target from marts.goal_progress
        where metric = 'followup_24h_attainment' and target is not null
        order by quarter_start desc
        limit 1
        """,
    )
    return float(rows[0]["target"]) if rows else DEFAULT_FOLLOWUP_TARGET


# ---------------------------------------------------------------------------------------------- recommendations


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
        f"The largest detractor theme in {_month(month)} is {top['theme_label']} "
        f"({_pct(top['share_of_comments'])} of detractor comments: {top['comments']} of {top['category_comments']}, "
        f"{top['accounts']} accounts, {_usd(top['mrr_usd'])} MRR). Take it to the product backlog with its comments."
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
        f"{_segment_name(segment_type)} {segment_value} moved most: NPS {_num(before['nps'])} -> {_num(after['nps'])} "
        f"({_signed(change)} points from {_quarter(previous)} to {_quarter(latest)}; 95% intervals "
        f"{_num(before['nps_ci_low'])} to {_num(before['nps_ci_high'])} on {before['responses']} responses and "
        f"{_num(after['nps_ci_low'])} to {_num(after['nps_ci_high'])} on {after['responses']}; {verdict})."
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
    fast_text = f"; within 4 h: {_pct(fast)} ({fast_met} of {fast_total})" if fast is not None else ""
    if attainment < target:
        text = (
            f"Detractor follow-up is below target: {_pct(attainment)} contacted within 24 h over {span} "
            f"({met} of {total} due), against {_pct(target)}{fast_text}. "
            f"{total - met} {'detractor' if total - met == 1 else 'detractors'} waited longer: staff the queue "
            "or route NPS follow-ups first."
        )
    else:
        text = (
            f"Detractor follow-up meets its target: {_pct(attainment)} contacted within 24 h over {span} "
            f"({met} of {total} due), target {_pct(target)}{fast_text}."
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
        f"Call the {len(accounts)} accounts with most revenue at risk first: {_usd(total)} of MRR at risk between "
        f"them; the largest is {top['account_id']} ({_usd(top['revenue_at_risk_usd'])} of "
        f"{_usd(top['mrr_usd'])} MRR, risk score {top['risk_score']}: {top['risk_drivers'] or 'no driver named'})."
    )
    return Recommendation("revenue_at_risk", text, numbers)


# -------------------------------------------------------------------------------------------------------- charts


def _layout(figure: go.Figure, title: str, *, height: int = 380, y_title: str | None = None) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.18},
        hovermode="x unified" if y_title == "NPS" else "closest",
    )
    if y_title:
        figure.update_yaxes(title_text=y_title)
    return figure


def trend_figure(rows: list[dict[str, Any]], grain: str) -> go.Figure:
    x = [row["period_start"] for row in rows]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=[row["nps_ci_high"] for row in rows] + [row["nps_ci_low"] for row in rows][::-1],
            fill="toself",
            fillcolor=COLORS["band"],
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            name="95% interval",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=[row["nps"] for row in rows],
            mode="lines+markers",
            line={"color": COLORS["nps"], "width": 2},
            name="NPS",
            customdata=[[row["responses"], row["nps_ci_low"], row["nps_ci_high"]] for row in rows],
            hovertemplate="NPS %{y:.1f} (%{customdata[1]:.1f} to %{customdata[2]:.1f}), "
            "%{customdata[0]} responses<extra></extra>",
        )
    )
    figure.update_yaxes(range=[-100, 100], zeroline=True)
    if grain == "month":
        figure.update_xaxes(dtick="M1", tickformat="%b %Y")
    return _layout(figure, f"NPS by {grain}, with its 95% interval", y_title="NPS")


def segment_figure(rows: list[dict[str, Any]]) -> go.Figure:
    latest = max(row["period_start"] for row in rows)
    figure = make_subplots(
        rows=1,
        cols=len(SEGMENT_TYPES),
        shared_yaxes=True,
        subplot_titles=[_segment_name(kind) for kind in SEGMENT_TYPES],
    )
    for column, kind in enumerate(SEGMENT_TYPES, start=1):
        data = [row for row in rows if row["segment_type"] == kind and row["period_start"] == latest]
        figure.add_trace(
            go.Bar(
                x=[row["segment_value"] for row in data],
                y=[row["nps"] for row in data],
                marker_color=COLORS["nps"],
                # The adjusted-Wald interval is not centred on the NPS: error bars run to its bounds (none past
                # the NPS when a tiny sample puts the NPS outside its interval).
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(row["nps_ci_high"] - row["nps"], 0) for row in data],
                    "arrayminus": [max(row["nps"] - row["nps_ci_low"], 0) for row in data],
                },
                customdata=[[row["responses"], row["nps_ci_low"], row["nps_ci_high"]] for row in data],
                hovertemplate="%{x}: NPS %{y:.1f} (%{customdata[1]:.1f} to %{customdata[2]:.1f}), "
                "%{customdata[0]} responses<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
    figure.update_yaxes(range=[-100, 100])
    return _layout(figure, f"NPS by segment, {_quarter(latest)}, with 95% intervals", y_title="NPS")


def themes_figure(rows: list[dict[str, Any]]) -> go.Figure:
    categories = ("detractor", "promoter")
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["Detractor themes", "Promoter themes"], horizontal_spacing=0.25
    )
    months = sorted({row["month_start"] for row in rows})
    for column, category in enumerate(categories, start=1):
        for month in months:
            data = [row for row in rows if row["nps_category"] == category and row["month_start"] == month]
            figure.add_trace(
                go.Bar(
                    y=[row["theme_label"] for row in data],
                    x=[row["share_of_comments"] * 100 for row in data],
                    orientation="h",
                    name=_month(month),
                    legendgroup=str(month),
                    showlegend=column == 1,
                    customdata=[[row["comments"], row["accounts"], row["mrr_usd"]] for row in data],
                    hovertemplate="%{y}: %{x:.1f}% (%{customdata[0]} comments, %{customdata[1]} accounts, "
                    "$%{customdata[2]:,.0f} MRR)<extra>" + _month(month) + "</extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_layout(barmode="group")
    figure.update_xaxes(title_text="% of the category's comments", ticksuffix="%")
    return _layout(figure, f"Comment themes, latest {len(months)} months", height=460)


def sla_figure(rows: list[dict[str, Any]], target: float) -> go.Figure:
    x = [row["week_start"] for row in rows]
    figure = go.Figure()
    for name, column, color in (
        ("within 24 h", "target_attainment", COLORS["nps"]),
        ("within 4 h", "fast_target_attainment", COLORS["fast"]),
    ):
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[None if row[column] is None else row[column] * 100 for row in rows],
                mode="lines+markers",
                name=name,
                line={"color": color},
                hovertemplate="%{y:.0f}% " + name + "<extra></extra>",
            )
        )
    figure.add_hline(
        y=target * 100, line_dash="dash", line_color=COLORS["target"], annotation_text=f"target {_pct(target)}"
    )
    figure.update_yaxes(range=[0, 105], ticksuffix="%")
    return _layout(figure, "Detractors contacted within the deadline, by week of the response", y_title="attainment")


def revenue_per_point_figure(rows: list[dict[str, Any]]) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[f"{row['horizon_months']} months" for row in rows],
            y=[row["estimate"] for row in rows],
            mode="markers",
            marker={"size": 11, "color": COLORS["nps"]},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [row["ci_high"] - row["estimate"] for row in rows],
                "arrayminus": [row["estimate"] - row["ci_low"] for row in rows],
            },
            hovertemplate="%{x}: $%{y:,.2f} per score point<extra></extra>",
            name="estimate",
        )
    )
    figure.add_hline(y=0, line_color="#888")
    return _layout(
        figure, "MRR change per NPS score point, with 95% intervals (clustered by account)", y_title="USD of MRR change"
    )


# -------------------------------------------------------------------------------------------------------- render


class _Page:
    """Collects sections and charts; each chart gets a div the browser test can find."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.charts: list[str] = []
        self.empty: list[str] = []

    def section(self, section_id: str, title: str, body: str, *, intro: str = "") -> None:
        intro_html = f'<p class="intro">{intro}</p>' if intro else ""
        self.parts.append(f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{intro_html}{body}</section>')

    def no_data(self, section_id: str, title: str, what: str) -> None:
        self.empty.append(section_id)
        self.section(section_id, title, f'<p class="no-data">{NO_DATA} {html.escape(what)}</p>')

    def chart(self, chart_id: str, figure: go.Figure) -> str:
        self.charts.append(chart_id)
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=chart_id,
            config={"displaylogo": False, "responsive": True},
            # Marks the chart drawn once Plotly's promise resolves (the browser test waits for it).
            post_script="document.getElementById('{plot_id}').setAttribute('data-rendered', 'true');",
        )
        return f'<div class="chart" data-chart="{chart_id}">{div}</div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(str(cell))}</td>'
            if index in numeric
            else f"<td>{html.escape(str(cell))}</td>"
            for index, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_html(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The page, and what it found (charts, empty sections, recommendations, overall NPS)."""
    page = _Page()
    overall = _overall(con)
    monthly, weekly = _trend(con, "month"), _trend(con, "week")
    segments = _segment_quarters(con)
    themes = _themes(con)
    sla = _sla(con)
    target = _followup_target(con)
    accounts = _accounts_at_risk(con)
    per_point = _revenue_per_point(con)

    recommendations = [
        item
        for item in (
            largest_detractor_theme(themes),
            segment_moved_most(segments),
            followup_attainment(sla, target),
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
            intro="Drawn from the data below; the numbers behind each are in its section.",
        )
    else:
        page.no_data("recommendations", "Recommendations", "Recommendations need themes, segments or follow-ups.")

    if monthly or weekly:
        body = (page.chart("chart-nps-monthly", trend_figure(monthly, "month")) if monthly else "") + (
            page.chart("chart-nps-weekly", trend_figure(weekly, "week")) if weekly else ""
        )
        page.section(
            "trend",
            "NPS trend",
            body,
            intro=(
                "Overall NPS per calendar month and per week (Monday) with its 95% adjusted-Wald interval as a band: "
                "a move inside the band is not distinguishable from noise."
            ),
        )
    else:
        page.no_data("trend", "NPS trend", "marts.nps_by_period has no responses.")

    if segments:
        page.section(
            "segments",
            "NPS by segment",
            page.chart("chart-nps-segments", segment_figure(segments)),
            intro="Latest quarter, by plan, region and MRR band at the time of the response; error bars "
            "run to the 95% interval.",
        )
    else:
        page.no_data("segments", "NPS by segment", "marts.nps_by_period has no quarter by segment.")

    if themes:
        page.section(
            "themes",
            "Promoter and detractor themes",
            page.chart("chart-themes", themes_figure(themes)),
            intro="Share of the category's comments per theme and month (marts.comment_themes).",
        )
    else:
        page.no_data("themes", "Promoter and detractor themes", "marts.comment_themes is empty.")

    if any(row["target_due"] or row["fast_target_due"] for row in sla):
        page.section(
            "sla",
            "Closed-loop follow-up",
            page.chart("chart-sla", sla_figure(sla, target)),
            intro="Detractors (all teams) whose first outreach came within 24 h and 4 h of the response, "
            "of those whose deadline has passed (marts.closed_loop_sla_weekly).",
        )
    else:
        page.no_data("sla", "Closed-loop follow-up", "No detractor follow-up deadline has passed yet.")

    if accounts:
        table = _table(
            ["account", "plan", "region", "MRR", "risk score", "tier", "revenue at risk", "drivers", "latest NPS"],
            [
                [
                    row["account_id"],
                    row["plan"],
                    row["region"],
                    _usd(row["mrr_usd"]),
                    row["risk_score"],
                    row["risk_tier"],
                    _usd(row["revenue_at_risk_usd"]),
                    row["risk_drivers"] or "",
                    "" if row["latest_nps_score"] is None else row["latest_nps_score"],
                ]
                for row in accounts
            ],
            numeric=(3, 4, 6, 8),
        )
        page.section(
            "accounts",
            f"Top {TOP_ACCOUNTS} accounts at risk",
            table,
            intro="Revenue at risk = MRR x risk score / 100, as of the latest day (marts.dim_accounts).",
        )
    else:
        page.no_data("accounts", f"Top {TOP_ACCOUNTS} accounts at risk", "No account has revenue at risk.")

    estimated = [row for row in per_point if row["estimate"] is not None and row["ci_low"] is not None]
    if estimated:
        table = _table(
            ["horizon", "USD per score point", "95% interval", "p-value", "observations", "accounts", "note"],
            [
                [
                    f"{row['horizon_months']} months",
                    _usd(row["estimate"], 2),
                    f"{_usd(row['ci_low'], 2)} to {_usd(row['ci_high'], 2)}",
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
            page.chart("chart-revenue-per-point", revenue_per_point_figure(estimated)) + table,
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
        f'<p class="headline">NPS <strong>{_num(overall["nps"])}</strong> '
        f"(95% interval {_num(overall['nps_ci_low'])} to {_num(overall['nps_ci_high'])}) on "
        f"{overall['responses']:,} responses from {overall['first_response_date']} to "
        f"{overall['last_response_date']}; response rate {_pct(overall['response_rate'])}.</p>"
        if overall
        else f'<p class="headline no-data">{NO_DATA} No NPS responses in the warehouse.</p>'
    )
    meta = f"Generated {generated:%Y-%m-%d %H:%M} UTC" + (f", run {html.escape(run_id)}" if run_id else "")
    document = _TEMPLATE.format(
        plotlyjs=plotly.offline.get_plotlyjs(),
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


# ---------------------------------------------------------------------------------------------------- formatting


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _usd(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{digits}f}"


def _month(value: date) -> str:
    return f"{value:%B %Y}"


def _quarter(value: date) -> str:
    return f"Q{(value.month - 1) // 3 + 1} {value.year}"


def _segment_name(segment_type: str) -> str:
    return {"plan": "Plan", "region": "Region", "mrr_band": "MRR band"}.get(segment_type, segment_type)


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
.chart { margin: 12px 0; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NPS report</title>
<style>{css}</style>
<script type="text/javascript">{plotlyjs}</script>
</head>
<body>
<h1>Customer sentiment: NPS report</h1>
<p class="meta">{meta}. Formulas: docs/metrics.md.</p>
{headline}
{sections}
</body>
</html>
"""
