"""Interactive lesson widgets (ipywidgets), each in three layers:

1. a pure function of data (tensors, text) that computes everything once per input;
2. a small view-model class that owns the controls and observes them;
3. a thin renderer: an ``HTML`` widget, or an ``Image`` widget fed by one reused figure.

Tests drive a widget by setting ``control.value`` and reading the rendered output, exactly as a
slider drag would; nothing here needs a browser or JavaScript from the network.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from llmlab.autograd import Value

if TYPE_CHECKING:
    import tokenizers
    from torch import Tensor

    from llmlab.corpus import Speech
    from llmlab.model import GPT
    from llmlab.tokenization import BPETokenizer, CharTokenizer


def speech_html(speech: Speech) -> str:
    """A speech rendered as HTML with its play, act and scene (the renderer of SpeechBrowser)."""
    where = f"{speech.play} ({speech.genre}), act {speech.act or '-'}, scene {speech.scene or '-'}"
    body = html.escape(speech.text).replace("\n", "<br>")
    return (
        f"<div style='font-family:serif'><small>{html.escape(where)}</small><br>"
        f"<b>{html.escape(speech.speaker)}:</b><br>{body}</div>"
    )


class SpeechBrowser:
    """Lesson 00's first widget: pick a genre, slide through its speeches.

    The speeches of each genre are gathered once; moving the slider only picks one of them.
    """

    def __init__(self, split: str = "all") -> None:
        import ipywidgets as w

        from llmlab import corpus

        self.by_genre: dict[str, list[Speech]] = {}
        for speech in corpus.speeches(split):
            self.by_genre.setdefault(speech.genre, []).append(speech)
        genres = sorted(self.by_genre)
        self.genre = w.Dropdown(options=genres, value=genres[0], description="genre")
        self.index = w.IntSlider(
            value=0,
            min=0,
            max=len(self.by_genre[genres[0]]) - 1,
            description="speech",
            continuous_update=False,
        )
        self.output = w.HTML()
        self.genre.observe(self._on_genre, names="value")
        self.index.observe(lambda _: self.render(), names="value")
        self.widget = w.VBox([w.HBox([self.genre, self.index]), self.output])
        self.render()

    @property
    def speech(self) -> Speech:
        return self.by_genre[self.genre.value][self.index.value]

    def _on_genre(self, _change: object) -> None:
        self.index.value = 0
        self.index.max = len(self.by_genre[self.genre.value]) - 1
        self.render()

    def render(self) -> None:
        self.output.value = speech_html(self.speech)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# ---------------------------------------------------------------------------------------------
# Lesson 01: the token playground.

#: Background colours given to consecutive tokens in turn (pale, so the text stays readable).
TOKEN_COLOURS = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6")


@dataclass(frozen=True)
class TokenView:
    """One text as one tokenizer splits it: what the playground shows."""

    text: str
    ids: list[int]
    pieces: list[bytes]  # the bytes each token stands for; b"".join(pieces) is the text's UTF-8
    vocab_size: int
    error: str = ""  # why the tokenizer could not encode the text (a character it never saw)

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes of the text per token: how much each token carries (higher is shorter)."""
        return len(self.text.encode("utf-8")) / len(self.ids) if self.ids else 0.0


def token_view(
    tokenizer: CharTokenizer | BPETokenizer | tokenizers.Tokenizer, text: str
) -> TokenView:
    """Encode ``text`` and look up the bytes of each token.

    Works with the course's three kinds of tokenizer: :class:`CharTokenizer` (whose error on an
    unseen character is kept for display rather than raised), :class:`BPETokenizer`, and a
    byte-level HF ``tokenizers.Tokenizer`` such as ``train_hf_bpe`` or ``to_hf()`` makes (its
    tokens are spelled with GPT-2's byte characters, turned back into bytes here).
    """
    from llmlab.tokenization import BPETokenizer, CharTokenizer, bytes_to_unicode

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if isinstance(tokenizer, CharTokenizer):
        try:
            ids = tokenizer.encode(text)
        except ValueError as error:
            return TokenView(text, [], [], tokenizer.vocab_size, str(error))
        return TokenView(
            text, ids, [tokenizer.chars[i].encode("utf-8") for i in ids], tokenizer.vocab_size
        )
    if isinstance(tokenizer, BPETokenizer):
        ids = tokenizer.encode(text)
        return TokenView(text, ids, [tokenizer.vocab[i] for i in ids], tokenizer.vocab_size)
    if hasattr(tokenizer, "id_to_token") and hasattr(tokenizer, "get_vocab_size"):
        ids = tokenizer.encode(text).ids
        byte_of = {c: b for b, c in bytes_to_unicode().items()}
        pieces = [bytes(byte_of[c] for c in tokenizer.id_to_token(i)) for i in ids]
        return TokenView(text, ids, pieces, tokenizer.get_vocab_size())
    raise TypeError(
        "tokenizer must be a CharTokenizer, a BPETokenizer or a tokenizers.Tokenizer, "
        f"got {type(tokenizer).__name__}"
    )


