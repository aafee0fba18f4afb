"""How sure is a number? Standard errors, intervals and paired comparisons for the lessons.

Every loss, accuracy or win rate in the course is measured on a sample (some windows of text,
some prompts, some replies), and a different sample would give a different number. The
*standard error* (SE) is the typical size of that difference: for a mean of ``n`` independent
values with standard deviation ``s`` it is ``s / sqrt(n)``. A comparison is worth a sentence
only when the difference is several SEs from zero; the lessons print ``value ± SE`` and assert
that before they claim anything.

*Paired* comparisons matter most. Two models scored on the *same* windows share the windows'
difficulty: the per-window differences vary much less than either model's losses, so their SE
(:func:`difference` with ``paired=True``) is far smaller, and a real but small improvement
becomes visible. :func:`bootstrap` gives an interval for any statistic, by resampling.

NumPy only: lists, arrays and (CPU) torch tensors are all read with ``numpy.asarray``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmlab import checks

ALIGNS = ("<", ">", "=", "^")  # a format spec's alignment characters


@dataclass(frozen=True)
class Estimate:
    """A measured ``value``, its standard error ``se``, and the sample size ``n`` behind it.

    ``f"{estimate:.3f}"`` prints ``0.123 ± 0.004``; ``str(estimate)`` adds ``(SE, n=...)``.
    """

    value: float
    se: float
    n: int

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """``value ± z·SE``: about 95% coverage at the default ``z`` (normal approximation)."""
        return self.value - z * self.se, self.value + z * self.se

    @property
    def z(self) -> float:
        """How many standard errors ``value`` lies from zero."""
        if self.se == 0:
            return 0.0 if self.value == 0 else math.copysign(math.inf, self.value)
        return self.value / self.se

    def beyond_noise(self, k: float = 2.0) -> bool:
        """Is ``value`` more than ``k`` standard errors from zero? (The bar for a claim.)"""
        return abs(self.z) > k

    def __format__(self, spec: str) -> str:
        """``value ± se`` in ``spec``; a sign in ``spec`` (``"+.2f"``) signs the value only,
        so a difference prints as ``+0.32 ± 0.06``: an SE has no direction."""
        spec = spec or ".4g"
        align = 2 if spec[1:2] in ALIGNS else 1 if spec[:1] in ALIGNS else 0  # [[fill]align]
        head, rest = spec[:align], spec[align:]
        unsigned = head + (rest[1:] if rest[:1] in ("+", "-", " ") else rest)  # then [sign]
        return f"{self.value:{spec}} ± {self.se:{unsigned}}"

    def __str__(self) -> str:
        return f"{self:.4g} (SE, n={self.n})"


def _values(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor: no gradient, on the CPU
        values = values.detach().cpu()
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size < 2:
        raise ValueError(f"{name} must hold at least 2 values to have a spread, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds a NaN or an infinity: no standard error exists")
    return array


def mean(values: Any) -> Estimate:
    """The mean of ``values`` and its standard error ``s / sqrt(n)`` (``s`` with ``n - 1``)."""
    array = _values(values, "values")
    return Estimate(
        float(array.mean()), float(array.std(ddof=1) / math.sqrt(array.size)), array.size
    )


def difference(a: Any, b: Any, *, paired: bool = True) -> Estimate:
    """``mean(a) - mean(b)`` with its standard error.

    ``paired``: ``a[i]`` and ``b[i]`` are measured on the same item (window, prompt), so the SE
    is that of the per-item differences, which cancels what the items share. Unpaired, the two
    SEs add in quadrature: ``sqrt(se_a² + se_b²)``.
    """
    x, y = _values(a, "a"), _values(b, "b")
    if checks.flag(paired, "paired"):
        if x.size != y.size:
            raise ValueError(
                f"paired samples must have one value per item each: {x.size} vs {y.size}"
            )
        return mean(x - y)
    first, second = mean(x), mean(y)
    se = math.hypot(first.se, second.se)
    return Estimate(first.value - second.value, se, min(x.size, y.size))


def proportion(successes: int, n: int) -> Estimate:
    """A rate ``successes / n`` (an accuracy, a win rate) and its SE ``sqrt(p (1 - p) / n)``."""
    n = checks.integer(n, "n", 1)
    successes = checks.integer(successes, "successes", 0, n)
    p = successes / n
    return Estimate(p, math.sqrt(p * (1 - p) / n), n)


def bootstrap(
    values: Any,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    groups: Any = None,
) -> tuple[float, float]:
    """A percentile interval for ``statistic(values)``: resample the items with replacement.

    ``values`` may be 2-D (one row per item, e.g. both models' losses on one window): rows are
    resampled together, which keeps the pairing. ``statistic`` receives the resampled array.
    Reproducible for a given ``seed``.

    ``groups`` (one label per item) makes it a *cluster* bootstrap: whole groups are resampled,
    with all their items. Use it when items within a group share something (adjectives of one
    word pair, tokens of one window): resampling single items would then treat them as
    independent and give too narrow an interval.
    """
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    if array.ndim not in (1, 2) or len(array) < 2:
        raise ValueError(
            f"values must be 1-D or 2-D with at least 2 items, got shape {array.shape}"
        )
    n_resamples = checks.integer(n_resamples, "n_resamples", 100)
    level = checks.number(level, "level", 0, 1, low_open=True, high_open=True)
    rng = np.random.default_rng(checks.integer(seed, "seed", 0))
    if groups is None:
        picks = list(rng.integers(0, len(array), size=(n_resamples, len(array))))
    else:
        labels = np.asarray(groups)
        if labels.shape != (len(array),):
            raise ValueError(
                f"groups must have one label per item ({len(array)}), got shape {labels.shape}"
            )
        members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
        if len(members) < 2:
            raise ValueError(f"groups must hold at least 2 distinct labels, got {len(members)}")
        drawn = rng.integers(0, len(members), size=(n_resamples, len(members)))
        picks = [np.concatenate([members[g] for g in row]) for row in drawn]
    results = np.array([statistic(array[p]) for p in picks], dtype=float)
    tail = (1 - level) / 2
    return float(np.quantile(results, tail)), float(np.quantile(results, 1 - tail))
