"""Lesson 11's knowledge box: ask a question about a play, with or without a passage to read.

Three layers, as every widget here:

1. :func:`answer_confidence`, a pure function: the model's probability for each candidate answer
   to one user turn (scored over the candidates with :func:`llmlab.answers.option_log_probs`, so
   the largest is its answer and its confidence), and :func:`confidence_html`, those
   probabilities as a small bar table with the right answer marked;
2. :class:`KnowledgeBox`, the view-model: pick a question (or type your own), switch *give it
   the retrieved passage* on or off, read and edit the passage the retriever found;
3. the renderer: one ``HTML`` widget, redrawn after every change (typing waits for a pause).

The passage is the best match of a TF-IDF retriever (:class:`llmlab.retrieval.TfidfRetriever`)
for the question, found again whenever the question changes; the model is given it as
``ask(question, passage)`` (by default :func:`prompt_with_passage`, the wording lesson 11's
``reader`` was fine-tuned on), or the passage's ``given`` form (a quote with its play's title).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmlab import checks
from llmlab.widgets.base import TEXT_STYLE, LessonWidget, after_pause, message_html

#: How many of the retriever's best matches are tried for one that fits the model's context.
SEARCHED = 50

if TYPE_CHECKING:
    import torch

    from llmlab.instructions import Example
    from llmlab.model import GPT


def prompt_with_passage(question: str, passage: str) -> str:
    """The user turn that hands the model ``passage`` to read before ``question``."""
    return f"{passage.strip()}\n\n{question.strip()}"


@dataclass(frozen=True)
class Confidence:
    """The model's distribution over ``candidates`` for one question as it was asked."""

    candidates: tuple[str, ...]
    probs: torch.Tensor  # [len(candidates)], summing to 1

    @property
    def answer(self) -> str:
        """The likeliest candidate: what the model answers."""
        return self.candidates[int(self.probs.argmax())]

    @property
    def confidence(self) -> float:
        """The answer's probability among the candidates."""
        return float(self.probs.max())


#: The question kind lesson 11's reader was taught on, scored over every speaker of the plays.
LINE_SPEAKER = "line_speaker"


def answer_options(example: Example, plays: Sequence[str]) -> list[str]:
    """The candidates the box scores for ``example``: :func:`llmlab.answers.options` for the
    kinds with a closed list, and for "Who speaks the line ...?" every speaker of ``plays``
    credited as the answers are ("OLIVIA, in Twelfth Night."), the right one included."""
    from llmlab.answers import options
    from llmlab.instructions import speakers, title

    if example.kind != LINE_SPEAKER:
        return options(example)
    found = [f"{name}, in {title(play)}." for play in plays for name in speakers(play)]
    right = example.turns[1][1]
    return found if right in found else [*found, right]


def prompt_tokens(tokenizer: Any, user_text: str, candidates: Sequence[str]) -> int:
    """Tokens the model reads for ``user_text`` answered with its longest candidate (the chat
    template included): it must fit the model's context to be scored."""
    from llmlab.chat import render_chat

    return max(
        len(render_chat([("user", user_text), ("assistant", c)], tokenizer)[0]) for c in candidates
    )


def answer_confidence(
    model: GPT, tokenizer: Any, user_text: str, candidates: Sequence[str]
) -> Confidence:
    """The model's probability for each of ``candidates`` as its reply to ``user_text``,
    normalised over the candidates (what the lesson's accuracy and calibration are measured on)."""
    from llmlab.answers import option_log_probs

    if not isinstance(user_text, str) or not user_text.strip():
        raise ValueError(f"user_text must be a non-empty question, got {user_text!r}")
    if not candidates:
        raise ValueError("candidates is empty: give the answers to choose among")
    scores = option_log_probs(model, tokenizer, [("user", user_text)], list(candidates))
    return Confidence(tuple(candidates), scores.softmax(dim=0).float())


