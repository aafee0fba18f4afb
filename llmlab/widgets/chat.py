"""Lesson 07's chat box: talk to a character of the plays, and watch the reply arrive.

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
import threading
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmlab import checks
from llmlab.widgets.base import TEXT_STYLE, LessonWidget, message_html

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
) -> Generator[str, None, bool]:
    """The reply of :func:`reply_tokens` as text pieces, one per token, up to ``<|end|>``.

    ``"".join(stream_reply(...))`` is the whole reply. A template token other than ``<|end|>``
    (a model starting the next turn itself) ends the reply too: it is never part of one. A token
    holding part of a multi-byte character waits for the rest of it before anything is shown.
    The generator's return value (``ended = yield from stream_reply(...)``) says whether the
    model ended the reply itself (True) or was stopped by ``max_new_tokens`` or the end of its
    context (False): a reader must be told when a reply was cut, not left to guess.
    """
    from llmlab.chat import CHAT_TOKENS, reply_tokens

    stops = {tokenizer.special_tokens[t] for t in CHAT_TOKENS if t in tokenizer.special_tokens}
    reply: list[int] = []
    shown = ""
    ended = False
    for token in reply_tokens(
        model, tokenizer, turns, max_new_tokens, temperature, top_k, generator
    ):
        if token in stops:
            ended = True
            break
        reply.append(token)
        text = tokenizer.decode(reply)
        if not text.endswith("\ufffd") and len(text) > len(shown):
            yield text[len(shown) :]
            shown = text
    text = tokenizer.decode(reply)  # whatever a cut-off multi-byte character left unshown
    if len(text) > len(shown):
        yield text[len(shown) :]
    return ended


def chat_html(
    turns: Sequence[tuple[str, str]],
    note: str = "",
    dropped: int = 0,
    remarks: Mapping[int, str] | None = None,
    context: int | None = None,
) -> str:
    """The conversation as HTML: the user's turns indented on the right, the assistant's on the
    left, and ``note`` (who answered, or what just changed) underneath.

    The first ``dropped`` turns, which the model no longer reads, stay on screen, faded, above a
    line that says so (``context``: the model's context in tokens, for that line): turns that
    vanish without a word look like a lost conversation. ``remarks[i]`` is a small line under
    turn ``i`` (e.g. that the reply was cut off, or which model wrote it).
    """
    remarks = remarks or {}
    window = f"the model's {context}-token context" if context else "the model's context"
    bubbles = []
    for i, (role, text) in enumerate(turns):
        if i == dropped and dropped:
            bubbles.append(
                "<div class='llmlab-dropped' style='color:#8a5a00;margin:6px 0'>⋯ earlier turns "
                f"no longer fit in {window} with room for a reply: the model reads only the "
                "turns below ⋯</div>"
            )
        # one `margin` for all four sides: a `margin` after `margin-left` would reset the indent
        user = role == "user"
        side = (
            "margin:4px 0 4px 20%;background:#e3f2fd" if user else "margin:4px 0;background:#f1f8e9"
        )
        faded = ";opacity:0.5" if i < dropped else ""
        body = html.escape(text).replace("\n", "<br>")
        bubbles.append(
            f"<div class='llmlab-{role}' style='{side};border-radius:8px;padding:4px 8px{faded}'>"
            f"{body}</div>"
        )
        if i in remarks:
            bubbles.append(
                f"<div style='color:#8a5a00;font-size:90%;margin:-2px 0 4px 0'>"
                f"{html.escape(remarks[i])}</div>"
            )
    if note:
        bubbles.append(f"<div style='color:#444;margin-top:4px'>{html.escape(note)}</div>")
    return f"<div style='{TEXT_STYLE};max-width:40em'>{''.join(bubbles)}</div>"


#: Seconds a reply asked for by Enter (or by Send on a box that holds no new line here) waits for
#: its line before answering what has arrived: the line follows at once, but on a loaded machine
#: the kernel can read it later than 0.3 s (a CI run on 2 cores once replied to an empty box).
#: Only Enter or Send on an unchanged line (a refused one, sent again) or on a really empty box
#: waits the whole time.
LINE_GRACE_S = 1.0


class ChatBox(LessonWidget):
    """Lesson 07's widget: talk to a character of a play, as the fine-tuned model plays it.

    Type a line, choose whom it addresses (the characters of ``play``, or no one for a question
    such as "Which play is HORATIO in?") and press Enter or Send: the line becomes the user turn
    ``"To HAMLET: ..."`` (:func:`llmlab.instructions.address`), the conversation so far is the
    prompt, and the reply appears piece by piece. Tick *answer with the base model* to see what
    the model did before fine-tuning: it reads the same template (its token table grown by
    :func:`llmlab.finetune.grow_vocabulary`) but has never learned to answer or to stop.

    The model's context always keeps room for a whole reply of ``max_new_tokens`` tokens: when
    the conversation and that room no longer fit, the earliest exchanges are dropped from the
    prompt, and the conversation says so at the place where the model starts reading. A reply
    that reaches ``max_new_tokens`` without ending is marked as cut off. Choosing another
    addressee or model keeps the conversation and says what changed; *Clear* starts a new one.
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
        # The context both models read, in tokens; a reply needs its room in it, and a prompt at
        # least a few tokens (the template's own).
        self.context = min(m.config.block_size for m in (model, base_model) if m is not None)
        self.max_new_tokens = checks.integer(
            max_new_tokens, "max_new_tokens", 1, self.context - 8, hint="tokens of room for a reply"
        )
        self.model, self.tokenizer, self.base_model = model, tokenizer, base_model
        self.temperature, self.top_k = temperature, top_k
        self.generator = torch.Generator().manual_seed(seed)
        names = instructions.speakers(play)
        if character not in names:
            raise ValueError(
                f"character must be one of the speakers of {play!r}, e.g. {names[:5]}, "
                f"got {character!r}"
            )
        self.turns: list[tuple[str, str]] = []
        self.dropped = 0  # the first turns, which the model no longer reads
        self.remarks: dict[int, str] = {}  # under a turn: cut off, or written by the base model
        # The line reaches the kernel when it is sent (Enter, Send, or leaving the box), not per
        # key: see _on_enter for why.
        self.text = w.Text(
            placeholder="Say something, e.g. My lord, how fares your grace?",
            continuous_update=False,
            layout={"width": "32em"},  # the whole placeholder shows
        )
        self.addressee = w.Dropdown(options=[NO_ONE, *names], value=character, description="to")
        self.send = w.Button(description="Send", button_style="primary")
        self.clear = w.Button(description="Clear")
        self.use_base = w.ToggleButton(
            value=False,
            description="answer with the base model",
            disabled=base_model is None,
            layout=w.Layout(width="auto"),
        )
        self.notice = w.HTML()  # beside the text box: why a line was not sent
        self.output = w.HTML()
        self.send.on_click(lambda _button: self._on_send())
        self._waiting = False  # Enter or Send came first; the line may still be on its way
        self._wait_lock = threading.Lock()
        self._answered = ""  # the box as the last reply left it: "" once sent, or a refused line
        self.text.on_msg(self._on_enter)
        self.text.observe(self._on_line, names="value")
        self.clear.on_click(lambda _button: self.reset())
        self.addressee.observe(self._on_addressee, names="value")
        self.use_base.observe(self._on_model, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.addressee, self.use_base]),
                w.HBox(
                    [self.text, self.send, self.clear, self.notice],
                    layout={"flex_flow": "row wrap", "align_items": "center"},
                ),
                self.output,
            ]
        )
        self.render()

    def _on_enter(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        """Enter in the text box: the page sends ``{"event": "submit"}`` and then, when the line
        changed since it last arrived, the line itself. So the reply waits for the line: it goes
        out when the line arrives (:meth:`_on_line`), or after a moment if nothing changed (Enter
        again on a line refused as too long). Replying at once would send what arrived before:
        a line cut short, or nothing. (``Text.on_submit`` has the same race, and is deprecated.)
        """
        if content.get("event") == "submit":
            self._await_line()

    def _on_send(self) -> None:
        """Send: the line left the box (on blur) before the click, so it is normally here. But the
        page may hold it back (ipywidgets sends a widget's next update only once the kernel has
        finished with its last one, and the click, another widget's message, goes at once), and
        a JupyterLab that sends widget messages over kernel subshells handles the text box and
        the button on different threads. So a box that holds nothing new here (empty after a
        reply, or still the line refused last) waits for its line, as Enter does."""
        if self.text.value != self._answered:
            self.reply()
        else:
            self._await_line()

    def _await_line(self) -> None:
        """Reply when the line arrives (:meth:`_on_line`), or after ``LINE_GRACE_S`` to what is
        here (a refused line sent again, or nothing, which is then said)."""
        import asyncio

        self._waiting = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in a kernel's event loop (code, tests): nothing else to wait for
            self._reply_awaited()
            return
        loop.call_later(LINE_GRACE_S, self._reply_awaited)

    def _on_line(self, change: dict[str, Any]) -> None:
        if self._waiting and change["new"].strip():
            self._reply_awaited()

    def _reply_awaited(self) -> None:
        with self._wait_lock:  # the line and the timer may come on two threads: one reply
            waiting, self._waiting = self._waiting, False
        if waiting:
            self.reply()

    def _on_addressee(self, change: dict[str, Any]) -> None:
        whom = "no one (a question)" if change["new"] == NO_ONE else change["new"]
        kept = "the conversation so far is kept" if self.turns else "nothing said yet"
        self.render(f"Your next line is addressed to {whom}; {kept} (Clear starts a new one).")

    def _on_model(self, change: dict[str, Any]) -> None:
        who = "the base model" if change["new"] else "the fine-tuned model"
        kept = "the conversation so far is kept" if self.turns else "nothing said yet"
        self.render(f"From now on {who} answers; {kept} (Clear starts a new one).")

    def user_turn(self, text: str) -> str:
        """What the model reads for ``text``: addressed to the chosen character, if any."""
        from llmlab.instructions import address

        text = text.strip()
        return text if self.addressee.value == NO_ONE else address(self.addressee.value, text)

    def reset(self) -> None:
        """Start a new conversation."""
        self.turns, self.dropped, self.remarks = [], 0, {}
        self.notice.value = ""
        self.render()

    def reply(self) -> str:
        """Send the text box's line and show the reply as it is generated; returns the reply."""
        from llmlab.chat import render_prompt

        self._answered = self.text.value
        said = self._answered.strip()
        if not said:
            self.notice.value = message_html("Type something first.")
            return ""
        model = self.base_model if self.use_base.value and self.base_model else self.model
        who = "the base model" if model is self.base_model else "the fine-tuned model"
        turns = [*self.turns, ("user", self.user_turn(said))]
        room = self.context - self.max_new_tokens  # the prompt's share: a whole reply always fits
        line = len(render_prompt(turns[-1:], self.tokenizer))
        if line > room:  # keep the line in the box, to shorten it
            self.notice.value = message_html(
                f"That line is too long: with its {line} tokens there is no room left in the "
                f"model's {self.context}-token context for a reply. Say something shorter."
            )
            return ""
        dropped = self.dropped
        while len(render_prompt(turns[dropped:], self.tokenizer)) > room:
            dropped += 2  # the earliest exchange still read: a user turn and its reply
        self.notice.value = ""
        self._answered = self.text.value = ""
        self.turns, self.dropped = turns, dropped
        answer, pieces = "", self._stream(model, turns[dropped:])
        while True:
            try:
                answer += next(pieces)
            except StopIteration as stop:
                ended = stop.value
                break
            self.output.value = self._html([*turns, ("assistant", answer)], f"{who} is writing…")
        # An empty reply cannot be a turn the template renders again: keep a visible stand-in.
        self.turns = [*turns, ("assistant", answer.strip() or "…")]
        remark = [] if model is self.model else ["by the base model"]
        if not ended:
            remark.append(f"cut off: the reply reached its {self.max_new_tokens}-token limit")
        if remark:
            self.remarks[len(self.turns) - 1] = "; ".join(remark)
        self.render(f"answered by {who}")
        return answer

    def _stream(self, model: GPT, turns: list[tuple[str, str]]) -> Generator[str, None, bool]:
        return stream_reply(
            model,
            self.tokenizer,
            turns,
            self.max_new_tokens,
            self.temperature,
            self.top_k,
            self.generator,
        )

    def _html(self, turns: Sequence[tuple[str, str]], note: str) -> str:
        return chat_html(turns, note, self.dropped, self.remarks, self.context)

    def render(self, note: str = "") -> None:
        self.output.value = self._html(self.turns, note)
