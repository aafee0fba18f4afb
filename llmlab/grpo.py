"""Reinforcement learning with a verifiable reward, GRPO-style (lesson 09).

A *verifiable* reward is one a program checks exactly: here, whether a reply names the play a
character of the training plays speaks in (:func:`play_questions`, :func:`verify`). No reward
model is learned, so there is nothing for the policy to fool: the reward is the truth.

GRPO (Shao et al., 2024, DeepSeekMath) samples a *group* of ``G`` replies per prompt and uses
the group as its own baseline (:func:`group_advantages`): each reply's reward minus the group's
mean, optionally divided by the group's standard deviation. No critic (value network) is
trained. A group whose replies all score the same gets advantage 0 everywhere: it teaches
nothing (:func:`all_same_share` counts them). :func:`grpo_step` reuses the PPO pieces of
:mod:`llmlab.policy` (rollout, clipped update) with these advantages. :func:`pass_at_k` is the
unbiased estimator of Chen et al. (2021) used to measure what the policy can do in ``k`` tries.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
from torch import Tensor

from llmlab import checks, instructions, policy
from llmlab.chat import END, Turn, template_ids
from llmlab.model import GPT
from llmlab.tokenization import BPETokenizer


def group_advantages(rewards: Tensor, normalize: bool = True, eps: float = 1e-4) -> Tensor:
    """``[P, G]`` rewards -> ``[P, G]`` advantages: reward minus its group's (row's) mean,
    divided by the row's standard deviation (``ddof=1``) plus ``eps`` if ``normalize``.

    Why per group: a prompt's difficulty is shared by its replies, so the group mean removes
    it. Why ``eps``: a group whose replies all score the same has std 0; the guard keeps its
    advantages 0 instead of 0/0. (TRL's ``GRPOTrainer`` uses the same ``ddof=1`` and 1e-4.)
    """
    if not isinstance(rewards, Tensor) or rewards.ndim != 2 or rewards.shape[1] < 2:
        shape = list(rewards.shape) if isinstance(rewards, Tensor) else type(rewards).__name__
        raise ValueError(f"rewards must be a [groups, G >= 2] tensor, got {shape}")
    checks.number(eps, "eps", 0, low_open=True)
    centred = rewards - rewards.mean(1, keepdim=True)
    if not normalize:
        return centred
    return centred / (rewards.std(1, keepdim=True) + eps)


def all_same_share(rewards: Tensor) -> float:
    """The share of groups (rows of ``[P, G]``) whose rewards are all equal: no gradient."""
    if not isinstance(rewards, Tensor) or rewards.ndim != 2:
        raise ValueError("rewards must be a [groups, G] tensor")
    return float((rewards == rewards[:, :1]).all(1).float().mean())


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` replies is right, estimated without bias from
    ``n >= k`` samples of which ``c`` were right: ``1 - C(n-c, k) / C(n, k)``.

    Why not ``1 - (1 - c/n)**k``: that plug-in estimate is biased low for small ``n``.
    """
    n = checks.integer(n, "n", 1)
    c = checks.integer(c, "c", 0, n)
    k = checks.integer(k, "k", 1, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


#: The question kinds :func:`play_questions` serves, each with the one right answer per question.
TASKS = {
    "character_play": "Which play is X in? (the title)",
    "play_genre": "Is X a comedy, a history or a tragedy? (three choices)",
}


def play_questions(
    kind: str, count: int | None = None, seed: int = 0
) -> list[tuple[list[Turn], str]]:
    """Questions of ``kind`` (:data:`TASKS`) about the training plays, with their one right
    answer (final period dropped), ``count`` of them drawn without repeats by ``seed`` (all, in
    a fixed order, if None). The `sft` model was fine-tuned on them and answers them right only
    sometimes: the kind of task RL can sharpen."""
    checks.one_of(kind, "kind", TASKS)
    found: dict[str, str] = {}
    for example in instructions.plays_examples("train", [kind]):
        question = example.turns[0][1]
        if kind == "play_genre" and not question.startswith("Is "):
            continue  # only the three-way question: a reply is right or wrong, checked exactly
        found.setdefault(question, example.turns[1][1].removesuffix("."))
    questions = sorted(found)
    if count is not None:
        count = checks.integer(count, "count", 1, len(questions))
        questions = random.Random(seed).sample(questions, count)
    return [([("user", q)], found[q]) for q in questions]


def verify(reply: str, answer: str) -> float:
    """1.0 if ``reply`` is exactly ``answer`` (a final period, spaces around allowed), else 0.0."""
    return float(reply.strip().removesuffix(".") == answer)


def correct_counts(
    model: GPT,
    tokenizer: BPETokenizer,
    questions: Sequence[tuple[list[Turn], str]],
    n: int,
    *,
    generator: torch.Generator,
    max_new_tokens: int = 12,
) -> list[int]:
    """How many of ``n`` sampled replies (temperature 1) to each question :func:`verify`
    accepts: the ``c`` of :func:`pass_at_k`, one per question."""
    from llmlab.rankings import sample_responses

    replies = sample_responses(
        model,
        tokenizer,
        [q for q, _ in questions],
        n,
        max_new_tokens=max_new_tokens,
        generator=generator,
    )
    return [
        int(sum(verify(text, answer) for text, _ in mine))
        for (_, answer), mine in zip(questions, replies, strict=True)
    ]


def grpo_step(
    model: GPT,
    reference: GPT,
    tokenizer: BPETokenizer,
    questions: Sequence[tuple[list[Turn], str]],
    group_size: int,
    *,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    normalize: bool = True,
    kl_coef: float = 0.0,
    epochs: int = 1,
    max_new_tokens: int = 12,
) -> dict[str, float]:
    """One GRPO round: ``group_size`` replies per question, rewarded by :func:`verify`, minus
    ``kl_coef`` times the reply's summed k1 to the reference; group-relative advantages; then
    :func:`llmlab.policy.ppo_update`'s clipped steps. Diagnostics back: mean reward, the share
    of groups with no gradient, the mean KL (k1 nats per reply).

    The KL charge goes into the return, as :func:`llmlab.policy.ppo_scores` does; DeepSeekMath
    adds a k3 term to the loss instead. Either keeps the policy near the reference.
    """
    checks.number(kl_coef, "kl_coef", 0)
    rollout = policy.ppo_rollout(
        model,
        reference,
        tokenizer,
        [q for q, _ in questions],
        group_size,
        generator=generator,
        max_new_tokens=max_new_tokens,
    )
    end = template_ids(tokenizer)[END]
    texts = [tokenizer.decode([t for t in r if t != end]) for r in rollout.replies]
    answers = [a for _, a in questions for _ in range(group_size)]
    rewards = torch.tensor([verify(t, a) for t, a in zip(texts, answers, strict=True)])
    k = policy.kl_estimates(rollout.old_logps, rollout.ref_logps)
    kl = (k["k1"] * rollout.mask).sum(-1)
    shaped = policy.shaped_rewards(rewards, k["k1"], rollout.mask, kl_coef)
    returns = shaped.sum(-1)
    advantages = group_advantages(returns.view(-1, group_size), normalize).view(-1, 1)
    kl_k3 = (k["k3"] * rollout.mask).sum(-1)
    scores = policy.RolloutScores(rewards, kl, kl_k3, shaped, returns, advantages)
    policy.ppo_update(model, rollout, scores, optimizer=optimizer, epochs=epochs)
    return {
        "reward": float(rewards.mean()),
        "no_gradient": all_same_share(rewards.view(-1, group_size)),
        "kl": float(kl.mean()),
    }
