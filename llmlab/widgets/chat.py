"""Lesson 06's chat box: talk to a character of the plays, and watch the reply arrive.

Three layers, as every widget here:

1. :func:`stream_reply`, a pure function: the assistant's reply to a conversation as text
   pieces, one per token of :func:`llmlab.chat.reply_tokens` (the KV cache, stopping at
   ``<|end|>``);
2. :class:`ChatBox`, the view-model: a text box, whom you address, a Send button, a toggle to
   let the *base* model answer instead, and the conversation so far;
3. :func:`chat_html`, the thin renderer: the conversation as HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from llmlab.widgets.base import LessonWidget

if TYPE_CHECKING:
    import torch

    from llmlab.model import GPT
    from llmlab.tokenization import BPETokenizer

#: The dropdown entry for a question that addresses no one ("Which play is HORATIO in?").
NO_ONE = "(no one: ask a question)"


def stream_reply(
    model: GPT,
    tokenizer: BPETokenizer,
    turns: Sequence[tuple[str, str]],
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Iterator[str]:
    """The reply of :func:`reply_tokens` as text pieces, one per token, up to ``<|end|>``.

    ``"".join(stream_reply(...))`` is the whole reply. A template token other than ``<|end|>``
    (a model starting the next turn itself) ends the reply too: it is never part of one. A token
    holding part of a multi-byte character waits for the rest of it before anything is shown.
    """
    from llmlab.chat import CHAT_TOKENS, reply_tokens

    stops = {tokenizer.special_tokens[t] for t in CHAT_TOKENS if t in tokenizer.special_tokens}
    reply: list[int] = []
    shown = ""
    for token in reply_tokens(
        model, tokenizer, turns, max_new_tokens, temperature, top_k, generator
    ):
        if token in stops:
            break
        reply.append(token)
        text = tokenizer.decode(reply)
        if not text.endswith("\ufffd") and len(text) > len(shown):
            yield text[len(shown) :]
            shown = text
    text = tokenizer.decode(reply)  # whatever a cut-off multi-byte character left unshown
    if len(text) > len(shown):
        yield text[len(shown) :]


def chat_html(turns: Sequence[tuple[str, str]], note: str = "") -> str:
    """The conversation as HTML: the user's turns on the right, the assistant's on the left,
    and ``note`` (who answered, or why nothing happened) in grey underneath."""
    bubbles = []
    for role, text in turns:
        side = "margin-left:20%;background:#e3f2fd" if role == "user" else "background:#f1f8e9"
        body = html.escape(text).replace("\n", "<br>")
        bubbles.append(
            f"<div style='{side};border-radius:8px;padding:4px 8px;margin:4px 0'>{body}</div>"
        )
    if note:
        bubbles.append(f"<div style='color:#777;font-size:90%'>{html.escape(note)}</div>")
    return f"<div style='font-family:serif;max-width:40em'>{''.join(bubbles)}</div>"


class ChatBox(LessonWidget):
    """Lesson 06's widget: talk to a character of a play, as the fine-tuned model plays it.

    Type a line, choose whom it addresses (the characters of ``play``, or no one for a question
    such as "Which play is HORATIO in?") and press Send: the line becomes the user turn
    ``"To HAMLET: ..."`` (:func:`llmlab.instructions.address`), the conversation so far is the
    prompt, and the reply appears piece by piece. Tick *answer with the base model* to see what
    the model did before fine-tuning: it reads the same template (its token table grown by
    :func:`llmlab.finetune.grow_vocabulary`) but has never learned to answer or to stop.
    Changing whom you address starts a new conversation; so does *Clear*. When the conversation
    no longer fits the context, its earliest exchanges are dropped.
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: BPETokenizer,
        base_model: GPT | None = None,
        play: str = "hamlet",
        character: str = "HAMLET",
        max_new_tokens: int = 48,
        temperature: float = 0.8,
        top_k: int | None = 50,
        seed: int = 0,
    ) -> None:
        import ipywidgets as w
        import torch

        from llmlab import instructions
        from llmlab.chat import render_prompt
        from llmlab.finetune import grow_vocabulary
        from llmlab.model import GPT

        if not isinstance(model, GPT):
            raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
        render_prompt([("user", "hello")], tokenizer)  # a chat tokenizer, or a clear error
        if base_model is not None:
            if not isinstance(base_model, GPT):
                raise TypeError(
                    f"base_model must be an llmlab.model.GPT or None, got "
                    f"{type(base_model).__name__}"
                )
            if base_model.config.vocab_size < tokenizer.vocab_size:
                base_model = grow_vocabulary(base_model, tokenizer.vocab_size).eval()
        self.model, self.tokenizer, self.base_model = model, tokenizer, base_model
        self.max_new_tokens, self.temperature, self.top_k = max_new_tokens, temperature, top_k
        self.generator = torch.Generator().manual_seed(seed)
        names = instructions.speakers(play)
        if character not in names:
            raise ValueError(
                f"character must be one of the speakers of {play!r}, e.g. {names[:5]}, "
                f"got {character!r}"
            )
        self.turns: list[tuple[str, str]] = []
        self.text = w.Text(placeholder="Say something, e.g. My lord, how fares your grace?")
        self.addressee = w.Dropdown(options=[NO_ONE, *names], value=character, description="to")
        self.send = w.Button(description="Send", button_style="primary")
        self.clear = w.Button(description="Clear")
        self.use_base = w.ToggleButton(
            value=False,
            description="answer with the base model",
            disabled=base_model is None,
            layout=w.Layout(width="auto"),
        )
        self.output = w.HTML()
        self.send.on_click(lambda _button: self.reply())
        self.clear.on_click(lambda _button: self.reset())
        self.addressee.observe(lambda _change: self.reset(), names="value")
        self.use_base.observe(lambda _change: self.reset(), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.addressee, self.use_base]),
                w.HBox([self.text, self.send, self.clear]),
                self.output,
            ]
        )
        self.render()

    def user_turn(self, text: str) -> str:
        """What the model reads for ``text``: addressed to the chosen character, if any."""
        from llmlab.instructions import address

        text = text.strip()
        return text if self.addressee.value == NO_ONE else address(self.addressee.value, text)

    def reset(self) -> None:
        """Start a new conversation."""
        self.turns = []
        self.render()

    def reply(self) -> str:
        """Send the text box's line and show the reply as it is generated; returns the reply."""
        from llmlab.chat import render_prompt

        said = self.text.value.strip()
        if not said:
            self.render("Type something first.")
            return ""
        model = self.base_model if self.use_base.value and self.base_model else self.model
        who = "the base model" if model is self.base_model else "the fine-tuned model"
        turns = [*self.turns, ("user", self.user_turn(said))]
        room = model.config.block_size - 8  # leave at least a few tokens for the reply
        while len(turns) > 1 and len(render_prompt(turns, self.tokenizer)) > room:
            turns = turns[2:]  # drop the earliest exchange
        if len(render_prompt(turns, self.tokenizer)) > room:
            self.render("That line is too long for the model's context: say something shorter.")
            return ""
        self.text.value = ""
        answer = ""
        for piece in stream_reply(
            model,
            self.tokenizer,
            turns,
            self.max_new_tokens,
            self.temperature,
            self.top_k,
            self.generator,
        ):
            answer += piece
            self.output.value = chat_html([*turns, ("assistant", answer)], f"{who} is writing…")
        # An empty reply cannot be a turn the template renders again: keep a visible stand-in.
        self.turns = [*turns, ("assistant", answer.strip() or "…")]
        self.render(f"answered by {who}")
        return answer

    def render(self, note: str = "") -> None:
        self.output.value = chat_html(self.turns, note)
