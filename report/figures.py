"""The report's charts (Plotly figures), one function per chart."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report import formatting as fmt
from report.queries import SEGMENT_TYPES

COLORS = {"nps": "#1f5fa8", "band": "rgba(31, 95, 168, 0.18)", "fast": "#d9822b", "target": "#2e8540"}


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
        subplot_titles=[fmt.segment_name(kind) for kind in SEGMENT_TYPES],
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
    return _layout(figure, f"NPS by segment, {fmt.quarter(latest)}, with 95% intervals", y_title="NPS")


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
                    name=fmt.month(month),
                    legendgroup=str(month),
                    showlegend=column == 1,
                    customdata=[[row["comments"], row["accounts"], row["mrr_usd"]] for row in data],
                    hovertemplate="%{y}: %{x:.1f}% (%{customdata[0]} comments, %{customdata[1]} accounts, "
                    "$%{customdata[2]:,.0f} MRR)<extra>" + fmt.month(month) + "</extra>",
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
