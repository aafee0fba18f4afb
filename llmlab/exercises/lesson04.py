"""Lesson 04's exercises: a transformer block's forward pass, a training step's update
(clipping and AdamW), the sampling loop with a temperature, and the greedy loop with a stop
token."""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer


def _random_model_and_prompt(rng: random.Random) -> tuple[Any, Any, int, int]:
    import torch

    from llmlab.model import GPT, GPTConfig

    torch.manual_seed(rng.randrange(2**31))
    config = GPTConfig(
        vocab_size=rng.randint(3, 12), block_size=rng.randint(2, 8), n_layer=1, n_head=1, n_embd=8
    )
    model = GPT(config).eval()
    with torch.no_grad():  # larger weights than GPT-2's start: a clear favourite at each step
        for parameter in model.parameters():
            parameter.normal_(0.0, 1.0)
    prompt = torch.randint(config.vocab_size, (rng.randint(1, 10),))
    return model, prompt, rng.randint(0, 12), rng.randrange(config.vocab_size)


@exercise(
    "greedy_until",
    _random_model_and_prompt,
    builds="the generation loop: crop, predict, append, stop",
    difficulty=2,
    minutes=20,
    hints=(
        "The model reads at most model.config.block_size tokens: feed ids[-block_size:][None].",
        "The prediction is at the last position: logits[0, -1].argmax().",
        "Append the stop token, then stop.",
    ),
    allowed=("GPT.forward",),  # the model to generate from; the loop is yours
)
def greedy_until(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    """The generation loop, greedy: crop to the model's context, take the last position's logits,
    append the most likely token; stop after ``max_new_tokens`` tokens or once ``stop_id`` has
    been appended. Returns the new tokens only."""
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            logits, _ = model(ids[-model.config.block_size :][None])
            next_id = int(logits[0, -1].argmax())
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
            if next_id == stop_id:
                break
    return new


# ----------------------------------------------------------------------------- a block's forward


def _random_block(rng: random.Random) -> tuple[Any, Any]:
    import torch

    from llmlab.model import Block, GPTConfig

    torch.manual_seed(rng.randrange(2**31))
    n_head = rng.choice([1, 2, 4])
    config = GPTConfig(
        vocab_size=8,
        block_size=16,
        n_head=n_head,
        n_embd=n_head * rng.choice([2, 4, 8]),
        bias=rng.random() < 0.5,
    )
    block = Block(config).eval()
    with torch.no_grad():  # random values everywhere, so no weight can hide behind a 0 or a 1
        for parameter in block.parameters():
            parameter.normal_(0.0, 0.3)
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 10), config.n_embd)
    return block, x


def _same_tensor(got: Any, expected: Any) -> bool:
    """Equal within float32 rounding (the block's output carries gradients: compared detached)."""
    import torch

    return (
        isinstance(got, torch.Tensor)
        and got.shape == expected.shape
        and torch.allclose(got.detach(), expected.detach(), rtol=1e-4, atol=1e-5)
    )


@exercise(
    "block_forward",
    _random_block,
    same=_same_tensor,
    builds="a pre-norm transformer block's forward pass",
    difficulty=3,
    minutes=30,
    hints=(
        "Two residual steps: x = x + attention(block.ln_1(x)), then x = x + mlp(block.ln_2(x)). "
        "The modules block.ln_1, block.attn.qkv, block.attn.proj, block.mlp.fc and "
        "block.mlp.proj are plain torch layers: call them.",
        "Attention: q, k, v = block.attn.qkv(h).chunk(3, dim=-1); split each [B, T, C] into "
        "[B, heads, T, C // heads] with .view(B, T, heads, -1).transpose(1, 2); then "
        "F.scaled_dot_product_attention(q, k, v, is_causal=True) (or lesson 02's by hand); "
        "merge back with .transpose(1, 2).reshape(B, T, C) before block.attn.proj.",
        "The MLP: block.mlp.proj(F.gelu(block.mlp.fc(h))).",
    ),
)
def block_forward(block: Any, x: Any) -> Any:
    """One pre-norm transformer block on ``x [B, T, C]``: causal multi-head attention on a
    layer-normalised copy, added back; then the MLP on a layer-normalised copy, added back."""
    import torch.nn.functional as F

    B, T, C = x.shape
    heads = block.attn.n_head
    # 1. attention: every position gathers from the positions before it
    q, k, v = block.attn.qkv(block.ln_1(x)).chunk(3, dim=-1)
    q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
    gathered = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [B, heads, T, C/heads]
    x = x + block.attn.proj(gathered.transpose(1, 2).reshape(B, T, C))
    # 2. MLP: each position alone, 4x wider inside
    return x + block.mlp.proj(F.gelu(block.mlp.fc(block.ln_2(x))))


