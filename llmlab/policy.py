"""Training the policy on preferences: DPO, the KL estimators, and a PPO-style loop.

The rankings and pairs are :mod:`llmlab.rankings`', the reward model is
:mod:`llmlab.reward_model`'s. Two ways to move the SFT model (the *policy*) toward preferred
replies without forgetting what it was (the *reference*):

* **DPO** (:func:`dpo_loss`): the KL-penalised objective's best policy has
  ``beta * log(pi / pi_ref)`` as its implicit reward, so the pairs can train the policy directly,
  with no reward model and no sampling.
* **A PPO-style loop** (:func:`ppo_step`), three steps a round: sample replies and read their
  log-probabilities under the policy and the reference (:func:`ppo_rollout`); score them with
  the reward model, subtract a per-token KL penalty to the reference (:func:`kl_estimates`) and
  take a leave-one-out baseline (RLOO: no value head to train) (:func:`ppo_scores`); take a few
  clipped policy-gradient steps (:func:`ppo_update`).

Conventions follow TRL's ``DPOTrainer`` and ``RLOOTrainer``: log-probabilities *summed* over the
reply's tokens, implicit rewards detached.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks, stats
from llmlab.chat import END, Turn, pad_token_id, render_prompt, template_ids
from llmlab.model import GPT, SequenceHead
from llmlab.modes import evaluating
from llmlab.rankings import pad_rows, render_reply, sample_responses, sample_rows
from llmlab.reward_model import reward_of, score_replies
from llmlab.tokenization import BPETokenizer
from llmlab.train import Batch, LossFunction, evaluate

# --------------------------------------------------------------------------------------------
# DPO.


def _token_logps(model: torch.nn.Module, ids: Tensor, attention_mask: Tensor | None) -> Tensor:
    """``[B, T-1]``: log p(ids[t+1] | ids[..t]) at every position."""
    logits = model(ids, attention_mask=attention_mask)[0][:, :-1].float()
    return torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(2)


def sequence_logps(
    model: torch.nn.Module, ids: Tensor, loss_mask: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """``[B]``: the log-probability of each row's reply, **summed** over its tokens (TRL's
    convention: the log-probability of the whole reply). ``loss_mask`` is 1 on reply tokens."""
    return (_token_logps(model, ids, attention_mask) * loss_mask[:, 1:]).sum(-1)


def mean_logps(
    model: torch.nn.Module, ids: Tensor, loss_mask: Tensor, attention_mask: Tensor | None = None
) -> Tensor:
    """``[B]``: the *mean* log-probability per reply token (length-normalised, as SimPO / IPO).

    Why its β is another β: DPO's log-ratio ``log pi/pi_ref`` of a 30-token reply is a sum of
    30 per-token ratios; the mean divides it by 30. The same ``beta`` then pulls about 30 times
    more weakly, so a length-normalised run needs a β about the reply length times larger to
    behave alike. In exchange a long reply is no longer favoured just for having more tokens.
    """
    mask = loss_mask[:, 1:]
    total = (_token_logps(model, ids, attention_mask) * mask).sum(-1)
    return total / mask.sum(-1).clamp(min=1)


def _check_beta(beta: float) -> float:
    return checks.number(beta, "beta", 0, low_open=True)


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """DPO (Rafailov et al., 2023) as TRL's ``loss_type="sigmoid"``: ``(loss, chosen_rewards,
    rejected_rewards)``.

    ``loss = -logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()``: a Bradley-Terry loss on the
    implicit rewards ``beta * (log pi - log pi_ref)``, which are returned detached (for logging:
    their difference's sign is DPO's "reward accuracy"). At the start, policy = reference, every
    margin is 0 and the loss is ``log 2``.
    """
    beta = _check_beta(beta)
    margin = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps)
    loss = -F.logsigmoid(beta * margin).mean()
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps).detach()
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps).detach()
    return loss, chosen_rewards, rejected_rewards


def frozen(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with no gradients and in eval mode: a reference for DPO and PPO."""
    return copy.deepcopy(model).requires_grad_(False).eval()


