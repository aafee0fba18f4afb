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
from llmlab.widgets.base import LessonWidget, column, on_change, picture, redraw

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

        style = {"description_width": "9em"}  # one column of labels, "repetition penalty" fits
        self.prompt = w.Textarea(
            value=prompt,
            description="prompt",
            layout=w.Layout(width="50em", height="4em"),
            style=style,
        )
        self.sliders = {}
        for name, (low, high, step) in RANGES.items():
            kind = w.IntSlider if name == "top_k" else w.FloatSlider
            self.sliders[name] = kind(
                value=values[name],
                min=low,
                max=high,
                step=step,
                description=name.replace("_", "-").replace("repetition-", "repetition "),
                style=style,
                layout=w.Layout(width="20em"),  # three in a row fit beside the file browser
            )
        self.sample = w.Button(description="sample", button_style="primary", icon="play")
        self.caption = w.HTML()
        self.image = picture()
        self.text = w.HTML()
        on_change(self._on_prompt, self.prompt)
        on_change(self.render, *self.sliders.values())
        self.sample.on_click(lambda _button: self.stream())
        s = self.sliders
        self.widget = column(
            [
                self.prompt,
                w.HBox([s["temperature"], s["top_k"], s["top_p"]]),
                w.HBox([s["min_p"], s["repetition_penalty"], self.sample]),
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
        The drawing waits for a pause in the typing (a timer, restarted by each change)."""
        import threading

        import torch

        if self._timer is not None:
            self._timer.cancel()
        try:
            ids = self._encode(self.prompt.value)
        except ValueError as error:
            self.caption.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"
            return
        window = ids[-self.model.config.block_size :]
        with torch.no_grad():
            logits = self.model(torch.tensor([window]))[0][0, -1]
        with self._lock:
            self.ids, self.logits = ids, logits
        if self.pause:
            self._timer = threading.Timer(self.pause, self.render)
            self._timer.daemon = True
            self._timer.start()
        else:
            self.render()

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

    def stream(self) -> str:
        """Sample a continuation with the current settings, shown token by token; returns it."""
        import torch

        from llmlab import sampling

        generator = torch.Generator().manual_seed(self.seed + self.presses)
        self.presses += 1
        new: list[int] = []
        prompt = html.escape(self.tokenizer.decode(self.ids))
        for token in sampling.stream(
            self.model, self.ids, self.max_new_tokens, **self.settings(), generator=generator
        ):
            new.append(token)
            text = html.escape(self.tokenizer.decode(new))
            self.text.value = (
                f"<pre style='white-space:pre-wrap;font-family:serif'>{prompt}"
                f"<b style='color:#1f5f9f'>{text}</b></pre>"
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
