"""Is a model as sure as it is right? Reliability bins, expected calibration error, Brier score,
and what abstaining buys.

A model that answers with a *confidence* (a probability that its answer is right) is
**calibrated** when, among the answers it gives with confidence about 0.7, about 70% are right.
Accuracy alone cannot tell "confidently wrong" from "unsure and wrong"; these measures can:

* :func:`reliability_bins` groups answers by confidence: each bin's mean confidence against its
  accuracy is one point of a *reliability diagram* (calibrated = on the diagonal);
* :func:`expected_calibration_error` (ECE) is the gap between the two, averaged over the bins,
  each weighted by its share of the answers (Guo et al., 2017);
* :func:`calibrated_ece` is the ECE's noise floor: what a calibrated model with the same
  confidences shows from sampling alone;
* :func:`brier_score` is the squared error of the whole predicted distribution against the
  truth: it rewards being right *and* being honest about it, and needs no bins;
* :func:`selective_curve` answers only when sure: keep the most confident answers first and
  read accuracy against the share of questions answered (coverage).

NumPy only; confidences are probabilities in [0, 1] and correctness is 0/1, one per answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmlab import checks, stats


@dataclass(frozen=True)
class Bin:
    """Answers whose confidence fell in ``[low, high)`` (the last bin includes 1)."""

    low: float
    high: float
    count: int
    confidence: float  # mean confidence of its answers (NaN when empty)
    accuracy: float  # share of its answers that are right (NaN when empty)


def _pairs(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    """Confidences in [0, 1] and 0/1 correctness, one of each per answer, as float arrays."""
    conf = np.asarray(confidence, dtype=float).reshape(-1)
    right = np.asarray(correct, dtype=float).reshape(-1)
    if conf.size == 0:
        raise ValueError("confidence is empty: give one confidence per answer")
    if conf.size != right.size:
        raise ValueError(f"correct must have one value per confidence: {right.size} vs {conf.size}")
    if not (np.isfinite(conf).all() and (conf >= 0).all() and (conf <= 1).all()):
        raise ValueError("confidence must hold probabilities in [0, 1]")
    if not np.isin(right, (0.0, 1.0)).all():
        raise ValueError("correct must hold only 0/1 (or False/True)")
    return conf, right


def reliability_bins(confidence: Any, correct: Any, n_bins: int = 10) -> list[Bin]:
    """``n_bins`` equal-width confidence bins over [0, 1], each with its count, mean confidence
    and accuracy: the points of a reliability diagram (empty bins included, with NaN means, so
    the list always has ``n_bins`` entries)."""
    conf, right = _pairs(confidence, correct)
    n_bins = checks.integer(n_bins, "n_bins", 1)
    index = np.minimum((conf * n_bins).astype(int), n_bins - 1)  # confidence 1 -> the last bin
    bins = []
    for b in range(n_bins):
        inside = index == b
        count = int(inside.sum())
        mean_conf = float(conf[inside].mean()) if count else float("nan")
        accuracy = float(right[inside].mean()) if count else float("nan")
        bins.append(Bin(b / n_bins, (b + 1) / n_bins, count, mean_conf, accuracy))
    return bins


def expected_calibration_error(confidence: Any, correct: Any, n_bins: int = 10) -> float:
    """``sum_b (n_b / n) |accuracy_b - confidence_b|``: 0 for a calibrated model, up to 1.

    Binned, so it depends on ``n_bins`` and is biased upward on few answers (each bin's accuracy
    is noisy); compare models with the same bins and report a bootstrap interval beside it.
    """
    bins = reliability_bins(confidence, correct, n_bins)
    n = sum(b.count for b in bins)
    return float(sum(b.count / n * abs(b.accuracy - b.confidence) for b in bins if b.count))


def calibrated_ece(
    confidence: Any, n_bins: int = 10, n_simulations: int = 1000, seed: int = 0
) -> np.ndarray:
    """The ECE a *perfectly calibrated* model with these confidences shows, ``n_simulations`` times.

    Each simulation draws every answer right with probability equal to its confidence and
    recomputes the ECE. Because each bin's accuracy is noisy, these ECEs are above 0: they are
    the noise floor an observed ECE must clear before it says anything about miscalibration.
    """
    conf, _ = _pairs(confidence, np.zeros(np.size(confidence)))
    n_simulations = checks.integer(n_simulations, "n_simulations", 1)
    rng = np.random.default_rng(seed)
    return np.array(
        [
            expected_calibration_error(conf, rng.random(conf.size) < conf, n_bins)
            for _ in range(n_simulations)
        ]
    )


def brier_score(probabilities: Sequence[Any], labels: Sequence[int]) -> stats.Estimate:
    """The mean over questions of ``sum_j (p_j - [j == label])²``, with its standard error.

    ``probabilities[i]`` is question ``i``'s distribution over *its own* candidates (questions
    may have different numbers of them), ``labels[i]`` the index of the right one. 0 is perfect,
    2 is sure and wrong; a uniform guess over ``m`` candidates scores ``1 - 1/m``.
    """
    if len(probabilities) != len(labels):
        raise ValueError(
            f"labels must have one index per question: {len(labels)} vs {len(probabilities)}"
        )
    scores = []
    for i, (p, label) in enumerate(zip(probabilities, labels, strict=True)):
        p = np.asarray(p, dtype=float).reshape(-1)
        if p.size == 0 or (p < 0).any() or abs(p.sum() - 1) > 1e-6:
            raise ValueError(f"probabilities[{i}] must be a distribution (>= 0, summing to 1)")
        label = checks.integer(label, f"labels[{i}]", 0, p.size - 1)
        truth = np.zeros_like(p)
        truth[label] = 1.0
        scores.append(float(((p - truth) ** 2).sum()))
    if len(scores) == 1:
        return stats.Estimate(scores[0], float("nan"), 1)
    return stats.mean(scores)


def selective_curve(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answer only above a threshold: ``(thresholds, coverage, accuracy)``, most confident first.

    Entry ``k`` keeps every answer whose confidence is ``>= thresholds[k]`` (tied answers are
    kept or dropped together, so a threshold never splits them); ``coverage[k]`` is the share of
    questions answered and ``accuracy[k]`` the share of those that are right. A model whose
    confidence means something gains accuracy as it abstains; one whose confidence is noise
    stays flat.
    """
    conf, right = _pairs(confidence, correct)
    order = np.argsort(-conf, kind="stable")
    conf, right = conf[order], right[order]
    last = np.r_[conf[1:] != conf[:-1], True]  # the last answer of each group of equal confidence
    kept = np.arange(1, conf.size + 1)[last]
    return conf[last], kept / conf.size, np.cumsum(right)[last] / kept