# ----------------------------------------------------------------------------- a training step

BETA1, BETA2, EPS = 0.9, 0.99, 1e-8  # AdamW's constants in this exercise (llmlab's defaults)


def _random_step(rng: random.Random) -> tuple[Any, ...]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shapes = [
        tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 2))) for _ in range(rng.randint(1, 3))
    ]
    step = rng.choice([1, 2, 3, 10, 100])
    # overall norms below and above max_norm; tiny ones, where eps matters (sqrt(v) + eps)
    grad_scale = rng.choice([1e-5, 0.01, 0.3, 3.0])

    def tensors(scale: float, positive: bool = False) -> list[Any]:
        made = [scale * torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
        return [t.abs() for t in made] if positive else made

    params, grads = tensors(1.0), tensors(grad_scale)
    m = tensors(0.0 if step == 1 else 0.1)
    v = tensors(0.0 if step == 1 else 0.01, positive=True)
    lr, weight_decay = rng.choice([1e-3, 1e-2, 0.1]), rng.choice([0.0, 0.1, 0.5])
    return params, grads, m, v, step, lr, weight_decay, 1.0


def _same_lists_of_tensors(got: Any, expected: Any) -> bool:
    """``(params, m, v)``: three lists of tensors, each equal within the checker's tolerance."""
    from llmlab.exercises.registry import _equal

    if not isinstance(got, tuple | list) or len(got) != len(expected):
        return False
    return all(
        isinstance(g, list | tuple)
        and len(g) == len(e)
        and all(hasattr(a, "shape") and _equal(a, b) for a, b in zip(g, e, strict=True))
        for g, e in zip(got, expected, strict=True)
    )


_NO_OPTIMIZER = "the update is what you are writing: no torch optimizer, no torch clipping"


@exercise(
    "adamw_step",
    _random_step,
    same=_same_lists_of_tensors,
    builds="a training step's update: gradient clipping, then AdamW",
    difficulty=2,
    minutes=25,
    hints=(
        "Clipping: the overall norm is sqrt(sum over every tensor of (g**2).sum()); if it exceeds "
        "max_norm, every gradient is multiplied by max_norm / (norm + 1e-6). One scale for all.",
        "Then per tensor: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g², "
        "divide them by (1 - beta1**step) and (1 - beta2**step) (bias correction).",
        "Decoupled weight decay: p * (1 - lr * weight_decay), then subtract "
        "lr * m_hat / (sqrt(v_hat) + eps). Return new lists; leave the inputs alone.",
    ),
    forbidden={
        name: _NO_OPTIMIZER
        for name in (
            "clip_grad_norm_",
            "clip_grads_with_norm_",
            "get_total_norm",
            "Adam.step",
            "AdamW.step",
            "adam",
            "adamw",
            "_single_tensor_adam",
            "_multi_tensor_adam",
            "_fused_adam",
            "_fused_adam_",
            "_fused_adamw_",
        )
    },
)
def adamw_step(
    params: list[Any],
    grads: list[Any],
    m: list[Any],
    v: list[Any],
    step: int,
    lr: float,
    weight_decay: float,
    max_norm: float,
) -> tuple[list[Any], list[Any], list[Any]]:
    """Clip the gradients to overall norm ``max_norm``, then take AdamW step ``step`` (1 first)
    with ``BETA1, BETA2, EPS``: returns the new ``(params, m, v)``."""
    import math

    beta1, beta2, eps = 0.9, 0.99, 1e-8  # = BETA1, BETA2, EPS
    norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
    scale = min(1.0, max_norm / (norm + 1e-6))  # one scale for all: the direction is kept
    new_params, new_m, new_v = [], [], []
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        g = g * scale
        m_i = beta1 * m_i + (1 - beta1) * g  # running average of the gradient
        v_i = beta2 * v_i + (1 - beta2) * g**2  # ... and of its square
        m_hat, v_hat = m_i / (1 - beta1**step), v_i / (1 - beta2**step)  # early averages: too small
        p = p * (1 - lr * weight_decay)  # decoupled weight decay
        new_params.append(p - lr * m_hat / (v_hat.sqrt() + eps))
        new_m.append(m_i)
        new_v.append(v_i)
    return new_params, new_m, new_v


# ----------------------------------------------------------------------------- sampling


def _random_sampling(rng: random.Random) -> tuple[Any, Any, int, float, int]:
    model, prompt, _, _ = _random_model_and_prompt(rng)
    idx = prompt[None].repeat(rng.randint(1, 3), 1)
    return model, idx, rng.randint(0, 12), rng.choice([0.5, 1.0, 2.0]), rng.randrange(2**31)


@exercise(
    "sample_with_temperature",
    _random_sampling,
    builds="the sampling loop with a temperature",
    difficulty=2,
    minutes=20,
    hints=(
        "generator = torch.Generator().manual_seed(seed), made once, before the loop.",
        "Each step: logits, _ = model(idx[:, -model.config.block_size:]); keep logits[:, -1, :]; "
        "probabilities = torch.softmax(last / temperature, dim=-1).",
        "torch.multinomial(probabilities, 1, generator=generator) gives a [B, 1] column: "
        "torch.cat it to idx along dim=1. Wrap the loop in torch.no_grad().",
    ),
    allowed=("GPT.forward",),  # the model to sample from; the loop is yours
)
def sample_with_temperature(
    model: Any, idx: Any, max_new_tokens: int, temperature: float, seed: int
) -> Any:
    """Extend each row of ``idx [B, T]`` by ``max_new_tokens`` tokens, each drawn from
    ``softmax(last logits / temperature)`` by one generator seeded with ``seed``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size :])  # crop to the context
            probabilities = torch.softmax(logits[:, -1, :] / temperature, dim=-1)
            next_id = torch.multinomial(probabilities, 1, generator=generator)
            idx = torch.cat([idx, next_id], dim=1)
    return idx


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("greedy_until")
def _never_crops(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            next_id = int(model(ids[None])[0][0, -1].argmax())
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
            if next_id == stop_id:
                break
    return new


@wrong_answer("greedy_until")
def _drops_the_stop_token(model: Any, prompt: Any, max_new_tokens: int, stop_id: int) -> list[int]:
    import torch

    ids, new = prompt.clone(), []
    with torch.no_grad():
        while len(new) < max_new_tokens:
            next_id = int(model(ids[-model.config.block_size :][None])[0][0, -1].argmax())
            if next_id == stop_id:
                break
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([next_id])])
    return new


@wrong_answer("block_forward")
def _post_norm(block: Any, x: Any) -> Any:
    """The original transformer's order: add first, normalise after."""
    import torch.nn.functional as F

    B, T, C = x.shape
    heads = block.attn.n_head
    q, k, v = block.attn.qkv(x).chunk(3, dim=-1)
    q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
    gathered = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = block.ln_1(x + block.attn.proj(gathered.transpose(1, 2).reshape(B, T, C)))
    return block.ln_2(x + block.mlp.proj(F.gelu(block.mlp.fc(x))))


@wrong_answer("block_forward")
def _heads_split_without_transpose(block: Any, x: Any) -> Any:
    """A reshape to [B, heads, T, hd] mixes positions and channels instead of splitting them."""
    import torch.nn.functional as F

    B, T, C = x.shape
    heads = block.attn.n_head
    q, k, v = block.attn.qkv(block.ln_1(x)).chunk(3, dim=-1)
    q, k, v = (t.reshape(B, heads, T, C // heads) for t in (q, k, v))
    gathered = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = x + block.attn.proj(gathered.reshape(B, T, C))
    return x + block.mlp.proj(F.gelu(block.mlp.fc(block.ln_2(x))))


@wrong_answer("block_forward")
def _no_causal_mask(block: Any, x: Any) -> Any:
    import torch.nn.functional as F

    B, T, C = x.shape
    heads = block.attn.n_head
    q, k, v = block.attn.qkv(block.ln_1(x)).chunk(3, dim=-1)
    q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
    gathered = F.scaled_dot_product_attention(q, k, v)
    x = x + block.attn.proj(gathered.transpose(1, 2).reshape(B, T, C))
    return x + block.mlp.proj(F.gelu(block.mlp.fc(block.ln_2(x))))


def _adam_moments(g: Any, m_i: Any, v_i: Any, step: int) -> tuple[Any, Any, Any, Any]:
    m_i = BETA1 * m_i + (1 - BETA1) * g
    v_i = BETA2 * v_i + (1 - BETA2) * g**2
    return m_i, v_i, m_i / (1 - BETA1**step), v_i / (1 - BETA2**step)


@wrong_answer("adamw_step")
def _clips_each_tensor_alone(params, grads, m, v, step, lr, weight_decay, max_norm):
    """Each gradient clipped to max_norm on its own: the overall direction changes."""
    out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        g = g * min(1.0, max_norm / (float(g.norm()) + 1e-6))
        m_i, v_i, m_hat, v_hat = _adam_moments(g, m_i, v_i, step)
        p = p * (1 - lr * weight_decay)
        for kept, value in zip(out, (p - lr * m_hat / (v_hat.sqrt() + EPS), m_i, v_i), strict=True):
            kept.append(value)
    return out


@wrong_answer("adamw_step")
def _always_rescales(params, grads, m, v, step, lr, weight_decay, max_norm):
    """Scales every gradient to norm max_norm, also the ones that were smaller."""
    scale = max_norm / (sum(float((g**2).sum()) for g in grads) ** 0.5 + 1e-6)
    out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        m_i, v_i, m_hat, v_hat = _adam_moments(g * scale, m_i, v_i, step)
        p = p * (1 - lr * weight_decay)
        for kept, value in zip(out, (p - lr * m_hat / (v_hat.sqrt() + EPS), m_i, v_i), strict=True):
            kept.append(value)
    return out


@wrong_answer("adamw_step")
def _decay_in_the_gradient(params, grads, m, v, step, lr, weight_decay, max_norm):
    """Adam with L2: the decay goes through m and v, so Adam rescales it (not AdamW)."""
    scale = min(1.0, max_norm / (sum(float((g**2).sum()) for g in grads) ** 0.5 + 1e-6))
    out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        m_i, v_i, m_hat, v_hat = _adam_moments(g * scale + weight_decay * p, m_i, v_i, step)
        for kept, value in zip(out, (p - lr * m_hat / (v_hat.sqrt() + EPS), m_i, v_i), strict=True):
            kept.append(value)
    return out


@wrong_answer("adamw_step")
def _no_bias_correction(params, grads, m, v, step, lr, weight_decay, max_norm):
    scale = min(1.0, max_norm / (sum(float((g**2).sum()) for g in grads) ** 0.5 + 1e-6))
    out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        m_i, v_i, _, _ = _adam_moments(g * scale, m_i, v_i, step)
        p = p * (1 - lr * weight_decay)
        for kept, value in zip(out, (p - lr * m_i / (v_i.sqrt() + EPS), m_i, v_i), strict=True):
            kept.append(value)
    return out


@wrong_answer("sample_with_temperature")
def _multiplies_by_the_temperature(model, idx, max_new_tokens, temperature, seed):
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size :])
            probabilities = torch.softmax(logits[:, -1, :] * temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probabilities, 1, generator=generator)], 1)
    return idx


@wrong_answer("sample_with_temperature")
def _reseeds_every_step(model, idx, max_new_tokens, temperature, seed):
    """A new generator each step replays the same random number every time."""
    import torch

    with torch.no_grad():
        for _ in range(max_new_tokens):
            generator = torch.Generator().manual_seed(seed)
            logits, _ = model(idx[:, -model.config.block_size :])
            probabilities = torch.softmax(logits[:, -1, :] / temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probabilities, 1, generator=generator)], 1)
    return idx


@wrong_answer("sample_with_temperature")
def _samples_from_the_first_position(model, idx, max_new_tokens, temperature, seed):
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size :])
            probabilities = torch.softmax(logits[:, 0, :] / temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probabilities, 1, generator=generator)], 1)
    return idx
