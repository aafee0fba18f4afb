"""Matplotlib figures for the lessons. Each function returns its ``Figure`` so a widget can redraw
it and a test can inspect it; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmlab import checks

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def bar_chart(
    values: Mapping[str, float],
    title: str = "",
    ylabel: str = "",
    highlight: set[str] | None = None,
    fmt: str = "{:,.0f}",
) -> Figure:
    """A labelled bar per key; keys in ``highlight`` are drawn in a second colour. ``fmt``
    formats the numbers written on the bars."""
    from matplotlib.figure import Figure

    if not values:
        raise ValueError("values must hold at least one bar, got an empty mapping")
    figure = Figure(figsize=(7, 3), layout="constrained")
    axes = figure.subplots()
    names = list(values)
    colours = ["tab:orange" if highlight and n in highlight else "tab:blue" for n in names]
    bars = axes.bar(names, [values[n] for n in names], color=colours)
    axes.bar_label(bars, fmt=fmt, fontsize=8)
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


def decision_boundary(
    score: Callable[[float, float], float],
    points: Sequence[tuple[float, float]],
    labels: Sequence[int],
    resolution: int = 30,
    title: str = "",
) -> Figure:
    """A 2-D classifier's two regions (``score > 0`` is class 1) under its training points.

    ``score`` is evaluated on a ``resolution x resolution`` grid over the points' range: the
    boundary between the two colours is where the classifier changes its mind, so a straight
    boundary means a linear model and a curved one means a hidden layer bent the space.
    """
    import numpy as np
    from matplotlib.figure import Figure

    if not points or len(points) != len(labels):
        raise ValueError(
            f"points and labels must be non-empty and equally long, got {len(points)} and "
            f"{len(labels)}"
        )
    checks.integer(resolution, "resolution", 2, 500)
    xy = np.asarray(points, dtype=float)
    (x0, y0), (x1, y1) = xy.min(axis=0) - 0.3, xy.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.array(
        [[score(a, b) for a, b in zip(ra, rb, strict=True)] for ra, rb in zip(gx, gy, strict=True)]
    )
    figure = Figure(figsize=(4, 3.6), layout="constrained")
    axes = figure.subplots()
    axes.contourf(
        gx, gy, grid > 0, levels=[-0.5, 0.5, 1.5], colors=["tab:blue", "tab:orange"], alpha=0.25
    )
    axes.contour(gx, gy, grid, levels=[0], colors="k", linewidths=1)
    labels = np.asarray(labels)
    for label, colour in ((0, "tab:blue"), (1, "tab:orange")):
        axes.scatter(
            *xy[labels == label].T, color=colour, edgecolor="k", s=25, label=f"class {label}"
        )
    axes.set(title=title, aspect="equal")
    axes.legend(fontsize=8, loc="upper right")
    return figure


def gpt_diagram(n_layer: int, n_embd: int, n_head: int) -> Figure:
    """A GPT drawn as boxes: the whole model (left) and one block (right), bottom to top.

    The block's two skip connections are drawn as lines that go *around* attention and the MLP
    into a ``+``: the residual stream runs straight up the right panel, and each layer only adds
    to it.
    """
    from matplotlib.figure import Figure

    for name, value in (("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head)):
        if not checks.is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    figure = Figure(figsize=(8, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    for axes in (left, right):
        axes.set(xlim=(0, 10), ylim=(0, 10))
        axes.axis("off")

    def box(axes: Any, y: float, text: str, colour: str, x: float = 5, width: float = 6) -> None:
        axes.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "0.3"},
        )

    def arrow(axes: Any, y0: float, y1: float, x: float = 5) -> None:
        axes.annotate("", (x, y1), (x, y0), arrowprops={"arrowstyle": "->", "color": "0.3"})

    model = [
        (0.6, "token ids [B, T]", "white"),
        (2.0, "token table + position table", "tab:olive"),
        (4.3, f"block x {n_layer}", "tab:cyan"),
        (6.6, "final layer norm", "0.85"),
        (8.0, "token table again (tied): logits", "tab:olive"),
        (9.4, "next-token scores [B, T, V]", "white"),
    ]
    for (y, text, colour), (y_next, _, _) in zip(model, [*model[1:], (None, "", "")], strict=True):
        box(left, y, text, colour)
        if y_next is not None:
            arrow(left, y + 0.35, y_next - 0.35)
    left.set_title(f"GPT: a {n_embd}-wide residual stream", fontsize=10)
    block = [
        (0.6, "x (the residual stream)", "white", 5),
        (2.0, "layer norm", "0.85", 3.2),
        (3.4, f"attention, {n_head} heads", "tab:orange", 3.2),
        (4.8, "+", "white", 5),
        (6.0, "layer norm", "0.85", 3.2),
        (7.4, f"MLP {n_embd} -> {4 * n_embd} -> {n_embd}", "tab:green", 3.2),
        (8.8, "+", "white", 5),
    ]
    for y, text, colour, x in block:
        box(right, y, text, colour, x)
    for y0, y1, x in [(0.95, 1.65, 3.2), (2.35, 3.05, 3.2), (5.15, 5.65, 3.2), (6.35, 7.05, 3.2)]:
        arrow(right, y0, y1, x)
    right.annotate("", (4.6, 4.8), (3.2, 3.75), arrowprops={"arrowstyle": "->", "color": "0.3"})
    right.annotate("", (4.6, 8.8), (3.2, 7.75), arrowprops={"arrowstyle": "->", "color": "0.3"})
    for y0, y1 in [(0.95, 4.45), (5.15, 8.45)]:  # the skips: straight up the stream
        right.annotate(
            "",
            (5, y1),
            (5, y0),
            arrowprops={"arrowstyle": "->", "color": "tab:red", "linewidth": 2},
        )
    right.plot([5, 3.2], [1.3, 1.3], color="0.3", linewidth=1)  # the stream feeds the norm
    right.plot([5, 3.2], [5.4, 5.4], color="0.3", linewidth=1)
    right.text(5.3, 2.7, "skip", color="tab:red", fontsize=9)
    right.text(5.3, 6.8, "skip", color="tab:red", fontsize=9)
    arrow(right, 9.15, 9.9, 5)
    right.set_title("one block (pre-norm)", fontsize=10)
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


# Lessons 04 and 05: training curves and scaling laws.


def loss_curve(
    runs: Mapping[str, Sequence[Mapping[str, float]]],
    x: str = "step",
    title: str = "",
    log: bool = False,
) -> Figure:
    """Training loss (a line) and held-out loss (dots) of each run, from ``train``'s history.

    ``runs`` maps a name to a run's records (``TrainResult.history``, or what a callback saw);
    ``x`` picks the horizontal axis: any key the records share, e.g. ``"step"``, ``"tokens"``
    or ``"time"``. ``log=True`` draws both axes logarithmic.
    """
    from matplotlib.figure import Figure

    if not runs:
        raise ValueError("runs must hold at least one run, got an empty mapping")
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    for (name, records), colour in zip(runs.items(), _colours(), strict=False):
        missing = [r for r in records if x not in r or "loss" not in r]
        if missing:
            raise ValueError(f"run {name!r} has records without {x!r} or 'loss': {missing[0]}")
        xs, losses = [r[x] for r in records], [r["loss"] for r in records]
        axes.plot(xs, losses, color=colour, alpha=0.6, label=f"{name} (training)")
        held_out = [r for r in records if "val_loss" in r]
        if held_out:
            xs, losses = [r[x] for r in held_out], [r["val_loss"] for r in held_out]
            axes.plot(xs, losses, "o", color=colour, label=f"{name} (held-out)")
    if log:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set(title=title, xlabel=x, ylabel="loss (nats per token)")
    axes.legend(fontsize=8)
    return figure


def _colours() -> list[str]:
    import matplotlib

    return matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]


class LiveLossCurve:
    """A ``callback`` for :func:`llmlab.train.train` that redraws the loss curve as training runs.

    Every ``every``-th record (and every record with a held-out loss) replaces the figure shown
    under the running cell, so the curve grows in place instead of printing a new one each time.
    The records stay in ``history``. Outside a notebook it only collects them.
    """

    def __init__(self, every: int = 5, title: str = "") -> None:
        checks.integer(every, "every", 1)
        self.every, self.title = every, title
        self.history: list[dict[str, float]] = []
        self._display = None

    def __call__(self, record: Mapping[str, float]) -> None:
        self.history.append(dict(record))
        if len(self.history) % self.every == 0 or "val_loss" in record:
            self.show()

    def figure(self) -> Figure:
        return loss_curve({"run": self.history}, title=self.title)

    def show(self) -> None:
        """Draw the curve so far in the cell's output (once shown, updated in place)."""
        import sys

        shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
        if not self.history or shell is None:  # not in a notebook (or IPython): nothing to draw
            return
        from IPython.display import display

        if self._display is None:
            self._display = display(self.figure(), display_id=True)
        else:
            self._display.update(self.figure())


