"""Lesson 11's exercises: expected calibration error, a canary's exposure, the retriever's scores.

Each reference is plain Python (no llmlab call), so a learner who types the worked solution
passes; tests/test_lesson11.py checks each against the library the lesson uses
(``calibration.expected_calibration_error``, ``memorization.exposure``,
``retrieval.TfidfRetriever.scores``).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from typing import Any

from llmlab.exercises.registry import _all_close, exercise, wrong_answer

# ---------------------------------------------------------------------------------------------
# Expected calibration error.


def _random_answers(rng: random.Random) -> tuple[list[float], list[int], int]:
    """Confidences with the awkward values in them: 0, 1 and bin edges (0.3, 0.5), and accuracy
    that follows confidence more or less closely, so the gaps differ from bin to bin."""
    n = rng.randint(1, 40)
    edges = [0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 1.0]
    confidence = [
        rng.choice(edges) if rng.random() < 0.25 else round(rng.random(), rng.choice([2, 6]))
        for _ in range(n)
    ]
    slack = rng.random()
    correct = [int(rng.random() < (1 - slack) * c + slack * 0.5) for c in confidence]
    return confidence, correct, rng.randint(1, 15)


@exercise(
    "expected_calibration_error",
    _random_answers,
    builds="expected calibration error: bins of confidence, each bin's gap, weighted",
    difficulty=1,
    minutes=10,
    hints=(
        "An answer with confidence c falls in bin int(c * n_bins) of n_bins equal bins over "
        "[0, 1]; a confidence of exactly 1 would land in bin n_bins, which does not exist: put "
        "it in the last one (min(..., n_bins - 1)).",
        "For each non-empty bin: |mean correctness - mean confidence|, weighted by the bin's "
        "share of all the answers (its count / n). Add them up; empty bins add nothing.",
    ),
)
def expected_calibration_error(confidence: list[float], correct: list[int], n_bins: int) -> float:
    """``sum_b (n_b / n) |accuracy_b - confidence_b|`` over ``n_bins`` equal-width bins of
    ``[0, 1]`` (the last includes 1): how far, on average over the answers, the model's stated
    confidence is from how often it is right at that confidence. 0 is calibrated."""
    bins: list[list[tuple[float, int]]] = [[] for _ in range(n_bins)]
    for c, right in zip(confidence, correct, strict=True):
        bins[min(int(c * n_bins), n_bins - 1)].append((c, right))
    n = len(confidence)
    total = 0.0
    for members in bins:
        if members:
            mean_confidence = sum(c for c, _ in members) / len(members)
            accuracy = sum(right for _, right in members) / len(members)
            total += len(members) / n * abs(accuracy - mean_confidence)
    return total


@wrong_answer("expected_calibration_error")
def _ece_unweighted(confidence: list[float], correct: list[int], n_bins: int) -> float:
    """Averages the bins' gaps as equals: a bin of one answer counts as much as a bin of
    thirty, so a few odd answers dominate."""
    bins: list[list[tuple[float, int]]] = [[] for _ in range(n_bins)]
    for c, right in zip(confidence, correct, strict=True):
        bins[min(int(c * n_bins), n_bins - 1)].append((c, right))
    gaps = [abs(sum(r for _, r in b) / len(b) - sum(c for c, _ in b) / len(b)) for b in bins if b]
    return sum(gaps) / len(gaps)


@wrong_answer("expected_calibration_error")
def _ece_drops_confidence_one(confidence: list[float], correct: list[int], n_bins: int) -> float:
    """Bins by ``int(c * n_bins)`` with no room for ``c == 1``: the surest answers vanish."""
    bins: list[list[tuple[float, int]]] = [[] for _ in range(n_bins)]
    for c, right in zip(confidence, correct, strict=True):
        if int(c * n_bins) < n_bins:
            bins[int(c * n_bins)].append((c, right))
    n = len(confidence)
    return sum(
        len(b) / n * abs(sum(r for _, r in b) / len(b) - sum(c for c, _ in b) / len(b))
        for b in bins
        if b
    )


@wrong_answer("expected_calibration_error")
def _ece_without_bins(confidence: list[float], correct: list[int], n_bins: int) -> float:
    """The mean of ``|correct - confidence|`` answer by answer: that measures being right, not
    being calibrated (a calibrated 0.7 scores 0.3 or 0.7 on every answer, never 0)."""
    return sum(abs(r - c) for c, r in zip(confidence, correct, strict=True)) / len(confidence)


# ---------------------------------------------------------------------------------------------
# A canary's exposure.


def _random_candidates(rng: random.Random) -> tuple[float, Any]:
    """Losses of every candidate secret (ties included: some rounded to one decimal), and the
    planted one's, which is among them: first, last, tied or anywhere."""
    import numpy as np

    n = rng.randint(1, 300)
    losses = [round(rng.uniform(2, 30), rng.choice([1, 6])) for _ in range(n)]
    secret = rng.choice([min(losses), max(losses), rng.choice(losses)])
    return secret, np.array(losses)


