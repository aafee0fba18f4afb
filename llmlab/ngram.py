"""A counting language model: character n-grams with back-off (lessons 00 and 04).

The baseline every network in the course has to beat. Count every string of ``order + 1``
characters in the training text; the counts of each shorter string follow by dropping the first
character. To predict the next character, start from no context (every character alike) and walk
up to the last ``order`` characters: each context length (an *order*) blends its own counts with
the shorter order's prediction, weighted by one constant ``blend``,

    p_k(c) = (count(context_k + c) + blend * p_(k-1)(c)) / (count(context_k) + blend),

where context_k is the last k characters of the context; the walk stops at the first context
never seen (a longer one was not seen either). A rare context leans on its shorter ones; a
frequent one trusts its own counts. Lesson 00 builds this in plain view; lesson 04 races the GPTs
against it.
"""

from __future__ import annotations

import math
from collections import Counter

from llmlab import checks


class BackoffTable:
    """Counts of strings of 0 to ``order + 1`` characters, and the back-off prediction from them.

    Built from the counts of the longest strings (lesson 00 counts those itself); use
    :meth:`from_text` to count a text. ``vocab_size`` is the number of characters the uniform
    prediction at the bottom spreads over.
    """

    def __init__(self, longest: Counter[str], vocab_size: int) -> None:
        lengths = {len(gram) for gram in longest}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(
                f"longest must count strings of one length (>= 1), got lengths {sorted(lengths)}"
            )
        self.vocab_size = checks.integer(vocab_size, "vocab_size", low=1)
        self.order = lengths.pop() - 1  # characters of context the table reads
        self.counts: list[Counter[str]] = [Counter() for _ in range(self.order + 1)] + [longest]
        for n in range(self.order + 1, 0, -1):  # counts[n]: n-character strings
            for gram, count in self.counts[n].items():
                self.counts[n - 1][gram[1:]] += count

    @classmethod
    def from_text(cls, text: str, order: int, vocab_size: int) -> BackoffTable:
        """Count every ``order + 1``-character string of ``text``, then every shorter one."""
        checks.integer(order, "order", low=0)
        if len(text) <= order:
            raise ValueError(
                f"text must be longer than order ({order}), got {len(text)} characters"
            )
        grams = Counter(text[i : i + order + 1] for i in range(len(text) - order))
        return cls(grams, vocab_size)

    def __len__(self) -> int:
        """How many numbers the table keeps: one per distinct string of every length."""
        return sum(map(len, self.counts))

    def probability(self, context: str, char: str, blend: float) -> float:
        """p(char | the last ``order`` characters of context), backed off to shorter contexts."""
        return self._probability(context, char, checks.number(blend, "blend", 0, low_open=True))

    def _probability(self, context: str, char: str, blend: float) -> float:
        p = 1 / self.vocab_size  # with no counts at all: every character alike
        context = context[-self.order :] if self.order else ""
        for k in range(len(context) + 1):
            recent = context[len(context) - k :]
            if self.counts[k][recent] == 0:  # never seen: longer contexts were not seen either
                break
            p = (self.counts[k + 1][recent + char] + blend * p) / (self.counts[k][recent] + blend)
        return p

    def losses(self, window: str, blend: float) -> list[float]:
        """``-log p`` of each character of ``window`` after the first, from the ones before it
        in the window: the per-character loss a language model is scored by, in nats."""
        if len(window) < 2:
            raise ValueError(f"window must hold at least 2 characters, got {len(window)}")
        blend = checks.number(blend, "blend", 0, low_open=True)
        return [
            -math.log(self._probability(window[:t], window[t], blend))
            for t in range(1, len(window))
        ]

    def window_loss(self, window: str, blend: float) -> float:
        """The mean of :meth:`losses`: one number per window, for paired comparisons."""
        return sum(self.losses(window, blend)) / (len(window) - 1)
