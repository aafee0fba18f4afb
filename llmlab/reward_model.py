"""The reward model: a learned judge of replies, trained on preference pairs, and best-of-n.

People's rankings (:mod:`llmlab.rankings`) become pairs ``(chosen, rejected)``. A **reward
model** (:func:`reward_model`) is the SFT trunk with a one-number head, trained so that
``sigmoid(r(chosen) - r(rejected))`` is the probability that people prefer ``chosen`` (the
Bradley-Terry model, :func:`bradley_terry_loss`, :func:`reward_loss`). It is checked on pairs it
never saw (:func:`pair_accuracy`, :func:`calibration`), and then steers a policy: pick the best
of ``n`` samples (:func:`best_of_n`, no training at all), or train on it with a KL penalty (the
PPO-style loop of :mod:`llmlab.policy`, which scores its samples with :func:`score_replies`).

Names and conventions follow TRL's ``RewardTrainer`` (``AutoModelForSequenceClassification``
with one label).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks
from llmlab.chat import Turn, pad_token_id
from llmlab.model import GPT, SequenceHead
from llmlab.modes import evaluating
from llmlab.rankings import (
    Pair,
    collate_pairs,
    pad_rows,
    pair_rows,
    render_reply,
    sample_responses,
)
from llmlab.tokenization import BPETokenizer
from llmlab.train import Batch

# --------------------------------------------------------------------------------------------
# The reward model and its loss.


def reward_model(sft: GPT) -> SequenceHead:
    """A reward model: a *copy* of the SFT trunk and a one-number head (TRL's ``RewardTrainer``
    on ``AutoModelForSequenceClassification(num_labels=1)``). Starting from the SFT model means
    it already reads the chat template and the plays; the copy leaves the policy untouched."""
    if not isinstance(sft, GPT):
        raise TypeError(f"sft must be an llmlab.model.GPT, got {type(sft).__name__}")
    return SequenceHead(copy.deepcopy(sft), 1)


def bradley_terry_loss(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """``mean(-log sigmoid(r_chosen - r_rejected))``: Bradley-Terry's negative log-likelihood.

    Only differences matter: adding a constant to every reward changes nothing, so a reward
    model's numbers have no zero point. ``logsigmoid`` stays finite where ``log(sigmoid)`` gives
    ``-inf`` (a margin of -200 would otherwise make the loss infinite).
    """
    if chosen_rewards.shape != rejected_rewards.shape:
        raise ValueError(
            f"chosen_rewards {list(chosen_rewards.shape)} and rejected_rewards "
            f"{list(rejected_rewards.shape)} must have one shape"
        )
    return -F.logsigmoid(chosen_rewards.float() - rejected_rewards.float()).mean()


def _pair_rewards(model: SequenceHead, batch: Batch) -> tuple[Tensor, Tensor]:
    """Both sides in one forward pass: ``[B]`` chosen and ``[B]`` rejected rewards."""
    ids = torch.cat([batch["chosen_input_ids"], batch["rejected_input_ids"]])
    real = torch.cat([batch["chosen_attention_mask"], batch["rejected_attention_mask"]])
    device = next(model.parameters()).device
    rewards = model(ids.to(device), real.to(device)).squeeze(-1)
    return rewards.chunk(2)


def reward_loss(model: SequenceHead, batch: Batch) -> Tensor:
    """The reward model's loss for :func:`llmlab.train.fit` on
    :func:`llmlab.rankings.pair_batches`."""
    return bradley_terry_loss(*_pair_rewards(model, batch))


# --------------------------------------------------------------------------------------------
# How well it agrees with held-out pairs.


@torch.no_grad()
def pair_rewards(
    model: SequenceHead, pairs: Sequence[Pair], tokenizer: BPETokenizer, batch_size: int = 32
) -> tuple[Tensor, Tensor]:
    """The rewards of every pair's chosen and rejected reply, in order (eval mode)."""
    rows, pad = pair_rows(pairs, tokenizer, model.config.block_size), pad_token_id(tokenizer)
    chosen, rejected = [], []
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            c, r = _pair_rewards(model, collate_pairs(rows[start : start + batch_size], pad))
            chosen.append(c.float().cpu())
            rejected.append(r.float().cpu())
    return torch.cat(chosen), torch.cat(rejected)


