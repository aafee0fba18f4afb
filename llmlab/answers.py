"""Questions with a closed set of answers: the model's probability for each, chance, a stock answer.

To ask whether a model is *calibrated* we need its confidence as a probability that its answer
is right. The probability of the text it generates is not one (it is spread over every way of
wording an answer). For a question whose possible answers are known, the "Which play is
HORATIO in?" of :mod:`llmlab.instructions` say, we can score every **option** as the assistant's
reply (its tokens and the closing ``<|end|>``), and normalise over the options: a distribution
whose largest entry is the model's pick and its confidence, comparable with 1 / (number of
options), what a blind guess gets.

Only the kinds with a closed set of options are asked (:data:`KINDS`): the play's genre (6, or 3
for "a comedy, a history or a tragedy?"), the act a character first speaks in (I to V), the play a
character is in (38 titles), and the main character of a play (its speakers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from llmlab import corpus, instructions
from llmlab.chat import Turn, render_chat
from llmlab.modes import evaluating

if TYPE_CHECKING:
    from llmlab.model import GPT
    from llmlab.tokenization import BPETokenizer

#: Question kinds of :mod:`llmlab.instructions` whose answer is one of a known list.
KINDS = ("play_genre", "character_act", "character_play", "main_character")

_THREE_WAY = "a comedy, a history or a tragedy?"
_ACTS = ("I", "II", "III", "IV", "V")


def options(example: instructions.Example) -> list[str]:
    """Every answer ``example``'s question could have, worded as the training answers are; the
    right one (``example.turns[1][1]``) is among them."""
    if example.kind not in KINDS:
        raise ValueError(f"example.kind must be one of {KINDS}, got {example.kind!r}")
    question = example.turns[0][1]
    if example.kind == "play_genre":
        genres = ("comedies", "histories", "tragedies") if _THREE_WAY in question else corpus.GENRES
        return [f"{instructions.GENRE_WORDS[g].capitalize()}." for g in genres]
    if example.kind == "character_act":
        return [f"Act {act}." for act in _ACTS]
    if example.kind == "character_play":
        return [f"{instructions.title(p.slug)}." for p in corpus.plays()]
    return [f"{name}." for name in instructions.speakers(example.play)]


def chance(example: instructions.Example) -> float:
    """A blind guess's chance on ``example``: one over its number of :func:`options`."""
    return 1 / len(options(example))


def stock_answers(examples: Sequence[instructions.Example]) -> dict[str, str]:
    """The commonest answer of each kind in ``examples`` (the training questions): what a model
    that ignores the question, and learned only the answers' frequencies, would say."""
    counts: dict[str, Counter[str]] = {}
    for e in examples:
        counts.setdefault(e.kind, Counter())[e.turns[1][1]] += 1
    if not counts:
        raise ValueError("examples is empty: give the questions to count answers in")
    return {kind: c.most_common(1)[0][0] for kind, c in counts.items()}


@torch.no_grad()
def option_log_probs(
    model: GPT, tokenizer: BPETokenizer, turns: Sequence[Turn], replies: Sequence[str]
) -> torch.Tensor:
    """The log-probability of each of ``replies`` (with its ``<|end|>``) as the assistant's turn
    after ``turns``, one batched forward pass; a float64 tensor ``[len(replies)]``."""
    if not replies:
        raise ValueError("replies is empty: give at least one reply to score")
    rows = [render_chat([*turns, ("assistant", r)], tokenizer) for r in replies]
    width = max(len(ids) for ids, _ in rows)
    if width > model.config.block_size:
        raise ValueError(
            f"turns with the longest reply take {width} tokens, more than the model's context "
            f"of {model.config.block_size}"
        )
    ids = torch.tensor([i + [0] * (width - len(i)) for i, _ in rows])  # right-padding: unread
    with evaluating(model):
        log_probs = model(ids)[0].double().log_softmax(dim=-1)
    scores = []
    for row, (token_ids, mask) in enumerate(rows):
        at = torch.tensor([t for t in range(1, len(token_ids)) if mask[t]])
        scores.append(log_probs[row, at - 1, ids[row, at]].sum())
    return torch.stack(scores)


def option_probabilities(
    model: GPT, tokenizer: BPETokenizer, example: instructions.Example
) -> tuple[torch.Tensor, int]:
    """The model's distribution over ``options(example)`` (normalised over the options only) and
    the index of the right answer in it."""
    choices = options(example)
    truth = example.turns[1][1]
    if truth not in choices:
        raise ValueError(f"example's answer {truth!r} is not among its options")
    scores = option_log_probs(model, tokenizer, example.turns[:1], choices)
    return scores.softmax(dim=0), choices.index(truth)
