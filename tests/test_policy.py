"""llmlab.policy: DPO, the KL estimators and the PPO-style loop, step by step and whole (tiny
models: seconds in all)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from preference_data import PROMPT, VOCAB, pairs_for, small
from tiny_gpt import tiny

from llmlab import policy as P
from llmlab import rankings as R
from llmlab import reward_model as RM
from llmlab.train import fit
from llmlab.train_config import TrainConfig

# ----------------------------------------------------------------------------- DPO


def test_sequence_logps_sum_reply_tokens_only():
    model = tiny(0)
    ids = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 0, 0]])
    real = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    reply = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]])
    logp = model(ids, attention_mask=real)[0].log_softmax(-1)
    # Reply tokens at positions 2..4 (row 0) and 1..2 (row 1), each predicted one step earlier.
    by_hand = torch.stack(
        [logp[0, 1, 3] + logp[0, 2, 4] + logp[0, 3, 5], logp[1, 0, 7] + logp[1, 1, 8]]
    )
    torch.testing.assert_close(P.sequence_logps(model, ids, reply, real), by_hand)
    torch.testing.assert_close(
        P.mean_logps(model, ids, reply, real), by_hand / torch.tensor([3.0, 2.0])
    )


def test_dpo_loss_by_hand_log2_at_start_and_beta_checked():
    pc, pr, rc, rr = (torch.tensor([v]) for v in (-3.0, -5.0, -4.0, -4.5))
    loss, cr, rj = P.dpo_loss(pc, pr, rc, rr, beta=0.5)
    margin = (-3.0 + 4.0) - (-5.0 + 4.5)  # 1.5
    assert loss.item() == pytest.approx(math.log1p(math.exp(-0.5 * margin)))
    assert cr.item() == pytest.approx(0.5) and rj.item() == pytest.approx(-0.25)
    x = torch.randn(8, requires_grad=True)
    loss, cr, _ = P.dpo_loss(x, x * 2, x.detach(), (x * 2).detach(), 0.1)
    assert loss.item() == pytest.approx(math.log(2)) and not cr.requires_grad
    for beta in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="beta must be a finite number > 0"):
            P.dpo_loss(pc, pr, rc, rr, beta)


def test_dpo_trains_the_policy_only_and_checks_the_reference(tok):
    policy = small()
    reference = P.frozen(policy)
    loss_fn = P.dpo_loss_fn(reference, beta=0.1)
    batch = R.dpo_batches(pairs_for(3), tok, 64)(torch.Generator().manual_seed(0), 4)
    loss = loss_fn(policy, batch)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)  # policy == reference
    loss.backward()
    assert all(p.grad is None for p in reference.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())
    config = TrainConfig(
        batch_size=6, max_steps=8, learning_rate=3e-3, warmup_steps=0, eval_interval=0
    )
    fit(policy, R.dpo_batches(pairs_for(3), tok, 64), loss_fn, config, progress=False)
    assert loss_fn(policy, batch).item() < math.log(2)
    with pytest.raises(ValueError, match="reference must be frozen"):
        P.dpo_loss_fn(small(), beta=0.1)
    with pytest.raises(ValueError, match="policy has 37 tokens but the reference 1027"):
        P.dpo_loss_fn(reference, beta=0.1)(tiny(0), batch)
    with pytest.raises(ValueError, match="beta"):
        P.dpo_loss_fn(reference, beta=0.0)


# ----------------------------------------------------------------------------- KL estimators


def test_kl_estimates_match_their_definitions():
    logp, ref = torch.tensor([-1.0, -2.0, -0.5]), torch.tensor([-1.5, -1.0, -0.5])
    k = P.kl_estimates(logp, ref)
    r = torch.exp(ref - logp)
    torch.testing.assert_close(k["k1"], logp - ref)
    torch.testing.assert_close(k["k2"], torch.log(r) ** 2 / 2)
    torch.testing.assert_close(k["k3"], (r - 1) - torch.log(r))
    # k1 is unbiased but a few samples can average below zero; k3 never can.
    few = P.kl_estimates(torch.tensor([-2.0, -1.0]), torch.tensor([-1.0, -1.5]))
    assert few["k1"].mean() < 0 <= few["k3"].mean()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-30, 0), min_size=1, max_size=8),
    st.lists(st.floats(-30, 0), min_size=1, max_size=8),
)
def test_k3_is_never_negative(a, b):
    n = min(len(a), len(b))
    k = P.kl_estimates(
        torch.tensor(a[:n], dtype=torch.float64), torch.tensor(b[:n], dtype=torch.float64)
    )
    assert bool((k["k3"] >= 0).all()) and bool((k["k2"] >= 0).all())


# ----------------------------------------------------------------------------- PPO-style loop


def test_ppo_loss_by_hand_and_clipping():
    old = torch.zeros(1, 3)
    new = torch.tensor([[0.0, math.log(1.5), math.log(0.5)]])
    adv, mask = torch.tensor([[1.0]]), torch.tensor([[1, 1, 1]])
    loss, clip_frac, ratio = P.ppo_loss(new, old, adv, mask, clip=0.2)
    # ratios 1, 1.5, 0.5 with A = 1: min(r, clip(r)) = 1, 1.2, 0.5
    assert loss.item() == pytest.approx(-(1 + 1.2 + 0.5) / 3)
    assert clip_frac == pytest.approx(1 / 3) and ratio == pytest.approx(1.0)
    neg, frac, _ = P.ppo_loss(new, old, -adv, mask, clip=0.2)  # A = -1: 1, 1.5, 0.8
    assert neg.item() == pytest.approx((1 + 1.5 + 0.8) / 3) and frac == pytest.approx(1 / 3)
    masked, _, _ = P.ppo_loss(new, old, adv, torch.tensor([[1, 0, 0]]), clip=0.2)
    assert masked.item() == pytest.approx(-1.0)


def test_shaped_rewards_put_the_score_on_the_last_reply_token():
    k1 = torch.tensor([[0.5, 0.2, -0.1, 9.0], [0.1, 0.3, 9.0, 9.0]])
    mask = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])
    shaped = P.shaped_rewards(torch.tensor([2.0, -1.0]), k1, mask, kl_coef=0.5)
    expected = torch.tensor([[0.0, -0.1, 0.05 + 2.0, 0.0], [-0.05, -0.15 - 1.0, 0.0, 0.0]])
    torch.testing.assert_close(shaped, expected)
    torch.testing.assert_close(
        shaped.sum(-1), torch.tensor([2.0, -1.0]) - 0.5 * (k1 * mask).sum(-1)
    )


def test_rloo_advantages_leave_one_out():
    adv = P.rloo_advantages(torch.tensor([[1.0, 2.0, 6.0]]))
    torch.testing.assert_close(adv, torch.tensor([[1 - 4.0, 2 - 3.5, 6 - 1.5]]))
    with pytest.raises(ValueError, match="samples>=2"):
        P.rloo_advantages(torch.tensor([[1.0]]))


def test_ppo_steps_raise_a_toy_reward():
    torch.manual_seed(0)
    policy = tiny(0)
    reference = P.frozen(policy)
    target = 5

    def fraction_of_target(prompt_ids, reply_ids):
        return sum(t == target for t in reply_ids) / max(1, len(reply_ids))

    optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(0)
    prompts = [[1, 2, 3], [4, 6]]
    history = [
        P.ppo_step(
            policy, reference, fraction_of_target, None, prompts, 8, kl_coef=0.01,
            optimizer=optimizer, generator=g, max_new_tokens=8,
        )
        for _ in range(8)
    ]  # fmt: skip
    assert history[0]["first_ratio"] == pytest.approx(1.0) and history[0]["kl"] == pytest.approx(
        0.0, abs=1e-6
    )
    assert history[-1]["reward"] > history[0]["reward"] + 0.2
    assert history[-1]["kl"] > 0 and 0 <= history[-1]["clip_fraction"] <= 1
    for bad, match in ((dict(kl_coef=-0.1), "kl_coef"), (dict(kl_coef=0.1, clip=0.0), "clip")):
        with pytest.raises(ValueError, match=match):
            P.ppo_step(
                policy, reference, fraction_of_target, None, prompts, 4, optimizer=optimizer, **bad
            )
    with pytest.raises(ValueError, match="reference must be frozen"):
        P.ppo_step(policy, policy, fraction_of_target, None, prompts, 4, 0.1, optimizer=optimizer)


def test_ppo_step_with_a_reward_model_on_chat_prompts(tok):
    policy = small()
    reference, rm = P.frozen(policy), RM.reward_model(policy)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    out = P.ppo_step(
        policy, reference, rm, tok, [PROMPT], 2, kl_coef=0.1, optimizer=optimizer,
        generator=torch.Generator().manual_seed(0), max_new_tokens=4,
    )  # fmt: skip
    assert set(out) >= {"reward", "kl", "kl_k3", "clip_fraction", "ratio", "first_ratio"}
    assert out["first_ratio"] == pytest.approx(1.0) and 1 <= out["length"] <= 4


# ----------------------------------------------------------------------------- its three steps


def _fraction_of_fives(prompt_ids: list[int], reply_ids: list[int]) -> float:
    return sum(t == 5 for t in reply_ids) / max(1, len(reply_ids))


def _ppo_setup(chat: bool, dropout: float = 0.1):
    """A fresh policy (with dropout: training-mode epochs draw from torch's global stream), its
    frozen reference, a reward, prompts, an optimizer and a sampling generator."""
    torch.manual_seed(11)
    shape = dict(vocab_size=VOCAB, block_size=64) if chat else {}
    policy = tiny(5, dropout=dropout, **shape)
    reference = P.frozen(policy)
    if chat:
        reward = RM.reward_model(reference)
        prompts = [PROMPT, (("user", "To OPHELIA: Good morrow, sweet lady."),)]
    else:
        reward = _fraction_of_fives
        prompts = [[1, 2, 3], [4, 6]]
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    return policy, reference, reward, prompts, optimizer, torch.Generator().manual_seed(3)


@pytest.mark.parametrize(
    ("chat", "dtype"), [(False, "float32"), (True, "float32"), (True, "bfloat16")]
)
def test_ppo_step_is_its_three_steps_called_in_order(chat, dtype, request):
    tok = request.getfixturevalue("tok") if chat else None
    options = dict(max_new_tokens=6, dtype=dtype)
    policy, reference, reward, prompts, optimizer, generator = _ppo_setup(chat)
    whole = [
        P.ppo_step(
            policy, reference, reward, tok, prompts, 3, 0.1, 0.15, 3,
            optimizer=optimizer, generator=generator, **options,
        )
        for _ in range(2)
    ]  # fmt: skip
    after_whole = torch.rand(4)  # where torch's global stream (dropout) was left

    policy2, reference2, reward2, prompts2, optimizer2, generator2 = _ppo_setup(chat)
    by_hand = []
    for _ in range(2):
        rollout = P.ppo_rollout(
            policy2, reference2, tok, prompts2, 3, generator=generator2, **options
        )
        scores = P.ppo_scores(rollout, reward2, tok, kl_coef=0.1)
        update = P.ppo_update(
            policy2, rollout, scores, optimizer=optimizer2, clip=0.15, epochs=3, dtype=dtype
        )
        by_hand.append(
            {
                "reward": float(scores.rewards.mean()),
                "kl": float(scores.kl.mean()),
                "kl_k3": float(scores.kl_k3.mean()),
                "clip_fraction": sum(update.clip_fractions) / 3,
                "ratio": sum(update.ratios) / 3,
                "first_ratio": update.ratios[0],
                "loss": update.losses[0],
                "length": float(rollout.mask.sum(-1).float().mean()),
            }
        )
    assert by_hand == whole  # bit for bit: the same draws, the same arithmetic
    assert torch.equal(torch.rand(4), after_whole)
    assert torch.equal(generator.get_state(), generator2.get_state())
    for a, b in zip(policy.parameters(), policy2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_three_steps_return_what_they_document():
    policy, reference, reward, prompts, optimizer, generator = _ppo_setup(chat=False, dropout=0.0)
    n_prompts, G, kl_coef = len(prompts), 3, 0.1
    N = n_prompts * G
    policy.train()
    rollout = P.ppo_rollout(
        policy, reference, None, prompts, G, generator=generator, max_new_tokens=6
    )
    assert policy.training  # the rollout read in eval mode and put the mode back
    T = rollout.input_ids.shape[1]
    assert rollout.prompts == prompts and rollout.prompt_ids == prompts
    assert len(rollout.replies) == N and rollout.samples_per_prompt == G
    assert rollout.input_ids.shape == rollout.attention_mask.shape == (N, T)
    assert rollout.mask.shape == rollout.old_logps.shape == rollout.ref_logps.shape == (N, T - 1)
    assert not rollout.old_logps.requires_grad
    assert rollout.mask.sum(-1).tolist() == [len(r) for r in rollout.replies]
    torch.testing.assert_close(rollout.old_logps, rollout.ref_logps)  # policy == reference

    scores = P.ppo_scores(rollout, reward, None, kl_coef)
    for name in ("rewards", "kl", "kl_k3", "returns"):
        assert getattr(scores, name).shape == (N,), name
    assert scores.shaped.shape == (N, T - 1) and scores.advantages.shape == (N, 1)
    expected = [reward(rollout.prompt_ids[i // G], r) for i, r in enumerate(rollout.replies)]
    assert scores.rewards.tolist() == pytest.approx(expected)
    torch.testing.assert_close(scores.returns, scores.rewards - kl_coef * scores.kl)
    torch.testing.assert_close(
        scores.advantages.view(n_prompts, G).sum(1), torch.zeros(n_prompts)
    )  # RLOO

    update = P.ppo_update(policy, rollout, scores, optimizer=optimizer, epochs=3)
    assert len(update.losses) == len(update.clip_fractions) == len(update.ratios) == 3
    assert update.ratios[0] == pytest.approx(1.0) and update.clip_fractions[0] == 0.0
    assert policy.training and all(0 <= f <= 1 for f in update.clip_fractions)

    for call, match in (
        (lambda: P.ppo_rollout(policy, reference, None, prompts, 1), "RLOO needs siblings"),
        (lambda: P.ppo_rollout(policy, reference, None, prompts, 2, dtype="fp16"), "dtype"),
        (lambda: P.ppo_rollout(policy, policy, None, prompts, 2), "reference must be frozen"),
        (lambda: P.ppo_scores(rollout, reward, None, kl_coef=-1), "kl_coef"),
        (lambda: P.ppo_update(policy, rollout, scores, optimizer=optimizer, clip=0), "clip"),
        (lambda: P.ppo_update(policy, rollout, scores, optimizer=optimizer, epochs=0), "epochs"),
    ):
        with pytest.raises(ValueError, match=match):
            call()
