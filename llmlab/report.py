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

Everything is computed, seeded and greedy where it decides (argmax of options; fixed-seed
sampling), so the printed card is the same on any machine at its printed precision. Each SE is
printed so the reader sees which differences the card can rank and which it cannot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class Row:
    """One model's measurements; ``None`` where a measure does not apply (a base model)."""

    name: str
    loss: stats.Estimate
    bits_per_byte: stats.Estimate
    tokens: int
    bytes: int
    nats: float
    accuracy: stats.Estimate | None
    chance: float | None
    win_rate: stats.Estimate | None
    brier: stats.Estimate | None


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


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> stats.Estimate:
    """``sum(numerators) / sum(denominators)`` with the delta-method SE of a ratio estimator
    (items: the pairs). A total over passages of unequal length is a ratio, not a mean of
    per-passage rates, so its SE is the SE of the residuals ``y - R x`` over ``mean(x)``."""
    y, x = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if y.shape != x.shape or (x <= 0).any():
        raise ValueError("denominators must be positive, one per numerator")
    r = float(y.sum() / x.sum())
    spread = stats.mean(y - r * x)
    return stats.Estimate(r, spread.se / float(x.mean()), spread.n)


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
    from llmlab import answers, calibration, instructions, labeler, pretrained, rankings

    known = pretrained.names()
    if isinstance(names, str) or not names or any(n not in known for n in names):
        raise ValueError(f"names must be a non-empty list of standard models from {known}")
    passages = checks.integer(passages, "passages", 2)
    questions = checks.integer(questions, "questions", 2, 200)
    prompts = checks.integer(prompts, "prompts", 2)
    text = held_out_passages(passages)
    asked = instructions.plays_examples("validation", kinds=answers.KINDS)
    asked = asked[:: len(asked) // questions][:questions]
    said = rankings.dialogue_prompts("validation", prompts)
    baseline: list[tuple[str, bool]] | None = None

    rows = []
    for name in names:
        model, tokenizer = pretrained.load(name)
        nats, tokens, sizes = passage_scores(model, tokenizer, text)
        accuracy = chance = win = brier = None
        if is_chat(tokenizer):
            found = [answers.option_probabilities(model, tokenizer, q) for q in asked]
            accuracy = stats.mean([float(int(p.argmax()) == label) for p, label in found])
            chance = float(np.mean([answers.chance(q) for q in asked]))
            brier = calibration.brier_score([p.numpy() for p, _ in found], [i for _, i in found])
            if baseline is None:
                reference, reference_tokenizer = pretrained.load(BASELINE)
                baseline = _replies(reference, reference_tokenizer, said, _BASELINE_SEED)
            win = stats.mean(
                labeler.wins(labeler, said, _replies(model, tokenizer, said, _MODEL_SEED), baseline)
            )
        rows.append(
            Row(
                name=name,
                loss=ratio(nats, tokens),
                bits_per_byte=ratio(nats / math.log(2), sizes),
                tokens=int(tokens.sum()),
                bytes=int(sizes.sum()),
                nats=float(nats.sum()),
                accuracy=accuracy,
                chance=chance,
                win_rate=win,
                brier=brier,
            )
        )
    return rows


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
    chance = next((r.chance for r in rows if r.chance is not None), None)
    if chance is not None:  # every chat row answers the same questions
        lines.append(
            f"a blind guess over the same options: right {chance:.2f}, Brier {1 - chance:.2f}"
        )
    return "\n".join(lines)