@exercise(
    "canary_exposure",
    _random_candidates,
    builds="a canary's exposure: its rank among every candidate secret, in bits",
    difficulty=1,
    minutes=10,
    hints=(
        "The rank is 1 + the number of candidates whose loss is strictly lower than the "
        "secret's: ties count in the secret's favour, and the likeliest secret has rank 1.",
        "Exposure is log2(number of candidates) - log2(rank), with math.log2: 0 bits when the "
        "secret is the least likely candidate, log2 |R| when it is the likeliest.",
    ),
)
def canary_exposure(secret_loss: float, candidate_losses: Any) -> float:
    """``log2 |R| - log2 rank`` (Carlini et al., "The Secret Sharer"): ``candidate_losses`` is
    the loss of every secret ``R`` of the canary's form, the planted one among them; ``rank`` is
    1 + how many candidates the model finds likelier (lower loss) than the planted one."""
    rank = 1 + sum(1 for loss in candidate_losses if loss < secret_loss)
    return math.log2(len(candidate_losses)) - math.log2(rank)


@wrong_answer("canary_exposure")
def _exposure_ties_against(secret_loss: float, candidate_losses: Any) -> float:
    """Counts candidates with an *equal* loss as above the secret (and the secret itself):
    every rank is one or more too low, and the likeliest secret never scores the maximum."""
    rank = sum(1 for loss in candidate_losses if loss <= secret_loss)
    return math.log2(len(candidate_losses)) - math.log2(rank + 1)


@wrong_answer("canary_exposure")
def _exposure_in_nats(secret_loss: float, candidate_losses: Any) -> float:
    """Natural logarithms: the right ordering, but in nats, not the bits exposure is read in."""
    rank = 1 + sum(1 for loss in candidate_losses if loss < secret_loss)
    return math.log(len(candidate_losses)) - math.log(rank)


@wrong_answer("canary_exposure")
def _exposure_upside_down(secret_loss: float, candidate_losses: Any) -> float:
    """Ranks by *higher* loss: the memorised secret, the likeliest, gets the lowest exposure."""
    rank = 1 + sum(1 for loss in candidate_losses if loss > secret_loss)
    return math.log2(len(candidate_losses)) - math.log2(rank)


# ---------------------------------------------------------------------------------------------
# The retriever's scores.

#: Words of the plays' kind, few enough that passages share them; with digits and apostrophes.
_VOCABULARY = tuple(
    re.findall(
        r"\S+",
        "the king queen lord my good night ghost horatio hamlet sword crown death love sleep "
        "denmark father mother's o'er thee thou art 1601 speak",
    )
)


def _random_search(rng: random.Random) -> tuple[str, list[str]]:
    """A few short passages over a small vocabulary (so words repeat across them), in mixed case
    with punctuation, and a query that may share any number of words with them (or none)."""

    def text(n: int) -> str:
        words = [rng.choice(_VOCABULARY) for _ in range(n)]
        words = [w.upper() if rng.random() < 0.2 else w for w in words]
        return " ".join(w + rng.choice(["", "", ",", "!", ".\n", ":"]) for w in words)

    passages = [text(rng.randint(1, 14)) for _ in range(rng.randint(1, 8))]
    query = text(rng.randint(1, 5))
    if rng.random() < 0.15:
        query += " unseen-word"
    return query, passages


