"""Lesson 02's attention explorer: what every head of a trained model attends to, on your text."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmlab import checks
from llmlab.widgets.base import (
    ON_RELEASE,
    LessonWidget,
    after_pause,
    column,
    message_html,
    on_change,
    picture,
    redraw,
    slider_panel,
)

if TYPE_CHECKING:
    from torch import Tensor

    from llmlab.model import GPT


@dataclass(frozen=True)
class AttentionMaps:
    tokens: list[str]  # the text of each position, as the tokenizer split it
    weights: Tensor  # [layers, heads, T, T]: row t is how position t spreads its attention


def attention_maps(model: GPT, tokenizer: Any, text: str) -> AttentionMaps:
    """Run ``model`` once on ``text`` and keep every layer's and head's attention weights.

    This is the expensive part of the explorer, so it runs once per text; choosing a layer, a
    head or a token afterwards only indexes into the result.
    """
    import torch

    from llmlab.modes import evaluating

    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    ids = tokenizer.encode(text)  # an unknown character is a ValueError that names it
    if len(ids) > model.config.block_size:
        raise ValueError(
            f"text is {len(ids)} tokens long; the model sees at most "
            f"{model.config.block_size} (block_size): shorten it"
        )
    with evaluating(model), torch.no_grad():
        _, _, weights = model(torch.tensor([ids]), return_attention=True)
    return AttentionMaps([tokenizer.decode([i]) for i in ids], weights[0])


def show_token(token: str) -> str:
    """A token as a label: invisible characters made visible (newline ↵, space ·)."""
    return token.replace("\n", "↵").replace(" ", "·") or "∅"


def head_summary(weights: Tensor, tokens: list[str], row: int) -> str:
    """One line about a head ``weights [T, T]``: where ``row`` looks most, and what the head
    does on average (weight on the previous token, on the first token)."""
    target = int(weights[row].argmax())
    summary = (
        f"token {row} {show_token(tokens[row])!r} looks most at token {target} "
        f"{show_token(tokens[target])!r} ({weights[row, target]:.0%})"
    )
    if len(tokens) > 1:
        previous = weights.diagonal(offset=-1).mean()
        first = weights[1:, 0].mean()
        summary += f"; on average this head gives {previous:.0%} to the previous token"
        summary += f" and {first:.0%} to the first"
    return summary


def _plain(error: str) -> str:
    """An error of :func:`attention_maps` as a message for the person typing."""
    if error.startswith("text must be a non-empty"):
        return "Type a text to see what each head attends to."
    error = error.replace("text contains", "The text has").replace(
        "this CharTokenizer has never seen", "the model has never seen"
    )
    return error[:1].upper() + error[1:]


def _tick_every(n: int, most: int = 32) -> int:
    """Label every k-th token so that at most ``most`` labels share an axis (and stay legible)."""
    return max(1, -(-n // most))


class AttentionExplorer(LessonWidget):
    """Lesson 02's widget: what every head of a trained model attends to, on your own text.

    The text box runs the model (:func:`attention_maps`) once per text: as you type, the new
    weights are computed at once (a forward pass: milliseconds), and the pictures are redrawn when
    you pause for ``pause`` seconds or press Enter, so that typing never waits for a drawing. The
    layer, head and token controls only pick a slice of the result: a heat map (row = the token
    that looks, column = the token looked at), the same weights as lines from each token to the
    ones it attends to (after bertviz's head view; the chosen token's lines in colour), and a grid
    of every head. ``pause=0`` redraws on every change (what code and tests want).
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Any,
        text: str = "ROMEO:\nBut soft, what light?\n",
        pause: float = 0.4,
    ):
        import threading

        import ipywidgets as w

        checks.number(pause, "pause", 0, 5, hint="seconds")
        self.model, self.tokenizer, self.pause = model, tokenizer, float(pause)
        self._lock, self._timer = threading.RLock(), None
        layers, heads = model.config.n_layer, model.config.n_head
        self.text = w.Textarea(
            value=text,
            description="text",
            rows=4,
            placeholder="type a text: it applies when you pause or press Enter",
            layout={"width": "min(56em, 95%)"},
        )
        self.layer = w.IntSlider(value=0, min=0, max=layers - 1, description="layer", **ON_RELEASE)
        self.head = w.IntSlider(value=0, min=0, max=heads - 1, description="head", **ON_RELEASE)
        self.token = w.IntSlider(value=0, min=0, max=0, description="token", **ON_RELEASE)
        self.note = w.HTML()  # under the text box: why no picture is shown
        # ~6 px a token on the token slider's track; the note: a typed value out of range
        sliders, self.slider_note = slider_panel(
            [[(self.layer, "12em"), (self.head, "12em")], [(self.token, "30em")]]
        )
        self.caption = w.HTML()
        self.image, self.grid = picture(), picture()
        on_change(self._on_text, self.text)
        on_change(lambda: self.render(grid=True), self.layer, self.head)
        on_change(self._on_token, self.token)
        self._new_text = False  # True while a new text resets the token slider
        self._drawn_for: AttentionMaps | None = None  # the maps the figures were built for
        grid_title = w.HTML(
            "<b>every head</b> (rows: layers, columns: heads; the chosen one framed)"
        )
        self.grid_box = column([grid_title, self.grid])
        self.widget = column(
            [
                self.text,
                self.note,
                *sliders,
                self.caption,
                w.HBox(
                    [self.image, self.grid_box],
                    layout={"flex_flow": "row wrap", "align_items": "flex-start"},
                ),
            ]
        )
        self._on_text()
        self.flush()

    def flush(self) -> None:
        """Draw now what a pause would draw (a text typed a moment ago), instead of waiting."""
        if self._timer is not None:
            self._timer.cancel()
        if not self.layer.disabled and (self._drawn_for is not self.maps or not self.image.value):
            self.render()

    def _on_text(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            maps = attention_maps(self.model, self.tokenizer, self.text.value)
        except ValueError as err:  # say what is wrong with the text, and show no stale picture
            with self._lock:
                self.note.value = message_html(_plain(str(err)))
                self.caption.value = ""
                for picture_ in (self.image, self.grid_box):
                    picture_.layout.display = "none"
                for control in (self.layer, self.head, self.token):
                    control.disabled = True
            return
        with self._lock:
            self.note.value = ""
            self.maps = maps
            for control in (self.layer, self.head, self.token):
                control.disabled = False
            self._new_text = True
            try:  # the last token sees the whole text: select it
                self.token.max = len(maps.tokens) - 1
                self.token.value = self.token.max
            finally:
                self._new_text = False
            self._caption()
        self._timer = after_pause(self.pause, self.render)  # the figures and the overview

    def _on_token(self) -> None:
        if not self._new_text:
            self.render(grid=False)

    @property
    def pattern(self) -> Tensor:
        """The chosen head's ``[T, T]`` weights."""
        return self.maps.weights[self.layer.value, self.head.value]

    def _draw(self) -> None:
        """Build the figures of one text; :meth:`render` only updates their data and colours."""
        import numpy as np
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        labels = [show_token(t) for t in self.maps.tokens]
        n, every = len(labels), _tick_every(len(labels))
        self.figure = Figure(figsize=(8.5, 4.2), layout="constrained")
        self.ax_map, self.ax_lines = self.figure.subplots(1, 2, width_ratios=[1, 0.8])
        self.heat = self.ax_map.imshow(self.pattern.numpy(), cmap="Blues", vmin=0, vmax=1)
        shown = range(0, n, every)
        font = {"fontsize": 9, "family": "monospace"}
        self.ax_map.set_xticks(shown, [labels[i] for i in shown], **font)
        self.ax_map.set_yticks(shown, [labels[i] for i in shown], **font)
        self.ax_map.set_xlabel("looked at (key)", fontsize=10)
        self.ax_map.set_ylabel("looking (query)", fontsize=10)
        self.ax_map.grid(False)
        self.row_box = Rectangle((-0.5, -0.5), n, 1, fill=False, edgecolor="tab:red", lw=1.5)
        self.ax_map.add_patch(self.row_box)
        self.lines = LineCollection(
            [((0, n - 1 - i), (1, n - 1 - j)) for i in range(n) for j in range(n)], linewidths=1.5
        )
        self.ax_lines.add_collection(self.lines)
        for i in shown:
            y = n - 1 - i
            self.ax_lines.text(-0.03, y, labels[i], ha="right", va="center", **font)
            self.ax_lines.text(1.03, y, labels[i], ha="left", va="center", **font)
        self.ax_lines.set(xlim=(-0.3, 1.3), ylim=(-1, n))
        self.ax_lines.set_title(
            "the same weights as lines, looking -> looked at\n(red: the chosen token's)",
            fontsize=10,
        )
        self.ax_lines.axis("off")
        layers, heads = self.maps.weights.shape[:2]
        self.grid_figure = Figure(figsize=(0.65 * heads, 0.65 * layers + 0.2), layout="constrained")
        self.grid_axes = self.grid_figure.subplots(layers, heads, squeeze=False)
        for (layer, head), ax in np.ndenumerate(self.grid_axes):
            ax.imshow(self.maps.weights[layer, head].numpy(), cmap="Blues", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=f"L{layer} H{head}")
            ax.title.set_fontsize(8)
        self._drawn_for = self.maps

    def _caption(self) -> None:
        self.caption.value = (
            f"<b>layer {self.layer.value}, head {self.head.value}</b>: "
            + html.escape(head_summary(self.pattern, self.maps.tokens, self.token.value))
        )

    def render(self, grid: bool = True) -> None:
        """Show the chosen layer, head and token (``grid``: also re-frame the overview)."""
        import numpy as np

        if self._timer is not None:  # this draws the latest state: a pending redraw is moot
            self._timer.cancel()
        with self._lock:
            if self._drawn_for is not self.maps:  # a new text: new figures, and a new overview
                self._draw()
                grid = True
            pattern, row, n = self.pattern, self.token.value, len(self.maps.tokens)
            self.heat.set_data(pattern.numpy())
            self.row_box.set_y(row - 0.5)
            weights = pattern.flatten().tolist()
            colours = [
                (0.84, 0.15, 0.16, wt**0.5) if k // n == row else (0.12, 0.47, 0.71, 0.3 * wt)
                for k, wt in enumerate(weights)
            ]
            self.lines.set_color(colours)
            self.ax_map.set_title(
                f"layer {self.layer.value}, head {self.head.value}: each row sums to 1",
                fontsize=10,
            )
            self._caption()
            redraw(self.image, self.figure)
            self.image.layout.display = self.grid_box.layout.display = None
            if grid:
                for (layer, head), ax in np.ndenumerate(self.grid_axes):
                    chosen = (layer, head) == (self.layer.value, self.head.value)
                    for spine in ax.spines.values():
                        spine.set(color="tab:red" if chosen else "lightgray", lw=3 if chosen else 1)
                redraw(self.grid, self.grid_figure)

    def still(self) -> dict[str, Any]:
        import base64

        self.flush()
        png = base64.b64encode(bytes(self.image.value)).decode()
        return {
            "text/html": f"<div>{self.caption.value}</div><img src='data:image/png;base64,{png}'>"
        }