def _check_reference(reference: torch.nn.Module) -> None:
    trainable = [n for n, p in reference.named_parameters() if p.requires_grad]
    if trainable:
        raise ValueError(
            f"the reference must be frozen, but {len(trainable)} parameters require grad "
            f"(e.g. {trainable[0]!r}): pass policy.frozen(model)"
        )


def _check_vocab(policy: torch.nn.Module, reference: torch.nn.Module) -> None:
    a, b = policy.config.vocab_size, reference.config.vocab_size
    if a != b:
        raise ValueError(f"the policy has {a} tokens but the reference {b}: one vocabulary needed")


def dpo_loss_fn(
    reference: torch.nn.Module, beta: float, *, length_normalised: bool = False
) -> LossFunction:
    """DPO's loss for :func:`llmlab.train.fit` on :func:`dpo_batches`; ``reference`` must be
    frozen (:func:`frozen`) and share the policy's vocabulary. Chosen and rejected rows share one
    forward pass (TRL's ``concatenated_forward``)."""
    beta = _check_beta(beta)
    _check_reference(reference)
    logps = mean_logps if length_normalised else sequence_logps

    def loss(model: torch.nn.Module, batch: Batch) -> Tensor:
        _check_vocab(model, reference)
        ids = torch.cat([batch["chosen_input_ids"], batch["rejected_input_ids"]])
        real = torch.cat([batch["chosen_attention_mask"], batch["rejected_attention_mask"]])
        reply = torch.cat([batch["chosen_loss_mask"], batch["rejected_loss_mask"]])
        policy = logps(model, ids, reply, real)
        with torch.no_grad():
            ref = logps(reference, ids, reply, real)
        return dpo_loss(*policy.chunk(2), *ref.chunk(2), beta)[0]

    return loss


# --------------------------------------------------------------------------------------------
# KL estimators and the PPO-style loop.


def kl_estimates(logp: Tensor, ref_logp: Tensor) -> dict[str, Tensor]:
    """Schulman's three estimators of KL(pi || ref), per sampled token (samples from pi).

    With ``log r = ref_logp - logp``: ``k1 = -log r`` (unbiased, but negative half the time, so
    its mean over few samples can be below 0), ``k2 = (log r)^2 / 2`` (biased, low variance,
    always >= 0), ``k3 = (r - 1) - log r`` (unbiased *and* always >= 0: ``e^x >= 1 + x``).
    """
    log_r = ref_logp - logp
    return {"k1": -log_r, "k2": log_r**2 / 2, "k3": torch.expm1(log_r) - log_r}


def rloo_advantages(rewards: Tensor) -> Tensor:
    """``[P, G]`` rewards (G samples per prompt) -> each minus the mean of the *other* G-1.

    The baseline of a sample is what its siblings earned: no value head to train (which would be
    a second network and a second loss), and it is unbiased because it never includes the
    sample itself (Ahmadian et al., 2024; TRL's ``RLOOTrainer``).
    """
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be [prompts, samples>=2], got {list(rewards.shape)}")
    G = rewards.shape[1]
    return rewards - (rewards.sum(1, keepdim=True) - rewards) / (G - 1)


def ppo_loss(
    logps: Tensor, old_logps: Tensor, advantages: Tensor, mask: Tensor, clip: float
) -> tuple[Tensor, float, float]:
    """The clipped surrogate, averaged over reply tokens: ``(loss, clip fraction, mean ratio)``.

    ``ratio = pi / pi_old`` per token; ``loss = max(-A ratio, -A clamp(ratio, 1-clip, 1+clip))``:
    once a token's ratio leaves ``[1-clip, 1+clip]`` in the direction its advantage pushes, it
    gets no more gradient, so a few epochs on one batch cannot move the policy far.
    """
    ratio = torch.exp(logps - old_logps)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip, 1 + clip)
    mask = mask.float()
    n = mask.sum().clamp(min=1)
    loss = (torch.maximum(unclipped, clipped) * mask).sum() / n
    clip_frac = float(((clipped > unclipped).float() * mask).sum() / n)
    return loss, clip_frac, float((ratio.detach() * mask).sum() / n)


