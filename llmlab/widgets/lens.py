"""Lesson 12's logit-lens view: what each layer of the model would predict, for a prompt you type.

Three layers, as every widget here:

1. :func:`lens_predictions`, a pure function: one pass of :func:`llmlab.lens.logit_lens` over
   the prompt gives, for every depth (the embeddings, then each block) and every position, the
   ``top`` likeliest next tokens and their probabilities;
2. :class:`LensExplorer`, the view-model: a prompt box, a layer slider (embeddings .. the last
   block) and a choice between the last position and every position;
3. :func:`lens_html`, the thin renderer: an HTML table of those tokens and probabilities.

The model reads the prompt once per prompt; the slider only picks a row of what that pass
computed, so the table follows the slider at once.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmlab import checks
from llmlab.widgets.base import (
    TEXT_STYLE,
    LessonWidget,
    after_pause,
    column,
    cut_note,
    message_html,
    on_change,
    read_prompt,
    slider_panel,
)

if TYPE_CHECKING:
    import torch

    from llmlab.model import GPT

#: The two ways to read the prompt: its last position (what comes next), or every position.
VIEWS = ("last token", "every token")


@dataclass(frozen=True)
class LensPredictions:
    """The lens's guesses for one prompt: ``probs`` and ``ids`` are ``[n_layer + 1, T, top]``,
    sorted likeliest first; row 0 reads the embeddings, row ``n_layer`` is the model's output."""

    probs: torch.Tensor
    ids: torch.Tensor

    @property
    def depths(self) -> int:
        return self.probs.shape[0]


def lens_predictions(model: GPT, ids: list[int], top: int = 5) -> LensPredictions:
    """The ``top`` likeliest next tokens at every depth and position of ``ids`` (one sequence,
    at most ``block_size`` tokens), with their probabilities: a softmax of each row of
    :func:`llmlab.lens.logit_lens`, computed once so a slider need only pick a row."""
    import torch

    from llmlab import lens

    if not ids:
        raise ValueError("ids must hold at least one token, got none")
    block = model.config.block_size
    if len(ids) > block:
        raise ValueError(f"ids must be at most block_size={block} tokens long, got {len(ids)}")
    top = checks.integer(top, "top", 1, model.config.vocab_size)
    logits = lens.logit_lens(model, torch.tensor([ids]))[:, 0].float()  # [depths, T, V]
    probs, order = logits.softmax(-1).topk(top, dim=-1)
    return LensPredictions(probs, order)


def depth_name(depth: int, n_layer: int) -> str:
    """What layer ``depth`` of the slider reads: the embeddings, a block, or the model's output."""
    if depth == 0:
        return "the embeddings (layer 0: no block has run)"
    if depth == n_layer:
        return f"block {depth} of {n_layer}: the model's own output"
    return f"block {depth} of {n_layer}"


def _token(text: str) -> str:
    """A token as the table shows it: escaped, spaces as ``·``, newlines as ``\\n``."""
    shown = text.replace(" ", "·").replace("\n", "\\n").replace("\t", "\\t") or "''"
    return f"<code>{html.escape(shown)}</code>"


