"""The page's building blocks: sections, charts and tables, every value escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

NO_DATA = "No data yet."


class Page:
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

    def chart(self, chart_id: str, svg: str) -> str:
        """An inline SVG chart in a div the browser test can find."""
        self.charts.append(chart_id)
        return f'<div class="chart" id="{chart_id}" data-chart="{chart_id}">{svg}</div>'


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
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