def shaped_rewards(score: Tensor, k1: Tensor, mask: Tensor, kl_coef: float) -> Tensor:
    """Per-token rewards ``[B, T]``: ``-kl_coef * k1`` at every reply token, plus the sequence
    ``score [B]`` at each reply's last token (InstructGPT's shaping; TRL's PPO does the same).

    The KL term charges each token for how far the policy has drifted from the reference at
    that token; the score can only be judged once the reply is whole. With no discount a reply's
    return is the row sum, ``score - kl_coef * sum(k1)``, which is what :func:`ppo_scores` uses.
    """
    mask = mask.float()
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)
    rewards = -kl_coef * k1 * mask
    rewards[torch.arange(len(score), device=mask.device), last] += score
    return rewards


RewardFunction = Callable[[list[int], list[int]], float]
_DTYPES = ("float32", "bfloat16")


def _autocast(device: torch.device, dtype: str) -> torch.autocast:
    """bf16 autocast where ``dtype="bfloat16"``, a no-op context where ``"float32"``."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")


class Rollout(NamedTuple):
    """What :func:`ppo_rollout` sampled: ``N = len(prompts) * samples_per_prompt`` replies, a
    prompt's ``G`` samples next to each other, padded into one batch of width ``T``.

    The log-probabilities are per *predicted* token (``[N, T-1]``: position ``t`` scores token
    ``t+1``); ``mask`` is 1 where that token belongs to the reply.
    """

    prompts: list[Sequence[Turn] | Sequence[int]]  # [P] as given: chat turns, or token ids
    prompt_ids: list[list[int]]  # [P] each prompt's token ids
    replies: list[list[int]]  # [N] each reply's token ids (its stop token included)
    samples_per_prompt: int  # G
    input_ids: Tensor  # [N, T] prompt + reply, right-padded
    attention_mask: Tensor  # [N, T] 1 on real tokens
    mask: Tensor  # [N, T-1] 1 where the predicted token is a reply token
    old_logps: Tensor  # [N, T-1] log pi_old: the policy's, when it sampled
    ref_logps: Tensor  # [N, T-1] log pi_ref: the frozen reference's


class RolloutScores(NamedTuple):
    """What :func:`ppo_scores` made of a :class:`Rollout`: one number per reply (``[N]``), and
    the advantage every token of the reply is pushed by (``[N, 1]``)."""

    rewards: Tensor  # [N] the reward model's (or the reward function's) score
    kl: Tensor  # [N] k1 summed over the reply: the KL the penalty charges
    kl_k3: Tensor  # [N] k3 summed over the reply (never below 0)
    shaped: Tensor  # [N, T-1] per-token rewards: -kl_coef * k1, the score on the last token
    returns: Tensor  # [N] the shaped rewards summed: reward - kl_coef * kl
    advantages: Tensor  # [N, 1] each return minus its siblings' mean (RLOO)


class PPOUpdate(NamedTuple):
    """What :func:`ppo_update`'s epochs measured, one entry per epoch (before its step)."""

    losses: list[float]  # the clipped surrogate
    clip_fractions: list[float]  # the share of reply tokens whose ratio was clipped
    ratios: list[float]  # the mean ratio pi / pi_old (1 in the first epoch, but for dropout)


def _check_samples_per_prompt(samples_per_prompt: int) -> int:
    return checks.integer(samples_per_prompt, "samples_per_prompt", 2, hint="RLOO needs siblings")


