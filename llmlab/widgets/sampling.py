"""Lesson 10's sampling playground: the next-token distribution under your decoding settings.

Three layers, as every widget here:

1. :func:`next_token_distribution`, a pure function: from one row of logits and the settings of
   :func:`llmlab.sampling.process`, the probabilities the bars show and the set of tokens kept;
2. :class:`SamplingPlayground`, the view-model: a prompt box, a slider per setting and a
   *sample* button that streams a continuation (:func:`llmlab.sampling.stream`) into the page;
3. :meth:`SamplingPlayground.render`, the thin renderer: one reused bar chart and a caption.

The model reads the prompt once per prompt; a slider move only re-processes those logits (a
fraction of a millisecond), so the bars follow the sliders live.
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
    picture,
    read_prompt,
    redraw,
    slider_panel,
)

if TYPE_CHECKING:
    import torch

    from llmlab.model import GPT

#: The sliders' ranges, ``name: (low, high, step)``; a setting outside its range is refused
#: (a slider would clamp it silently). Neutral values switch a processor off: ``top_k`` 0,
#: ``top_p`` 1, ``min_p`` 0, ``repetition_penalty`` 1.
RANGES: dict[str, tuple[float, float, float]] = {
    "temperature": (0.0, 2.0, 0.05),
    "top_k": (0, 100, 1),
    "top_p": (0.05, 1.0, 0.05),
    "min_p": (0.0, 0.5, 0.01),
    "repetition_penalty": (1.0, 2.0, 0.05),
}
_OFF = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0}


@dataclass(frozen=True)
class Distribution:
    probs: torch.Tensor  # [V] softmax after the penalty and temperature, before any cut
    kept: torch.Tensor  # [V] bools: the tokens every setting keeps (the ones sampling can draw)

    def sampled(self) -> torch.Tensor:
        """``[V]``: what a draw uses, the kept tokens' probabilities renormalised to 1."""
        kept = self.probs * self.kept
        return kept / kept.sum()


def next_token_distribution(
    logits: torch.Tensor, previous_ids: list[int], **settings: Any
) -> Distribution:
    """The bars of one next-token prediction: ``logits [V]`` (the model's last position) under
    ``settings`` (those of :func:`llmlab.sampling.process`, checked there).

    ``kept`` is exactly what :func:`~llmlab.sampling.process` leaves finite. ``probs`` applies
    only the parts that reshape (the penalty, then temperature), so the chart can show what the
    cuts (top-k, top-p, min-p) remove. At temperature 0 every bar but the best one is 0.
    """
    from llmlab import sampling

    row = logits.detach().float().reshape(1, -1)
    reshaped = {
        k: settings.get(k, d) for k, d in (("repetition_penalty", None), ("temperature", 1.0))
    }
    probs = sampling.process(row, previous_ids, **reshaped).softmax(dim=-1)[0]
    kept = sampling.process(row, previous_ids, **settings)[0].isfinite()
    return Distribution(probs, kept)


def _token_label(text: str) -> str:
    """A token as a tick label: spaces shown as ``·``, newlines as ``\\n``."""
    return text.replace(" ", "·").replace("\n", "\\n") or "''"