def lens_html(
    tokenizer: Any,
    ids: list[int],
    predictions: LensPredictions,
    depth: int,
    every: bool = False,
) -> str:
    """The table for one depth: for the last position (``every`` False) or each position, the
    token read there, the lens's guesses with their probabilities, and, where the prompt goes
    on, the token that actually comes next (a guess that matches it is in bold green)."""
    depth = checks.integer(depth, "depth", 0, predictions.depths - 1)
    positions = range(len(ids)) if every else [len(ids) - 1]
    cell = "padding:1px 10px;text-align:left;white-space:nowrap"
    head = "".join(
        f"<th style='{cell}'>{name}</th>" for name in ("position", "reads", "would predict next")
    )
    if every:
        head += f"<th style='{cell}'>actually next</th>"
    rows = []
    for position in positions:
        following = ids[position + 1] if position + 1 < len(ids) else None
        guesses = []
        for p, token in zip(
            predictions.probs[depth, position].tolist(),
            predictions.ids[depth, position].tolist(),
            strict=True,
        ):
            shown = f"{_token(tokenizer.decode([token]))} {p:.0%}"
            if token == following:
                shown = f"<b style='color:#1b7a1b'>{shown}</b>"
            guesses.append(shown)
        row = (
            f"<td style='{cell}'>{position}</td>"
            f"<td style='{cell}'>{_token(tokenizer.decode([ids[position]]))}</td>"
            f"<td style='{cell}'>{' &nbsp; '.join(guesses)}</td>"
        )
        if every:
            nxt = "" if following is None else _token(tokenizer.decode([following]))
            row += f"<td style='{cell}'>{nxt}</td>"
        rows.append(f"<tr>{row}</tr>")
    return (
        f"<div style='{TEXT_STYLE};max-height:26em;overflow:auto'>"
        f"<table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


class LensExplorer(LessonWidget):
    """Lesson 12's widget: the logit lens on a prompt you type, one layer at a time.

    Type a prompt (the table follows once the typing pauses for ``pause`` seconds; ``pause=0``
    redraws at once, what code and tests want); drag the *layer* slider from 0 (the embeddings
    alone) to ``n_layer`` (after the last block: the model's own prediction), or click its handle
    and step with the arrow keys; choose the *last token* (what the model would say next) or
    *every token*. The table lists the ``top`` likeliest next tokens the lens reads at that
    depth, with their probabilities. A prompt longer than the model's window is read from its
    last ``block_size`` tokens, and the note beside the box says so; an empty box clears the
    table and says why. ``layer`` outside ``0..n_layer`` or ``view`` not in :data:`VIEWS` is a
    ValueError naming it.
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Any,
        prompt: str = "Good morrow, my good",
        layer: int = 0,
        view: str = "last token",
        top: int = 5,
        pause: float = 0.3,
    ) -> None:
        import threading

        import ipywidgets as w

        from llmlab.model import GPT

        if not isinstance(model, GPT):
            raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
        n_layer = model.config.n_layer
        layer = checks.integer(layer, "layer", 0, n_layer, hint="0 reads the embeddings")
        checks.one_of(view, "view", VIEWS)
        self.top = checks.integer(top, "top", 1, 20)
        checks.number(pause, "pause", 0, 5, hint="seconds")
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
        self.pause, self._lock, self._timer = float(pause), threading.RLock(), None
        self.model, self.tokenizer = model.eval(), tokenizer
        self.valid, self.ids, self.predictions = False, [], None

        self.prompt = w.Textarea(
            value=prompt,
            description="prompt",
            placeholder="Type a prompt: the table shows what each layer would predict next",
            layout=w.Layout(width="44em", height="4em"),
            style={"description_width": "9em"},
        )
        self.note = w.HTML()  # beside the prompt: why nothing is shown, or where it was cut
        self.layer = w.IntSlider(value=layer, min=0, max=n_layer, step=1, description="layer")
        rows, self.slider_note = slider_panel([[(self.layer, "24em")]])
        self.view = w.ToggleButtons(
            options=list(VIEWS),
            value=view,
            description="read at",
            style={"description_width": "9em"},
        )
        self.caption = w.HTML()
        self.table = w.HTML()
        on_change(self._on_prompt, self.prompt)
        on_change(self.render, self.layer, self.view)
        self.widget = column(
            [
                w.HBox(
                    [self.prompt, self.note],
                    layout={"flex_flow": "row wrap", "align_items": "center"},
                ),
                *rows,
                self.view,
                self.caption,
                self.table,
            ]
        )
        self._on_prompt()
        self.flush()

    def _on_prompt(self) -> None:
        """Read the prompt (its last ``block_size`` tokens) through the lens once; the slider
        and the view reuse that pass. The table waits for a pause in the typing. A prompt the
        model cannot read leaves nothing of the last one on screen, and the note says why."""
        if self._timer is not None:
            self._timer.cancel()
        text = self.prompt.value
        problem, ids = read_prompt(
            self.tokenizer, text, "Type a prompt to see what each layer would predict next."
        )
        if problem:
            with self._lock:
                self.valid, self.ids, self.predictions = False, [], None
                self.note.value = message_html(problem)
                self.caption.value = self.table.value = ""
                self.layer.disabled = self.view.disabled = True
            return
        block = self.model.config.block_size
        read = ids[-block:]
        predictions = lens_predictions(self.model, read, self.top)
        with self._lock:
            self.ids, self.predictions, self.valid = read, predictions, True
            self.note.value = cut_note(self.tokenizer, ids, block)
            self.layer.disabled = self.view.disabled = False
        self._timer = after_pause(self.pause, self.render)

    def flush(self) -> None:
        """Draw now what the end of a pause would draw."""
        if self._timer is not None:
            self._timer.cancel()
        self.render()

    def render(self) -> None:
        """Caption and table for the current prompt, layer and view (one drawing at a time)."""
        with self._lock:
            if not self.valid:  # nothing to show: the note says why
                return
            depth, n_layer = self.layer.value, self.model.config.n_layer
            every = self.view.value == "every token"
            where = f"each of the {len(self.ids)} positions" if every else "the last position"
            self.caption.value = (
                f"<span style='{TEXT_STYLE}'><b>read after {depth_name(depth, n_layer)}</b>: "
                f"the {self.top} likeliest next tokens at {where}</span>"
            )
            self.table.value = lens_html(
                self.tokenizer, self.ids, self.predictions, depth, every=every
            )

    def still(self) -> dict[str, Any]:
        """Caption and table as static HTML: what a notebook opened without a kernel shows."""
        return {"text/html": f"<div>{self.caption.value}</div>{self.table.value}"}
