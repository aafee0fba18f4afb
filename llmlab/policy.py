"""Training the policy on preferences: DPO, the KL estimators, and a PPO-style loop.

The rankings and pairs are :mod:`llmlab.rankings`', the reward model is
:mod:`llmlab.reward_model`'s. Two ways to move the SFT model (the *policy*) toward preferred
replies without forgetting what it was (the *reference*):

* **DPO** (:func:`dpo_loss`): the KL-penalised objective's best policy has
  ``beta * log(pi / pi_ref)`` as its implicit reward, so the pairs can train the policy directly,
  with no reward model and no sampling.
* **A PPO-style loop** (:func:`ppo_step`): sample replies, score them with the reward model,
  subtract a per-token KL penalty to the reference (:func:`kl_estimates`), and take a few clipped
  policy-gradient steps with a leave-one-out baseline (RLOO: no value head to train).

Conventions follow TRL's ``DPOTrainer`` and ``RLOOTrainer``: log-probabilities *summed* over the
reply's tokens, implicit rewards detached.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks
from llmlab.finetune import END, Turn, pad_token_id, render_prompt, template_ids
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
    return is the row sum, ``score - kl_coef * sum(k1)``, which is what :func:`ppo_step` uses.
    """
    mask = mask.float()
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)
    rewards = -kl_coef * k1 * mask
    rewards[torch.arange(len(score), device=mask.device), last] += score
    return rewards


RewardFunction = Callable[[list[int], list[int]], float]


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

    1. Sample ``samples_per_prompt`` replies per prompt (chat turns, or token ids when
       ``tokenizer`` is None) and score them: a reward model, or ``reward_model(prompt_ids,
       reply_ids) -> float`` (a toy reward). 2. Shape: each token pays ``kl_coef * k1`` (its
       log-ratio to the frozen ``reference``), the last token gets the reward; with no
       discount, a reply's return is ``reward - kl_coef * sum(k1)``. 3. Advantage: that return
       minus its siblings' mean (:func:`rloo_advantages`), for every token of the reply.
       4. ``epochs`` steps of :func:`ppo_loss` on the batch (ratio 1 on the first).
    ``dtype="bfloat16"`` scores and trains under bf16 autocast (as :class:`llmlab.train_config.
    TrainConfig` does); whether that is faster depends on the CPU's bf16 instructions.
    """
    checks.one_of(dtype, "dtype", ("float32", "bfloat16"))
    checks.number(kl_coef, "kl_coef", 0)
    checks.number(clip, "clip", 0, low_open=True)
    checks.integer(epochs, "epochs", 1)
    G = checks.integer(samples_per_prompt, "samples_per_prompt", 2, hint="RLOO needs siblings")
    _check_reference(reference)
    _check_vocab(policy, reference)
    stops = [] if tokenizer is None else [template_ids(tokenizer)[END]]
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
        stop_id=stops[0] if stops else None,
        pad=pad,
        temperature=temperature,
        generator=generator,
    )
    rows = [(ids + r, len(ids)) for ids, r in zip(flat, replies, strict=True)]
    rewards = []
    for n, prompt in enumerate(prompts):
        mine = replies[n * G : (n + 1) * G]
        if isinstance(reward_model, SequenceHead):
            texts = [
                (tokenizer.decode([t for t in r if t not in stops]), any(t in stops for t in r))
                for r in mine
            ]
            rewards += score_replies(reward_model, tokenizer, prompt, texts).float().tolist()
        else:
            rewards += [float(reward_model(prompt_ids[n], r)) for r in mine]
    device = next(policy.parameters()).device
    batch = {k: v.to(device) for k, v in pad_rows(rows, pad, max(len(r) for r, _ in rows)).items()}
    ids, real, mask = batch["input_ids"], batch["attention_mask"], batch["loss_mask"][:, 1:]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    with torch.no_grad(), autocast:
        policy.eval()
        old = _token_logps(policy, ids, real)
        ref = _token_logps(reference, ids, real)
    estimates = kl_estimates(old, ref)
    kl = (estimates["k1"] * mask).sum(-1)  # per reply: the penalty's KL
    score = torch.tensor(rewards, device=device)
    returns = shaped_rewards(score, estimates["k1"], mask, kl_coef).sum(-1)
    advantages = rloo_advantages(returns.view(-1, G)).view(-1, 1)
    policy.train()
    clip_fracs, ratios, losses = [], [], []
    for _ in range(epochs):
        with autocast:
            logps = _token_logps(policy, ids, real)
        loss, clip_frac, ratio = ppo_loss(logps, old, advantages, mask, clip)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        clip_fracs.append(clip_frac)
        ratios.append(ratio)
        losses.append(loss.item())
    return {
        "reward": float(score.mean()),
        "kl": float(kl.mean()),
        "kl_k3": float((estimates["k3"] * mask).sum(-1).mean()),
        "clip_fraction": sum(clip_fracs) / epochs,
        "ratio": sum(ratios) / epochs,
        "first_ratio": ratios[0],
        "loss": losses[0],
        "length": float(mask.sum(-1).float().mean()),
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
    """What :func:`report` measures; ``replies`` holds each reply as ``(text, ended)``."""

    win_rate: float
    score: float
    reward: float
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
    """What lesson 07 measures of a policy on held-out ``prompts`` (one reply sampled each).

    ``win_rate`` against ``baseline`` (the SFT model's replies to the same prompts) and
    ``score``, both by the scripted labeler (the ground truth); ``reward``, the reward model's
    mean score (what the tuning chased); ``kl`` and ``kl_k3``, nats per reply from the
    reference (:func:`reply_kl`); ``distinct_2`` (diversity); ``plain_loss``, nats per token on
    the held-out plain text ``plain`` (token ids; :func:`llmlab.train.evaluate`, 64 windows):
    what the tuning cost the model at its first job. The replies come back too.
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
    return {
        "win_rate": labeler.win_rate(labeler, prompts, replies, baseline),
        "score": sum(labeler.score(p, *r) for p, r in zip(prompts, replies, strict=True))
        / len(prompts),
        "reward": sum(rewards) / len(rewards),
        "kl": kl["k1"],
        "kl_k3": kl["k3"],
        "distinct_2": labeler.distinct_n([t for t, _ in replies], 2),
        "plain_loss": evaluate(policy, plain, windows=64),
        "replies": replies,
    }