def _piece_text(piece: bytes) -> str:
    """How a token is drawn: its text with spaces (·) and newlines (↵) visible, or its bytes in
    hex when it holds only part of a character (byte-level BPE can split a character)."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return " ".join(f"{b:02x}" for b in piece)
    return text.replace(" ", "·").replace("\t", "→").replace("\n", "↵\n")


def token_html(view: TokenView, name: str = "") -> str:
    """The playground's picture: counts, the text with each token coloured, and the ids below
    in the same colours (hover a token for its id)."""
    name = html.escape(name)
    if view.error:
        return f"<div style='color:#b00020'><b>{name}</b>: {html.escape(view.error)}</div>"
    summary = (
        f"<b>{name}</b> (vocabulary {view.vocab_size:,}): <b>{len(view.ids):,} tokens</b> "
        f"({len(set(view.ids)):,} distinct) for {len(view.text):,} characters, "
        f"{len(view.text.encode('utf-8')):,} bytes: {view.bytes_per_token:.2f} bytes per token"
    )
    tokens, ids = [], []
    for k, (i, piece) in enumerate(zip(view.ids, view.pieces, strict=True)):
        style = f"background:{TOKEN_COLOURS[k % len(TOKEN_COLOURS)]};border-radius:3px"
        text = html.escape(_piece_text(piece))
        tokens.append(f"<span style='{style}' title='id {i}'>{text}</span>")
        ids.append(f"<span style='{style}'>{i}</span>")
    mono = "font-family:monospace;line-height:1.8"
    return (
        f"<div>{summary}</div>"
        f"<div style='{mono};white-space:pre-wrap'>{''.join(tokens)}</div>"
        f"<div style='{mono}'>{' '.join(ids)}</div>"
    )


class TokenPlayground:
    """Lesson 01's widget: type text and see it as tokens, under the tokenizer of your choice.

    The tokenizers are built once, here: a :class:`CharTokenizer` of the training text, one
    llmlab BPE per vocabulary size (cut from one training run by :meth:`BPETokenizer.truncated`)
    and one trained by HF ``tokenizers`` per size. The controls only choose among them; each
    change encodes the text (milliseconds) and redraws the HTML.

    Pass ``bpe`` (a tokenizer from ``BPETokenizer.train`` with at least ``max(sizes)`` tokens) and
    ``hf`` (``{size: tokenizers.Tokenizer}``) to reuse tokenizers you trained already; whatever is
    not passed is trained on ``train_text`` (default: the corpus's training split).
    """

    KINDS = {"characters": "char", "BPE (llmlab)": "bpe", "BPE (HF tokenizers)": "hf"}

    def __init__(
        self,
        text: str = "KING HENRY:\nOnce more unto the breach, dear friends, once more!",
        sizes: Sequence[int] = (512, 1024, 2048),
        train_text: str | None = None,
        bpe: BPETokenizer | None = None,
        hf: Mapping[int, tokenizers.Tokenizer] | None = None,
    ) -> None:
        import ipywidgets as w

        from llmlab import corpus
        from llmlab.tokenization import BPETokenizer, CharTokenizer, train_hf_bpe

        sizes = list(sizes)
        if not sizes or sizes != sorted(set(sizes)):
            raise ValueError(
                f"sizes must be distinct vocabulary sizes in increasing order, got {sizes}"
            )
        if train_text is None:
            train_text = corpus.text("train")
        if bpe is None:
            bpe = BPETokenizer.train(train_text, sizes[-1], ["<|endoftext|>"])
        elif not isinstance(bpe, BPETokenizer) or bpe.vocab_size < sizes[-1]:
            raise ValueError(
                f"bpe must be a BPETokenizer of at least {sizes[-1]} tokens, got {bpe!r}"
            )
        self.char = CharTokenizer(train_text)
        self.bpe = {size: bpe.truncated(size) for size in sizes}
        if hf is None:
            hf = {size: train_hf_bpe(train_text, size, list(bpe.special_tokens)) for size in sizes}
        missing = [size for size in sizes if size not in hf]
        if missing:
            raise ValueError(
                f"hf must hold a tokenizer for every size in {sizes}; missing {missing}"
            )
        self.hf = {size: hf[size] for size in sizes}

        self.text = w.Textarea(value=text, layout=w.Layout(width="100%", height="6em"))
        self.kind = w.ToggleButtons(
            options=list(self.KINDS.items()), value="bpe", description="tokenizer"
        )
        self.vocab_size = w.SelectionSlider(
            options=sizes, value=sizes[-1], description="vocabulary"
        )
        self.output = w.HTML()
        for control in (self.text, self.kind, self.vocab_size):
            control.observe(lambda _: self.render(), names="value")
        self.widget = w.VBox([self.text, w.HBox([self.kind, self.vocab_size]), self.output])
        self.render()

    def tokenizer(self) -> CharTokenizer | BPETokenizer | tokenizers.Tokenizer:
        """The tokenizer the controls select."""
        if self.kind.value == "char":
            return self.char
        return (self.bpe if self.kind.value == "bpe" else self.hf)[self.vocab_size.value]

    def render(self) -> None:
        self.vocab_size.disabled = self.kind.value == "char"  # characters have one vocabulary
        self.view = token_view(self.tokenizer(), self.text.value)
        name = next(label for label, kind in self.KINDS.items() if kind == self.kind.value)
        self.output.value = token_html(self.view, name)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# ---------------------------------------------------------------------------------------------
# Lesson 02: the attention explorer.


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

    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    ids = tokenizer.encode(text)  # an unknown character is a ValueError that names it
    if len(ids) > model.config.block_size:
        raise ValueError(
            f"text is {len(ids)} tokens long; the model sees at most "
            f"{model.config.block_size} (block_size): shorten it"
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, _, weights = model(torch.tensor([ids]), return_attention=True)
    finally:
        model.train(was_training)
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


class AttentionExplorer:
    """Lesson 02's widget: what every head of a trained model attends to, on your own text.

    The text box runs the model (:func:`attention_maps`) once per text. The layer, head and token
    controls only pick a slice of the result: a heat map (row = the token that looks, column =
    the token looked at), the same weights as lines from each token to the ones it attends to
    (after bertviz's head view; the chosen token's lines in colour), and a grid of every head.
    """

    def __init__(self, model: GPT, tokenizer: Any, text: str = "ROMEO:\nBut soft, what light?\n"):
        import ipywidgets as w

        self.model, self.tokenizer = model, tokenizer
        layers, heads = model.config.n_layer, model.config.n_head
        slider = {"continuous_update": False}
        self.text = w.Textarea(
            value=text, description="text", continuous_update=False, layout={"width": "60em"}
        )
        self.layer = w.IntSlider(value=0, min=0, max=layers - 1, description="layer", **slider)
        self.head = w.IntSlider(value=0, min=0, max=heads - 1, description="head", **slider)
        self.token = w.IntSlider(value=0, min=0, max=0, description="token", **slider)
        self.caption = w.HTML()
        self.image = w.Image(format="png")
        self.grid = w.Image(format="png")
        self.text.observe(lambda _: self._on_text(), names="value")
        for control in (self.layer, self.head):
            control.observe(lambda _: self.render(grid=True), names="value")
        self.token.observe(self._on_token, names="value")
        self._new_text = False  # True while a new text resets the token slider
        self.widget = w.VBox(
            [
                self.text,
                w.HBox([self.layer, self.head, self.token]),
                self.caption,
                self.image,
                w.HTML("<b>every head</b> (rows: layers, columns: heads; the chosen one framed)"),
                self.grid,
            ],
            layout={"align_items": "flex-start"},  # pictures at their own size, not stretched
        )
        self._on_text()

    def _on_text(self) -> None:
        try:
            self.maps = attention_maps(self.model, self.tokenizer, self.text.value)
        except ValueError as err:  # say what is wrong with the text; keep the last good picture
            self.caption.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self._draw()
        self._new_text = True
        try:  # the last token sees the whole text: select it
            self.token.max = len(self.maps.tokens) - 1
            self.token.value = self.token.max
        finally:
            self._new_text = False
        self.render(grid=True)

    def _on_token(self, _change: object) -> None:
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
        n = len(labels)
        size = min(2.5 + n * 0.11, 9)  # about one line of small text per token
        self.figure = Figure(figsize=(1.75 * size, size), layout="constrained")
        self.ax_map, self.ax_lines = self.figure.subplots(1, 2, width_ratios=[1, 0.7])
        self.heat = self.ax_map.imshow(self.pattern.numpy(), cmap="Blues", vmin=0, vmax=1)
        self.ax_map.set_xticks(range(n), labels, fontsize=7, family="monospace")
        self.ax_map.set_yticks(range(n), labels, fontsize=7, family="monospace")
        self.ax_map.set(xlabel="looked at (key)", ylabel="looking (query)")
        self.ax_map.grid(False)
        self.row_box = Rectangle((-0.5, -0.5), n, 1, fill=False, edgecolor="tab:red", lw=1.5)
        self.ax_map.add_patch(self.row_box)
        self.lines = LineCollection(
            [((0, n - 1 - i), (1, n - 1 - j)) for i in range(n) for j in range(n)], linewidths=1.5
        )
        self.ax_lines.add_collection(self.lines)
        for i, label in enumerate(labels):
            y = n - 1 - i
            self.ax_lines.text(
                -0.03, y, label, ha="right", va="center", fontsize=7, family="monospace"
            )
            self.ax_lines.text(
                1.03, y, label, ha="left", va="center", fontsize=7, family="monospace"
            )
        self.ax_lines.set(xlim=(-0.3, 1.3), ylim=(-1, n))
        self.ax_lines.axis("off")
        layers, heads = self.maps.weights.shape[:2]
        self.grid_figure = Figure(figsize=(1.3 * heads, 1.3 * layers), layout="constrained")
        self.grid_axes = self.grid_figure.subplots(layers, heads, squeeze=False)
        for (layer, head), ax in np.ndenumerate(self.grid_axes):
            ax.imshow(self.maps.weights[layer, head].numpy(), cmap="Blues", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=f"L{layer} H{head}")
            ax.title.set_fontsize(7)

    def render(self, grid: bool = True) -> None:
        """Show the chosen layer, head and token (``grid``: also re-frame the overview)."""
        import numpy as np

        from llmlab import viz

        pattern, row, n = self.pattern, self.token.value, len(self.maps.tokens)
        self.heat.set_data(pattern.numpy())
        self.row_box.set_y(row - 0.5)
        weights = pattern.flatten().tolist()
        colours = [
            (0.84, 0.15, 0.16, wt**0.5) if k // n == row else (0.12, 0.47, 0.71, 0.3 * wt)
            for k, wt in enumerate(weights)
        ]
        self.lines.set_color(colours)
        self.ax_map.set_title(f"layer {self.layer.value}, head {self.head.value}")
        self.caption.value = (
            f"<b>layer {self.layer.value}, head {self.head.value}</b>: "
            + html.escape(head_summary(pattern, self.maps.tokens, row))
        )
        self.image.value = viz.png_bytes(self.figure)
        if grid:
            for (layer, head), ax in np.ndenumerate(self.grid_axes):
                chosen = (layer, head) == (self.layer.value, self.head.value)
                for spine in ax.spines.values():
                    spine.set(color="tab:red" if chosen else "lightgray", lw=3 if chosen else 1)
            self.grid.value = viz.png_bytes(self.grid_figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# ---------------------------------------------------------------------------------------------
# Lesson 03: the gradient-descent playground.


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
    if not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if not isinstance(momentum, int | float) or not 0 <= momentum < 1:
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
    """One word for what a run did: 'diverges', 'oscillates', 'crawls' or 'converges'.

    It oscillates when some coordinate reverses direction on most steps (each step overshoots the
    valley floor); it crawls when the loss has not closed 99% of its gap to the minimum.
    """
    if path.diverged or path.losses[-1] > path.losses[0]:
        return "diverges"
    moves = [(b[0] - a[0], b[1] - a[1]) for a, b in pairwise(path.points)]
    if len(moves) > 1:
        for axis in (0, 1):
            reversals = sum(m[axis] * n[axis] < 0 for m, n in pairwise(moves))
            if reversals > (len(moves) - 1) / 2:
                return "oscillates"
    if path.losses[-1] - minimum_loss > 0.01 * (path.losses[0] - minimum_loss):
        return "crawls"
    return "converges"


class DescentPlayground:
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

        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {surface!r}")
        slider = {"continuous_update": False, "style": {"description_width": "initial"}}
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
        self.image = w.Image(format="png")
        self.surface.observe(self._on_surface, names="value")
        for control in (self.lr, self.momentum):
            control.observe(self._on_setting, names="value")
        self.steps.observe(lambda _: self.render(), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.surface, self.lr]),
                w.HBox([self.momentum, self.steps]),
                self.caption,
                self.image,
            ],
            layout={"align_items": "flex-start"},  # the picture at its own size, not stretched
        )
        self._on_surface(None)

    def _on_surface(self, _change: object) -> None:
        self._draw_surface()
        self._on_setting(None)

    def _on_setting(self, _change: object) -> None:
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
        from llmlab import viz

        surface = SURFACES[self.surface.value]
        path, lowest = self.shown(), surface.loss(*surface.minimum)
        self.path_line.set_data(*zip(*path.points, strict=True))
        gaps = [max(loss - lowest, 1e-16) for loss in path.losses]
        self.loss_line.set_data(range(len(gaps)), gaps)
        self.ax_loss.set_xlim(0, max(self.steps.value, 1))
        self.ax_loss.set_ylim(min(gaps) / 3, max(gaps) * 3)
        verdict = self.verdict()
        self.caption.value = (
            f"<b>{verdict}</b>: loss {path.losses[0]:.3g} → {path.losses[-1]:.3g} after "
            f"{len(path.points) - 1} steps (learning rate {self.lr.value:.3g}, "
            f"momentum {self.momentum.value:.2f})"
        )
        self.image.value = viz.png_bytes(self.figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