class SamplingPlayground(LessonWidget):
    """Lesson 10's widget: how each decoding setting reshapes one next-token distribution.

    Type a prompt (the model reads it as you type; the bars follow once you pause for ``pause``
    seconds, so typing never waits for a drawing; ``pause=0`` redraws at once, what code and
    tests want), move the sliders: the bars are the
    ``shown`` likeliest tokens after the repetition penalty and temperature, blue if every cut
    keeps them, grey if one removes them; the caption says how many tokens are kept and how much
    probability they held before sampling renormalises it. *Sample* streams a continuation of up
    to ``max_new_tokens`` tokens drawn with exactly these settings (seeded: the n-th press gives
    the same text in every run). A slider at its neutral value (top-k 0, top-p 1, min-p 0,
    penalty 1) switches its processor off; temperature 0 is greedy decoding.
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Any,
        prompt: str = "MACBETH:\nIs this a dagger which I see before",
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        min_p: float | None = None,
        repetition_penalty: float | None = None,
        max_new_tokens: int = 80,
        shown: int = 20,
        seed: int = 0,
        pause: float = 0.4,
    ) -> None:
        import threading

        import ipywidgets as w

        from llmlab.model import GPT

        if not isinstance(model, GPT):
            raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
        values = {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "min_p": min_p,
            "repetition_penalty": repetition_penalty,
        }
        values = {name: _OFF[name] if v is None else v for name, v in values.items()}
        for name, value in values.items():
            _check_range(name, value)
        max_new_tokens = checks.integer(max_new_tokens, "max_new_tokens", 1)
        shown = checks.integer(shown, "shown", 1)
        checks.number(pause, "pause", 0, 5, hint="seconds")
        self.pause, self._lock, self._timer = float(pause), threading.RLock(), None
        self.model, self.tokenizer = model.eval(), tokenizer
        self.n_shown = min(shown, model.config.vocab_size)
        self.max_new_tokens, self.seed = max_new_tokens, seed
        self.presses = 0
        self.ids = self._encode(prompt)  # refuses an empty or unencodable prompt

        self.prompt = w.Textarea(
            value=prompt,
            description="prompt",
            placeholder="Type a prompt: the bars show the model's next token",
            layout=w.Layout(width="50em", height="4em"),
            style={"description_width": "9em"},
        )
        self.note = w.HTML()  # beside the prompt: why nothing is drawn, or how it was cut
        self.sliders = {}
        for name, (low, high, step) in RANGES.items():
            kind = w.IntSlider if name == "top_k" else w.FloatSlider
            self.sliders[name] = kind(
                value=values[name],
                min=low,
                max=high,
                step=step,
                description=name.replace("_", "-").replace("repetition-", "repetition "),
            )
        # One slider a row, a track of ~400 px: a mouse lands on 0.3, 10 or 0.2. The note under
        # them: a typed value out of range.
        rows, self.slider_note = slider_panel([[(s, "30em")] for s in self.sliders.values()])
        self.sample = w.Button(description="sample", button_style="primary", icon="play")
        self.caption = w.HTML()
        self.image = picture()
        self.text = w.HTML()
        self._sampled_for: str | None = None  # the prompt the text under the chart continues
        on_change(self._on_prompt, self.prompt)
        on_change(self.render, *self.sliders.values())
        self.sample.on_click(lambda _button: self.stream())
        self.widget = column(
            [
                w.HBox(
                    [self.prompt, self.note],
                    layout={"flex_flow": "row wrap", "align_items": "center"},
                ),
                *rows,
                self.sample,
                self.caption,
                self.image,
                self.text,
            ]
        )
        self._draw()
        self._on_prompt()
        self.flush()

    def _encode(self, prompt: str) -> list[int]:
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
        return self.tokenizer.encode(prompt)  # refuses text outside the vocabulary, by name

    def settings(self) -> dict[str, Any]:
        """The sliders as the keyword arguments of :func:`llmlab.sampling.process` (off = None)."""
        values = {name: slider.value for name, slider in self.sliders.items()}
        return {name: None if value == _OFF.get(name) else value for name, value in values.items()}

    def distribution(self) -> Distribution:
        return next_token_distribution(self.logits, self.ids, **self.settings())

    def _on_prompt(self) -> None:
        """Read the prompt once (its last ``block_size`` tokens); the sliders reuse its logits.
        The drawing waits for a pause in the typing (a timer, restarted by each change).

        A prompt the model cannot read (an empty box) leaves nothing of the last one on screen:
        the chart, the sample and the controls go, and the message beside the box says why. A
        new prompt clears the sample of the old one."""
        import torch

        if self._timer is not None:
            self._timer.cancel()
        text = self.prompt.value
        if text != self._sampled_for:
            self.text.value = ""
        problem, ids = read_prompt(
            self.tokenizer, text, "Type a prompt to see the next-token distribution."
        )
        if problem:
            with self._lock:
                self.valid = False
                self.note.value = message_html(problem)
                self.caption.value = ""
                self.image.layout.display = "none"
                self.sample.disabled = True
                for slider in self.sliders.values():
                    slider.disabled = True
            return
        block = self.model.config.block_size
        window = ids[-block:]
        with torch.no_grad():
            logits = self.model(torch.tensor([window]))[0][0, -1]
        with self._lock:
            self.ids, self.logits, self.valid = ids, logits, True
            self.note.value = cut_note(self.tokenizer, ids, block)
            self.sample.disabled = False
            for slider in self.sliders.values():
                slider.disabled = False
        self._timer = after_pause(self.pause, self.render)

    def flush(self) -> None:
        """Draw now what the end of a pause would draw."""
        if self._timer is not None:
            self._timer.cancel()
        self.render()

    def still(self) -> dict[str, Any]:
        """Caption and bars as static HTML: what a notebook opened without a kernel shows."""
        import base64

        png = base64.b64encode(bytes(self.image.value)).decode()
        return {
            "text/html": f"<div>{self.caption.value}</div><img src='data:image/png;base64,{png}'>"
        }

    def _draw(self) -> None:
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(11, 3.2), layout="constrained")
        self.axes = self.figure.subplots()
        positions = range(self.n_shown)
        self.bars = self.axes.bar(positions, [0.0] * self.n_shown, color="tab:blue")
        self.axes.set(ylabel="probability", xlim=(-0.6, self.n_shown - 0.4))
        self.axes.set_xticks(list(positions))

    def render(self) -> None:
        """Bars and caption for the current prompt and settings (one drawing at a time: a
        slider's and a pause timer's never share the figure)."""
        with self._lock:
            self._render()

    def _render(self) -> None:
        if not self.valid:  # a prompt the model cannot read: nothing to draw (the note says why)
            return
        shown = self.distribution()
        probs, order = shown.probs.sort(descending=True)
        order = order[: self.n_shown].tolist()
        for bar, p, token in zip(self.bars, probs.tolist(), order, strict=False):
            bar.set_height(p)
            bar.set_color("tab:blue" if shown.kept[token] else "#cccccc")
        labels = [_token_label(self.tokenizer.decode([t])) for t in order]
        self.axes.set_xticklabels(labels, rotation=45, ha="right", family="monospace")
        self.axes.set_ylim(0, max(float(probs[0]) * 1.1, 0.01))
        n_kept = int(shown.kept.sum())
        mass = float((shown.probs * shown.kept).sum())
        best = self.tokenizer.decode([order[0]])
        self.axes.set_title(
            f"next token after …{self.prompt.value[-30:]!r}: "
            f"blue = kept ({n_kept}), grey = removed",
            fontsize=10,
        )
        self.caption.value = (
            f"<b>kept {n_kept:,} of {len(shown.probs):,} tokens</b>, holding {mass:.1%} of the "
            f"probability (a draw renormalises them to 100%); likeliest {best!r} at "
            f"{float(probs[0]):.1%} after temperature {self.sliders['temperature'].value:.2f}"
        )
        redraw(self.image, self.figure)
        self.image.layout.display = None

    def stream(self) -> str:
        """Sample a continuation with the current settings, shown token by token; returns it."""
        import torch

        from llmlab import sampling

        if not self.valid:
            return ""
        generator = torch.Generator().manual_seed(self.seed + self.presses)
        self.presses += 1
        self._sampled_for = self.prompt.value
        new: list[int] = []
        block = self.model.config.block_size
        if len(self.ids) > block:  # what the model reads, marked as cut, not the whole prompt
            prompt = "<span style='color:#8a5a00'>…</span>" + html.escape(
                self.tokenizer.decode(self.ids[-block:])
            )
        else:
            prompt = html.escape(self.tokenizer.decode(self.ids))
        for token in sampling.stream(
            self.model, self.ids, self.max_new_tokens, **self.settings(), generator=generator
        ):
            new.append(token)
            text = html.escape(self.tokenizer.decode(new))
            self.text.value = (
                f"<div style='{TEXT_STYLE};white-space:pre-wrap'>{prompt}"
                f"<b style='color:#1f5f9f'>{text}</b></div>"
            )
        return self.tokenizer.decode(new)


def _check_range(name: str, value: Any) -> None:
    """Refuse a setting the slider could not show (the slider would clamp it silently)."""
    low, high, _ = RANGES[name]
    kinds = (int,) if name == "top_k" else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        off = "; None switches it off" if name in _OFF else ""
        raise ValueError(
            f"{name} must be in [{low}, {high}] (the slider's range{off}), got {value}"
        )
