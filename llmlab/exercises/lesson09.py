"""Lesson 09's exercises: group-relative advantages (GRPO) and PPO's clipped loss."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_groups(rng: random.Random) -> tuple[Any, bool]:
    """Rewards ``[P, G]``: 0/1 rewards (some groups all equal) or real-valued ones."""
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = (rng.randint(2, 5), rng.randint(2, 8))
    if rng.random() < 0.6:
        rewards = (torch.rand(shape, generator=generator) < rng.choice([0.2, 0.5])).float()
        rewards[0] = float(rng.random() < 0.5)  # a group whose replies all score the same
    else:
        rewards = rng.choice([0.5, 3.0]) * torch.randn(shape, generator=generator) + 2.0
    return rewards, rng.random() < 0.7


@exercise(
    "group_advantages",
    _random_groups,
    builds="GRPO's group-relative advantages: rewards [groups, G] -> advantages [groups, G]",
    difficulty=1,
    minutes=10,
    hints=(
        "Each row is one prompt's group. Take the mean along dim 1 with keepdim=True, so it "
        "broadcasts back over the row; the same for the standard deviation.",
        "torch's .std() is the ddof=1 (unbiased) one; add eps = 1e-4 to it before dividing, so "
        "a row whose rewards are all equal gives 0, not 0/0 = nan.",
    ),
)
def group_advantages(rewards: Any, normalize: bool) -> Any:
    """Each reward minus its group's mean; divided by the group's std (ddof=1) + 1e-4 if
    ``normalize``."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if not normalize:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + 1e-4)


@wrong_answer("group_advantages")
def global_mean(rewards: Any, normalize: bool) -> Any:
    centred = rewards - rewards.mean()  # the batch's mean, not each group's
    return centred / (rewards.std(dim=1, keepdim=True) + 1e-4) if normalize else centred


@wrong_answer("group_advantages")
def population_std(rewards: Any, normalize: bool) -> Any:
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    return (
        centred / (rewards.std(dim=1, keepdim=True, unbiased=False) + 1e-4)
        if normalize
        else centred
    )


@wrong_answer("group_advantages")
def no_epsilon(rewards: Any, normalize: bool) -> Any:
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    return centred / rewards.std(dim=1, keepdim=True) if normalize else centred


@wrong_answer("group_advantages")
def always_normalized(rewards: Any, normalize: bool) -> Any:
    return (rewards - rewards.mean(dim=1, keepdim=True)) / (rewards.std(dim=1, keepdim=True) + 1e-4)


def _random_rollout(rng: random.Random) -> tuple[Any, Any, Any, Any, float]:
    """New and old log-probs ``[N, T]``, advantages ``[N, 1]``, a reply mask ``[N, T]``."""
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    n, t = rng.randint(2, 6), rng.randint(3, 9)
    old = -4 * torch.rand(n, t, generator=generator)
    new = old + rng.choice([0.05, 0.3, 1.0]) * torch.randn(n, t, generator=generator)
    advantages = torch.randn(n, 1, generator=generator)
    starts = torch.randint(0, t - 1, (n, 1), generator=generator)
    ends = starts + 1 + torch.randint(0, t, (n, 1), generator=generator)
    position = torch.arange(t)
    mask = ((position >= starts) & (position < ends)).float()
    return new, old, advantages, mask, rng.choice([0.1, 0.2, 0.3])


@exercise(
    "clipped_ppo_loss",
    _random_rollout,
    builds="PPO's clipped surrogate loss, averaged over the reply tokens a mask marks",
    difficulty=2,
    minutes=15,
    hints=(
        "The ratio is pi / pi_old = exp(logps - old_logps). The loss per token is the larger of "
        "-A * ratio and -A * ratio clamped to [1 - clip, 1 + clip] (larger, because the "
        "objective is negated: PPO takes the smaller, pessimistic objective).",
        "Average over reply tokens only: multiply the per-token loss by the mask, sum, and "
        "divide by mask.sum(), not by the number of all positions.",
    ),
)
def clipped_ppo_loss(logps: Any, old_logps: Any, advantages: Any, mask: Any, clip: float) -> Any:
    """``max(-A r, -A clamp(r, 1-clip, 1+clip))`` per token, ``r = exp(logps - old_logps)``,
    averaged over the tokens where ``mask`` is 1."""
    import torch

    ratio = torch.exp(logps - old_logps)
    per_token = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip))
    return (per_token * mask).sum() / mask.sum()


@wrong_answer("clipped_ppo_loss")
def min_not_max(logps: Any, old_logps: Any, advantages: Any, mask: Any, clip: float) -> Any:
    import torch

    ratio = torch.exp(logps - old_logps)
    per_token = torch.minimum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip))
    return (per_token * mask).sum() / mask.sum()


@wrong_answer("clipped_ppo_loss")
def clip_the_advantage(logps: Any, old_logps: Any, advantages: Any, mask: Any, clip: float) -> Any:
    import torch

    ratio = torch.exp(logps - old_logps)
    per_token = torch.maximum(-advantages * ratio, -advantages.clamp(-clip, clip) * ratio)
    return (per_token * mask).sum() / mask.sum()


@wrong_answer("clipped_ppo_loss")
def mean_over_all_tokens(
    logps: Any, old_logps: Any, advantages: Any, mask: Any, clip: float
) -> Any:
    import torch

    ratio = torch.exp(logps - old_logps)
    per_token = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip))
    return (per_token * mask).mean()


@wrong_answer("clipped_ppo_loss")
def ratio_not_exponentiated(
    logps: Any, old_logps: Any, advantages: Any, mask: Any, clip: float
) -> Any:
    import torch

    ratio = logps - old_logps  # a log-ratio, not a ratio
    per_token = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip))
    return (per_token * mask).sum() / mask.sum()
