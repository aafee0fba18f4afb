"""The quiz that ends every lesson: a few questions, answered by clicking, checked in the kernel.

Three layers, as every widget here:

1. :func:`grade`, a pure function: the chosen options against each :class:`Question`'s answer;
   :func:`feedback_html` and :func:`quiz_html` turn results and questions into HTML;
2. :class:`Quiz`, the view-model: radio buttons per question, a *Check* button, one feedback
   line per question (right or wrong, and why) and a score line;
3. the renderer: ``HTML`` widgets, rewritten when *Check* is pressed.

Nothing leaves the kernel: no server, no network. A lesson computes each question's ``answer``
(and the numbers in its ``why``) from what it measured, so a changed measurement changes the
answer key. A notebook opened without a kernel (or the static site) shows :func:`quiz_html`:
the questions and options, with the answers folded inside a ``<details>``.
"""

from __future__ import annotations

import hashlib
import html
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmlab.widgets.base import TEXT_STYLE, LessonWidget

RIGHT, WRONG, MUTED = "#2e7d32", "#b00020", "#555"


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def shuffled(options: Sequence[str], prompt: str) -> tuple[str, ...]:
    """``options`` in an order fixed by ``prompt``'s text: the same on every machine and run,
    unrelated to the order a lesson wrote them in. Why: authors tend to write the right option
    first; shuffled, its place tells a learner nothing."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
    order = list(options)
    random.Random(seed).shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: ``prompt``, its ``options``, the right one (``answer``, one of
    ``options``) and ``why`` it is right, shown after checking whatever was picked.

    ``options`` are kept in the order :func:`shuffled` gives them, not the order passed in."""

    prompt: str
    options: Sequence[str]
    answer: str
    why: str

    def __post_init__(self) -> None:
        _text(self.prompt, "prompt")
        _text(self.why, "why")
        options = self.options
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise ValueError(f"options must be a list of strings, got {options!r}")
        if len(options) < 2:
            raise ValueError(f"options must hold at least 2 choices, got {len(options)}")
        for n, option in enumerate(options):
            _text(option, f"options[{n}]")
        if len(set(options)) != len(options):
            twice = sorted({o for o in options if options.count(o) > 1})
            raise ValueError(f"options must be distinct, got {twice} more than once")
        if self.answer not in options:
            raise ValueError(f"answer must be one of options {tuple(options)}, got {self.answer!r}")
        object.__setattr__(self, "options", shuffled(options, self.prompt))  # frozen, hashable


@dataclass(frozen=True)
class Result:
    """How one question was answered: ``chosen`` is the picked option (``None``: not answered)."""

    question: Question
    chosen: str | None

    @property
    def right(self) -> bool:
        return self.chosen == self.question.answer


def grade(questions: Sequence[Question], chosen: Sequence[str | None]) -> list[Result]:
    """Each question's :class:`Result` for ``chosen`` (one option, or ``None``, per question)."""
    if not questions:
        raise ValueError("questions is empty: a quiz needs at least one question")
    if len(chosen) != len(questions):
        raise ValueError(
            f"chosen must hold one choice per question: {len(chosen)} for {len(questions)}"
        )
    results = []
    for n, (question, pick) in enumerate(zip(questions, chosen, strict=True)):
        if pick is not None and pick not in question.options:
            raise ValueError(f"chosen[{n}] must be None or one of {question.options}, got {pick!r}")
        results.append(Result(question, pick))
    return results


def score_line(results: Sequence[Result]) -> str:
    """``"Score: 2 of 3 right"``, and how many are left unanswered when any are."""
    right = sum(r.right for r in results)
    blank = sum(r.chosen is None for r in results)
    left = f" ({blank} not answered)" if blank else ""
    return f"Score: {right} of {len(results)} right{left}"


def feedback_html(result: Result) -> str:
    """One question's verdict: right or wrong (with the right answer), then ``why``."""
    why = html.escape(result.question.why)
    if result.chosen is None:
        verdict = f"<span style='color:{MUTED}'>Not answered: pick an option.</span>"
        return f"<div style='{TEXT_STYLE}'>{verdict}</div>"
    if result.right:
        verdict = f"<b style='color:{RIGHT}'>✓ Right.</b>"
    else:
        answer = html.escape(result.question.answer)
        verdict = f"<b style='color:{WRONG}'>✗ Wrong</b>: the answer is <i>{answer}</i>."
    return f"<div style='{TEXT_STYLE}'>{verdict} {why}</div>"


