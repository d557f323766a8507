"""Geometry of the month report's inline SVG bar charts (pure): the page draws them without any script,
so the report opens offline and prints as it shows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

LABEL_WIDTH = 150
BAR_AREA = 360
ROW_HEIGHT = 20


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, the value's text, and where it is drawn."""

    label: str
    text: str
    y: int
    width: int
    series: int  # which series (colour) the bar belongs to


@dataclass(frozen=True)
class Chart:
    """A chart's title, legend and bars, and the SVG's size."""

    title: str
    legend: tuple[str, ...]
    bars: tuple[Bar, ...]
    height: int
    width: int = LABEL_WIDTH + BAR_AREA + 120


@dataclass(frozen=True)
class Row:
    """A labelled group of values, one per series (None: not applicable, drawn as no bar)."""

    label: str
    values: tuple[Decimal | int | None, ...]
    texts: tuple[str, ...]


def bar_chart(title: str, legend: tuple[str, ...], rows: list[Row]) -> Chart:
    """Bars scaled to the largest value of the chart (each chart one unit), rows stacked top to bottom."""
    largest = max((Decimal(v) for r in rows for v in r.values if v is not None), default=Decimal(0))
    bars: list[Bar] = []
    y = 0
    for row in rows:
        for series, (value, text) in enumerate(zip(row.values, row.texts, strict=True)):
            share = Decimal(0) if value is None or largest <= 0 else max(Decimal(value), Decimal(0)) / largest
            width = int((share * BAR_AREA).to_integral_value(rounding=ROUND_HALF_UP))
            bars.append(Bar(row.label if series == 0 else "", text, y, width, series))
            y += ROW_HEIGHT
        y += ROW_HEIGHT // 2
    return Chart(title, legend, tuple(bars), max(y, ROW_HEIGHT))