def confidence_html(found: Confidence, truth: str | None = None, shown: int = 8) -> str:
    """The ``shown`` likeliest candidates as bars, best first, the right answer (``truth``, when
    known) marked ✓, and shown below them when it is not among them."""
    shown = checks.integer(shown, "shown", 1)
    probs = found.probs.tolist()
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
    rows = order[:shown]
    if truth in found.candidates and found.candidates.index(truth) not in rows:
        rows.append(found.candidates.index(truth))
    lines = []
    for i in rows:
        name, p = found.candidates[i], probs[i]
        right = name == truth
        colour = "#2e7d32" if right else "#1f77b4"
        mark = " ✓" if right else ""
        place = "" if i in order[:shown] else f" (ranked {order.index(i) + 1} of {len(probs)})"
        lines.append(
            "<tr>"
            "<td style='padding-right:8px;white-space:nowrap'>"
            f"{html.escape(name)}{mark}{place}</td>"
            "<td style='width:16em'><div style='background:#eee;width:16em;height:0.9em'>"
            f"<div style='background:{colour};width:{100 * p:.1f}%;height:100%'></div></div></td>"
            f"<td style='padding-left:6px;text-align:right'>{p:.3f}</td>"
            "</tr>"
        )
    return f"<table style='{TEXT_STYLE};border-collapse:collapse'>{''.join(lines)}</table>"


