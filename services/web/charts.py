"""Chart options for ECharts, computed here and handed to `static/js/charts.js` as JSON.

A page puts each chart's `Chart.data()` in a `<script type="application/json">` block (data, not
code: the Content-Security-Policy allows it) beside a `<div data-chart>`; the script draws it with
the SVG renderer, so that it prints sharp, and formats numbers in the page's language. The colours
are the Okabe-Ito palette, told apart with every common colour-vision deficiency; the numbers are
always in a table under the chart as well (the accessible and printable form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Okabe & Ito (2008), without yellow (too pale on white); blue first.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
FONT = "Noto Sans, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
Number = int | float | None
Format = Literal["number", "percent"]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number]
    kind: Literal["bar", "line"] = "bar"


@dataclass(frozen=True)
class Chart:
    """One chart: `categories` along one axis, one or more `series` of numbers (None: no value)."""

    title: str
    categories: Sequence[str]
    series: Sequence[Series]
    horizontal: bool = False  # rankings: categories down the side, the first at the top
    value_format: Format = "number"
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        category_axis: dict[str, Any] = {
            "type": "category",
            "data": list(self.categories),
            "axisTick": {"alignWithLabel": True},
            "axisLabel": {"interval": 0, "hideOverlap": True},
        }
        value_axis: dict[str, Any] = {"type": "value", "splitLine": {"lineStyle": {"color": "#d9dee5"}}}
        if self.value_format == "percent":
            value_axis.update(min=0, max=1)
        if self.horizontal:
            category_axis.update(inverse=True)
            category_axis["axisLabel"] = {"width": 220, "overflow": "truncate"}
        series = []
        for n, item in enumerate(self.series):
            entry: dict[str, Any] = {
                "name": item.name,
                "type": item.kind,
                "data": list(item.values),
                "itemStyle": {"color": PALETTE[n % len(PALETTE)]},
                "barMaxWidth": 48,
            }
            if item.kind == "line":
                entry.update(symbol=("circle", "rect", "triangle", "diamond")[n % 4], symbolSize=8, connectNulls=False)
                entry["lineStyle"] = {"width": 3, "type": ("solid", "dashed", "dotted")[n % 3]}
            series.append(entry)
        return {
            "animation": False,  # drawn at once: for print, and for people who prefer no motion
            "aria": {"enabled": True},
            "textStyle": {"fontFamily": FONT, "fontSize": 13},
            "color": list(PALETTE),
            "grid": {
                "left": 16,
                "right": 24,
                "top": 40 if len(self.series) > 1 else 16,
                "bottom": 8,
                "containLabel": True,
            },
            "legend": {"show": len(self.series) > 1, "top": 0},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "xAxis": value_axis if self.horizontal else category_axis,
            "yAxis": category_axis if self.horizontal else value_axis,
            "series": series,
            **self.extra,
        }

    def data(self) -> dict[str, Any]:
        """What the page's JSON block holds for `charts.js`."""
        return {"title": self.title, "format": self.value_format, "options": self.options()}
