"""Bias, from data to model: what the text pairs together, and what the model learned to prefer.

A model trained on a text learns its associations, the ones a reader would call bias included.
Three measurements, each small enough to read:

* :func:`cooccurrence` counts, in the training text, which words follow each group word (``he``
  or ``she``, ``lord`` or ``lady``) within a few words: what the data holds.
* :func:`continuation_logprobs` and :func:`pair_preference` ask the model, for minimal pairs in
  the style of CrowS-Pairs (two sentences that differ only in the group word), which continuation
  it finds likelier *after* each group word. Only the shared words are scored, so how common the
  group word itself is does not count. The share of pairs won, against the 50% of no preference,
  with its standard error, is what the model learned.
* :func:`swap_words` rewrites a text with the group words exchanged (counterfactual data
  augmentation): fine-tuning on both versions is one way to weaken a learned association.

What such a probe cannot show: a handful of templates is not a population of uses, a preference
in probability is not harm in a deployed system, and the plays' language is four centuries old.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from llmlab import checks, stats
from llmlab.model import GPT
from llmlab.modes import evaluating

_WORD = re.compile(r"[A-Za-z]+")


def _pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Both directions of each word pair, lower-case; a word in two pairs is ambiguous."""
    table: dict[str, str] = {}
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(w, str) and _WORD.fullmatch(w) for w in pair):
            raise ValueError(f"each pair must be two words (letters only), got {pair!r}")
        a, b = (w.lower() for w in pair)
        for word, other in ((a, b), (b, a)):
            if table.get(word, other) != other:
                raise ValueError(
                    f"pairs: {word!r} would swap to both {table[word]!r} and {other!r}; "
                    "keep one pair per word"
                )
            table[word] = other
    if not table:
        raise ValueError("pairs must hold at least one pair of words")
    return table


def swap_words(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``text`` with each word of a pair replaced by the other, whole words only, case kept.

    ``swap_words("He loves his lady.", [("he", "she"), ("his", "her"), ("lord", "lady")])`` is
    ``"She loves her lord."``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    table = _pairs(pairs)

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        other = table.get(word.lower())
        if other is None:
            return word
        if word.isupper() and len(word) > 1:
            return other.upper()
        return other.capitalize() if word[0].isupper() else other

    return _WORD.sub(swap, text)


def cooccurrence(
    text: str, anchors: Sequence[str], targets: Sequence[str], window: int = 4
) -> dict[str, Counter[str]]:
    """For each anchor word, how often each target word stands within ``window`` words after it."""
    window = checks.integer(window, "window", 1)
    for name, words in (("anchors", anchors), ("targets", targets)):
        if not words or not all(isinstance(w, str) and _WORD.fullmatch(w) for w in words):
            raise ValueError(f"{name} must be a non-empty list of words, got {words!r}")
    words = [w.lower() for w in _WORD.findall(text)]
    wanted, found = {t.lower() for t in targets}, {a.lower(): Counter() for a in anchors}
    for i, word in enumerate(words):
        if word in found:
            found[word].update(w for w in words[i + 1 : i + 1 + window] if w in wanted)
    return found


@torch.no_grad()
def continuation_logprobs(
    model: GPT, encode: Callable[[str], list[int]], pairs: Sequence[tuple[str, str]]
) -> Tensor:
    """``[len(pairs)]``: log p(continuation | prefix), summed over its tokens, per pair.

    ``encode`` turns text into token ids (a tokenizer's ``encode``). Prefix and continuation are
    encoded apart, so the same continuation is the very same tokens after any prefix, and the same
    prefix reads the same after any continuation.
    """
    if not pairs:
        raise ValueError("pairs must hold at least one (prefix, continuation) pair")
    scores = []
    with evaluating(model):
        for pair in pairs:
            if len(pair) != 2 or not all(isinstance(t, str) and t for t in pair):
                raise ValueError(f"each pair must be two non-empty strings, got {pair!r}")
            head, tail = list(encode(pair[0])), list(encode(pair[1]))
            ids = torch.tensor([head + tail])
            if ids.shape[1] > model.config.block_size:
                raise ValueError(
                    f"{pair!r} is {ids.shape[1]} tokens; the model reads at most "
                    f"{model.config.block_size}"
                )
            logps = model(ids)[0][0, len(head) - 1 : -1].float().log_softmax(-1)
            scores.append(logps.gather(1, torch.tensor(tail)[:, None]).sum())
    return torch.stack(scores)


def pair_preference(
    first: Sequence[float] | Tensor, second: Sequence[float] | Tensor
) -> stats.Estimate:
    """The share of pairs in which ``first`` scored higher (a tie counts half), with its SE.

    0.5 is no preference; the lesson compares the value with 0.5 in units of its SE.
    """
    a = torch.as_tensor(first, dtype=torch.float64)
    b = torch.as_tensor(second, dtype=torch.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(
            f"first and second must be 1-D with one score per pair (at least 2 pairs), "
            f"got shapes {list(a.shape)} and {list(b.shape)}"
        )
    return stats.mean((a > b).double() + 0.5 * (a == b).double())
