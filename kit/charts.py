"""Small charts drawn on the server as SVG, for the admin's pages: no script, no build step and no
inline style (the Content-Security-Policy allows neither), only geometry and CSS classes. The
colours are the stylesheet's (portal/static/portal/dashboard.css), from the admin's own CSS
variables, so a chart reads in the light theme and the dark one alike.

Each chart carries its title and a text equivalent of every bar (<title>), for screen readers
and for a reader hovering a bar; the numbers themselves are on the page beside it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join

# The drawing's own units: the SVG scales to its box (viewBox), the text with it.
WIDTH = 320
ROW = 22
BAR = 14
LABEL_WIDTH = 120
VALUE_WIDTH = 64
LABEL_CHARACTERS = 18


@dataclass(frozen=True)
class Segment:
    """A part of a bar: its value and its tone (a CSS class suffix: "main", "quiet", "warning",
    "danger")."""

    value: int
    tone: str = "main"
    label: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    # What the value column says (a capped count reads "10,000+"); the sum by default.
    shown: str = ""

    @property
    def total(self) -> int:
        return sum(segment.value for segment in self.segments)


def _short(label: str) -> str:
    text = str(label)
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def bar_chart(bars: list[Bar], *, title: str, legend: tuple[tuple[str, str], ...] = ()) -> str:
    """Horizontal bars, one row each, the longest filling the row; segments stacked left to
    right. `legend`: (tone, label) pairs drawn under the bars. "" for no bar."""
    if not bars:
        return ""
    largest = max((bar.total for bar in bars), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    rows = []
    for index, bar in enumerate(bars):
        top = index * ROW
        x = LABEL_WIDTH
        segments = []
        for segment in bar.segments:
            width = round(span * segment.value / largest, 1)
            if segment.value and width < 1:
                width = 1  # a bar of one among thousands still shows
            if width:
                what = f"{segment.label}: " if segment.label else ""
                segments.append(
                    format_html(
                        '<rect class="chart-bar chart-{}" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{} — {}{}</title></rect>",
                        segment.tone,
                        x,
                        top + (ROW - BAR) // 2,
                        width,
                        BAR,
                        bar.label,
                        what,
                        number_format(segment.value, force_grouping=True),
                    )
                )
            x += width
        shown = bar.shown or number_format(bar.total, force_grouping=True)
        rows.append(
            format_html(
                '<g class="chart-row"><text class="chart-label" x="0" y="{}">{}<title>{}</title>'
                '</text>{}<text class="chart-value" x="{}" y="{}">{}</text></g>',
                top + ROW - 7,
                _short(bar.label),
                bar.label,
                format_html_join("", "{}", ((segment,) for segment in segments)),
                round(x + 4, 1),
                top + ROW - 7,
                shown,
            )
        )
    height = len(bars) * ROW
    keys = ""
    if legend:
        height += ROW
        keys = format_html_join(
            "",
            '<rect class="chart-bar chart-{}" x="{}" y="{}" width="10" height="10"></rect>'
            '<text class="chart-legend" x="{}" y="{}">{}</text>',
            (
                (
                    tone,
                    LABEL_WIDTH + index * 100,
                    height - ROW + 6,
                    LABEL_WIDTH + index * 100 + 14,
                    height - ROW + 15,
                    label,
                )
                for index, (tone, label) in enumerate(legend)
            ),
        )
    return format_html(
        '<svg class="dashboard-chart" viewBox="0 0 {} {}" role="img" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}</svg>',
        WIDTH,
        height,
        title,
        format_html_join("", "{}", ((row,) for row in rows)),
        keys,
    )