def quiz_html(questions: Sequence[Question], title: str) -> str:
    """The quiz as static HTML: numbered questions and their options, and the answers with why,
    folded in a ``<details>`` (a reader of the static page tries first, then unfolds)."""
    items, keys = [], []
    for question in questions:
        options = "".join(f"<li>{html.escape(o)}</li>" for o in question.options)
        items.append(
            f"<li><p>{html.escape(question.prompt)}</p>"
            f"<ul style='list-style-type:circle'>{options}</ul></li>"
        )
        keys.append(f"<li><b>{html.escape(question.answer)}</b> {html.escape(question.why)}</li>")
    return (
        f"<div style='{TEXT_STYLE}'><b>{html.escape(title)}</b><ol>{''.join(items)}</ol>"
        f"<details><summary>Answers</summary><ol>{''.join(keys)}</ol></details></div>"
    )


class Quiz(LessonWidget):
    """``questions`` with radio buttons, a *Check* button, per-question feedback and a score.

    Pick an option per question and press *Check*: each question says right or wrong and why,
    and the score line counts them. Changing a pick afterwards clears that question's verdict
    (it no longer describes the pick) until *Check* is pressed again.
    """

    def __init__(
        self, questions: Sequence[Question], title: str = "Check your understanding"
    ) -> None:
        import ipywidgets as w

        if isinstance(questions, Question) or not isinstance(questions, Sequence):
            raise ValueError(f"questions must be a list of Question, got {questions!r}")
        if not questions:
            raise ValueError("questions is empty: a quiz needs at least one question")
        for n, question in enumerate(questions):
            if not isinstance(question, Question):
                raise ValueError(
                    f"questions[{n}] must be a Question, got {type(question).__name__}"
                )
        self.questions = list(questions)
        self.title = _text(title, "title")
        self.results: list[Result] | None = None
        self.choices: list[w.RadioButtons] = []
        self.feedback: list[w.HTML] = []
        parts: list[w.Widget] = [
            w.HTML(f"<div style='{TEXT_STYLE}'><b>{html.escape(title)}</b></div>")
        ]
        for n, question in enumerate(self.questions):
            choice = w.RadioButtons(
                options=list(question.options), value=None, layout={"width": "auto"}
            )
            choice.observe(lambda _change, n=n: self._on_pick(n), names="value")
            note = w.HTML()
            prompt = (
                f"<div style='{TEXT_STYLE}'><b>{n + 1}.</b> {html.escape(question.prompt)}</div>"
            )
            self.choices.append(choice)
            self.feedback.append(note)
            parts += [w.HTML(prompt), choice, note]
        self.check = w.Button(description="Check", button_style="primary")
        self.check.on_click(lambda _button: self.grade())
        self.score = w.HTML(
            f"<div style='{TEXT_STYLE};color:{MUTED}'>Pick an answer to each question, then "
            "press Check.</div>"
        )
        self.widget = w.VBox(
            [*parts, w.HBox([self.check, self.score], layout={"align_items": "center"})],
            layout={"align_items": "flex-start"},
        )
        self.widget.add_class("llmlab-quiz")

    @property
    def chosen(self) -> list[str | None]:
        """The option picked for each question (``None`` where none is)."""
        return [choice.value for choice in self.choices]

    def grade(self) -> list[Result]:
        """Check every question as the buttons are set now (what *Check* does)."""
        self.results = grade(self.questions, self.chosen)
        for note, result in zip(self.feedback, self.results, strict=True):
            note.value = feedback_html(result)
        self.score.value = f"<div style='{TEXT_STYLE}'><b>{score_line(self.results)}</b></div>"
        return self.results

    def _on_pick(self, n: int) -> None:
        if self.results is not None and self.feedback[n].value:
            self.feedback[n].value = ""
            self.score.value = (
                f"<div style='{TEXT_STYLE};color:{MUTED}'>You changed an answer: press Check "
                "again.</div>"
            )

    def still(self) -> dict[str, str]:
        """The questions and options, answers folded away (for a notebook opened unrun)."""
        return {"text/html": quiz_html(self.questions, self.title)}
