"""llmlab.memorization: exposure on enumerable candidates, planting, and ROC/AUC against the
Mann-Whitney count."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from tiny_gpt import tiny

from llmlab import memorization


def test_exposure_on_an_enumerable_candidate_set():
    # Candidates: every 3-digit secret; the loss of a secret is the sum of its digits, the
    # planted one is "007" (the 0-loss "000" beats it, ties share their best rank).
    secrets = ["".join(d) for d in itertools.product("0123456789", repeat=3)]
    losses = np.array([sum(map(int, s)) for s in secrets], dtype=float)
    secret_loss = 7.0
    better = sum(1 for s in secrets if sum(map(int, s)) < 7)  # brute force
    assert memorization.rank(secret_loss, losses) == better + 1
    assert memorization.exposure(secret_loss, losses) == pytest.approx(
        math.log2(1000) - math.log2(better + 1)
    )
    assert memorization.exposure(0.0, losses) == pytest.approx(math.log2(1000))  # likeliest
    assert memorization.exposure(27.0, losses) == 0.0  # "999", the least likely: rank 1000


def test_exposure_by_chance_is_about_one_bit():
    # A model that learned nothing ranks the secret uniformly: E[log2 |R| - log2 rank] ~ 1/ln 2.
    rng = np.random.default_rng(0)
    found = [memorization.exposure(x[0], x) for x in rng.normal(size=(2000, 512))]
    assert np.mean(found) == pytest.approx(1 / math.log(2), abs=0.1)


def test_plant_puts_exact_counts_at_line_breaks_and_leaves_the_text_whole():
    text = "".join(f"line {k}\n" for k in range(50))
    canaries = ["the code is 1 2 3\n", "the code is 4 5 6\n"]
    planted = memorization.plant(text, canaries, [1, 4], seed=3)
    assert planted.count(canaries[0]) == 1 and planted.count(canaries[1]) == 4
    assert planted.replace(canaries[0], "").replace(canaries[1], "") == text
    assert planted == memorization.plant(text, canaries, [1, 4], seed=3)
    assert planted != memorization.plant(text, canaries, [1, 4], seed=4)


def test_plant_refuses_what_would_make_the_count_wrong():
    with pytest.raises(ValueError, match="more than the 2 line breaks"):
        memorization.plant("a\nb\n", ["x\n"], [3])
    with pytest.raises(ValueError, match=r"canaries\[0\] already occurs"):
        memorization.plant("a\nx\n", ["x\n"], [1])
    with pytest.raises(ValueError, match=r"canaries\[0\] must be non-empty whole lines"):
        memorization.plant("a\n", ["x"], [1])
    with pytest.raises(ValueError, match=r"copies\[0\]"):
        memorization.plant("a\n", ["x\n"], [-1])
    with pytest.raises(ValueError, match="must include the secret"):
        memorization.exposure(0.5, [1.0, 2.0])


def test_auc_is_the_mann_whitney_count_with_ties_half():
    rng = np.random.default_rng(1)
    members = rng.integers(0, 6, 40).astype(float)  # small integers: many ties
    others = rng.integers(0, 5, 30).astype(float)
    wins = sum((m > o) + 0.5 * (m == o) for m in members for o in others)
    assert memorization.auc(members, others) == pytest.approx(wins / (40 * 30))
    fpr, tpr = memorization.roc_curve(members, others)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    assert memorization.auc([2, 3], [0, 1]) == 1.0 and memorization.auc([0, 1], [2, 3]) == 0.0
    with pytest.raises(ValueError, match="nonmember_scores is empty"):
        memorization.auc([1.0], [])


def test_candidate_losses_match_each_secret_scored_whole():
    model = tiny(0).eval()
    prefix, alphabet = [5, 6, 7], [1, 2, 3]
    secrets, losses = memorization.candidate_losses(model, prefix, alphabet, 3)
    assert secrets == list(itertools.product(alphabet, repeat=3))
    for secret, loss in zip(secrets, losses, strict=True):
        ids = torch.tensor([[*prefix, *secret]])
        with torch.no_grad():
            log_probs = model(ids)[0][0].double().log_softmax(-1)
        whole = -sum(log_probs[len(prefix) - 1 + k, t].item() for k, t in enumerate(secret))
        assert loss == pytest.approx(whole, abs=1e-4)
    assert np.exp(-losses).sum() <= 1 + 1e-9  # a share of the model's probability, no more
    with pytest.raises(ValueError, match="length must be an int in 1..13"):
        memorization.candidate_losses(model, prefix, alphabet, 14)
