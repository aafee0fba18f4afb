"""llmlab.model: the GPT's two attention paths agree, it starts at chance, learns, and says no."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_gpt import TINY, tiny

from llmlab.model import GPT, IGNORE_INDEX, POSITIONAL_ENCODINGS, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def ids(*shape: int, vocab: int = TINY["vocab_size"], seed: int = 1) -> torch.Tensor:
    return torch.randint(vocab, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_explicit_and_fused_attention_give_the_same_logits(pos_encoding):
    model = tiny(pos_encoding=pos_encoding).eval()
    x, y = ids(3, 16), ids(3, 16, seed=2)
    fused_logits, fused_loss = model(x, y)
    logits, loss, weights = model(x, y, return_attention=True)
    torch.testing.assert_close(logits, fused_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, fused_loss, atol=1e-6, rtol=1e-6)
    assert weights.shape == (3, 2, 2, 16, 16)  # [B, layers, heads, T, T]
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 2, 16))
    future = torch.ones(16, 16, dtype=torch.bool).triu(1)
    assert (weights[..., future] == 0).all()  # no position attends to a later one


def test_under_bf16_autocast_attention_stays_float32_and_paths_agree():
    model = tiny(pos_encoding="rope").eval()
    x = ids(2, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused, _ = model(x)
        explicit, _, weights = model(x, return_attention=True)
    assert fused.dtype == torch.bfloat16 and weights.dtype == torch.float32
    torch.testing.assert_close(explicit, fused)
    torch.testing.assert_close(fused.float(), model(x)[0], atol=0.05, rtol=0.05)  # bf16 ~ fp32


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_positional_encoding_makes_order_matter(pos_encoding):
    model = tiny(pos_encoding=pos_encoding).eval()
    x = ids(1, 8)
    shuffled = x[:, torch.randperm(8, generator=torch.Generator().manual_seed(0))]
    last = model(x)[0][0, -1]
    assert not torch.allclose(last, model(shuffled)[0][0, -1], atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(t=st.integers(1, 15), seed=st.integers(0, 2**16))
def test_logits_never_depend_on_future_tokens(t, seed):
    model = tiny(pos_encoding="rope").eval()
    x = ids(2, 16, seed=seed)
    changed = x.clone()
    changed[:, t:] = ids(2, 16 - t, seed=seed + 1)
    torch.testing.assert_close(model(x)[0][:, :t], model(changed)[0][:, :t])


@pytest.mark.parametrize("vocab_size", [37, 500])
def test_loss_at_init_is_that_of_a_uniform_guess(vocab_size):
    model = tiny(vocab_size=vocab_size)
    _, loss = model(ids(8, 16, vocab=vocab_size), ids(8, 16, vocab=vocab_size, seed=3))
    assert abs(loss.item() - math.log(vocab_size)) < 0.05


def test_a_tiny_model_overfits_one_batch():
    model = tiny()
    x, y = ids(4, 16), ids(4, 16, seed=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(150):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05  # from ln(37) = 3.6: the batch has been memorised


def test_ignored_targets_are_left_out_of_the_loss():
    model = tiny()
    x, y = ids(2, 16), ids(2, 16, seed=4)
    masked = y.clone()
    masked[:, :10] = IGNORE_INDEX
    logits, loss = model(x, masked)
    expected = torch.nn.functional.cross_entropy(
        logits[:, 10:].reshape(-1, 37), y[:, 10:].reshape(-1)
    )
    torch.testing.assert_close(loss, expected)


def test_every_parameter_gets_a_gradient():
    """DDP needs this, and an unused parameter is usually a wiring bug."""
    for pos_encoding in POSITIONAL_ENCODINGS:
        model = tiny(pos_encoding=pos_encoding)
        model(ids(2, 16), ids(2, 16, seed=2))[1].backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
        assert not missing, (pos_encoding, missing)


def test_weights_are_tied_and_counted_once():
    model = tiny()
    assert model.lm_head.weight is model.wte.weight
    V, T, L, d = 37, 16, 2, 32
    per_block = (
        2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    )
    by_hand = V * d + T * d + L * per_block + 2 * d
    assert model.num_params(non_embedding=False) == by_hand
    assert model.num_params() == by_hand - T * d  # position table left out, as nanoGPT
    no_bias = V * d + T * d + L * (2 * d + 12 * d * d) + d  # layer norms keep their gains
    assert tiny(bias=False).num_params(non_embedding=False) == no_bias


def test_residual_projections_start_smaller():
    model = tiny(n_layer=8, n_embd=128, n_head=4)
    fc_std = model.blocks[0].mlp.fc.weight.std().item()
    proj_std = torch.cat([b.mlp.proj.weight.flatten() for b in model.blocks]).std().item()
    assert abs(fc_std - 0.02) < 0.001
    assert abs(proj_std - 0.02 / math.sqrt(16)) < 0.0005


def test_config_round_trips_and_rejects_nonsense():
    config = GPTConfig(**TINY, pos_encoding="rope", dropout=0.1)
    assert GPTConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown GPTConfig fields"):
        GPTConfig.from_dict({**TINY, "n_embed": 32})
    bad = [
        dict(n_layer=0),
        dict(n_embd=30, n_head=4),
        dict(dropout=1.0),
        dict(pos_encoding="alibi"),
        dict(n_embd=12, n_head=4, pos_encoding="rope"),  # odd head size
        dict(vocab_size=3.0),
    ]
    for overrides in bad:
        with pytest.raises(ValueError, match="GPTConfig"):
            GPTConfig(**{**TINY, **overrides})
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"vocab_size": 10})


def test_bad_inputs_get_clear_errors():
    model = tiny()
    with pytest.raises(ValueError, match="17 tokens but the model's context"):
        model(ids(1, 17))
    with pytest.raises(ValueError, match=r"ids in \[0, 40\].*0\.\.36"):
        model(torch.tensor([[0, 40]]))
    with pytest.raises(ValueError, match="ids in"):
        model(torch.tensor([[-1, 3]]))
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"shape \[batch, time>=1\]"):
        model(ids(16))
    with pytest.raises(ValueError, match="targets must have the shape"):
        model(ids(2, 8), ids(2, 7))
    with pytest.raises(ValueError, match="targets must be token ids"):
        model(ids(1, 4), torch.tensor([[0, 1, 2, 99]]))


def test_generate_greedy_matches_argmax_and_crops_the_context():
    model = tiny()
    prompt = ids(20)  # longer than block_size: only the last 16 tokens are read
    out = model.generate(prompt, 5, temperature=0)
    assert out.shape == (25,) and torch.equal(out[:20], prompt)
    context = prompt[-16:]
    for token in out[20:]:
        expected = model(context[None])[0][0, -1].argmax()
        assert token == expected
        context = torch.cat([context[1:], token[None]])


def test_generate_samples_reproducibly_within_top_k():
    model = tiny()
    prompt = ids(2, 3)
    first = model.generate(
        prompt, 30, temperature=1.5, top_k=3, generator=torch.Generator().manual_seed(7)
    )
    again = model.generate(
        prompt, 30, temperature=1.5, top_k=3, generator=torch.Generator().manual_seed(7)
    )
    assert torch.equal(first, again) and first.shape == (2, 33)
    assert torch.equal(
        model.generate(prompt, 10, top_k=1), model.generate(prompt, 10, temperature=0)
    )
    # every sampled token is among the 3 most likely at its step
    for b in range(2):
        for t in range(3, 33):
            context = first[b : b + 1, max(0, t - 16) : t]
            top3 = model(context)[0][0, -1].topk(3).indices
            assert first[b, t] in top3


def test_generate_restores_training_mode_and_rejects_bad_settings():
    model = tiny().train()
    model.generate(ids(4), 2)
    assert model.training
    with pytest.raises(ValueError, match="empty prompt"):
        model.generate(torch.zeros(0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="ids in"):
        model.generate(torch.tensor([5, 37]), 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(ids(4), 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(ids(4), 3, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(ids(4), -2)


# ----------------------------------------------------------------------------- trunk, heads, cache


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_hidden_then_the_tied_head_is_forward(pos_encoding):
    model = tiny(pos_encoding=pos_encoding).eval()
    x = ids(2, 16)
    hidden = model.hidden(x)
    assert hidden.shape == (2, 16, TINY["n_embd"])
    torch.testing.assert_close(hidden @ model.wte.weight.T, model(x)[0], rtol=0, atol=0)


def test_the_sequence_head_reads_the_last_real_token_under_right_padding():
    from llmlab.model import SequenceHead, last_real_positions

    head = SequenceHead(tiny(pos_encoding="rope"), n_outputs=3).eval()
    text = ids(1, 9)[0]
    scores = []
    for pad in (0, 3, 7):  # the same text padded to 9, 12 and 16 tokens
        row = torch.cat([text, torch.zeros(pad, dtype=torch.long)])[None]
        mask = torch.cat([torch.ones(9), torch.zeros(pad)])[None]
        scores.append(head(row, mask))
    for other in scores[1:]:
        torch.testing.assert_close(other, scores[0])
    hidden = head.gpt.hidden(text[None])
    torch.testing.assert_close(scores[0], head.score(hidden[:, -1]))
    assert scores[0].shape == (1, 3)
    # rightmost real token, whichever side the padding is on (transformers' rule)
    masks = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0]])
    assert last_real_positions(masks).tolist() == [2, 4, 0]
    with pytest.raises(ValueError, match="no real token"):
        last_real_positions(torch.tensor([[1, 1], [0, 0]]))
    with pytest.raises(ValueError, match="shape of idx"):
        head(ids(2, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match="n_outputs"):
        SequenceHead(tiny(), 0)


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_cached_forward_equals_a_full_pass(pos_encoding):
    """Prefill 5 positions, then feed 1, then 3: every logit matches the uncached pass."""
    model = tiny(pos_encoding=pos_encoding).eval()
    x = ids(2, 9)
    full = model(x)[0]
    cache = model.new_cache(2)
    parts = [model(x[:, :5], cache=cache)[0]]
    assert cache.length == 5
    parts.append(model(x[:, 5:6], cache=cache)[0])
    parts.append(model(x[:, 6:], cache=cache)[0])
    assert cache.length == 9
    # float32 sums in another order: agree to a few ulps of the logits' size (~1)
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=0, atol=1e-5)
    _, _, weights = model(x[:, :1], return_attention=True, cache=model.new_cache(2))
    assert weights.shape == (2, 2, 2, 1, 1)


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_cached_generation_gives_the_uncached_tokens(pos_encoding):
    model = tiny(pos_encoding=pos_encoding)
    prompt = ids(3, 4)
    greedy = model.generate(prompt, 20, temperature=0, use_cache=True)
    assert torch.equal(greedy, model.generate(prompt, 20, temperature=0, use_cache=False))
    sampled = [
        model.generate(
            prompt, 20, top_k=5, generator=torch.Generator().manual_seed(3), use_cache=cached
        )
        for cached in (True, False)
    ]
    assert torch.equal(*sampled)


def test_past_the_window_the_cache_is_refilled_and_tokens_still_match():
    model = tiny(pos_encoding="rope")  # block_size 16: 10 + 30 tokens slide the window 24 times
    prompt = ids(2, 10)
    cached = model.generate(prompt, 30, temperature=0, use_cache=True)
    assert torch.equal(cached, model.generate(prompt, 30, temperature=0, use_cache=False))
    long_prompt = ids(1, 40)  # longer than the window: both paths read its last 16 tokens
    assert torch.equal(
        model.generate(long_prompt, 5, temperature=0),
        model.generate(long_prompt, 5, temperature=0, use_cache=False),
    )


def test_the_cache_refuses_training_mode_overflow_and_other_batches():
    model = tiny()
    with pytest.raises(ValueError, match="model.eval"):
        model(ids(1, 4), cache=model.new_cache(1))
    model.eval()
    cache = model.new_cache(1)
    model(ids(1, 12), cache=cache)
    with pytest.raises(ValueError, match="KV cache is full: it holds 12 of 16"):
        model(ids(1, 5), cache=cache)
    model(ids(1, 4), cache=cache)  # exactly fills it
    with pytest.raises(ValueError, match="KV cache is full"):
        model(ids(1, 1), cache=cache)
    cache.reset()
    assert cache.length == 0
    with pytest.raises(ValueError, match="batch of 1"):
        model(ids(2, 3), cache=cache)
    with pytest.raises(TypeError, match="KVCache"):
        model(ids(1, 3), cache={"keys": []})
    with pytest.raises(ValueError, match="another shape"):
        model(ids(1, 3), cache=tiny(n_layer=3).new_cache(1))


def test_a_model_cast_to_bfloat16_runs():
    model = tiny(pos_encoding="rope").eval().to(torch.bfloat16)
    logits, loss = model(ids(2, 8), ids(2, 8, seed=3))
    assert logits.dtype == torch.bfloat16 and math.isfinite(loss.item())
    assert model.generate(ids(1, 3), 4, temperature=0).shape == (1, 7)


@pytest.mark.parametrize("pos_encoding", POSITIONAL_ENCODINGS)
def test_a_left_padded_batch_reads_each_row_as_if_alone(pos_encoding):
    """Rows of 3, 7 and 5 tokens, left-padded to 7: every real token's logits as on its own."""
    model = tiny(pos_encoding=pos_encoding).eval()
    rows = [ids(1, n, seed=n)[0] for n in (3, 7, 5)]
    batch = torch.stack([torch.cat([torch.zeros(7 - len(r), dtype=torch.long), r]) for r in rows])
    mask = torch.stack([(torch.arange(7) >= 7 - len(r)).long() for r in rows])
    logits = model(batch, attention_mask=mask)[0]
    assert torch.isfinite(logits).all()  # padding queries too: they attend to themselves
    for b, row in enumerate(rows):
        alone = model(row[None])[0][0]
        torch.testing.assert_close(logits[b, 7 - len(row) :], alone, rtol=0, atol=1e-5)
    # the same through a cache: prefill 4 columns, then the other 3 one at a time
    cache = model.new_cache(3)
    parts = [model(batch[:, :4], cache=cache, attention_mask=mask[:, :4])[0]]
    for t in range(4, 7):
        parts.append(model(batch[:, t : t + 1], cache=cache, attention_mask=mask[:, : t + 1])[0])
    cached = torch.cat(parts, dim=1)
    for b, row in enumerate(rows):
        torch.testing.assert_close(
            cached[b, 7 - len(row) :], logits[b, 7 - len(row) :], atol=1e-5, rtol=0
        )
    with pytest.raises(
        ValueError, match=r"attention_mask must be \[batch, cached \+ new\] = \[3, 7\]"
    ):
        model(batch, attention_mask=mask[:, 1:])


def test_an_all_ones_mask_changes_nothing():
    model = tiny(pos_encoding="rope").eval()
    x = ids(2, 10)
    torch.testing.assert_close(
        model(x, attention_mask=torch.ones(2, 10))[0], model(x)[0], rtol=0, atol=1e-5
    )


def test_the_sequence_head_reads_left_padded_rows_too():
    from llmlab.model import SequenceHead

    head = SequenceHead(tiny(pos_encoding="learned"), n_outputs=2).eval()
    text = ids(1, 6)[0]
    left = torch.cat([torch.zeros(4, dtype=torch.long), text])[None]
    mask = (torch.arange(10) >= 4).long()[None]
    torch.testing.assert_close(head(left, mask), head(text[None]), rtol=0, atol=1e-5)