def pair_accuracy(model: SequenceHead, pairs: Sequence[Pair], tokenizer: BPETokenizer) -> float:
    """The fraction of pairs whose chosen reply gets the higher reward (a tie counts half)."""
    chosen, rejected = pair_rewards(model, pairs, tokenizer)
    return float(((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean())


def _reply_logps(model: GPT, ids: Tensor, loss_mask: Tensor, attention_mask: Tensor) -> Tensor:
    """``[B]``: each row's reply log-probability, summed over its tokens (as
    :func:`llmlab.policy.sequence_logps`, which this module cannot import: policy imports it)."""
    logits = model(ids, attention_mask=attention_mask)[0][:, :-1].float()
    token = torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(2)
    return (token * loss_mask[:, 1:]).sum(-1)


@torch.no_grad()
def implicit_rewards(
    policy: GPT,
    reference: GPT,
    pairs: Sequence[Pair],
    tokenizer: BPETokenizer,
    beta: float,
    batch_size: int = 32,
) -> tuple[Tensor, Tensor]:
    """DPO's implicit rewards ``beta * (log pi - log pi_ref)`` of every pair's chosen and
    rejected reply (log-probabilities summed over the reply's tokens), in order, in eval mode.

    Why: a DPO policy *is* a reward model (Rafailov et al., 2023), so it can be checked like
    one on held-out pairs: TRL logs their means as ``rewards/chosen`` and ``rewards/rejected``,
    their difference as ``rewards/margins`` and the share of pairs whose chosen reward is the
    higher as ``rewards/accuracies``. On the training pairs alone these say little: a policy
    that memorised its pairs scores them well.
    """
    beta = checks.number(beta, "beta", 0, low_open=True)
    batch_size = checks.integer(batch_size, "batch_size", 1)
    rows, pad = pair_rows(pairs, tokenizer, policy.config.block_size), pad_token_id(tokenizer)
    sides: dict[str, list[Tensor]] = {"chosen": [], "rejected": []}
    with evaluating(policy), evaluating(reference):
        for start in range(0, len(rows), batch_size):
            batch = collate_pairs(rows[start : start + batch_size], pad)
            for side, found in sides.items():
                ids, mask, real = (
                    batch[f"{side}_{k}"] for k in ("input_ids", "loss_mask", "attention_mask")
                )
                logp = _reply_logps(policy, ids, mask, real)
                found.append(beta * (logp - _reply_logps(reference, ids, mask, real)).cpu())
    return torch.cat(sides["chosen"]), torch.cat(sides["rejected"])


def calibration(
    model: SequenceHead, pairs: Sequence[Pair], tokenizer: BPETokenizer, bins: int = 5
) -> list[tuple[float, float]]:
    """Does ``sigmoid(r_a - r_b)`` mean what it says? ``(mean predicted, observed)`` per bin.

    Each pair is read both ways: ``(chosen, rejected)`` predicted ``p`` and observed 1, and
    ``(rejected, chosen)`` predicted ``1 - p`` and observed 0 (otherwise "observed" would always
    be 1). Predictions fall in ``bins`` equal bins of ``[0, 1]``; empty bins are left out. A
    calibrated model's points lie on the diagonal; the bins mirror each other around 0.5.
    """
    bins = checks.integer(bins, "bins", 1)
    chosen, rejected = pair_rewards(model, pairs, tokenizer)
    p = torch.sigmoid(chosen - rejected)
    predicted = torch.cat([p, 1 - p])
    observed = torch.cat([torch.ones_like(p), torch.zeros_like(p)])
    which = (predicted * bins).long().clamp(max=bins - 1)
    return [
        (float(predicted[which == b].mean()), float(observed[which == b].mean()))
        for b in range(bins)
        if bool((which == b).any())
    ]


# --------------------------------------------------------------------------------------------
# Scoring replies (best-of-n and the PPO-style loop read these).


@torch.no_grad()
def score_replies(
    model: SequenceHead,
    tokenizer: BPETokenizer,
    prompt: Sequence[Turn],
    replies: Sequence[tuple[str, bool]],
) -> Tensor:
    """The reward of each ``(text, ended)`` reply to ``prompt``: ``[n]``."""
    return reward_of(model, tokenizer, [prompt] * len(replies), replies)


@torch.no_grad()
def reward_of(
    model: SequenceHead,
    tokenizer: BPETokenizer,
    prompts: Sequence[Sequence[Turn]],
    replies: Sequence[tuple[str, bool]],
    batch_size: int = 64,
) -> Tensor:
    """The reward of ``replies[i]`` to ``prompts[i]`` for every ``i``: ``[n]``, in batches."""
    if len(prompts) != len(replies) or not prompts:
        raise ValueError(
            f"prompts and replies must be non-empty and of one length, got {len(prompts)} "
            f"and {len(replies)}"
        )
    rows = [render_reply(p, t, e, tokenizer) for p, (t, e) in zip(prompts, replies, strict=True)]
    device = next(model.parameters()).device
    found = []
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            batch = pad_rows(chunk, pad_token_id(tokenizer), max(len(r) for r, _ in chunk))
            found.append(
                model(batch["input_ids"].to(device), batch["attention_mask"].to(device))[:, 0]
            )
    return torch.cat(found).float().cpu()


# --------------------------------------------------------------------------------------------
# Best-of-n.


@dataclass
class BestOfN:
    """The chosen reply, and every candidate with its reward."""

    reply: str
    ended: bool
    reward: float
    candidates: list[tuple[str, bool]]
    rewards: list[float]


def best_of_n(
    policy: GPT,
    reward: SequenceHead,
    tokenizer: BPETokenizer,
    prompt: Sequence[Turn],
    n: int,
    *,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> BestOfN:
    """Sample ``n`` replies and keep the one the reward model likes best (first on a tie).

    No training at all, and often as good as RL: the price is ``n`` samples per reply, and a
    distribution that moves away from the policy by :func:`best_of_n_kl` nats.
    """
    candidates = sample_responses(
        policy,
        tokenizer,
        [prompt],
        n,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        generator=generator,
    )[0]
    rewards = score_replies(reward, tokenizer, prompt, candidates).float().tolist()
    best = max(range(n), key=lambda i: (rewards[i], -i))
    return BestOfN(*candidates[best], rewards[best], candidates, rewards)


def best_of_n_kl(n: int) -> float:
    """``log n - (n - 1) / n``: the KL (nats) from best-of-``n`` to the policy (Stiennon et al.,
    2020), exact for continuous rewards with no ties, an upper bound otherwise; it grows only
    like ``log n``, so best-of-64 costs about 3.2 nats."""
    n = checks.integer(n, "n", 1)
    return math.log(n) - (n - 1) / n


def best_of_n_probs(probs: Tensor, n: int) -> Tensor:
    """The exact best-of-``n`` distribution of a categorical policy whose outcomes are listed
    from worst to best reward: ``P(best = i) = F(i)^n - F(i-1)^n``, ``F`` the cumulative."""
    cdf = probs.double().cumsum(0).clamp(max=1.0)
    below = torch.cat([cdf.new_zeros(1), cdf[:-1]])
    return cdf**n - below**n
