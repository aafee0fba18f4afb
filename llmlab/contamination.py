"""Did the test leak into the training text? Two detectors and how to score them.

A benchmark score means something only if the model never saw the test. When test items are
in the training text (*contamination*), the score measures memory, not skill. Two ways to find
them:

* **n-gram overlap** (what GPT-3's and many later reports use): the share of an item's word
  n-grams that occur in the training text. Needs the training text.
* **Min-K% probability** (Shi et al., 2024): the mean log-probability of the item's ``k``%
  *least likely* tokens under the model. A text the model saw has few surprising tokens, so
  its worst tokens are less bad. Needs only the model.

:func:`precision_recall` scores either detector on items whose status is known (we plant
them on purpose), with standard errors from :mod:`llmlab.stats`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from llmlab import checks, stats

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased words (letters, digits, apostrophes): punctuation and case do not hide a
    copy."""
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The set of word ``n``-grams of ``text`` (empty when it has fewer than ``n`` words)."""
    n = checks.integer(n, "n", 1)
    seq = words(text)
    return {tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)}


def ngram_overlap(item: str, reference: set[tuple[str, ...]], n: int) -> float:
    """The share of ``item``'s word ``n``-grams found in ``reference`` (e.g. ``ngrams(train, n)``).

    1 for an item copied whole, near 0 for new text when ``n`` is large enough that common
    phrases do not match by chance (8 to 13 words in published reports).
    """
    mine = ngrams(item, n)
    if not mine:
        raise ValueError(f"item must have at least n={n} words, got {len(words(item))}")
    return len(mine & reference) / len(mine)


def min_k_percent(token_log_probs: Any, k: float = 20.0) -> float:
    """The mean of the lowest ``k``% of ``token_log_probs`` (at least one token): higher means
    the model finds even the item's hardest tokens likely, a sign it has seen the item."""
    values = np.asarray(token_log_probs, dtype=float).reshape(-1)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("token_log_probs must hold at least one finite log-probability")
    k = checks.number(k, "k", 0, 100, low_open=True)
    count = max(1, math.floor(values.size * k / 100))
    return float(np.sort(values)[:count].mean())


def precision_recall(
    scores: Any, planted: Any, threshold: float
) -> tuple[stats.Estimate, stats.Estimate]:
    """Flag every item whose score is ``>= threshold``: (precision, recall), each an estimate.

    Precision is the share of flagged items that were planted (its ``n`` = items flagged),
    recall the share of planted items flagged (its ``n`` = items planted). Nothing flagged
    gives precision 0 with ``n = 0`` and SE NaN: a detector that never fires is not precise.
    """
    values = np.asarray(scores, dtype=float).reshape(-1)
    truth = np.asarray(planted, dtype=bool).reshape(-1)
    if values.size != truth.size or values.size == 0:
        raise ValueError(f"planted must have one flag per score: {truth.size} vs {values.size}")
    if not truth.any():
        raise ValueError("planted has no planted item: recall is undefined")
    threshold = checks.number(threshold, "threshold")
    flagged = values >= threshold
    hits = int((flagged & truth).sum())
    recall = stats.proportion(hits, int(truth.sum()))
    if not flagged.any():
        return stats.Estimate(0.0, float("nan"), 0), recall
    return stats.proportion(hits, int(flagged.sum())), recall