def scaling_plot(
    points: Mapping[str, tuple[float, float]],
    fit: Callable[[float], float] | None = None,
    predict_at: float | None = None,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "held-out loss (nats per token)",
) -> Figure:
    """Named points ``(x, y)`` on log-log axes, with a fitted law drawn through them.

    ``fit`` (e.g. a :class:`llmlab.scaling.PowerLaw`) is drawn as a dashed line, extended to
    ``predict_at`` where its prediction is marked with a star. ``curves`` adds thin lines, e.g.
    each model's loss along its training, against the same x (coloured as the points, in order).
    """
    import numpy as np
    from matplotlib.figure import Figure

    if not points:
        raise ValueError("points must hold at least one point, got an empty mapping")
    if any(x <= 0 or y <= 0 for x, y in points.values()):
        raise ValueError("points must be positive (they are drawn on log-log axes)")
    figure = Figure(figsize=(6.5, 3.6), layout="constrained")
    axes = figure.subplots()
    colours = _colours()
    for (xs, ys), colour in zip((curves or {}).values(), colours, strict=False):
        axes.plot(xs, ys, color=colour, alpha=0.4, linewidth=1)
    for (name, (x, y)), colour in zip(points.items(), colours, strict=False):
        axes.plot([x], [y], "o", color=colour, label=name)
    if fit is not None:
        xs = [x for x, _ in points.values()] + ([predict_at] if predict_at else [])
        grid = np.geomspace(min(xs), max(xs), 50)
        axes.plot(grid, [fit(g) for g in grid], "k--", linewidth=1, label=f"fit: {fit}")
        if predict_at:
            y = fit(predict_at)
            axes.plot([predict_at], [y], "k*", markersize=12, label=f"prediction: {y:.3f}")
    axes.set_xscale("log")
    axes.set_yscale("log")
    _plain_log_ticks(axes)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.legend(fontsize=8)
    return figure


def _plain_log_ticks(axes: Any) -> None:
    """Log axes labelled in plain numbers: ``10k``, ``1M``, ``100G`` along x, and the loss
    values themselves (``2``, ``3``) along y, instead of powers such as ``2 x 10^0``."""
    from matplotlib.ticker import EngFormatter, FuncFormatter, NullFormatter

    axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    axes.xaxis.set_minor_formatter(NullFormatter())
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes.yaxis.set_major_formatter(plain)
    axes.yaxis.set_minor_formatter(plain)
