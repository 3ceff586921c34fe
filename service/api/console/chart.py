"""Bar charts as plain numbers for an SVG template (pure): where each bar and tick goes.

Server-rendered SVG: no script, no library, nothing from another origin (the console's CSP
is `default-src 'self'`), and readable without JavaScript. Each chart also has its figures
in a table on the page, for screen readers and for copying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 64, 28, 12  # room for the value axis, the labels, the top tick


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the value axis
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    label_every: int = 1  # with many bars, only every n-th label is written


def bar_chart(title: str, points: Sequence[tuple[str, int]]) -> Chart:
    top = _nice(max((v for _, v in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top if top else 0.0
        bars.append(
            Bar(label, value, LEFT + i * slot + slot * 0.15, TOP + plot_h - h, slot * 0.7, h)
        )
    ticks = [(TOP + plot_h * (1 - k / 4), _short(top * k / 4)) for k in range(5)]
    return Chart(title, bars, ticks, label_every=max(1, math.ceil(len(points) / 16)))


def _nice(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at least `value` (0 stays 0): round axis ticks; up to 8,
    4 or 8, so that small counts get whole ticks."""
    if value <= 0:
        return 0
    if value <= 8:
        return 4 if value <= 4 else 8
    power = 10 ** math.floor(math.log10(value))
    return next(int(step * power) for step in (1, 2, 5, 10) if step * power >= value)


def _short(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
