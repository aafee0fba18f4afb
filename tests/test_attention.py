"""llmlab.attention against torch's attention, plus the properties the lesson claims."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from llmlab.attention import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    apply_rope,
    attention,
    causal_mask,
    merge_heads,
    padding_mask,
    rope_frequencies,
    sinusoidal_encoding,
    split_heads,
)

DTYPES = [torch.float32, torch.float64]
SHAPES = [  # (batch dims, Tq, Tk, d, dv)
    ((), 4, 4, 8, 8),
    ((3,), 5, 7, 6, 3),
    ((2, 4), 6, 6, 16, 16),
    ((2, 3), 1, 9, 8, 5),
]


def _qkv(batch, t_q, t_k, d, dv, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, t_q, d, generator=g, dtype=dtype)
    k = torch.randn(*batch, t_k, d, generator=g, dtype=dtype)
    v = torch.randn(*batch, t_k, dv, generator=g, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "padding"])
def test_attention_matches_torch(shape, dtype, mask_kind):
    batch, t_q, t_k, d, dv = shape
    q, k, v = _qkv(batch, t_q, t_k, d, dv, dtype)
    g = torch.Generator().manual_seed(1)
    mask = {
        "none": None,
        "bool": torch.rand(t_q, t_k, generator=g) < 0.7,
        "float": torch.randn(*batch, t_q, t_k, generator=g, dtype=dtype),
        "padding": padding_mask([max(1, t_k - 2)], t_k)[0, 0],  # [1, Tk]
    }[mask_kind]
    out, weights = attention(q, k, v, mask=mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert weights.shape == (*batch, t_q, t_k)
    torch.testing.assert_close(weights @ v, out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] == s[2]])
def test_causal_attention_matches_torch(shape, dtype):
    q, k, v = _qkv(*shape, dtype)
    out, weights = attention(q, k, v, causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert not weights.triu(diagonal=1).any(), "a query attended to a later position"
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights[..., 0]))


def test_causal_attention_of_the_last_queries_equals_the_last_rows():
    """What a KV cache relies on: the last Tq queries over all Tk keys give the last Tq rows."""
    q, k, v = _qkv((2,), 7, 7, 8, 8, torch.float64)
    full, _ = attention(q, k, v, causal=True)
    tail, weights = attention(q[:, -3:], k, v, causal=True)
    torch.testing.assert_close(tail, full[:, -3:])
    assert weights[:, 0, 5:].eq(0).all() and weights[:, 0, :5].gt(0).all()


def test_causal_and_mask_combine():
    q, k, v = _qkv((2, 2), 5, 5, 4, 4, torch.float64)
    pad = padding_mask([5, 3], 5)
    out, _ = attention(q, k, v, mask=pad, causal=True)
    both = pad & causal_mask(5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=both))


def test_a_row_with_nothing_to_attend_to_gets_zeros_like_torch():
    q, k, v = _qkv((), 3, 3, 4, 4, torch.float32)
    mask = torch.tensor([[True, False, True], [False, False, False], [True, True, True]])
    out, weights = attention(q, k, v, mask=mask)
    assert weights[1].eq(0).all() and not out.isnan().any()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_attention_dropout_zeroes_weights_and_rescales_the_rest():
    torch.manual_seed(0)
    q, k, v = _qkv((4,), 8, 8, 4, 4, torch.float64)
    _, clean = attention(q, k, v)
    out, dropped = attention(q, k, v, dropout=0.5)
    kept = dropped != 0
    assert 0.35 < kept.double().mean() < 0.65
    torch.testing.assert_close(dropped[kept], 2 * clean[kept])  # survivors scaled by 1/(1-p)
    torch.testing.assert_close(out, dropped @ v)


def test_without_positions_attention_is_permutation_equivariant():
    """The lesson's point: shuffle the tokens and the outputs are only shuffled."""
    x = torch.randn(6, 8, dtype=torch.float64)
    perm = torch.randperm(6)
    out, _ = attention(x, x, x)
    out_perm, _ = attention(x[perm], x[perm], x[perm])
    torch.testing.assert_close(out_perm, out[perm])


@given(
    t=st.integers(1, 9),
    d=st.integers(1, 12),
    heads=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_attention_matches_torch_on_random_shapes(t, d, heads, seed):
    q, k, v = _qkv((2, heads), t, t, d, d, torch.float32, seed)
    for causal in (False, True):
        out, _ = attention(q, k, v, causal=causal)
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_batch_dimensions_broadcast_like_torch():
    q, k, v = _qkv((2,), 4, 5, 8, 8, torch.float32)
    k, v = k.expand(3, 2, 5, 8), v.expand(3, 2, 5, 8)  # one q shared by three key sets
    out, _ = attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)


def test_split_and_merge_heads():
    x = torch.randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])  # head h owns channels h*D .. (h+1)*D
    torch.testing.assert_close(merge_heads(heads), x)


