"""Lesson 04's exercises: what the checker refuses in each (the general guarantees, worked
solutions passing and delegation failing, are tests/test_exercise_checker.py's)."""

from __future__ import annotations

import random

import torch

from llmlab import exercises
from llmlab.exercises import lesson04


def test_a_torch_optimizer_in_the_update_is_named_and_refused(capsys):
    def with_torch(params, grads, m, v, step, lr, weight_decay, max_norm):
        weights = [p.clone().requires_grad_(True) for p in params]
        for w, g in zip(weights, grads, strict=True):
            w.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(weights, max_norm)
        torch.optim.AdamW(weights, lr=lr, weight_decay=weight_decay).step()
        return [w.detach() for w in weights], m, v

    assert not exercises.check("adamw_step", with_torch)
    assert "your function used `clip_grad_norm_`" in capsys.readouterr().out


def test_the_update_cases_have_overall_norms_on_both_sides_of_max_norm():
    """Else an answer that never clips, or always rescales, could pass."""
    rng = random.Random(0)
    clipped = 0
    for _ in range(50):  # the cases do exercise the clipping: overall norms above max_norm
        _, grads, *_, max_norm = lesson04._random_step(rng)
        clipped += sum(float((g**2).sum()) for g in grads) ** 0.5 > max_norm
    assert 5 < clipped < 45


def test_the_block_exercise_refuses_the_blocks_own_layers_but_allows_torchs(capsys):
    def through_the_attention_module(block, x):
        x = x + block.attn(block.ln_1(x))[0]
        return x + block.mlp.proj(torch.nn.functional.gelu(block.mlp.fc(block.ln_2(x))))

    assert not exercises.check("block_forward", through_the_attention_module)
    assert "`model.CausalSelfAttention.forward`" in capsys.readouterr().out


def test_sampling_cases_cover_prompts_longer_than_the_context_and_every_temperature():
    rng = random.Random(0)
    cases = [lesson04._random_sampling(rng) for _ in range(40)]
    assert any(idx.shape[1] + n > model.config.block_size for model, idx, n, _, _ in cases)
    assert {t for *_, t, _ in cases} == {0.5, 1.0, 2.0}


def test_torchs_adamw_alone_is_refused_by_name(capsys):
    def optimizer_only(params, grads, m, v, step, lr, weight_decay, max_norm):
        weights = [p.clone().requires_grad_(True) for p in params]
        for w, g in zip(weights, grads, strict=True):
            w.grad = g.clone()
        torch.optim.AdamW(weights, lr=lr, weight_decay=weight_decay).step()
        return [w.detach() for w in weights], m, v

    assert not exercises.check("adamw_step", optimizer_only)
    assert "no torch optimizer" in capsys.readouterr().out


def test_eps_inside_the_square_root_is_caught(capsys):
    def eps_inside(params, grads, m, v, step, lr, weight_decay, max_norm):
        norm = sum(float((g**2).sum()) for g in grads) ** 0.5
        scale = min(1.0, max_norm / (norm + 1e-6))
        out = ([], [], [])
        for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
            g = g * scale
            m_i = 0.9 * m_i + 0.1 * g
            v_i = 0.99 * v_i + 0.01 * g**2
            m_hat, v_hat = m_i / (1 - 0.9**step), v_i / (1 - 0.99**step)
            p = p * (1 - lr * weight_decay) - lr * m_hat / (v_hat + 1e-8).sqrt()
            for kept, value in zip(out, (p, m_i, v_i), strict=True):
                kept.append(value)
        return out

    assert not exercises.check("adamw_step", eps_inside)
    assert "differs" in capsys.readouterr().out
