"""Lesson 09's library piece, :mod:`llmlab.grpo`: advantages, pass@k, the verifiable reward."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from llmlab import grpo, policy


def test_group_advantages_are_per_group_and_normalised_with_ddof_1():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 1.0, 2.0, 2.0]])
    centred = grpo.group_advantages(rewards, normalize=False)
    assert torch.allclose(centred[0], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    assert torch.equal(centred[1], torch.zeros(4))
    scaled = grpo.group_advantages(rewards)
    std = math.sqrt(1 / 3)  # ddof=1 of [1, 0, 0, 1]
    assert torch.allclose(scaled[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (std + 1e-4))
    assert torch.equal(scaled[1], torch.zeros(4))  # all equal: 0, not nan
    assert torch.allclose(scaled[2].std(), torch.tensor(1.0), atol=1e-3)


def test_rloo_is_the_centred_advantage_times_g_over_g_minus_1():
    rewards = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(
        policy.rloo_advantages(rewards), grpo.group_advantages(rewards, False) * 6 / 5, atol=1e-6
    )


def test_all_same_share_counts_the_groups_with_no_gradient():
    rewards = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    assert grpo.all_same_share(rewards) == 0.5


@pytest.mark.parametrize(("n", "c", "k"), [(5, 2, 1), (5, 2, 2), (6, 3, 4), (4, 0, 2), (4, 4, 3)])
def test_pass_at_k_is_the_share_of_k_subsets_with_a_right_reply(n, c, k):
    right = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(right[i] for i in s) for s in subsets) / len(subsets)
    assert grpo.pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_1_is_c_over_n_and_bad_arguments_are_named():
    assert grpo.pass_at_k(32, 8, 1) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="k must be"):
        grpo.pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="c must be"):
        grpo.pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="rewards must be"):
        grpo.group_advantages(torch.zeros(4))


def test_verify_is_exact_and_the_questions_have_one_answer_each():
    assert grpo.verify(" A tragedy. ", "A tragedy") == 1.0
    assert grpo.verify("A tragedy, sir.", "A tragedy") == 0.0
    genre = grpo.play_questions("play_genre")
    assert len(genre) == 22
    assert {a for _, a in genre} <= {"A comedy", "A history", "A tragedy"}
    plays = grpo.play_questions("character_play", 5, seed=1)
    assert len(plays) == 5 and plays == grpo.play_questions("character_play", 5, seed=1)
    with pytest.raises(ValueError, match="kind must be"):
        grpo.play_questions("dialogue")


def test_a_grpo_round_runs_on_chat_prompts_and_reports_its_groups(tok):
    from preference_data import small

    model = small()
    reference = policy.frozen(model)
    questions = grpo.play_questions("play_genre")[:3]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    out = grpo.grpo_step(
        model, reference, tok, questions, 4, optimizer=optimizer,
        generator=torch.Generator().manual_seed(0), max_new_tokens=3, kl_coef=0.1,
    )  # fmt: skip
    assert out["reward"] == 0.0  # an untrained model never names the genre ...
    assert out["no_gradient"] == 1.0  # ... so every group's rewards are equal
    assert out["kl"] == pytest.approx(0.0, abs=1e-5)  # sampled from the reference itself
    counts = grpo.correct_counts(
        model, tok, questions, 2, generator=torch.Generator().manual_seed(1), max_new_tokens=3
    )
    assert counts == [0, 0, 0]
    # with all rewards equal and no KL yet, the advantages are 0: the round did not move it
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