@torch.no_grad()
def ppo_rollout(
    policy: GPT,
    reference: GPT,
    tokenizer: BPETokenizer | None,
    prompts: Sequence[Sequence[Turn] | Sequence[int]],
    samples_per_prompt: int,
    *,
    generator: torch.Generator | None = None,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    dtype: str = "float32",
) -> Rollout:
    """PPO's first step: sample ``samples_per_prompt`` replies per prompt from the policy, and
    read each reply token's log-probability under the policy and under the reference.

    Why both now: the policy's log-probabilities are ``pi_old``, the fixed point the clipped
    ratio of :func:`ppo_update` is measured from while the policy moves; the reference's give
    the per-token KL that :func:`ppo_scores` charges. Prompts are chat turns, or token ids when
    ``tokenizer`` is None (then no stop token and pad id 0). Both are read in eval mode
    (no dropout: the numbers a sample was drawn with), under bf16 autocast if ``dtype`` says so.
    """
    checks.one_of(dtype, "dtype", _DTYPES)
    G = _check_samples_per_prompt(samples_per_prompt)
    _check_reference(reference)
    _check_vocab(policy, reference)
    stop = None if tokenizer is None else template_ids(tokenizer)[END]
    pad = 0 if tokenizer is None else pad_token_id(tokenizer)
    prompt_ids = [
        list(prompt) if tokenizer is None else render_prompt(prompt, tokenizer)
        for prompt in prompts
    ]
    flat = [ids for ids in prompt_ids for _ in range(G)]
    replies = sample_rows(
        policy,
        flat,
        max_new_tokens,
        stop_id=stop,
        pad=pad,
        temperature=temperature,
        generator=generator,
    )
    rows = [(ids + r, len(ids)) for ids, r in zip(flat, replies, strict=True)]
    device = next(policy.parameters()).device
    batch = {k: v.to(device) for k, v in pad_rows(rows, pad, max(len(r) for r, _ in rows)).items()}
    ids, real = batch["input_ids"], batch["attention_mask"]
    with evaluating(policy), _autocast(device, dtype):
        old_logps = _token_logps(policy, ids, real)
        ref_logps = _token_logps(reference, ids, real)
    mask = batch["loss_mask"][:, 1:]
    return Rollout(list(prompts), prompt_ids, replies, G, ids, real, mask, old_logps, ref_logps)


def ppo_scores(
    rollout: Rollout,
    reward_model: SequenceHead | RewardFunction,
    tokenizer: BPETokenizer | None,
    kl_coef: float,
) -> RolloutScores:
    """PPO's second step: score each reply, charge it for its distance from the reference, and
    turn the result into an advantage.

    The score comes from a reward model (reading the reply's text, and whether it ended), or
    from ``reward_model(prompt_ids, reply_ids) -> float`` (a toy reward). Each token pays
    ``kl_coef * k1`` (:func:`shaped_rewards`), so the return is ``score - kl_coef * sum(k1)``:
    without that charge the policy may drift anywhere the reward model is wrong. The advantage
    is the return minus its siblings' mean (:func:`rloo_advantages`): no value network.
    """
    checks.number(kl_coef, "kl_coef", 0)
    G = rollout.samples_per_prompt
    stops = [] if tokenizer is None else [template_ids(tokenizer)[END]]
    rewards = []
    for n, prompt in enumerate(rollout.prompts):
        mine = rollout.replies[n * G : (n + 1) * G]
        if isinstance(reward_model, SequenceHead):
            texts = [
                (tokenizer.decode([t for t in r if t not in stops]), any(t in stops for t in r))
                for r in mine
            ]
            rewards += score_replies(reward_model, tokenizer, prompt, texts).float().tolist()
        else:
            rewards += [float(reward_model(rollout.prompt_ids[n], r)) for r in mine]
    mask = rollout.mask
    estimates = kl_estimates(rollout.old_logps, rollout.ref_logps)
    kl = (estimates["k1"] * mask).sum(-1)  # per reply: the penalty's KL
    score = torch.tensor(rewards, device=mask.device)
    shaped = shaped_rewards(score, estimates["k1"], mask, kl_coef)
    returns = shaped.sum(-1)
    advantages = rloo_advantages(returns.view(-1, G)).view(-1, 1)
    kl_k3 = (estimates["k3"] * mask).sum(-1)
    return RolloutScores(score, kl, kl_k3, shaped, returns, advantages)