def _copy_from_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ours.qkv.weight.copy_(theirs.in_proj_weight)  # rows: W_q, W_k, W_v, like our split
        ours.proj.weight.copy_(theirs.out_proj.weight)
        if theirs.in_proj_bias is not None:
            ours.qkv.bias.copy_(theirs.in_proj_bias)
            ours.proj.bias.copy_(theirs.out_proj.bias)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("masking", ["none", "causal", "padding"])
def test_multi_head_attention_matches_torch(bias, masking):
    torch.manual_seed(0)
    d_model, n_heads, B, T = 16, 4, 2, 6
    theirs = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True).eval()
    ours = MultiHeadAttention(d_model, n_heads, bias=bias, causal=masking == "causal").eval()
    _copy_from_torch(ours, theirs)
    x = torch.randn(B, T, d_model)
    lengths = [6, 4]
    mask = padding_mask(lengths, T) if masking == "padding" else None
    # nn.MultiheadAttention's masks mean the opposite of ours: True = may NOT attend.
    kwargs = {
        "none": {},
        "causal": {"attn_mask": ~causal_mask(T), "is_causal": True},
        "padding": {"key_padding_mask": ~padding_mask(lengths, T)[:, 0, 0]},
    }[masking]
    with torch.no_grad():
        expected, expected_weights = theirs(x, x, x, average_attn_weights=False, **kwargs)
        out, weights = ours(x, mask=mask, need_weights=True)
        fast = ours(x, mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast, out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("float_mask", [False, True])
def test_multi_head_fast_path_agrees_with_causal_and_a_mask(float_mask):
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, causal=True).eval()
    x = torch.randn(2, 5, 8)
    mask = padding_mask([5, 2], 5)
    if float_mask:
        mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    with torch.no_grad():
        out, weights = mha(x, mask=mask, need_weights=True)
        torch.testing.assert_close(mha(x, mask=mask), out, atol=1e-6, rtol=1e-5)
    assert weights[1, :, :, 2:].eq(0).all() and not weights.triu(1).any()


def test_multi_head_dropout_only_in_training():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(1, 6, 8)
    assert not torch.equal(mha(x), mha(x))
    mha.eval()
    torch.testing.assert_close(mha(x), mha(x, need_weights=True)[0])


def test_multi_head_attention_gradients_flow():
    mha = MultiHeadAttention(8, 2)
    mha(torch.randn(2, 3, 8), need_weights=True)[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mha.parameters())


def test_sinusoidal_encoding_golden_values_and_shift_property():
    pe = sinusoidal_encoding(50, 8)
    assert pe.shape == (50, 8) and pe.abs().max() <= 1
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 4))
    pos, i, d = 7, 1, 8  # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same)
    angle = pos / 10000 ** (2 * i / d)
    torch.testing.assert_close(
        pe[pos, 2 * i : 2 * i + 2], torch.tensor([math.sin(angle), math.cos(angle)])
    )
    # A shift by k positions is one fixed rotation of each (sin, cos) pair, whatever the position.
    k = 3
    shift = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        c, s = math.cos(k / 10000 ** (2 * i / d)), math.sin(k / 10000 ** (2 * i / d))
        shift[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, -s], [s, c]])
    torch.testing.assert_close(pe[:-k].double() @ shift, pe[k:].double(), atol=1e-5, rtol=0)
    assert torch.cdist(pe, pe).add(torch.eye(50)).min() > 0.1, "two positions share a code"


def _rope_reference(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0):
    """RoPE as complex multiplication: channels (i, i + d/2) are one complex number."""
    half = x.shape[-1] // 2
    z = torch.complex(x[..., :half].double(), x[..., half:].double())
    theta = base ** (-torch.arange(half, dtype=torch.float64) * 2 / x.shape[-1])
    z = z * torch.polar(
        torch.ones(len(positions), half, dtype=torch.float64), positions[:, None] * theta
    )
    return torch.cat([z.real, z.imag], dim=-1)


