"""Lesson 05's scaling ladder: pick a model size and a compute budget, see where the lesson's
fitted law puts them, and (for small budgets) train that model to check.

Three layers, as every widget: :func:`ladder_choice` is a pure function of the lesson's ladder
(its measured points), its fitted law ``loss = a * C**-alpha`` and the two controls;
:class:`ScalingLadder` owns the controls; one reused figure and a caption render it. Every
number comes from the objects the lesson hands over: its runs (with the seconds each took), its
law and its own training function, so "Train it" runs exactly the lesson's recipe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmlab.scaling import PowerLaw, fit_power_law, training_flops
from llmlab.widgets.base import (
    ON_RELEASE,
    TEXT_STYLE,
    LessonWidget,
    column,
    message_html,
    on_change,
    picture,
    redraw,
    slider_panel,
)

GIGA = 1e9  # the budget slider counts compute in GFLOP, units of 10^9 FLOPs


@dataclass(frozen=True)
class LadderPoint:
    """One measured rung: its size, its data, its held-out loss with that loss's SE, and the
    seconds its training took."""

    name: str
    params: int
    tokens: int
    loss: float
    se: float
    seconds: float

    @property
    def flops(self) -> float:
        return training_flops(self.params, self.tokens)


def ladder_points(runs: Mapping[str, Mapping[str, Any]]) -> list[LadderPoint]:
    """The lesson's runs (``{name: {"params", "tokens", "loss": Estimate, "seconds"}}``) as
    points."""
    if len(runs) < 2:
        raise ValueError(f"runs must hold at least 2 rungs (a law needs two), got {len(runs)}")
    points = []
    for name, r in runs.items():
        seconds = float(r["seconds"])
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"runs[{name!r}]['seconds'] must be a positive number, got {seconds}")
        loss = r["loss"]
        points.append(
            LadderPoint(name, int(r["params"]), int(r["tokens"]), loss.value, loss.se, seconds)
        )
    return points


def speed_law(points: Sequence[LadderPoint]) -> PowerLaw:
    """The training speed (useful FLOP/s, ``6ND`` over seconds) as a power law of model size,
    fitted through the ladder's runs.

    Why not one speed for every size: on a CPU a small model's products are too small to keep
    the arithmetic units busy, so it does several times fewer FLOP/s than a large one; the
    largest rung's speed would promise a small model's budget in a fraction of its real time.
    """
    return fit_power_law([p.params for p in points], [p.flops / p.seconds for p in points])


@dataclass(frozen=True)
class LadderChoice:
    """Where one (size, budget) falls on the law, and what it would cost on this CPU."""

    width: int
    params: int
    flops: float
    tokens: int  # the budget spent on this size: flops / (6 * params)
    predicted: float  # the law's loss at this compute (nats per character)
    speed: float  # FLOP/s for a model this size: the ladder's speeds, fitted (speed_law)
    seconds: float  # flops / speed: the training time the budget implies
    ladder_tokens: float  # the tokens the ladder's own path gives a model of this size
    reach: float  # flops / the ladder's largest compute (above 1: an extrapolation)
    below: float  # flops / the ladder's smallest compute (below 1: an extrapolation)


def ladder_choice(
    points: Sequence[LadderPoint],
    law: PowerLaw,
    width: int,
    params: int,
    flops: float,
) -> LadderChoice:
    """The law's prediction for a model of ``params`` parameters trained with ``flops`` FLOPs.

    The law is written in compute alone, so it predicts one loss for every way of splitting a
    budget between size and data. It was fitted on a ladder whose data grew with its size
    (``D = c * N**k``, fitted here from the points), so the choice also carries the tokens that
    path gives this size: far from it, the law is used where it was never measured. Its time
    comes from :func:`speed_law`, the speed the ladder's runs measured at each size.
    """
    if not params >= 1:
        raise ValueError(f"params must be at least 1, got {params!r}")
    if not (math.isfinite(flops) and flops > 0):
        raise ValueError(f"flops must be a positive number, got {flops!r}")
    path = fit_power_law([p.params for p in points], [p.tokens for p in points])
    compute = [p.flops for p in points]
    speed = speed_law(points)(params)
    return LadderChoice(
        width=width,
        params=params,
        flops=flops,
        tokens=round(flops / (6 * params)),
        predicted=law(flops),
        speed=speed,
        seconds=flops / speed,
        ladder_tokens=path(params),
        reach=flops / max(compute),
        below=flops / min(compute),
    )


def choice_sentence(choice: LadderChoice) -> str:
    """The choice in plain words: size, data, compute, time on this CPU, the predicted loss, and
    how far it lies from where the law was measured."""
    share = choice.tokens / choice.ladder_tokens
    if choice.reach > 1:
        where = f"{choice.reach:.1f} times the ladder's largest compute: an extrapolation"
    elif choice.below < 1:
        where = f"{1 / choice.below:.1f} times below the ladder's least compute: an extrapolation"
    else:
        where = "inside the compute the ladder spanned"
    return (
        f"A model of {choice.params:,} parameters (width {choice.width}) trained on "
        f"{choice.tokens:,} tokens: compute {choice.flops:.2g} FLOPs, about "
        f"{choice.seconds:.0f} s of training at {choice.speed / GIGA:.2g} GFLOP/s (the speed the "
        f"ladder's runs measured, fitted across their sizes: a small model does fewer FLOP/s). "
        f"The law predicts a held-out loss of "
        f"{choice.predicted:.3f} nats per character ({where}). The ladder's path gives a model "
        f"this size about {_three_digits(choice.ladder_tokens):,} tokens; this budget gives it "
        f"{share:.2g} times that."
    )


def _three_digits(x: float) -> int:
    """``x`` rounded to three significant digits (790,706 -> 791,000): a fitted path's
    estimate, not a count."""
    return int(round(x, 2 - math.floor(math.log10(abs(x))))) if x else 0


class ScalingLadder(LessonWidget):
    """Lesson 05's widget: a model width and a compute budget, placed on the ladder's fitted law.

    ``runs`` and ``law`` are the lesson's ladder (each run with the seconds it took) and its
    compute law; ``widths`` maps each width offered to its parameter count.
    With ``train`` (the lesson's ``run(width, steps)``, returning a run with ``"params"``,
    ``"tokens"`` and ``"loss"``), a "Train it" button trains the chosen model for the chosen
    budget, ``tokens_per_step`` tokens a step, and puts its measured loss beside the prediction,
    unless the budget would take more than ``max_seconds``: then it says so and trains nothing.
    """

    def __init__(
        self,
        runs: Mapping[str, Mapping[str, Any]],
        law: PowerLaw,
        widths: Mapping[int, int],
        train: Callable[[int, int], Mapping[str, Any]] | None = None,
        tokens_per_step: int = 1,
        max_seconds: float = 20.0,
        width: int | None = None,
        budget: float | None = None,
    ) -> None:
        import ipywidgets as w

        self.points = ladder_points(runs)
        self.law = law
        self.widths = dict(sorted(widths.items()))
        self.train_fn, self.tokens_per_step, self.max_seconds = train, tokens_per_step, max_seconds
        if not self.widths:
            raise ValueError("widths must offer at least one width")
        if not (isinstance(tokens_per_step, int) and tokens_per_step >= 1):
            raise ValueError(f"tokens_per_step must be an int >= 1, got {tokens_per_step!r}")
        compute = [p.flops / GIGA for p in self.points]
        # The budget slider spans the ladder's compute and a factor of two beyond either end.
        low, high = max(1, math.floor(min(compute) / 2)), math.ceil(2 * max(compute))
        if width is None:  # the middle width offered
            width = list(self.widths)[len(self.widths) // 2]
        if width not in self.widths:
            raise ValueError(f"width must be one of {sorted(self.widths)}, got {width!r}")
        budget = round(sorted(compute)[len(compute) // 2]) if budget is None else budget
        if not (isinstance(budget, (int, float)) and low <= budget <= high):
            raise ValueError(
                f"budget must be in [{low}, {high}] (GFLOP, 10^9 FLOPs: the ladder's compute and a "
                f"factor of two beyond), got {budget!r}"
            )
        self.width = w.SelectionSlider(
            options=[(f"{k}", k) for k in self.widths],
            value=width,
            description="model width",
            style={"description_width": "9em"},
            layout={"width": "calc(9em + 20em)"},
            **ON_RELEASE,
        )
        self.budget = w.FloatSlider(
            value=budget, min=low, max=high, step=1, description="compute (GFLOP)", **ON_RELEASE
        )
        panel, self.note = slider_panel([[(self.budget, "26em")]])
        self.caption = w.HTML()
        self.button = w.Button(description="Train it", icon="play", disabled=train is None)
        self.status = w.HTML()
        self.image = picture()
        self.trained: list[tuple[LadderChoice, Any]] = []
        on_change(self.render, self.width, self.budget)
        self.button.on_click(lambda _button: self.train())
        self.widget = column(
            [
                self.width,
                *panel,
                self.caption,
                w.HBox([self.button, self.status], layout={"align_items": "center"}),
                self.image,
            ]
        )
        self._drawing = threading.RLock()
        self._draw()
        self.render()

    def choice(self) -> LadderChoice:
        """The present choice of the two controls, on the law."""
        width = self.width.value
        return ladder_choice(
            self.points,
            self.law,
            width,
            self.widths[width],
            self.budget.value * GIGA,
        )

    def sentence(self) -> str:
        return choice_sentence(self.choice())

    def train(self) -> str:
        """Train the chosen size for the chosen budget with the lesson's function, if it is quick;
        returns the status line (also shown beside the button)."""
        choice = self.choice()
        steps = round(choice.tokens / self.tokens_per_step)
        if self.train_fn is None:
            message = "No training function was given to this widget."
        elif choice.seconds > self.max_seconds:
            message = (
                f"This budget would take about {choice.seconds:.0f} s to train here, more than "
                f"the {self.max_seconds:.0f} s this button allows: pick a smaller budget or width."
            )
        elif steps < 10:
            message = f"This budget buys only {steps} steps of training: pick a larger budget."
        else:
            self.status.value = f"<span style='{TEXT_STYLE}'>training {steps:,} steps…</span>"
            result = self.train_fn(choice.width, steps)
            loss = result["loss"]
            measured = training_flops(int(result["params"]), int(result["tokens"]))
            self.trained.append((choice, result))
            miss = choice.predicted - loss.value
            verdict = (
                "within 2 SE of the law"
                if abs(miss) <= 2 * loss.se
                else f"too {'optimistic' if miss < 0 else 'pessimistic'} by more than 2 SE"
            )
            text = (
                f"Trained: width {choice.width} for {steps:,} steps ({measured:.2g} FLOPs), "
                f"held-out loss {loss.value:.3f} ± {loss.se:.3f}; the law predicted "
                f"{choice.predicted:.3f}, a miss of {miss:+.3f} ({miss / loss.se:+.1f} SE): "
                f"{verdict}. (That SE counts the held-out windows only, not the training "
                "seed's luck, which section 5 measures.)"
            )
            self.status.value = f"<span style='{TEXT_STYLE}'>{text}</span>"
            self.render()
            return text
        self.status.value = message_html(message)
        return message

    def _draw(self) -> None:
        """The figure, once: the ladder's points with SE bars and the law; the choice moves."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import FormatStrFormatter

        self.figure = Figure(figsize=(7.5, 3.6), layout="constrained")
        ax = self.axes = self.figure.subplots()
        low, high = self.budget.min * GIGA, self.budget.max * GIGA
        xs = [low * (high / low) ** (i / 50) for i in range(51)]
        ax.plot(
            xs,
            [self.law(x) for x in xs],
            "--",
            color="grey",
            label=f"the law: loss = {self.law} (x: FLOPs)",
        )
        ax.errorbar(
            [p.flops for p in self.points],
            [p.loss for p in self.points],
            yerr=[p.se for p in self.points],
            fmt="o",
            color="black",
            capsize=3,
            label="the ladder (± SE)",
        )
        for p in self.points:
            ax.annotate(p.name, (p.flops, p.loss), textcoords="offset points", xytext=(5, 5))
        (self.star,) = ax.plot([], [], "*", color="tab:orange", markersize=16, label="your choice")
        self.marker = ax.axvline(low, color="tab:orange", lw=0.8, ls=":")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="training compute (FLOPs)",
            ylabel="held-out loss (nats per char)",
            title="Your choice on the ladder's law",
        )
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.1f"))  # not 2.5 as 2.5x10^0
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.1f"))
        ax.legend(loc="upper right", fontsize="small")

    def render(self) -> None:
        # One drawing of the one figure at a time: should a control's message ever be handled
        # while a drawing is in progress, two drawings would interleave and could send a blank
        # picture (the browser test once saw one when it moved controls without pausing).
        with self._drawing:
            self._render()

    def _render(self) -> None:
        choice = self.choice()
        self.caption.value = f"<span style='{TEXT_STYLE}'>{self.sentence()}</span>"
        self.star.set_data([choice.flops], [choice.predicted])
        self.marker.set_xdata([choice.flops, choice.flops])
        if self.trained and len(self.axes.containers) < len(self.trained) + 1:
            result = self.trained[-1][1]
            self.axes.errorbar(
                [training_flops(int(result["params"]), int(result["tokens"]))],
                [result["loss"].value],
                yerr=[result["loss"].se],
                fmt="s",
                color="tab:red",
                capsize=3,
                label="trained here (± SE)" if len(self.trained) == 1 else None,
            )
            self.axes.legend(loc="upper right", fontsize="small")
        redraw(self.image, self.figure)

    def still(self) -> dict[str, Any]:
        import base64

        png = base64.b64encode(bytes(self.image.value)).decode()
        return {
            "text/html": f"<div>{self.caption.value}</div><img src='data:image/png;base64,{png}'>"
        }