def ppo_update(
    policy: GPT,
    rollout: Rollout,
    scores: RolloutScores,
    *,
    optimizer: torch.optim.Optimizer,
    clip: float = 0.2,
    epochs: int = 2,
    dtype: str = "float32",
) -> PPOUpdate:
    """PPO's third step: ``epochs`` optimizer steps of :func:`ppo_loss` on one rollout.

    Each epoch re-reads the replies' log-probabilities under the policy as it now is (in
    training mode) and compares them with the rollout's: the first epoch starts at ratio 1, and
    clipping at ``[1-clip, 1+clip]`` stops a token from being pushed further once it has moved
    that far, so reusing one batch for a few steps cannot move the policy far from where it
    sampled. The policy is left in training mode.
    """
    checks.number(clip, "clip", 0, low_open=True)
    epochs = checks.integer(epochs, "epochs", 1)
    checks.one_of(dtype, "dtype", _DTYPES)
    ids, real, mask = rollout.input_ids, rollout.attention_mask, rollout.mask
    autocast = _autocast(ids.device, dtype)
    policy.train()
    found = PPOUpdate([], [], [])
    for _ in range(epochs):
        with autocast:
            logps = _token_logps(policy, ids, real)
        loss, clip_frac, ratio = ppo_loss(logps, rollout.old_logps, scores.advantages, mask, clip)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        found.clip_fractions.append(clip_frac)
        found.ratios.append(ratio)
        found.losses.append(loss.item())
    return found


def ppo_step(
    policy: GPT,
    reference: GPT,
    reward_model: SequenceHead | RewardFunction,
    tokenizer: BPETokenizer | None,
    prompts: Sequence[Sequence[Turn] | Sequence[int]],
    samples_per_prompt: int,
    kl_coef: float,
    clip: float = 0.2,
    epochs: int = 2,
    *,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator | None = None,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    dtype: str = "float32",
) -> dict[str, float]:
    """One round of a PPO-style loop (RLOO advantages, PPO's clipped ratio); diagnostics back.

    1. :func:`ppo_rollout`: sample ``samples_per_prompt`` replies per prompt (chat turns, or
       token ids when ``tokenizer`` is None), with their log-probabilities under the policy and
       the frozen ``reference``. 2. :func:`ppo_scores`: score them (a reward model, or
       ``reward_model(prompt_ids, reply_ids) -> float``, a toy reward); each token pays
       ``kl_coef * k1``, so a reply's return is ``reward - kl_coef * sum(k1)``; its advantage is
       that return minus its siblings' mean. 3. :func:`ppo_update`: ``epochs`` steps of
       :func:`ppo_loss` on the batch (ratio 1 on the first).
    ``dtype="bfloat16"`` reads log-probabilities and trains under bf16 autocast (as
    :class:`llmlab.train_config.TrainConfig` does); whether that is faster depends on the CPU's
    bf16 instructions. Every argument is checked before anything is sampled.
    """
    checks.one_of(dtype, "dtype", _DTYPES)
    checks.number(kl_coef, "kl_coef", 0)
    checks.number(clip, "clip", 0, low_open=True)
    checks.integer(epochs, "epochs", 1)
    _check_samples_per_prompt(samples_per_prompt)
    _check_reference(reference)
    _check_vocab(policy, reference)
    rollout = ppo_rollout(
        policy,
        reference,
        tokenizer,
        prompts,
        samples_per_prompt,
        generator=generator,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        dtype=dtype,
    )
    scores = ppo_scores(rollout, reward_model, tokenizer, kl_coef)
    update = ppo_update(
        policy, rollout, scores, optimizer=optimizer, clip=clip, epochs=epochs, dtype=dtype
    )
    return {
        "reward": float(scores.rewards.mean()),
        "kl": float(scores.kl.mean()),
        "kl_k3": float(scores.kl_k3.mean()),
        "clip_fraction": sum(update.clip_fractions) / len(update.clip_fractions),
        "ratio": sum(update.ratios) / len(update.ratios),
        "first_ratio": update.ratios[0],
        "loss": update.losses[0],
        "length": float(rollout.mask.sum(-1).float().mean()),
    }


# --------------------------------------------------------------------------------------------
# Measuring a tuned policy.


