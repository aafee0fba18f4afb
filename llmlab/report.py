"""The report card: the course's models side by side, each measure with its standard error.

One row per standard model (:mod:`llmlab.pretrained`), from the character model to the
preference-tuned one, measured on text none of them trained on (the held-out plays of
:mod:`llmlab.corpus`). The columns:

- **loss**: nats per token on the same held-out passages for every model (its own tokens, so a
  character model's loss and a BPE model's loss are not comparable with each other);
- **bits/byte**: the same total ``nats / (bytes · ln 2)``: what the model pays per byte of text,
  comparable across tokenizers. ``bits/byte = loss · tokens / (bytes · ln 2)``. Both SEs are a
  ratio estimator's, over passages;
- **Q&A right**: the share of :mod:`llmlab.answers`' held-out closed-set questions whose most
  probable option is right, with the chance of a blind guess (one over the number of options,
  averaged) in brackets; "–" for base models, which do not answer in the chat template;
- **win vs sft**: how often the labeler (:mod:`llmlab.labeler`) prefers the model's sampled reply
  to a held-out prompt over ``sft``'s (a tie counts half), the way lesson 08 measures it; ``sft``
  itself, against a second sample of its own replies, shows what "even" looks like (0.5 up to
  noise);
- **Brier**: the Brier score of the option probabilities on the same questions (lesson 11;
  0 is perfect, lower is better), the calibration of the model's confidence.

Under the table, two baselines for the questions: a blind guess, and the **stock answer** (the
commonest training answer of each kind, given every time; :func:`llmlab.answers.stock_answers`).

Every model is measured on the *same* passages, questions and prompts, so a row keeps its
per-item values, and :func:`difference` compares two rows item by item (paired): what the items
share (a hard passage, an easy question) cancels, and the SE of a difference is smaller than the
two SEs added in quadrature.

Everything is computed, seeded and greedy where it decides (argmax of options; fixed-seed
sampling), so the printed card is the same on any machine at its printed precision. Each SE is
printed so the reader sees which differences the card can rank and which it cannot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from llmlab import checks, stats

if TYPE_CHECKING:
    from llmlab.model import GPT
    from llmlab.pretrained import Tokenizer

#: The card's rows by default: pretraining (two tokenizers), fine-tuning, preference tuning,
#: reading a passage.
MODELS = ("char", "bpe", "sft", "dpo", "reader")
#: The model whose replies the win rate is measured against.
BASELINE = "sft"
_BASELINE_SEED, _MODEL_SEED = 99, 7


@dataclass(frozen=True, eq=False)
class Row:
    """One model's measurements; ``None`` where a measure does not apply (a base model).

    The arrays are per item, in the card's order (the same items for every row), so two rows
    can be compared item by item (:func:`difference`): per passage ``passage_nats``,
    ``passage_tokens`` and ``passage_bytes``; per question ``right`` (1 or 0), ``stock_right``
    (is the stock answer right) and ``brier_items``; per prompt ``wins`` against ``sft``'s
    replies and ``terms``, each rubric term of :mod:`llmlab.labeler` for the model's reply.
    """

    name: str
    loss: stats.Estimate
    bits_per_byte: stats.Estimate
    tokens: int
    bytes: int
    nats: float
    passage_nats: np.ndarray
    passage_tokens: np.ndarray
    passage_bytes: np.ndarray
    accuracy: stats.Estimate | None = None
    chance: float | None = None
    win_rate: stats.Estimate | None = None
    brier: stats.Estimate | None = None
    right: np.ndarray | None = None
    stock_right: np.ndarray | None = None
    brier_items: np.ndarray | None = None
    wins: np.ndarray | None = None
    terms: dict[str, np.ndarray] | None = None


def held_out_passages(n: int, chars: int = 129) -> list[str]:
    """``n`` passages of ``chars`` characters spread evenly over the held-out plays, each
    starting at a line: the same text for every model. 129 characters fill the character
    model's context of 128 exactly (its first character is only read)."""
    from llmlab import corpus

    n = checks.integer(n, "n", 2)
    chars = checks.integer(chars, "chars", 2, 129)
    text = corpus.text("validation")
    found = []
    for i in range(n):
        start = text.index("\n", i * (len(text) - 2 * chars) // n) + 1
        found.append(text[start : start + chars])
    return found


def _ratio_terms(
    numerators: Sequence[float], denominators: Sequence[float]
) -> tuple[float, np.ndarray]:
    """``R = sum(y) / sum(x)`` and each item's share of its error, ``(y - R x) / mean(x)``
    (the delta method: ``R``'s SE is the SE of the mean of these)."""
    y, x = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if y.shape != x.shape or (x <= 0).any():
        raise ValueError("denominators must be positive, one per numerator")
    r = float(y.sum() / x.sum())
    return r, (y - r * x) / float(x.mean())


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> stats.Estimate:
    """``sum(numerators) / sum(denominators)`` with the delta-method SE of a ratio estimator
    (items: the pairs). A total over passages of unequal length is a ratio, not a mean of
    per-passage rates, so its SE is the SE of the residuals ``y - R x`` over ``mean(x)``."""
    r, residuals = _ratio_terms(numerators, denominators)
    spread = stats.mean(residuals)
    return stats.Estimate(r, spread.se, spread.n)


@torch.no_grad()
def passage_scores(
    model: GPT, tokenizer: Tokenizer, passages: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per passage: the nats the model pays for every token after the first, how many tokens
    that is, and how many UTF-8 bytes those tokens spell. One batched forward pass; the rows
    are right-padded, which a causal model never reads."""
    from llmlab.modes import evaluating

    encoded = [tokenizer.encode(p) for p in passages]
    for i, ids in enumerate(encoded):
        if not 2 <= len(ids) <= model.config.block_size + 1:
            raise ValueError(
                f"passages[{i}] is {len(ids)} tokens; the model reads 2 to "
                f"{model.config.block_size + 1}"
            )
    width = max(len(ids) for ids in encoded)
    x = torch.tensor([ids + [0] * (width - len(ids)) for ids in encoded])
    with evaluating(model):
        log_probs = model(x[:, :-1])[0].double().log_softmax(dim=-1)
    picked = -log_probs.gather(-1, x[:, 1:, None])[..., 0]
    nats = [float(picked[row, : len(ids) - 1].sum()) for row, ids in enumerate(encoded)]
    tokens = [len(ids) - 1 for ids in encoded]
    sizes = [len(tokenizer.decode(ids[1:]).encode("utf-8")) for ids in encoded]
    return np.array(nats), np.array(tokens), np.array(sizes)


def is_chat(tokenizer: Tokenizer) -> bool:
    """Does the model answer in the chat template (its tokenizer holds the chat tokens)?"""
    from llmlab.chat import CHAT_TOKENS

    specials = getattr(tokenizer, "special_tokens", {})
    return all(t in specials for t in CHAT_TOKENS)


def card(
    names: Sequence[str] = MODELS,
    *,
    passages: int = 64,
    questions: int = 100,
    prompts: int = 128,
) -> list[Row]:
    """The card's rows for the standard models ``names`` (in that order): ``passages`` held-out
    passages, ``questions`` held-out closed-set questions, ``prompts`` held-out prompts (each
    measure's SE shrinks as the square root of its count)."""
    from llmlab import answers, instructions, pretrained, rankings

    known = pretrained.names()
    if isinstance(names, str) or not names or any(n not in known for n in names):
        raise ValueError(f"names must be a non-empty list of standard models from {known}")
    passages = checks.integer(passages, "passages", 2)
    questions = checks.integer(questions, "questions", 2, 200)
    prompts = checks.integer(prompts, "prompts", 2)
    text = held_out_passages(passages)
    asked = instructions.plays_examples("validation", kinds=answers.KINDS)
    asked = asked[:: len(asked) // questions][:questions]
    stock = answers.stock_answers(instructions.plays_examples("train", kinds=answers.KINDS))
    stock_right = np.array([float(stock[q.kind] == q.turns[1][1]) for q in asked])
    said = rankings.dialogue_prompts("validation", prompts)
    baseline: list[tuple[str, bool]] | None = None

    rows = []
    for name in names:
        model, tokenizer = pretrained.load(name)
        nats, tokens, sizes = passage_scores(model, tokenizer, text)
        chat: dict = {}  # a base model has no chat columns
        if is_chat(tokenizer):
            if baseline is None:
                reference, reference_tokenizer = pretrained.load(BASELINE)
                baseline = _replies(reference, reference_tokenizer, said, _BASELINE_SEED)
            chat = _chat_columns(model, tokenizer, asked, said, baseline)
            chat["stock_right"] = stock_right
        rows.append(row(name, nats, tokens, sizes, **chat))
    return rows


def row(name: str, nats: np.ndarray, tokens: np.ndarray, sizes: np.ndarray, **chat: Any) -> Row:
    """A :class:`Row` from per-passage nats, tokens and bytes, its loss and bits per byte
    summed from them; ``chat`` holds a chat model's columns (:func:`_chat_columns`)."""
    return Row(
        name=name,
        loss=ratio(nats, tokens),
        bits_per_byte=ratio(nats / math.log(2), sizes),
        tokens=int(tokens.sum()),
        bytes=int(sizes.sum()),
        nats=float(nats.sum()),
        passage_nats=nats,
        passage_tokens=tokens,
        passage_bytes=sizes,
        **chat,
    )


def _chat_columns(
    model: GPT, tokenizer: Tokenizer, asked: Sequence, said: Sequence, baseline: Sequence
) -> dict:
    """A chat model's :class:`Row` fields: its answers to the questions ``asked`` (right or not,
    Brier), and its sampled replies to the prompts ``said``, against ``baseline``'s and by term."""
    from llmlab import answers, labeler

    found = [answers.option_probabilities(model, tokenizer, q) for q in asked]
    right = np.array([float(int(p.argmax()) == label) for p, label in found])
    brier_items = np.array([_brier(p.numpy(), label) for p, label in found])
    replies = _replies(model, tokenizer, said, _MODEL_SEED)
    wins = np.array(labeler.wins(labeler, said, replies, baseline))
    terms = [labeler.score_terms(p, *r) for p, r in zip(said, replies, strict=True)]
    return {
        "accuracy": stats.mean(right),
        "chance": float(np.mean([answers.chance(q) for q in asked])),
        "win_rate": stats.mean(wins),
        "brier": stats.mean(brier_items),
        "right": right,
        "brier_items": brier_items,
        "wins": wins,
        "terms": {t: np.array([each[t] for each in terms]) for t in terms[0]},
    }


def _brier(probabilities: np.ndarray, label: int) -> float:
    """One question's Brier score, ``sum_j (p_j - [j == label])²`` (lesson 11)."""
    truth = np.zeros_like(probabilities)
    truth[label] = 1.0
    return float(((probabilities - truth) ** 2).sum())


#: What :func:`difference` can compare: the card's columns.
MEASURES = ("loss", "bits_per_byte", "accuracy", "win_rate", "brier")


def difference(a: Row, b: Row, measure: str) -> stats.Estimate:
    """``a``'s ``measure`` minus ``b``'s, paired over the items both were measured on.

    ``accuracy``, ``win_rate`` and ``brier`` are means over questions or prompts: the SE is that
    of the per-item differences (:func:`llmlab.stats.difference`). ``loss`` and ``bits_per_byte``
    are ratios of totals over passages: by the delta method, each passage contributes
    ``(y_a - R_a x_a) / mean(x_a) - (y_b - R_b x_b) / mean(x_b)``, and the SE is that of the
    mean of these. A win rate compares two models' replies with the same ``sft`` replies.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if measure in ("loss", "bits_per_byte"):
        if a.passage_nats.shape != b.passage_nats.shape:
            raise ValueError("a and b must be measured on the same passages")
        per = "passage_tokens" if measure == "loss" else "passage_bytes"
        scale = 1.0 if measure == "loss" else math.log(2)
        ra, ea = _ratio_terms(a.passage_nats / scale, getattr(a, per))
        rb, eb = _ratio_terms(b.passage_nats / scale, getattr(b, per))
        return stats.Estimate(ra - rb, stats.mean(ea - eb).se, ea.size)
    items = {"accuracy": "right", "win_rate": "wins", "brier": "brier_items"}[measure]
    first, second = getattr(a, items), getattr(b, items)
    if first is None or second is None:
        raise ValueError(
            f"{measure} is measured on chat models only; {a.name} or {b.name} is not one"
        )
    return stats.difference(first, second, paired=True)


def _replies(
    model: GPT, tokenizer: Tokenizer, prompts: Sequence, seed: int
) -> list[tuple[str, bool]]:
    """One sampled reply per prompt, from a generator seeded with ``seed``."""
    from llmlab import rankings

    found = rankings.sample_responses(
        model, tokenizer, prompts, 1, generator=torch.Generator().manual_seed(seed)
    )
    return [r[0] for r in found]


def format_card(rows: Sequence[Row]) -> str:
    """The rows as one plain-text table, each value ``± SE``; "–" where a measure does not
    apply."""
    if not rows:
        raise ValueError("rows is empty: make them with card()")
    head = ("model", "loss (nats/token)", "bits/byte", "Q&A right (chance)", "win vs sft", "Brier")
    widths = (8, 18, 16, 20, 13, 13)
    lines = [
        "".join(
            f"{h:>{w}}" if i else f"{h:<{w}}"
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    ]
    for r in rows:
        cells = (
            r.name,
            f"{r.loss:.3f}",
            f"{r.bits_per_byte:.3f}",
            "–" if r.accuracy is None else f"{r.accuracy:.2f} ({r.chance:.2f})",
            "–" if r.win_rate is None else f"{r.win_rate:.2f}",
            "–" if r.brier is None else f"{r.brier:.2f}",
        )
        lines.append(
            "".join(
                f"{c:>{w}}" if i else f"{c:<{w}}"
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    chat = next((r for r in rows if r.chance is not None), None)
    if chat is not None:  # every chat row answers the same questions
        lines.append(
            f"a blind guess over the same options: right {chat.chance:.2f}, "
            f"Brier {1 - chat.chance:.2f}; the stock answer of each kind: right "
            f"{chat.stock_right.mean():.2f}"
        )
    return "\n".join(lines)
