"""Lesson 01's token playground: a text as tokens, under the tokenizer of your choice."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmlab.widgets.base import LessonWidget, on_change

if TYPE_CHECKING:
    import tokenizers

    from llmlab.tokenization import BPETokenizer, CharTokenizer


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
    """How a token is drawn: its text with spaces (·), tabs (→) and newlines (↵) visible, or,
    when it holds only part of a character (byte-level BPE can split one), each byte in hex
    between angle brackets, ``<c3>``, so that it cannot be read as letters."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"<{b:02x}>" for b in piece)
    return text.replace(" ", "·").replace("\t", "→").replace("\n", "↵")


#: What the drawn symbols stand for, shown under the tokens.
LEGEND = "· a space, → a tab, ↵ a new line, &lt;c3&gt; one byte (in hex) of a split character"


#: The most token chips drawn: a pasted page would otherwise be thousands of chips, a screen
#: long; the counts above them always cover the whole text.
MAX_CHIPS = 400


def token_html(view: TokenView, name: str = "", max_chips: int = MAX_CHIPS) -> str:
    """The playground's picture: counts, then each token in its colour with its id under it
    (the first ``max_chips``, and a line saying so), lines broken where the text has a newline,
    and a legend of the symbols. An empty text gets a message, not a count of zero."""
    name = html.escape(name)
    if view.error:
        return f"<div style='color:#b00020'><b>{name}</b>: {html.escape(view.error)}</div>"
    if not view.text:
        return (
            f"<div role='alert' style='color:#b00020'><b>{name}</b>: type or paste some text "
            "to see its tokens.</div>"
        )
    summary = (
        f"<b>{name}</b> (vocabulary {view.vocab_size:,}): <b>{len(view.ids):,} tokens</b> "
        f"({len(set(view.ids)):,} distinct) for {len(view.text):,} characters, "
        f"{len(view.text.encode('utf-8')):,} bytes: {view.bytes_per_token:.2f} bytes per token"
    )
    cells = []
    if len(view.ids) > max_chips:
        summary += f"<br><i>showing the first {max_chips:,} of {len(view.ids):,} tokens</i>"
    shown = zip(view.ids[:max_chips], view.pieces[:max_chips], strict=True)
    for k, (i, piece) in enumerate(shown):
        colour = TOKEN_COLOURS[k % len(TOKEN_COLOURS)]
        cells.append(
            "<span class='llmlab-token' style='display:inline-flex;flex-direction:column;"
            f"align-items:center;margin:0 1px 4px 0;background:{colour};border-radius:3px;"
            f"padding:0 2px' title='id {i}'><span style='white-space:pre'>"
            f"{html.escape(_piece_text(piece))}</span>"
            f"<span class='llmlab-id' style='font-size:75%;color:#444'>{i}</span></span>"
        )
        if b"\n" in piece:  # the text goes on on a new line: so do its tokens
            cells.append("<br>")
    return (
        f"<div>{summary}</div>"
        f"<div style='font-family:monospace;line-height:1.2;margin:4px 0'>{''.join(cells)}</div>"
        f"<div style='font-size:85%;color:#555'>{LEGEND}</div>"
    )


class TokenPlayground(LessonWidget):
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
            options=sizes, value=sizes[-1], description="vocabulary", readout=False
        )
        self.readout = w.Label()  # the chosen tokenizer's vocabulary (characters: their own)
        self.output = w.HTML()
        on_change(self.render, self.text, self.kind, self.vocab_size)
        controls = w.HBox([self.kind, self.vocab_size, self.readout], layout={"flex_flow": "wrap"})
        self.widget = w.VBox([self.text, controls, self.output])
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
        self.readout.value = f"{self.view.vocab_size:,} tokens"
        self.output.value = token_html(self.view, name)

    def still(self) -> dict[str, Any]:
        return {"text/html": self.output.value}
