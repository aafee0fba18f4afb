"""llmlab.reward_model: the Bradley-Terry loss, a reward model learning pairs, its accuracy and
calibration, and best-of-n with its KL (tiny models: seconds in all)."""

from __future__ import annotations

import math

import pytest
import torch
from preference_data import PROMPT, pairs_for, small

from llmlab import rankings as R
from llmlab import reward_model as RM
from llmlab.model import SequenceHead
from llmlab.train import fit
from llmlab.train_config import TrainConfig

# ----------------------------------------------------------------------------- reward model


def test_bradley_terry_loss_by_hand_and_stable():
    c, r = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.5])
    by_hand = -(math.log(1 / (1 + math.exp(-1))) + math.log(1 / (1 + math.exp(0.5)))) / 2
    assert RM.bradley_terry_loss(c, r).item() == pytest.approx(by_hand)
    assert RM.bradley_terry_loss(torch.tensor([-200.0]), torch.tensor([0.0])).item() == 200.0
    with pytest.raises(ValueError, match="one shape"):
        RM.bradley_terry_loss(c, r[:1])


def test_a_reward_model_learns_the_pairs_and_reports_calibration(tok):
    sft = small()
    rm = RM.reward_model(sft)
    assert isinstance(rm, SequenceHead) and rm.gpt is not sft
    pairs = pairs_for(6)
    before = RM.pair_accuracy(rm, pairs, tok)
    config = TrainConfig(
        batch_size=8, max_steps=30, learning_rate=3e-3, warmup_steps=0, eval_interval=0
    )
    fit(rm, R.pair_batches(pairs, tok, 64), RM.reward_loss, config, progress=False)
    assert RM.pair_accuracy(rm, pairs, tok) == 1.0 >= before
    bins = RM.calibration(rm, pairs, tok, bins=5)
    assert all(0 <= p <= 1 and 0 <= o <= 1 for p, o in bins)
    assert [round(p + q, 6) for (p, _), (q, _) in zip(bins, bins[::-1], strict=True)] == [
        1.0
    ] * len(bins)
    assert bins[-1][1] == 1.0 and bins[-1][0] > 0.5  # confident and right
    with pytest.raises(ValueError, match="bins must be"):
        RM.calibration(rm, pairs, tok, bins=0)
    result = RM.best_of_n(
        sft, rm, tok, PROMPT, 4, max_new_tokens=6, generator=torch.Generator().manual_seed(1)
    )
    assert len(result.candidates) == 4 and result.reward == max(result.rewards)


# ----------------------------------------------------------------------------- best-of-n


def _kl(q: torch.Tensor, p: torch.Tensor) -> float:
    keep = q > 0
    return float((q[keep] * (q[keep] / p[keep]).log()).sum())


@pytest.mark.parametrize("n", [1, 2, 4, 16])
def test_best_of_n_kl_formula_against_exact_and_monte_carlo(n):
    g = torch.Generator().manual_seed(n)
    for m in (5, 50):
        p = torch.rand(m, generator=g, dtype=torch.float64) + 0.1
        p /= p.sum()
        assert _kl(RM.best_of_n_probs(p, n), p) <= RM.best_of_n_kl(n) + 1e-12
    many = torch.full((20000,), 1 / 20000, dtype=torch.float64)  # near the continuous limit
    exact = _kl(RM.best_of_n_probs(many, n), many)
    assert exact == pytest.approx(RM.best_of_n_kl(n), abs=2e-3)
    # Monte Carlo: draw n outcomes from a small policy, keep the best, histogram the winners.
    p = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25], dtype=torch.float64)  # rewards rank 0 < ... < 4
    draws = torch.multinomial(p.expand(40000, -1), n, replacement=True, generator=g)
    q = torch.bincount(draws.max(dim=1).values, minlength=5).double() / 40000
    exact_q = RM.best_of_n_probs(p, n)
    assert torch.allclose(q, exact_q, atol=0.01)
    assert _kl(q, p) == pytest.approx(_kl(exact_q, p), abs=0.02)


def test_best_of_n_kl_values_and_bad_n():
    assert RM.best_of_n_kl(1) == 0.0
    assert RM.best_of_n_kl(64) == pytest.approx(math.log(64) - 63 / 64)
    for n in (0, 2.0, True):
        with pytest.raises(ValueError, match="n must be an int >= 1"):
            RM.best_of_n_kl(n)


def test_dpo_implicit_rewards_are_zero_at_the_start_and_sum_the_reply_log_ratio(tok):
    from llmlab import policy as P

    pairs, model = pairs_for(5), small(0)
    chosen, rejected = RM.implicit_rewards(model, P.frozen(model), pairs, tok, beta=0.5)
    assert chosen.shape == rejected.shape == (5,)
    assert torch.equal(chosen, torch.zeros(5)) and torch.equal(rejected, torch.zeros(5))

    other = small(1)
    chosen, rejected = RM.implicit_rewards(other, model, pairs, tok, beta=0.5, batch_size=2)
    batch = R.collate_pairs(R.pair_rows(pairs, tok, 64), 0)
    with torch.no_grad():
        ids, mask, real = (
            batch[f"chosen_{k}"] for k in ("input_ids", "loss_mask", "attention_mask")
        )
        by_hand = 0.5 * (
            P.sequence_logps(other, ids, mask, real) - P.sequence_logps(model, ids, mask, real)
        )
    assert torch.allclose(chosen, by_hand, atol=1e-4) and not torch.equal(chosen, rejected)
    with pytest.raises(ValueError, match="beta must be"):
        RM.implicit_rewards(other, model, pairs, tok, beta=0.0)