@exercise(
    "tfidf_scores",
    _random_search,
    _all_close,
    builds="the retriever's scoring: TF-IDF vectors and their cosine similarity",
    difficulty=2,
    minutes=20,
    hints=(
        "Words: re.findall(r\"[a-z0-9']+\", text.lower()). A word's document frequency df is "
        "the number of passages holding it; its weight idf = log((1 + N) / (1 + df)) + 1 for "
        "N passages (math.log). Only the passages' words have one.",
        "A text's vector maps each of its words to count * idf; divide it by its length "
        "(sqrt of the sum of squares). A passage's score is the dot product of its unit vector "
        "with the query's (query words no passage has are left out; no shared word: 0).",
    ),
)
def tfidf_scores(query: str, passages: list[str]) -> list[float]:
    """The cosine similarity of ``query`` with each of ``passages`` in TF-IDF space, one score
    per passage (0 when they share no word): the ranking a TF-IDF retriever sorts by. A word
    counts ``count * idf``, with ``idf = log((1 + N) / (1 + df)) + 1``: a word every passage
    has weighs least, a rare name (HORATIO) most."""

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    counts = [Counter(words(p)) for p in passages]
    n = len(passages)
    df = Counter(w for c in counts for w in c)
    idf = {w: math.log((1 + n) / (1 + d)) + 1 for w, d in df.items()}

    def unit(c: Counter[str]) -> dict[str, float]:
        vector = {w: k * idf[w] for w, k in c.items() if w in idf}
        length = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {w: v / length for w, v in vector.items()}

    q = unit(Counter(words(query)))
    return [sum(v * unit(c).get(w, 0.0) for w, v in q.items()) for c in counts]


@wrong_answer("tfidf_scores")
def _scores_without_idf(query: str, passages: list[str]) -> list[float]:
    """Cosine of raw word counts: "the" weighs as much as "horatio"."""
    counts = [Counter(re.findall(r"[a-z0-9']+", p.lower())) for p in passages]
    q = Counter(re.findall(r"[a-z0-9']+", query.lower()))

    def length(c: Counter[str]) -> float:
        return math.sqrt(sum(v * v for v in c.values())) or 1.0

    return [sum(v * c[w] for w, v in q.items()) / length(q) / length(c) for c in counts]


@wrong_answer("tfidf_scores")
def _scores_unsmoothed_idf(query: str, passages: list[str]) -> list[float]:
    """``idf = log(N / df)``: a word in every passage weighs 0, and with one passage every word
    does, so nothing scores."""
    counts = [Counter(re.findall(r"[a-z0-9']+", p.lower())) for p in passages]
    df = Counter(w for c in counts for w in c)
    idf = {w: math.log(len(passages) / d) for w, d in df.items()}

    def unit(c: Counter[str]) -> dict[str, float]:
        vector = {w: k * idf[w] for w, k in c.items() if w in idf}
        length = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {w: v / length for w, v in vector.items()}

    q = unit(Counter(re.findall(r"[a-z0-9']+", query.lower())))
    return [sum(v * unit(c).get(w, 0.0) for w, v in q.items()) for c in counts]


@wrong_answer("tfidf_scores")
def _scores_not_normalised(query: str, passages: list[str]) -> list[float]:
    """The dot product of the raw TF-IDF vectors: a long passage scores high for being long."""
    counts = [Counter(re.findall(r"[a-z0-9']+", p.lower())) for p in passages]
    n = len(passages)
    df = Counter(w for c in counts for w in c)
    idf = {w: math.log((1 + n) / (1 + d)) + 1 for w, d in df.items()}
    q = Counter(re.findall(r"[a-z0-9']+", query.lower()))
    return [sum(k * idf[w] * c[w] * idf[w] for w, k in q.items() if w in idf) for c in counts]
