"""Bar charts drawn on the server as inline SVG.

No chart library and no script: the view computes the geometry here and the template
`includes/bar_chart.html` draws it. Every bar carries a <title> (a tooltip and what a screen
reader announces), and pages show the same numbers in a table next to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leasing.money import format_cents

# The drawing area, in SVG user units. The SVG scales to its container's width, so a
# chart is drawn at about the width it is shown at (text stays ~11px): pass `width`.
WIDTH = 720
HEIGHT = 220
LEFT = 56  # room for the value axis labels
RIGHT = 8
TOP = 12
BOTTOM = 28  # room for the group labels
TARGET_TICKS = 4


@dataclass(frozen=True)
class Series:
    key: str  # css class suffix: bar-<key>
    label: str


@dataclass(frozen=True)
class Group:
    label: str
    values: Sequence[int]  # one per series
    # Highlight the group (for example, a shortfall or a renewal the wallet can't cover).
    flagged: bool = False
    title: str = ""


def coordinate(value: float) -> str:
    """A coordinate written out once, as the template printed the rounded float: a
    template printing a number localizes it (~7 µs), and a chart draws hundreds."""
    return str(round(value, 2))


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    css: str
    title: str
    drawn: bool


@dataclass(frozen=True)
class Tick:
    y: str
    label: str


@dataclass(frozen=True)
class Label:
    x: str
    y: str
    text: str
    flagged: bool


@dataclass(frozen=True)
class BarChart:
    title: str
    description: str
    series: Sequence[Series]
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def any_flagged(self) -> bool:
        return any(label.flagged for label in self.labels) or any(
            "is-flagged" in bar.css for bar in self.bars
        )

    @property
    def empty(self) -> bool:
        return not any(bar.drawn for bar in self.bars)


def nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (whole units)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def axis_scale(largest: int, *, money: bool) -> tuple[int, int]:
    """(step, top) for a value axis with round gridlines: about four steps up to `largest`.

    Money is in cents; its steps are whole dollars.
    """
    unit = 100 if money else 1
    step = nice_step(max(largest, 1) / unit / TARGET_TICKS) * unit
    top = max(step, math.ceil(largest / step) * step)
    return step, top


def money_label(cents: int) -> str:
    dollars = cents / 100
    if dollars >= 1_000_000:
        return f"${dollars / 1_000_000:.1f}M".replace(".0M", "M")
    if dollars >= 1_000:
        return f"${dollars / 1_000:.1f}k".replace(".0k", "k")
    return f"${dollars:,.0f}"


def count_label(n: int) -> str:
    return f"{n / 1000:.1f}k".replace(".0k", "k") if n >= 1000 else str(n)


def bar_chart(
    *,
    title: str,
    description: str,
    series: Sequence[Series],
    groups: Sequence[Group],
    money: bool = False,
    label_every: int = 1,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> BarChart:
    """Vertical bars, one cluster per group, one bar per series in each cluster."""
    axis: Callable[[int], str] = money_label if money else count_label
    exact: Callable[[int], str] = format_cents if money else (lambda n: f"{n:,}")
    step, top = axis_scale(max((v for g in groups for v in g.values), default=0), money=money)
    plot_h = height - TOP - BOTTOM
    plot_w = width - LEFT - RIGHT
    slot = plot_w / max(1, len(groups))
    gap = slot * 0.22
    bar_w = (slot - gap) / max(1, len(series))
    bars: list[Bar] = []
    labels: list[Label] = []
    for i, group in enumerate(groups):
        x0 = LEFT + i * slot + gap / 2
        for j, (serie, value) in enumerate(zip(series, group.values, strict=True)):
            bar_h = plot_h * value / top
            css = f"bar-{serie.key}" + (" is-flagged" if group.flagged else "")
            what = group.title or group.label
            bars.append(
                Bar(
                    x=coordinate(x0 + j * bar_w),
                    y=coordinate(height - BOTTOM - bar_h),
                    width=coordinate(max(1.0, bar_w - 2)),
                    height=coordinate(bar_h),
                    drawn=round(bar_h, 2) > 0,
                    css=css,
                    title=f"{what}: {serie.label.lower()} {exact(value)}",
                )
            )
        if i % label_every == 0:
            labels.append(
                Label(
                    x=coordinate(LEFT + i * slot + slot / 2),
                    y=str(height - BOTTOM + 17),
                    text=group.label,
                    flagged=group.flagged,
                )
            )
    ticks = [
        Tick(y=coordinate(height - BOTTOM - plot_h * value / top), label=axis(value))
        for value in range(0, top + 1, step)
    ]
    return BarChart(
        title=title,
        description=description,
        series=series,
        bars=bars,
        ticks=ticks,
        labels=labels,
        width=width,
        height=height,
        right_edge=width - RIGHT,
    )
