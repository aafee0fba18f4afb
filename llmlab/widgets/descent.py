"""Lesson 03's gradient-descent playground: descent on a 2-D surface, step by step.

The engine of lesson 03 (:class:`llmlab.autograd.Value`) computes every gradient, so the path
drawn is exactly what the lesson's own backpropagation gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from llmlab import checks
from llmlab.autograd import Value
from llmlab.widgets.base import ON_RELEASE, LessonWidget, column, on_change, picture, redraw


@dataclass(frozen=True)
class Surface:
    """A 2-D loss for the gradient-descent playground.

    ``loss`` uses plain arithmetic only, so one formula runs on the engine's ``Value`` (which
    gives the gradient) and on NumPy grids (which give the contour picture).
    """

    formula: str
    loss: Callable[[Any, Any], Any]
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


SURFACES: dict[str, Surface] = {
    # Curvature 1 along x, 10 along y: steps above lr = 2/10 overshoot more each time (diverge),
    # between 1/10 and 2/10 they overshoot less each time (zig-zag), below 1/10 they do not.
    "ravine": Surface(
        "x²/2 + 5y²",
        lambda x, y: 0.5 * x**2 + 5 * y**2,
        (-4.0, 1.5),
        (0.0, 0.0),
        (-5.0, 5.0),
        (-2.5, 2.5),
    ),
    # Rosenbrock's curved valley: steep walls, a nearly flat floor. Plain descent crawls along it.
    "banana": Surface(
        "(1-x)² + 10(y-x²)²",
        lambda x, y: (1 - x) ** 2 + 10 * (y - x**2) ** 2,
        (-1.5, 2.0),
        (1.0, 1.0),
        (-2.0, 2.0),
        (-1.0, 3.0),
    ),
}


@dataclass(frozen=True)
class DescentPath:
    points: list[tuple[float, float]]  # where each step landed, the start first
    losses: list[float]  # the loss at each point
    diverged: bool  # stopped early: the loss blew up


def descent_path(surface: Surface, lr: float, steps: int, momentum: float = 0.0) -> DescentPath:
    """Run gradient descent on ``surface`` from its start, with the engine computing gradients.

    Momentum follows ``torch.optim.SGD``: ``velocity = momentum * velocity + grad`` and then
    ``point -= lr * velocity``, so steps keep some of their previous direction. The run stops early
    (``diverged``) once the loss exceeds a million times its start: it would only overflow later.
    """
    if not checks.is_number(lr) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not checks.is_int(steps) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if not checks.is_number(momentum) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    points, losses, velocity = [surface.start], [], (0.0, 0.0)
    while True:
        x, y = Value(points[-1][0]), Value(points[-1][1])
        loss = surface.loss(x, y)
        losses.append(loss.data)
        if not loss.data <= 1e6 * (losses[0] + 1):  # also catches inf and nan
            return DescentPath(points, losses, diverged=True)
        if len(points) > steps:
            return DescentPath(points, losses, diverged=False)
        loss.backward()
        velocity = (momentum * velocity[0] + x.grad, momentum * velocity[1] + y.grad)
        points.append((x.data - lr * velocity[0], y.data - lr * velocity[1]))


def descent_verdict(path: DescentPath, minimum_loss: float = 0.0) -> str:
    """A few words for what a run did, judged on two measured things: whether the loss closed
    99% of its gap to the minimum, and whether some coordinate reversed direction on most steps
    (each step overshooting the valley floor).

    'diverges' (the loss grew); 'converges' or 'crawls' (gap closed or not), with ', zig-zagging'
    added to 'converges' when the path overshot on most steps; 'oscillates' when it overshot on
    most steps and did not close the gap. A zig-zag is about the path's shape, not its speed: on
    the ravine the fastest rate that still converges zig-zags.
    """
    if path.diverged or path.losses[-1] > path.losses[0]:
        return "diverges"
    moves = [(b[0] - a[0], b[1] - a[1]) for a, b in pairwise(path.points)]
    zig_zags = len(moves) > 1 and any(
        sum(m[axis] * n[axis] < 0 for m, n in pairwise(moves)) > (len(moves) - 1) / 2
        for axis in (0, 1)
    )
    closed = path.losses[-1] - minimum_loss <= 0.01 * (path.losses[0] - minimum_loss)
    if zig_zags:
        return "converges, zig-zagging" if closed else "oscillates"
    return "converges" if closed else "crawls"


class DescentPlayground(LessonWidget):
    """Lesson 03's widget: gradient descent on a 2-D surface under your learning rate and momentum.

    A change of surface, learning rate or momentum reruns :func:`descent_path` for the most steps
    the slider allows (a few milliseconds); the steps slider only shows a prefix of that run. One
    figure is drawn per surface and its path lines are updated for each picture.
    """

    MAX_STEPS = 200

    def __init__(
        self, surface: str = "ravine", lr: float = 0.05, momentum: float = 0.0, steps: int = 50
    ) -> None:
        import ipywidgets as w

        checks.one_of(surface, "surface", sorted(SURFACES))
        # The sliders would silently clamp a value outside their range: refuse it instead.
        for name, value, low, high in (
            ("lr", lr, 0.001, 1.0),
            ("momentum", momentum, 0.0, 0.95),
            ("steps", steps, 1, self.MAX_STEPS),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(
                    f"{name} must be in [{low}, {high}] (the slider's range), got {value}"
                )
        slider = {**ON_RELEASE, "style": {"description_width": "initial"}}
        self.surface = w.Dropdown(options=list(SURFACES), value=surface, description="surface")
        self.lr = w.FloatLogSlider(
            value=lr, base=10, min=-3, max=0, step=0.05, description="learning rate", **slider
        )
        self.momentum = w.FloatSlider(
            value=momentum, min=0.0, max=0.95, step=0.05, description="momentum", **slider
        )
        self.steps = w.IntSlider(
            value=steps, min=1, max=self.MAX_STEPS, description="steps", **slider
        )
        self.caption = w.HTML()
        self.image = picture()
        on_change(self._on_surface, self.surface)
        on_change(self._on_setting, self.lr, self.momentum)
        on_change(self.render, self.steps)
        self.widget = column(
            [
                w.HBox([self.surface, self.lr]),
                w.HBox([self.momentum, self.steps]),
                self.caption,
                self.image,
            ]
        )
        self._on_surface()

    def _on_surface(self) -> None:
        self._draw_surface()
        self._on_setting()

    def _on_setting(self) -> None:
        surface = SURFACES[self.surface.value]
        self.path = descent_path(surface, self.lr.value, self.MAX_STEPS, self.momentum.value)
        self.render()

    def shown(self) -> DescentPath:
        """The part of the run the steps slider selects."""
        n = self.steps.value + 1
        return DescentPath(
            self.path.points[:n],
            self.path.losses[:n],
            self.path.diverged and len(self.path.points) <= n,
        )

    def verdict(self) -> str:
        surface = SURFACES[self.surface.value]
        return descent_verdict(self.shown(), surface.loss(*surface.minimum))

    def _draw_surface(self) -> None:
        """The figure of one surface: contours on the left, loss per step on the right."""
        import numpy as np
        from matplotlib.figure import Figure

        surface = SURFACES[self.surface.value]
        self.figure = Figure(figsize=(9, 3.6), layout="constrained")
        self.ax_map, self.ax_loss = self.figure.subplots(1, 2)
        x, y = np.meshgrid(np.linspace(*surface.xlim, 200), np.linspace(*surface.ylim, 200))
        z = surface.loss(x, y)
        self.ax_map.contour(
            x, y, z, levels=np.geomspace(0.01, z.max(), 14), cmap="viridis", linewidths=0.8
        )
        self.ax_map.plot(*surface.minimum, "*", color="gold", markersize=14, markeredgecolor="k")
        (self.path_line,) = self.ax_map.plot([], [], "o-", color="tab:red", markersize=3, lw=1)
        self.ax_map.set(
            xlim=surface.xlim,
            ylim=surface.ylim,
            xlabel="x",
            ylabel="y",
            title=f"loss = {surface.formula}",
        )
        (self.loss_line,) = self.ax_loss.semilogy([], [], color="tab:red")
        self.ax_loss.set(xlabel="step", ylabel="loss − minimum", title="loss per step")

    def render(self) -> None:
        surface = SURFACES[self.surface.value]
        path, lowest = self.shown(), surface.loss(*surface.minimum)
        self.path_line.set_data(*zip(*path.points, strict=True))
        gaps = [max(loss - lowest, 1e-16) for loss in path.losses]
        self.loss_line.set_data(range(len(gaps)), gaps)
        self.ax_loss.set_xlim(0, max(self.steps.value, 1))
        self.ax_loss.set_ylim(min(gaps) / 3, max(gaps) * 3)
        verdict, n = self.verdict(), len(path.points) - 1
        self.caption.value = (
            f"<b>{verdict}</b>: loss {path.losses[0]:.3g} → {path.losses[-1]:.3g} after "
            f"{n} step{'' if n == 1 else 's'} (learning rate {self.lr.value:.3g}, "
            f"momentum {self.momentum.value:.2f})"
        )
        redraw(self.image, self.figure)
