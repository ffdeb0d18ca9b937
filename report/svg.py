"""A small SVG chart kit for the report: panels with a linear y axis and a date, number or category x axis, lines,
markers, bands, bars and error bars. Static inline SVG keeps the report one small file that needs no script; every
mark carries a <title>, which browsers show on hover. Marks have class "mark" (the browser test counts them)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

FONT = 'font-family="system-ui, sans-serif"'
GRID = "#e5e5e5"
AXIS_TEXT = "#555"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _title(text: str | None) -> str:
    return f"<title>{esc(text)}</title>" if text else ""


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering low..high."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    first = int(low // step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


@dataclass
class Panel:
    """A plotting area at (left, top) of width x height pixels; x is a category list or a numeric/date range."""

    left: float
    top: float
    width: float
    height: float
    y_range: tuple[float, float]
    categories: Sequence[str] = ()
    x_range: tuple[float, float] | None = None
    parts: list[str] = field(default_factory=list)

    def y(self, value: float) -> float:
        low, high = self.y_range
        clipped = min(max(value, low), high)
        return self.top + self.height * (1 - (clipped - low) / (high - low))

    def x(self, value: object) -> float:
        if self.categories:
            step = self.width / len(self.categories)
            return self.left + step * (list(self.categories).index(value) + 0.5)
        number = value.toordinal() if isinstance(value, date) else float(value)  # type: ignore[arg-type]
        low, high = self.x_range or (number - 1, number + 1)
        if high == low:
            return self.left + self.width / 2
        pad = self.width * 0.04
        return self.left + pad + (self.width - 2 * pad) * (number - low) / (high - low)

    def band_width(self, share: float = 0.7) -> float:
        return self.width / max(len(self.categories), 1) * share

    def axes(self, y_ticks: Sequence[float], y_format: str = "{:g}", x_labels: Sequence[tuple[object, str]] = ()):
        for tick in y_ticks:
            position = self.y(tick)
            self.parts.append(
                f'<line x1="{self.left:.1f}" x2="{self.left + self.width:.1f}" y1="{position:.1f}" '
                f'y2="{position:.1f}" stroke="{GRID}"/>'
                f'<text x="{self.left - 6:.1f}" y="{position + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="{AXIS_TEXT}">{esc(y_format.format(tick))}</text>'
            )
        labels = x_labels or [(category, category) for category in self.categories]
        for value, label in labels:
            self.parts.append(
                f'<text x="{self.x(value):.1f}" y="{self.top + self.height + 16:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{AXIS_TEXT}">{esc(label)}</text>'
            )

    def line(self, points: Sequence[tuple[object, float]], color: str, *, dashed: bool = False, width: float = 2):
        if len(points) < 2:
            return
        path = " ".join(f"{self.x(x):.1f},{self.y(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        self.parts.append(
            f'<polyline class="mark" points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>'
        )

    def marker(self, x: object, y: float, color: str, *, hollow: bool = False, title: str = "", radius: float = 4):
        fill = "white" if hollow else color
        self.parts.append(
            f'<circle class="mark" cx="{self.x(x):.1f}" cy="{self.y(y):.1f}" r="{radius + (2 if hollow else 0)}" '
            f'fill="{fill}" stroke="{color}" stroke-width="2">{_title(title)}</circle>'
        )

    def text(self, x: float, y: float, label: str, *, anchor: str = "middle", size: int = 11, color: str = "#333"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}">'
            f"{esc(label)}</text>"
        )

    def band(self, upper: Sequence[tuple[object, float]], lower: Sequence[tuple[object, float]], fill: str):
        if not upper:
            return
        path = " ".join(f"{self.x(x):.1f},{self.y(y):.1f}" for x, y in list(upper) + list(lower)[::-1])
        self.parts.append(f'<polygon points="{path}" fill="{fill}" stroke="none"/>')

    def vbar(self, x: float, width: float, y: float, color: str, *, title: str = "", hatched: bool = False):
        base, top = self.y(max(min(0, self.y_range[1]), self.y_range[0])), self.y(y)
        fill = "url(#hatch)" if hatched else color
        self.parts.append(
            f'<rect class="mark" x="{x - width / 2:.1f}" y="{min(base, top):.1f}" width="{width:.1f}" '
            f'height="{max(abs(base - top), 1):.1f}" fill="{fill}" stroke="{color}">{_title(title)}</rect>'
        )

    def hbar(self, y_center: float, thickness: float, value: float, color: str, *, title: str = "", hatched=False):
        """A horizontal bar: here `y_range` is the value axis drawn along x (0 at the left)."""
        low, high = self.y_range
        length = self.width * (min(max(value, low), high) - low) / (high - low)
        fill = "url(#hatch)" if hatched else color
        self.parts.append(
            f'<rect class="mark" x="{self.left:.1f}" y="{y_center - thickness / 2:.1f}" width="{max(length, 1):.1f}" '
            f'height="{thickness:.1f}" fill="{fill}" stroke="{color}">{_title(title)}</rect>'
        )

    def error_bar(self, x: float, low: float, high: float, color: str = "#333"):
        top, bottom = self.y(high), self.y(low)
        self.parts.append(
            f'<path d="M{x:.1f},{top:.1f}V{bottom:.1f}M{x - 4:.1f},{top:.1f}h8M{x - 4:.1f},{bottom:.1f}h8" '
            f'stroke="{color}" stroke-width="1.5" fill="none"/>'
        )

    def hline(self, y: float, color: str, label: str = ""):
        position = self.y(y)
        self.parts.append(
            f'<line x1="{self.left:.1f}" x2="{self.left + self.width:.1f}" y1="{position:.1f}" y2="{position:.1f}" '
            f'stroke="{color}" stroke-dasharray="6 4" stroke-width="1.5"/>'
        )
        if label:
            self.text(self.left + self.width - 4, position - 5, label, anchor="end", color=color)


@dataclass
class Chart:
    """One SVG: a title, panels, a legend of (label, colour, style) where style is line, dashed, box or hatched."""

    title: str
    width: int = 1000
    height: int = 360
    panels: list[Panel] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def panel(self, y_range: tuple[float, float], *, index: int = 0, count: int = 1, gap: int = 60, **kwargs) -> Panel:
        left_margin, right_margin, top, bottom = 64, 20, 44, 70
        width = (self.width - left_margin - right_margin - gap * (count - 1)) / count
        panel = Panel(left_margin + index * (width + gap), top, width, self.height - top - bottom, y_range, **kwargs)
        self.panels.append(panel)
        return panel

    def render(self) -> str:
        legend, x = [], 64.0
        for label, color, style in self.legend:
            y = self.height - 14
            if style in ("line", "dashed"):
                dash = ' stroke-dasharray="6 4"' if style == "dashed" else ""
                sample = (
                    f'<line x1="{x}" x2="{x + 22}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" stroke-width="2"{dash}/>'
                )
            else:
                fill = "url(#hatch)" if style == "hatched" else color
                sample = f'<rect x="{x + 4}" y="{y - 10}" width="14" height="12" fill="{fill}" stroke="{color}"/>'
            legend.append(f'{sample}<text x="{x + 28}" y="{y}" font-size="12" fill="#333">{esc(label)}</text>')
            x += 40 + 7 * len(label)
        body = "".join(part for panel in self.panels for part in panel.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" width="100%" '
            f'role="img" aria-label="{esc(self.title)}" {FONT}>'
            '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#dfe8f3"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#08519c" stroke-width="3"/></pattern></defs>'
            f'<text x="8" y="22" font-size="15" fill="#1b1b1b">{esc(self.title)}</text>'
            f"{body}{''.join(legend)}</svg>"
        )