@torch.no_grad()
def reply_kl(
    policy: GPT,
    reference: GPT,
    tokenizer: BPETokenizer,
    prompts: Sequence[Sequence[Turn]],
    replies: Sequence[tuple[str, bool]],
) -> dict[str, float]:
    """KL(policy || reference) in nats per reply, estimated on ``replies`` sampled from the
    policy (one per prompt, in order): the mean over replies of the per-token k1 and k3 sums.

    Both are unbiased estimates of the same number; k1 (the sum of log-ratios) can come out
    below 0 on few replies, k3 cannot. The replies are re-encoded from their text, as a reward
    model reads them.
    """
    if len(prompts) != len(replies) or not prompts:
        raise ValueError(
            f"prompts and replies must be non-empty and of one length, got {len(prompts)} "
            f"and {len(replies)}"
        )
    _check_vocab(policy, reference)
    rows = [
        render_reply(p, text, ended, tokenizer)
        for p, (text, ended) in zip(prompts, replies, strict=True)
    ]
    device = next(policy.parameters()).device
    totals = {"k1": 0.0, "k2": 0.0, "k3": 0.0}
    with evaluating(policy), evaluating(reference):
        for start in range(0, len(rows), 64):  # 64 rows at a time: the logits stay small
            chunk = rows[start : start + 64]
            batch = pad_rows(chunk, pad_token_id(tokenizer), max(len(r) for r, _ in chunk))
            ids, real = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            mask = batch["loss_mask"][:, 1:].to(device)
            estimates = kl_estimates(
                _token_logps(policy, ids, real), _token_logps(reference, ids, real)
            )
            for name, value in estimates.items():
                totals[name] += float((value * mask).sum())
    return {name: total / len(rows) for name, total in totals.items()}


class PolicyReport(TypedDict):
    """What :func:`report` measures; ``replies`` holds each reply as ``(text, ended)``.

    The three means come with their standard errors over prompts (:class:`stats.Estimate`), and
    the per-prompt values behind them (``wins``, ``scores``, ``rewards``, in prompt order), so
    that two policies measured on the same prompts can be compared prompt by prompt.
    """

    win_rate: stats.Estimate
    score: stats.Estimate
    reward: stats.Estimate
    wins: list[float]
    scores: list[float]
    rewards: list[float]
    kl: float
    kl_k3: float
    distinct_2: float
    plain_loss: float
    replies: list[tuple[str, bool]]


def report(
    policy: GPT,
    reference: GPT,
    reward_model: SequenceHead,
    tokenizer: BPETokenizer,
    prompts: Sequence[Sequence[Turn]],
    baseline: Sequence[tuple[str, bool]],
    plain: Tensor,
    *,
    generator: torch.Generator,
    max_new_tokens: int = 48,
) -> PolicyReport:
    """What lesson 08 measures of a policy on held-out ``prompts`` (one reply sampled each).

    ``win_rate`` against ``baseline`` (the SFT model's replies to the same prompts) and
    ``score``, both by the scripted labeler (the ground truth); ``reward``, the reward model's
    mean score (what the tuning chased), each with its SE over prompts; ``kl`` and ``kl_k3``,
    nats per reply from the reference (:func:`reply_kl`); ``distinct_2`` (diversity);
    ``plain_loss``, nats per token on the held-out plain text ``plain`` (token ids;
    :func:`llmlab.train.evaluate`, 64 windows): what the tuning cost the model at its first
    job. The replies come back too.
    """
    from llmlab import labeler

    block = policy.config.block_size
    if not isinstance(plain, Tensor) or plain.ndim != 1 or len(plain) <= block:
        shape = list(plain.shape) if isinstance(plain, Tensor) else type(plain).__name__
        raise ValueError(
            f"plain must be a 1-D tensor of more than block_size = {block} token ids, got {shape}"
        )
    replies = [
        r[0]
        for r in sample_responses(
            policy, tokenizer, prompts, 1, max_new_tokens=max_new_tokens, generator=generator
        )
    ]
    rewards = reward_of(reward_model, tokenizer, prompts, replies).tolist()
    kl = reply_kl(policy, reference, tokenizer, prompts, replies)
    wins = labeler.wins(labeler, prompts, replies, baseline)
    scores = [labeler.score(p, *r) for p, r in zip(prompts, replies, strict=True)]
    return {
        "win_rate": stats.mean(wins),
        "score": stats.mean(scores),
        "reward": stats.mean(rewards),
        "wins": wins,
        "scores": scores,
        "rewards": rewards,
        "kl": kl["k1"],
        "kl_k3": kl["k3"],
        "distinct_2": labeler.distinct_n([t for t, _ in replies], 2),
        "plain_loss": evaluate(policy, plain, windows=64),
        "replies": replies,
    }
