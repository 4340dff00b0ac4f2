"""Charts as server-rendered SVG: no script, no network, readable without colour (each bar
carries its value as a tooltip and the table beside the chart has the numbers)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def _number(value) -> str:
    if isinstance(value, Decimal):
        value = value.normalize()
        return f"{value:,f}" if value == value.to_integral() else f"{value:,.2f}"
    return f"{value:,}"


def amount(value) -> str:
    """Credits for a person: thousands separated, two decimals (the ledger has nine)."""
    return f"{Decimal(value):,.2f}"


def bar_chart(points, *, label: str, width: int = 560, height: int = 140, css_class: str = "") -> SafeString:
    """``points``: ``[(day label, value), ...]`` as vertical bars, the last one highlighted."""
    count = max(len(points), 1)
    top = max((float(v) for _, v in points), default=0.0) or 1.0
    gap, base, axis = 2, height - 16, 14
    bar = max((width - gap * count) / count, 1)
    bars = []
    for i, (day, value) in enumerate(points):
        h = 0 if not value else max(1.0, float(value) / top * (base - axis))
        x = i * (bar + gap)
        last = " today" if i == len(points) - 1 else ""
        bars.append((f"bar{last}", f"{x:.1f}", f"{base - h:.1f}", f"{bar:.1f}", f"{h:.1f}", f"{day}: {_number(value)}"))
    rects = format_html_join(
        "", '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', bars
    )
    first, final = (points[0][0], points[-1][0]) if points else ("", "")
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}">'
        '<text class="axis" x="0" y="10">max {}</text>{}'
        '<line class="base" x1="0" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="0" y="{}">{}</text><text class="axis" x="{}" y="{}" text-anchor="end">{}</text></svg>',
        css_class, width, height, label, _number(max((v for _, v in points), default=0)), rects,
        width, base, base, height - 2, first, width, height - 2, final,
    )
