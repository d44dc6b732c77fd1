"""Inline SVG primitives: a canvas that escapes every text, linear scales and axes.

Charts are plain ``<svg>`` elements with fixed pixel geometry (a ``viewBox`` lets the
page scale them), so the report needs no JavaScript and no fonts or files from the
network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Series colours (colour-blind safe pair) and highlights.
BASELINE = "#4e79a7"
WINDOW = "#f28e2b"
UNSEEN = "#c62828"
GAP = "#7b1fa2"
GRID = "#e6e8eb"
AXIS = "#6a737d"
TEXT = "#24292f"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _n(x: float) -> str:
    """A coordinate with at most one decimal (keeps the markup small)."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else str(r)


def _attrs(**kw: str | float | None) -> str:
    parts = []
    for key, value in kw.items():
        if value is None:
            continue
        v = _n(value) if isinstance(value, float | int) else html.escape(value, quote=True)
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{v}"')
    return " ".join(parts)


class Canvas:
    """An SVG document under construction. Every text and title is HTML-escaped."""

    def __init__(self, width: int, height: int, label: str) -> None:
        self.width = width
        self.height = height
        self.label = label
        self._parts: list[str] = []

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: str,
        opacity: float | None = None,
        stroke: str | None = None,
        tip: str | None = None,
    ) -> None:
        """A rectangle; ``tip`` becomes a hover tooltip (an SVG ``<title>``)."""
        a = _attrs(
            x=x,
            y=y,
            width=max(w, 0.0),
            height=max(h, 0.0),
            fill=fill,
            fill_opacity=opacity,
            stroke=stroke,
        )
        if tip:
            self._parts.append(f"<rect {a}><title>{html.escape(tip)}</title></rect>")
        else:
            self._parts.append(f"<rect {a}/>")

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        stroke: str,
        width: float = 1.0,
        dash: str | None = None,
    ) -> None:
        """A straight line."""
        a = _attrs(
            x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, stroke_width=width, stroke_dasharray=dash
        )
        self._parts.append(f"<line {a}/>")

    def path(
        self,
        d: str,
        *,
        stroke: str = "none",
        fill: str = "none",
        width: float = 1.5,
        opacity: float | None = None,
    ) -> None:
        """A path from its ``d`` commands (numbers only, built by this package)."""
        a = _attrs(
            d=d,
            stroke=stroke,
            fill=fill,
            stroke_width=width,
            fill_opacity=opacity,
            stroke_linejoin="round",
        )
        self._parts.append(f"<path {a}/>")

    def text(
        self,
        x: float,
        y: float,
        s: str,
        *,
        anchor: str = "start",
        size: float = 11,
        fill: str = TEXT,
        bold: bool = False,
        rotate: float | None = None,
        halo: bool = False,
    ) -> None:
        """A text label (escaped); ``rotate`` turns it around its anchor point; ``halo``
        outlines it in white so it stays legible over lines."""
        a = _attrs(
            x=x,
            y=y,
            text_anchor=anchor,
            font_size=size,
            fill=fill,
            font_weight="bold" if bold else None,
            transform=f"rotate({_n(rotate)} {_n(x)} {_n(y)})" if rotate else None,
            stroke="#fff" if halo else None,
            stroke_width=3.0 if halo else None,
            paint_order="stroke" if halo else None,
        )
        self._parts.append(f"<text {a}>{html.escape(s)}</text>")

    def render(self) -> str:
        """The ``<svg>`` element, scalable via its viewBox."""
        label = html.escape(self.label, quote=True)
        head = (
            # No xmlns: inside HTML the parser puts <svg> in the SVG namespace itself.
            f'<svg viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" aria-label="{label}" '
            f'font-family="{html.escape(FONT, quote=True)}">'
        )
        return head + f"<title>{label}</title>" + "".join(self._parts) + "</svg>"


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear map from the data interval [lo, hi] to pixels [p0, p1]."""

    lo: float
    hi: float
    p0: float
    p1: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo
        t = (v - self.lo) / span if span else 0.5
        return self.p0 + t * (self.p1 - self.p0)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


@dataclass(frozen=True, slots=True)
class Plot:
    """The plot area of a chart: pixel box plus the x and y scales."""

    left: float
    top: float
    right: float
    bottom: float
    x: Scale
    y: Scale


def plot_area(
    canvas: Canvas,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    *,
    margin: tuple[float, float, float, float] = (34, 14, 46, 52),
) -> Plot:
    """Scales for the box inside ``margin`` (top, right, bottom, left) of ``canvas``."""
    top, right, bottom, left = margin
    r, b = canvas.width - right, canvas.height - bottom
    return Plot(left, top, r, b, Scale(x_range[0], x_range[1], left, r), Scale(*y_range, b, top))


def y_axis(canvas: Canvas, plot: Plot, ticks: Sequence[float], fmt: Callable[[float], str]) -> None:
    """Horizontal grid lines with labels on the left."""
    for t in ticks:
        y = plot.y(t)
        canvas.line(plot.left, y, plot.right, y, stroke=GRID)
        canvas.text(plot.left - 6, y + 4, fmt(t), anchor="end", size=10, fill=AXIS)
    canvas.line(plot.left, plot.bottom, plot.right, plot.bottom, stroke=AXIS)


def x_axis(
    canvas: Canvas,
    plot: Plot,
    ticks: Sequence[float],
    fmt: Callable[[float], str],
    label: str = "",
) -> None:
    """Tick marks and labels below the plot, and an axis title."""
    for t in ticks:
        x = plot.x(t)
        canvas.line(x, plot.bottom, x, plot.bottom + 4, stroke=AXIS)
        canvas.text(x, plot.bottom + 16, fmt(t), anchor="middle", size=10, fill=AXIS)
    if label:
        mid = (plot.left + plot.right) / 2
        canvas.text(mid, plot.bottom + 34, label, anchor="middle", size=10, fill=AXIS)


def text_width(s: str, size: float) -> float:
    """A generous estimate of the rendered width of ``s`` in pixels (no font metrics
    offline): capitals and digits are wider than lower case."""
    wide = sum(1 for ch in s if ch.isupper() or ch.isdigit() or ch in "mwMW_%")
    return size * (0.66 * wide + 0.56 * (len(s) - wide))


def title(canvas: Canvas, text: str) -> None:
    """The chart title, top left."""
    canvas.text(8, 16, text, size=12, bold=True)


def legend(canvas: Canvas, items: Sequence[tuple[str, str]], *, y: float = 16) -> None:
    """Colour swatches with labels, right-aligned at the top of the chart."""
    x = canvas.width - 8.0
    for label, colour in reversed(items):
        width = text_width(label, 10)
        canvas.text(x, y, label, anchor="end", size=10, fill=AXIS)
        x -= width + 5
        canvas.rect(x - 10, y - 9, 10, 10, fill=colour)
        x -= 20
