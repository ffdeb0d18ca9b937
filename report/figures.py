"""The report's charts (Plotly figures), one function per chart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report import formatting as fmt
from report.queries import SEGMENT_TYPES

COLORS = {
    "nps": "#1f5fa8",
    "band": "rgba(31, 95, 168, 0.18)",
    "fast": "#d9822b",
    "target": "#2e8540",
    "few": "#b8b8b8",
    "ces": "#6a3d9a",
}
# One colour per month in the themes chart, the same in both panels so the legend holds for each.
MONTH_COLORS = ("#9ecae1", "#4292c6", "#08519c", "#08306b")


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


def _line_with_partial(
    figure: go.Figure,
    rows: list[dict[str, Any]],
    column: str,
    name: str,
    grain: str,
    hover: str,
    customdata: Callable[[dict[str, Any]], list[Any]],
    color: str = COLORS["nps"],
) -> None:
    """A line over the complete periods, and the partial ones (`is_partial`) drawn apart: dashed from the last
    complete period, hollow and labelled "partial", since their value is of the days so far."""
    done = [row for row in rows if not row["is_partial"]]
    partial = [row for row in rows if row["is_partial"]]
    figure.add_trace(
        go.Scatter(
            x=[row["period_start"] for row in done],
            y=[row[column] for row in done],
            mode="lines+markers",
            line={"color": color, "width": 2},
            name=name,
            customdata=[customdata(row) for row in done],
            hovertemplate=hover + "<extra></extra>",
        )
    )
    if partial:
        joined = done[-1:] + partial
        figure.add_trace(
            go.Scatter(
                x=[row["period_start"] for row in joined],
                y=[row[column] for row in joined],
                mode="lines+markers+text",
                line={"color": color, "width": 2, "dash": "dash"},
                marker={
                    "symbol": ["circle-open" if row["is_partial"] else "circle" for row in joined],
                    "size": [11 if row["is_partial"] else 6 for row in joined],
                },
                text=["partial" if row["is_partial"] else "" for row in joined],
                textposition="top center",
                name=f"partial {grain} (so far)",
                customdata=[customdata(row) for row in joined],
                hovertemplate=hover + "<extra>partial</extra>",
            )
        )


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
    hover = "NPS %{y:.1f} (%{customdata[1]:.1f} to %{customdata[2]:.1f}), %{customdata[0]} responses"
    _line_with_partial(
        figure,
        rows,
        "nps",
        "NPS",
        grain,
        hover,
        lambda row: [row["responses"], row["nps_ci_low"], row["nps_ci_high"]],
    )
    figure.update_yaxes(range=[-100, 100], zeroline=True)
    if grain == "month":
        figure.update_xaxes(dtick="M1", tickformat="%b %Y")
    return _layout(figure, f"NPS by {grain}, with its 95% interval", y_title="NPS")


def band_order(value: str) -> tuple[float, str]:
    """MRR bands by their lower bound ('0', '<100', '100-499', ..., '2000+'), 'unknown' last; others by name."""
    if value == "unknown":
        return (float("inf"), value)
    digits = value.lstrip("<").split("-")[0].rstrip("+")
    if not digits.isdigit():
        return (0.0, value)
    return (float(digits) - (0.5 if value.startswith("<") else 0), value)


def segment_figure(rows: list[dict[str, Any]], min_responses: int) -> go.Figure:
    """The latest complete quarter (the latest one, labelled partial, when none is complete); a segment with fewer
    than `min_responses` responses is drawn grey and thin, its n on every bar, so it cannot dominate the eye."""
    complete = [row["period_start"] for row in rows if not row["is_partial"]]
    latest = max(complete or [row["period_start"] for row in rows])
    is_partial = not complete
    figure = make_subplots(
        rows=1,
        cols=len(SEGMENT_TYPES),
        shared_yaxes=True,
        subplot_titles=[fmt.segment_name(kind) for kind in SEGMENT_TYPES],
    )
    for column, kind in enumerate(SEGMENT_TYPES, start=1):
        data = sorted(
            (row for row in rows if row["segment_type"] == kind and row["period_start"] == latest),
            key=lambda row: (
                band_order(row["segment_value"])
                if kind == "mrr_band"
                else (row["segment_value"] == "unknown", row["segment_value"])
            ),
        )
        few = [row["responses"] < min_responses for row in data]
        figure.add_trace(
            go.Bar(
                x=[f"{row['segment_value']} (n={row['responses']})" for row in data],
                y=[row["nps"] for row in data],
                marker_color=[COLORS["few"] if small else COLORS["nps"] for small in few],
                width=[0.3 if small else 0.8 for small in few],
                text=[
                    f"n={row['responses']}" + (" (too few)" if small else "")
                    for row, small in zip(data, few, strict=True)
                ],
                textposition="outside",
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
    title = f"NPS by segment, {fmt.quarter(latest)}" + (" (partial, so far)" if is_partial else "")
    figure.update_xaxes(type="category")
    return _layout(figure, title + ", with 95% intervals", y_title="NPS")


def themes_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Rows carry `is_partial` (the month's end is after the data's as-of date)."""
    categories = ("detractor", "promoter")
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["Detractor themes", "Promoter themes"], horizontal_spacing=0.25
    )
    months = sorted({row["month_start"] for row in rows})
    partial = {row["month_start"] for row in rows if row["is_partial"]}
    for column, category in enumerate(categories, start=1):
        for index, month in enumerate(months):
            data = [row for row in rows if row["nps_category"] == category and row["month_start"] == month]
            name = fmt.month(month) + (" (partial)" if month in partial else "")
            figure.add_trace(
                go.Bar(
                    y=[row["theme_label"] for row in data],
                    x=[row["share_of_comments"] * 100 for row in data],
                    orientation="h",
                    name=name,
                    legendgroup=str(month),
                    marker={
                        "color": MONTH_COLORS[(index - len(months)) % len(MONTH_COLORS)],
                        "pattern": {"shape": "/" if month in partial else ""},
                    },
                    showlegend=column == 1,
                    customdata=[[row["comments"], row["accounts"], row["mrr_usd"]] for row in data],
                    hovertemplate="%{y}: %{x:.1f}% (%{customdata[0]} comments, %{customdata[1]} accounts, "
                    "$%{customdata[2]:,.0f} MRR)<extra>" + name + "</extra>",
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
                # A week not over yet (its end after the data's as-of date) is hollow.
                marker={"symbol": ["circle-open" if row["is_partial"] else "circle" for row in rows], "size": 8},
                hovertemplate="%{y:.0f}% " + name + "<extra></extra>",
            )
        )
    figure.add_hline(
        y=target * 100, line_dash="dash", line_color=COLORS["target"], annotation_text=f"target {fmt.pct(target)}"
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


def ces_trend_figure(rows: list[dict[str, Any]], grain: str) -> go.Figure:
    figure = go.Figure()
    _line_with_partial(
        figure,
        rows,
        "ces_mean",
        "CES (mean, 1-7)",
        grain,
        "CES %{y:.2f}, %{customdata[1]:.0%} easy, %{customdata[0]} responses",
        lambda row: [row["responses"], row["ces_easy_share"]],
        COLORS["ces"],
    )
    figure.update_yaxes(range=[1, 7.3])
    if grain == "month":
        figure.update_xaxes(dtick="M1", tickformat="%b %Y")
    return _layout(figure, f"CES by {grain} (1-7, 7 = very easy)", y_title="CES")


def ces_category_figure(rows: list[dict[str, Any]], title: str) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=[row["ticket_category"] for row in rows],
            y=[row["ces_mean"] for row in rows],
            marker_color=[
                COLORS["fast"] if row["ticket_category"] == "refund_related" else COLORS["ces"] for row in rows
            ],
            text=[f"{row['ces_mean']:.2f} (n={row['responses']})" for row in rows],
            textposition="outside",
            hovertemplate="%{x}: CES %{y:.2f}<extra></extra>",
            showlegend=False,
        )
    )
    figure.update_yaxes(range=[1, 7.5])
    return _layout(figure, title, height=320, y_title="CES")


def risk_tier_figure(rows: list[dict[str, Any]]) -> go.Figure:
    tiers = [row["risk_tier"] for row in rows]
    figure = go.Figure()
    for name, column, color in (
        ("MRR", "mrr_usd", COLORS["band"]),
        ("revenue at risk", "revenue_at_risk_usd", COLORS["fast"]),
    ):
        figure.add_trace(
            go.Bar(
                x=tiers,
                y=[row[column] or 0 for row in rows],
                name=name,
                marker_color=color,
                text=[f"{row['accounts']} accounts" if column == "mrr_usd" else "" for row in rows],
                hovertemplate="%{x}: $%{y:,.0f} " + name + "<extra></extra>",
            )
        )
    figure.update_layout(barmode="overlay")
    return _layout(figure, "MRR and revenue at risk per churn-risk tier", height=320, y_title="USD per month")
