"""Matplotlib figures for the lessons. Each function returns its ``Figure`` so a widget can redraw
it and a test can inspect it; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_x: bool = False,
) -> Figure:
    """One line with markers per named series over the same ``x``, e.g. bytes per token against
    vocabulary size for two tokenizers. ``log_x`` spaces x by powers of two, one tick per x."""
    from matplotlib.figure import Figure

    if not series:
        raise ValueError("series must hold at least one line, got an empty mapping")
    for name, ys in series.items():
        if len(ys) != len(x):
            raise ValueError(f"series {name!r} has {len(ys)} values for {len(x)} x values")
    figure = Figure(figsize=(6, 3.2), layout="constrained")
    axes = figure.subplots()
    for name, ys in series.items():
        axes.plot(x, ys, "o-", label=name)
    if log_x:
        axes.set_xscale("log", base=2)
        axes.minorticks_off()
        axes.set_xticks(list(x), [f"{v:,}" for v in x])
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.legend()
    return figure


def png_bytes(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes: what an ``ipywidgets.Image`` shows. Widgets redraw one figure and
    send its picture, instead of creating a new figure (and leaking memory) on every change."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def heatmap(
    matrix: Any,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    title: str = "",
    annotate: bool | None = None,
    xlabel: str = "",
    ylabel: str = "",
) -> Figure:
    """A matrix as coloured cells (attention weights, encodings), labelled by ``rows``/``columns``.

    Small matrices (up to 12 x 12, or with ``annotate=True``) also print each value in its cell.
    """
    import numpy as np
    from matplotlib.figure import Figure

    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"matrix must be 2-D and non-empty, got shape {values.shape}")
    n_rows, n_cols = values.shape
    for name, labels, n in (("rows", rows, n_rows), ("columns", columns, n_cols)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} must have {n} labels to match the matrix, got {len(labels)}")
    if annotate is None:
        annotate = max(n_rows, n_cols) <= 12
    figure = Figure(
        figsize=(min(1 + 0.5 * n_cols, 9), min(0.8 + 0.4 * n_rows, 6)), layout="constrained"
    )
    axes = figure.subplots()
    image = axes.imshow(values, cmap="Blues", aspect="auto")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.grid(False)
    if rows is not None:
        axes.set_yticks(range(n_rows), rows, family="monospace")
    if columns is not None:
        axes.set_xticks(range(n_cols), columns, family="monospace")
    if annotate:
        middle = (values.max() + values.min()) / 2
        for (i, j), v in np.ndenumerate(values):
            colour = "white" if v > middle else "black"
            axes.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color=colour)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return figure
