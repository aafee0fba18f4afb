"""What a model keeps of its training text: planted canaries, their exposure, membership tests.

A model trained on private text can give it back. Carlini et al. ("The Secret Sharer", 2019)
measure this with **canaries**: made-up secrets (``"my number is 3 1 4 1"``) planted in the
training text a known number of times. After training, score every secret of the same form
(the *candidates*, ``R``) by the model's loss and find the planted one's **rank** among them. A
model that learned nothing ranks it about halfway; one that memorised it ranks it first. Its
**exposure** is ``log2 |R| - log2 rank``: 0 at the bottom, ``log2 |R|`` bits at the top, and about
1 bit expected by chance.

A **membership test** asks the same of whole lines: was this line in the training text? The
loss answers it (training lines have lower loss); :func:`roc_curve` and :func:`auc` say how
well, against 0.5 for a coin.

:func:`plant` puts canaries into a text at seeded random line breaks, so the count of copies is
exact and the rest of the text is unchanged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from llmlab import checks
from llmlab.modes import evaluating

if TYPE_CHECKING:
    from llmlab.model import GPT


def rank(secret_loss: float, candidate_losses: Any) -> int:
    """1 + the number of candidates whose loss is strictly lower than ``secret_loss``.

    Ties count in the secret's favour (the best rank it shares), as in "The Secret Sharer";
    ``candidate_losses`` may or may not include the secret itself.
    """
    losses = np.asarray(candidate_losses, dtype=float).reshape(-1)
    if losses.size == 0:
        raise ValueError("candidate_losses is empty: score at least the secret itself")
    if not np.isfinite(losses).all():
        raise ValueError("candidate_losses holds a NaN or an infinity")
    secret_loss = checks.number(secret_loss, "secret_loss")
    return 1 + int((losses < secret_loss).sum())


def exposure(secret_loss: float, candidate_losses: Any) -> float:
    """``log2 |R| - log2 rank`` in bits, ``R`` = the candidates (the secret among them).

    0 when the secret is the least likely candidate; ``log2 |R|`` when it is the likeliest.
    """
    losses = np.asarray(candidate_losses, dtype=float).reshape(-1)
    if not (losses == secret_loss).any():
        raise ValueError("candidate_losses must include the secret's own loss (R contains it)")
    return math.log2(losses.size) - math.log2(rank(secret_loss, losses))


@torch.no_grad()
def candidate_losses(
    model: GPT, prefix: Sequence[int], alphabet: Sequence[int], length: int
) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Every secret of ``length`` tokens drawn from ``alphabet`` after ``prefix``, and its loss
    (minus its log-probability, in nats): the ``R`` of :func:`exposure`, all of it.

    Scored as a tree, one position at a time: the ``|A|^k`` partial secrets of length ``k`` are
    one batch, each giving the next token's distribution, so the whole of ``R`` costs
    ``1 + |A| + ... + |A|^(length-1)`` rows instead of ``|A|^length`` full sequences.
    """
    if not prefix:
        raise ValueError("prefix is empty: a secret needs a context to follow")
    if len(set(alphabet)) != len(alphabet) or not alphabet:
        raise ValueError("alphabet must be distinct token ids, at least one")
    length = checks.integer(length, "length", 1, model.config.block_size - len(prefix))
    secrets: list[tuple[int, ...]] = [()]
    losses = torch.zeros(1, dtype=torch.float64)
    choices = torch.tensor(list(alphabet))
    with evaluating(model):
        for _ in range(length):
            rows = torch.tensor([[*prefix, *secret] for secret in secrets])
            log_probs = model(rows)[0][:, -1].double().log_softmax(dim=-1)[:, choices]
            losses = (losses[:, None] - log_probs).reshape(-1)
            secrets = [(*secret, a) for secret in secrets for a in alphabet]
    return secrets, losses.numpy()


def plant(text: str, canaries: Sequence[str], copies: Sequence[int], seed: int = 0) -> str:
    """``text`` with ``copies[i]`` copies of ``canaries[i]``, each inserted at a distinct line
    break chosen at random (``seed``); every canary must be whole lines (ending in a newline).

    The count is what the experiment varies, so it must be exact: canaries that already occur in
    the text, or more copies than the text has line breaks, are refused.
    """
    if len(canaries) != len(copies):
        raise ValueError(f"copies must give one count per canary: {len(copies)} vs {len(canaries)}")
    counts = [checks.integer(c, f"copies[{i}]", 0) for i, c in enumerate(copies)]
    for i, canary in enumerate(canaries):
        if not canary.endswith("\n") or not canary.strip():
            raise ValueError(f"canaries[{i}] must be non-empty whole lines ending in a newline")
        if canary in text:
            raise ValueError(f"canaries[{i}] already occurs in text: its count would be wrong")
    breaks = [k + 1 for k, char in enumerate(text) if char == "\n"]
    if sum(counts) > len(breaks):
        raise ValueError(
            f"copies add up to {sum(counts)}, more than the {len(breaks)} line breaks of text"
        )
    rng = random.Random(checks.integer(seed, "seed", 0))
    pieces = [canary for canary, n in zip(canaries, counts, strict=True) for _ in range(n)]
    rng.shuffle(pieces)
    where = sorted(rng.sample(breaks, len(pieces)))
    out, start = [], 0
    for at, piece in zip(where, pieces, strict=True):
        out += [text[start:at], piece]
        start = at
    return "".join(out) + text[start:]


def roc_curve(member_scores: Any, nonmember_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(false_positive_rate, true_positive_rate)`` of "member if score >= t" over every ``t``.

    Scores are "how member-like": pass minus the loss. Starts at (0, 0), ends at (1, 1); tied
    scores move both rates at once (a diagonal step), so the area is :func:`auc`.
    """
    members = _scores(member_scores, "member_scores")
    others = _scores(nonmember_scores, "nonmember_scores")
    thresholds = np.unique(np.r_[members, others])[::-1]
    tpr = np.array([0.0, *[(members >= t).mean() for t in thresholds]])
    fpr = np.array([0.0, *[(others >= t).mean() for t in thresholds]])
    return fpr, tpr


def auc(member_scores: Any, nonmember_scores: Any) -> float:
    """The area under :func:`roc_curve`: the chance that a random member outscores a random
    non-member (ties count half), i.e. the Mann-Whitney U statistic over ``n_m * n_o``."""
    fpr, tpr = roc_curve(member_scores, nonmember_scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _scores(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty: give at least one score")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds a NaN or an infinity")
    return array
