"""Charts drawn by the server as SVG: horizontal bars, each bar one value or a stack of parts.

The console's policy allows no inline style, so everything is placed with SVG presentation attributes
(x, y, width, height) and coloured by class (``dashboard.css``: ``seg-ok``, ``seg-bad``, …). Each chart is
an image to assistive technology (``role="img"``) named by its <title> and described by its <desc>; the
page shows the same figures in a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABELS = (60, 240)  # the room for the rows' labels, left of the bars: fitted to the longest, within these
VALUE_WIDTH = 110  # room for a row's figure, right of the bars
ROW = 30  # height of one row
BAR = 18  # height of one bar
LEGEND = 26  # height of the legend under the bars
#: Fallback fills (presentation attributes) for the colour classes; the stylesheet's rules win over them.
FILLS = {"seg-ok": "#16692d", "seg-bad": "#a1130b", "seg-warn": "#b26a00", "seg-pending": "#0b4f8a"}


@dataclass(frozen=True)
class Part:
    """One part of a bar: its size (any unit, all parts of a chart the same) and its colour class."""

    value: float
    css: str


@dataclass(frozen=True)
class Bar:
    label: str
    parts: tuple[Part, ...]
    figure: str  # what the row says at its end, e.g. "66.7%" or "¥3.00"

    @property
    def total(self) -> float:
        return sum(p.value for p in self.parts)


def _num(value: float) -> str:
    """A coordinate as SVG reads it: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def text_width(text: str) -> int:
    """Roughly how wide ``text`` is at the charts' 12px: CJK characters are square, Latin ones about half."""
    return sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)


def _fill(css: str) -> str:
    return FILLS.get(css, "#4f5a66")


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar],
              legend: Sequence[tuple[str, str]] = ()) -> Markup:
    """Horizontal bars scaled to the longest; ``legend`` is (label, colour class) per kind of part."""
    longest = max((bar.total for bar in bars), default=0.0)
    label_width = min(max(max((text_width(bar.label) for bar in bars), default=0) + 14, LABELS[0]), LABELS[1])
    span = WIDTH - label_width - VALUE_WIDTH
    height = ROW * len(bars) + (LEGEND if legend else 0) + 8
    out = [f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-title '
           f'{escape(chart_id)}-desc" viewBox="0 0 {WIDTH} {height}" width="100%" height="{height}" '
           f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
           f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>']
    for n, bar in enumerate(bars):
        top = 4 + n * ROW
        middle = top + ROW / 2
        out.append(f'<g class="row">'
                   f'<text x="{label_width - 8}" y="{_num(middle)}" text-anchor="end" '
                   f'dominant-baseline="middle">{escape(bar.label)}</text>')
        x = float(label_width)
        for part in bar.parts:
            if part.value <= 0 or longest <= 0:
                continue
            width = span * part.value / longest
            out.append(f'<rect class="{escape(part.css)}" fill="{_fill(part.css)}" x="{_num(x)}" '
                       f'y="{_num(middle - BAR / 2)}" width="{_num(width)}" height="{BAR}"/>')
            x += width
        out.append(f'<text x="{_num(x + 6)}" y="{_num(middle)}" dominant-baseline="middle" '
                   f'class="figure">{escape(bar.figure)}</text></g>')
    if legend:
        y = 4 + ROW * len(bars) + 6
        x = float(label_width)
        out.append('<g class="legend">')
        for label, css in legend:
            out.append(f'<rect class="{escape(css)}" fill="{_fill(css)}" x="{_num(x)}" y="{y}" width="12" height="12"/>'
                       f'<text x="{_num(x + 16)}" y="{y + 6}" dominant-baseline="middle">{escape(label)}</text>')
            x += 30 + text_width(label)
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))
