"""Matplotlib figures for the lessons. Each function returns its ``Figure`` so a widget can redraw
it and a test can inspect it; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def bar_chart(
    values: Mapping[str, float],
    title: str = "",
    ylabel: str = "",
    highlight: set[str] | None = None,
) -> Figure:
    """A labelled bar per key; keys in ``highlight`` are drawn in a second colour."""
    from matplotlib.figure import Figure

    if not values:
        raise ValueError("values must hold at least one bar, got an empty mapping")
    figure = Figure(figsize=(7, 3), layout="constrained")
    axes = figure.subplots()
    names = list(values)
    colours = ["tab:orange" if highlight and n in highlight else "tab:blue" for n in names]
    bars = axes.bar(names, [values[n] for n in names], color=colours)
    axes.bar_label(bars, fmt="{:,.0f}", fontsize=8)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(axis="x", visible=False)
    return figure
