"""Lesson 07's exercises: pairs from a ranking, the Bradley-Terry and DPO losses, k3."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise


def _random_ranking(rng: random.Random) -> tuple[list[str], list[int]]:
    k = rng.randint(2, 6)
    order = list(range(k))
    rng.shuffle(order)
    return [f"reply {chr(97 + i)}" for i in range(k)], order


def _same_pairs(got: Any, expected: Any) -> bool:
    """Pairs in any order, but each one (chosen, rejected) exactly."""
    return sorted(map(tuple, got)) == sorted(expected)


@exercise("ranking_to_pairs", _random_ranking, same=_same_pairs)
def ranking_to_pairs(responses: list[str], ranking: list[int]) -> list[tuple[str, str]]:
    """Every ``(chosen, rejected)`` pair a ranking implies: ``ranking`` lists the indices of
    ``responses`` best first, so each reply is chosen over every reply ranked below it."""
    order = [responses[i] for i in ranking]
    return [(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]


def _random_rewards(rng: random.Random) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n = rng.randint(1, 8)
    scale = rng.choice([0.1, 1.0, 5.0])
    return scale * torch.randn(n, generator=generator), scale * torch.randn(n, generator=generator)


@exercise("bradley_terry_loss", _random_rewards)
def bradley_terry_loss(chosen_rewards: Any, rejected_rewards: Any) -> Any:
    """The reward model's loss: the mean over pairs of ``-log sigmoid(r_chosen - r_rejected)``,
    the negative log-likelihood of the observed preferences under Bradley-Terry."""
    import torch.nn.functional as F

    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def _random_logps(rng: random.Random) -> tuple[Any, Any, Any, Any, float]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n = rng.randint(1, 6)
    logps = [-30 * torch.rand(n, generator=generator) for _ in range(4)]
    return (*logps, rng.choice([0.05, 0.1, 0.5, 1.0]))


@exercise("dpo_loss", _random_logps)
def dpo_loss(
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    ref_chosen_logps: Any,
    ref_rejected_logps: Any,
    beta: float,
) -> Any:
    """DPO's loss (TRL's "sigmoid"): a Bradley-Terry loss on the implicit rewards
    ``beta * (logp - ref_logp)`` of the chosen and the rejected reply, averaged over pairs."""
    import torch.nn.functional as F

    chosen = beta * (policy_chosen_logps - ref_chosen_logps)
    rejected = beta * (policy_rejected_logps - ref_rejected_logps)
    return -F.logsigmoid(chosen - rejected).mean()


def _random_token_logps(rng: random.Random) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = (rng.randint(1, 4), rng.randint(1, 9))
    logp = -5 * torch.rand(shape, generator=generator)
    return logp, logp + rng.choice([0.1, 1.0, 3.0]) * torch.randn(shape, generator=generator)


@exercise("k3", _random_token_logps)
def k3(logp: Any, ref_logp: Any) -> Any:
    """Schulman's k3 estimate of KL(policy || reference) per sampled token: with
    ``log r = ref_logp - logp``, ``(r - 1) - log r``. Never negative, since ``e^x >= 1 + x``."""
    import torch

    log_r = ref_logp - logp
    return torch.exp(log_r) - 1 - log_r