def test_rope_matches_complex_rotation_and_position_zero_is_identity():
    cos, sin = rope_frequencies(16, 10)
    x = torch.randn(2, 3, 10, 16)
    rotated = apply_rope(x, cos, sin)
    torch.testing.assert_close(
        rotated.double(), _rope_reference(x, torch.arange(10.0)), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(rotated[..., 0, :], x[..., 0, :])


@given(
    m=st.integers(0, 60), n=st.integers(0, 60), shift=st.integers(0, 60), seed=st.integers(0, 999)
)
@settings(max_examples=50, deadline=None)
def test_rope_scores_depend_only_on_relative_position_and_keep_norms(m, n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 8, generator=g, dtype=torch.float64)
    cos, sin = (t.double() for t in rope_frequencies(8, 121))

    def rotate(x, pos):
        return apply_rope(x, cos[pos : pos + 1], sin[pos : pos + 1])

    score = rotate(q, m) @ rotate(k, n).T
    shifted = rotate(q, m + shift) @ rotate(k, n + shift).T
    # The tables are float32, as the model uses them: the angle p*theta (theta <= 1) is rounded to
    # float32, off by up to p * eps32 / 2 radians. The two scores use four such angles, and a
    # score moves by at most |q||k| per radian of angle, so that bounds their difference.
    eps32, last = torch.finfo(torch.float32).eps, max(m, n) + shift
    bound = float(q.norm() * k.norm()) * 4 * last * eps32 / 2
    assert abs(float(score - shifted)) <= bound + 1e-12
    # Norms: each pair is scaled by cos^2 + sin^2 of one float32 angle, 1 within a few eps32.
    torch.testing.assert_close(rotate(q, m).norm(), q.norm(), rtol=4 * eps32, atol=0)


def test_learned_positional_embedding():
    emb = LearnedPositionalEmbedding(max_len=8, d=4)
    torch.testing.assert_close(emb(3, start=2), emb.embedding.weight[2:5])
    with pytest.raises(ValueError, match="max_len=8"):
        emb(5, start=4)


def test_causal_mask_and_padding_mask_values():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    assert causal_mask(2, n_keys=4).tolist() == [[True, True, True, False], [True] * 4]
    mask = padding_mask(torch.tensor([1, 3]), 3)
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, False, False], [True, True, True]]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda q: attention(q, q[..., :3], q), ValueError, "same last dimension"),
        (lambda q: attention(q, q, q[:, :2]), ValueError, "k and v"),
        (lambda q: attention(q, q, q.double()), TypeError, "share a dtype"),
        (lambda q: attention(q.long(), q.long(), q.long()), TypeError, "floating"),
        (lambda q: attention(q, q, q.tolist()), TypeError, "v must be a torch.Tensor"),
        (lambda q: attention(q, q.repeat(3, 1, 1), q.repeat(3, 1, 1)), ValueError, "broadcast"),
        (
            lambda q: attention(q, q, q, mask=torch.ones(4, 4, dtype=torch.int64)),
            TypeError,
            "torch.bool",
        ),
        (
            lambda q: attention(q, q, q, mask=torch.ones(3, 4, dtype=torch.bool)),
            ValueError,
            r"\[3, 4\]",
        ),
        (
            lambda q: attention(q, q, q, mask=torch.ones(5, 4, 4, dtype=torch.bool)),
            ValueError,
            "broadcast",
        ),
        (lambda q: split_heads(q, 3), ValueError, "dividing the width 8"),
        (lambda q: apply_rope(q, *rope_frequencies(8, 5)), ValueError, "slice"),
        (lambda q: padding_mask([2, 5], 4), ValueError, "lengths"),
        (lambda q: padding_mask([1.5], 4), TypeError, "lengths"),
        (lambda q: causal_mask(4, n_keys=2), ValueError, "n_keys"),
        (lambda q: sinusoidal_encoding(4, 7), ValueError, "even"),
        (lambda q: rope_frequencies(7, 4), ValueError, "head_dim"),
        (lambda q: MultiHeadAttention(8, 2)(q[..., :6]), ValueError, r"\[B, T, 8\]"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, message):
    q = torch.randn(2, 4, 8)
    with pytest.raises(error, match=message):
        call(q)


def test_head_count_must_divide_the_width():
    with pytest.raises(ValueError, match=r"n_heads=3 must divide d_model=16"):
        MultiHeadAttention(16, 3)


def test_attention_share_against_a_loop_and_its_chance_level():
    from llmlab.attention import attention_share

    torch.manual_seed(0)
    B, L, H, T = 2, 2, 3, 5
    maps = torch.randn(B, L, H, T, T).masked_fill(~causal_mask(T), float("-inf")).softmax(dim=-1)
    chosen = torch.zeros(B, T, T)
    chosen[:, range(1, T), range(T - 1)] = 1  # the previous token
    per_head, chance = attention_share(maps, chosen)
    expected = torch.tensor(
        [
            [
                sum(maps[b, l, h, t, t - 1] for b in range(B) for t in range(1, T)) / (B * (T - 1))
                for h in range(H)
            ]
            for l in range(L)
        ]
    )
    assert torch.allclose(per_head, expected)
    assert math.isclose(chance, sum(1 / (t + 1) for t in range(1, T)) / (T - 1), rel_tol=1e-6)
    uniform = causal_mask(T).float() / torch.arange(1, T + 1)[:, None]  # spreading evenly
    spread, _ = attention_share(uniform.expand(B, L, H, T, T), chosen)
    assert torch.allclose(spread, torch.full((L, H), chance))


@pytest.mark.parametrize(
    ("maps", "chosen", "message"),
    [
        (torch.rand(2, 3, 3), torch.zeros(2, 3, 3), "maps must be"),
        (torch.rand(1, 1, 1, 3, 3), torch.zeros(2, 3, 3), "chosen must be"),
        (torch.rand(1, 1, 1, 3, 3), torch.ones(1, 3, 3), "key <= query"),
        (torch.rand(1, 1, 1, 3, 3), torch.zeros(1, 3, 3), "no key"),
    ],
)
def test_attention_share_rejects_bad_input(maps, chosen, message):
    from llmlab.attention import attention_share

    with pytest.raises(ValueError, match=message):
        attention_share(maps, chosen)