class KnowledgeBox(LessonWidget):
    """Ask ``model`` a question about a play, closed-book or with a retrieved passage.

    ``questions`` (:class:`llmlab.instructions.Example` s of the kinds in
    :data:`llmlab.answers.KINDS`, or "Who speaks the line ...?") fill the *question* menu;
    picking one puts its text in the box and fixes the candidate answers
    (:func:`answer_options`, over the plays the questions are about) and the right one. Edit
    the text or type your own question: the candidates stay the picked question's. ``passages``
    are the texts the retriever searches, ``given`` (default: the same) what the model is given
    for each; the best match for the question shows in the passage box, where you can edit it.
    With *give it the retrieved passage* on, the model reads ``ask(question, passage)``, else
    the question alone. Under the controls: the model's answer,
    its confidence beside chance, the closed-book answer for comparison, and the ``shown``
    likeliest candidates as bars. Typing waits for a pause of ``pause`` seconds (0: at once).
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Any,
        questions: Sequence[Example],
        passages: Sequence[str],
        given: Sequence[str] | None = None,
        ask: Callable[[str, str], str] = prompt_with_passage,
        with_passage: bool = False,
        shown: int = 8,
        pause: float = 0.4,
    ) -> None:
        import threading

        import ipywidgets as w

        from llmlab.answers import KINDS
        from llmlab.chat import render_prompt
        from llmlab.model import GPT
        from llmlab.retrieval import TfidfRetriever

        if not isinstance(model, GPT):
            raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
        render_prompt([("user", "hello")], tokenizer)  # a chat tokenizer, or a clear error
        if not questions:
            raise ValueError("questions is empty: give at least one question to pick")
        kinds = (*KINDS, LINE_SPEAKER)
        for n, example in enumerate(questions):
            if getattr(example, "kind", None) not in kinds:
                raise ValueError(
                    f"questions[{n}] must be a question of a kind in {kinds} (its answers are "
                    f"a known list), got kind {getattr(example, 'kind', None)!r}"
                )
        if not callable(ask):
            raise TypeError(f"ask must be a function (question, passage) -> text, got {ask!r}")
        self.shown = checks.integer(shown, "shown", 1)
        checks.number(pause, "pause", 0, 5, hint="seconds")
        self.model, self.tokenizer, self.ask = model.eval(), tokenizer, ask
        self.questions = list(questions)
        plays = list(dict.fromkeys(e.play for e in self.questions))
        self.options = [answer_options(e, plays) for e in self.questions]
        self.retriever = TfidfRetriever(list(passages))  # refuses an empty list, by name
        self.texts = list(passages if given is None else given)
        if len(self.texts) != self.retriever.size:
            raise ValueError(
                f"given must hold one text per passage: {len(self.texts)} for "
                f"{self.retriever.size} passages"
            )
        self.pause, self._lock, self._timer = float(pause), threading.RLock(), None
        self._closed: dict[tuple[str, int], Confidence] = {}  # closed-book answers, by question
        self.result: Confidence | None = None
        self.rank = 0  # the shown passage's place among the retriever's matches (0: none)
        self.retrieved = ""  # the passage the retriever put in the box (you may edit it)
        self._overhead: tuple[tuple[str, ...], int] = ((), 0)  # candidates -> template tokens

        first = self.questions[0].turns[0][1]
        self.pick = w.Dropdown(
            options=[(e.turns[0][1], n) for n, e in enumerate(self.questions)],
            value=0,
            description="pick a question",
            style={"description_width": "9em"},
            layout={"width": "calc(9em + 30em)"},
        )
        self.question = w.Text(
            value=first,
            description="or type one",
            placeholder="Type a question about a play, e.g. Which play is HORATIO in?",
            style={"description_width": "9em"},
            layout={"width": "calc(9em + 30em)"},
        )
        self.use_passage = w.Checkbox(
            value=bool(with_passage),
            description="give it the retrieved passage",
            indent=False,
            layout={"width": "auto"},
        )
        self.passage = w.Textarea(
            description="passage",
            placeholder="The retriever's best passage for the question shows here; edit it freely",
            style={"description_width": "9em"},
            layout={"width": "calc(9em + 30em)", "height": "9em"},
        )
        self.note = w.HTML()  # why nothing is scored, or what the passage is
        self.output = w.HTML()
        self._filling = False  # the passage box is being filled by the retriever, not by you
        self.pick.observe(self._on_pick, names="value")
        self.question.observe(self._on_question, names="value")
        self.passage.observe(self._on_passage, names="value")
        self.use_passage.observe(lambda _change: self.flush(), names="value")
        self.widget = w.VBox(
            [self.pick, self.question, self.use_passage, self.passage, self.note, self.output],
            layout={"align_items": "flex-start"},
        )
        self._retrieve()
        self.flush()

    # ----------------------------------------------------------------------------- controls

    @property
    def candidates(self) -> list[str]:
        """The picked question's possible answers (a typed question keeps them)."""
        return self.options[self.pick.value]

    @property
    def truth(self) -> str | None:
        """The picked question's right answer, while the box still asks that question."""
        example = self.questions[self.pick.value]
        same = self.question.value.strip() == example.turns[0][1]
        return example.turns[1][1] if same else None

    def _on_pick(self, change: dict[str, Any]) -> None:
        """A picked question is answered at once (no pause: nobody is typing)."""
        text = self.questions[change["new"]].turns[0][1]
        if self.question.value != text:
            self.question.value = text  # retrieves the passage through _on_question
        else:  # the same wording: the candidates, and so the passage that fits, may differ
            self._retrieve()
        self.flush()

    def _on_question(self, _change: dict[str, Any]) -> None:
        self._retrieve()
        self._schedule()

    def _on_passage(self, _change: dict[str, Any]) -> None:
        if not self._filling and self.use_passage.value:
            self._schedule()

    def _retrieve(self) -> None:
        """Put the retriever's best passage for the question in the passage box: the best of
        its first :data:`SEARCHED` matches that fits the model's context with the question and
        the longest answer (the best match when none does; nothing when no passage shares a
        word with the question)."""
        from llmlab.contamination import words

        question = self.question.value.strip()
        best, self.rank = "", 0
        if words(question):
            ranked = self.retriever.search(question, min(SEARCHED, self.retriever.size))
            fits = [i for i in ranked if self._fits(question, self.texts[i])]
            if ranked:
                chosen = fits[0] if fits else ranked[0]
                best, self.rank = self.texts[chosen], ranked.index(chosen) + 1
        self._filling, self.retrieved = True, best
        try:
            self.passage.value = best
        finally:
            self._filling = False

    def _fits(self, question: str, passage: str) -> bool:
        """Whether the model can read ``passage`` and ``question`` with the longest answer (the
        chat template's tokens and the longest answer's, counted once per candidate list)."""
        key = tuple(self.candidates)
        if self._overhead[0] != key:
            alone = len(self.tokenizer.encode("x"))
            self._overhead = (key, prompt_tokens(self.tokenizer, "x", key) - alone)
        try:
            used = len(self.tokenizer.encode(self.ask(question, passage)))
        except ValueError:
            return False
        return used + self._overhead[1] <= self.model.config.block_size

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = after_pause(self.pause, self.render)

    def flush(self) -> None:
        """Score and draw now what the end of a pause would."""
        if self._timer is not None:
            self._timer.cancel()
        self.render()

    # ----------------------------------------------------------------------------- scoring

    def problem(self) -> str:
        """Why the model cannot be asked what the boxes hold ('' when it can)."""
        from llmlab.contamination import words

        question = self.question.value.strip()
        if not question:
            return "Type a question (or pick one) to see the model's answer."
        if not words(question):
            return "This question has no words: type a question about a play."
        if self.use_passage.value and not self.passage.value.strip():
            if not self.retriever.scores(question):
                return (
                    "No passage shares a word with this question, so there is nothing to give "
                    "the model: type a passage into the box, or switch the passage off."
                )
            return "The passage box is empty: type a passage, or switch the passage off."
        block = self.model.config.block_size
        try:
            needed = prompt_tokens(self.tokenizer, self.user_text(), self.candidates)
        except ValueError as error:  # text the tokenizer cannot read
            return f"The model cannot read this: {error}"
        if needed <= block:
            return ""
        if self.use_passage.value:
            alone = prompt_tokens(self.tokenizer, question, self.candidates)
            room = block - alone
            passage = len(self.tokenizer.encode(self.passage.value.strip()))
            return (
                f"The passage is too long for the model: it is {passage} tokens, and with the "
                f"question and the longest answer the model would read {needed} tokens, more "
                f"than its {block}-token context. Shorten the passage to about "
                f"{max(room - 2, 0)} tokens, or switch it off."
            )
        return (
            f"This question is too long for the model: with the longest answer it takes "
            f"{needed} tokens, more than its {block}-token context. Ask something shorter."
        )

    def user_text(self) -> str:
        """What the model reads as the user's turn: the question, after the passage if given."""
        question = self.question.value.strip()
        if self.use_passage.value:
            return self.ask(question, self.passage.value)
        return question

    def _closed_book(self, question: str) -> Confidence:
        key = (question, self.pick.value)
        if key not in self._closed:
            if len(self._closed) > 64:
                self._closed.clear()
            self._closed[key] = answer_confidence(
                self.model, self.tokenizer, question, self.candidates
            )
        return self._closed[key]

    def render(self) -> None:
        """Score the question as the controls set it and show the answer (one at a time: a
        pause timer's and a click's never interleave)."""
        with self._lock:
            self._render()

    def _render(self) -> None:
        problem = self.problem()
        if problem:
            self.result = None
            self.note.value = message_html(problem)
            self.output.value = ""
            return
        question = self.question.value.strip()
        closed = self._closed_book(question)
        if self.use_passage.value:
            found = answer_confidence(self.model, self.tokenizer, self.user_text(), self.candidates)
        else:
            found = closed
        self.result = found
        truth = self.truth
        if not self.use_passage.value:
            read = "the question alone; the passage box shows what it would read with it"
        elif self.passage.value != self.retrieved:
            read = "your passage, then the question"
        elif self.rank > 1:
            read = (
                f"the retriever's match #{self.rank}, then the question (the better matches are "
                "too long for its context)"
            )
        else:
            read = "the retriever's best match, then the question"
        self.note.value = f"<span style='{TEXT_STYLE};color:#555'>The model reads {read}.</span>"
        verdict = ""
        if truth is not None:
            verdict = (
                " · <span style='color:#2e7d32'>right</span>"
                if found.answer == truth
                else f" · <span style='color:#b00020'>wrong</span> (right: {html.escape(truth)})"
            )
        else:
            verdict = (
                " · <span style='color:#555'>(your own question: no right answer known; the "
                "candidates are the picked question's)</span>"
            )
        compare = ""
        if self.use_passage.value:
            compare = (
                f"<br>Without the passage it answers {html.escape(closed.answer)} at "
                f"{closed.confidence:.2f}."
            )
        chance = 1 / len(found.candidates)
        self.output.value = (
            f"<div style='{TEXT_STYLE}'><b>Answer:</b> {html.escape(found.answer)} · confidence "
            f"{found.confidence:.2f} (a blind guess: {chance:.2f}, one of "
            f"{len(found.candidates)}){verdict}{compare}</div>"
            + confidence_html(found, truth, self.shown)
        )

    def still(self) -> dict[str, str]:
        """The question, the note and the answer as HTML (for a notebook opened unrun)."""
        question = html.escape(self.question.value)
        asked = f"<div style='{TEXT_STYLE}'><b>Question:</b> {question}</div>"
        return {"text/html": asked + f"<div>{self.note.value}</div>{self.output.value}"}
