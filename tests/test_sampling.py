"""llmlab.sampling: transformers' processors exactly, sampling, streaming, batches, beam search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from llmlab import sampling
from llmlab.model import GPT
from tests.tiny_gpt import tiny


@pytest.fixture(scope="module")
def hf():
    """transformers' logits processors: only the tests that compare against them skip without."""
    return pytest.importorskip("transformers.generation.logits_process")


SEEDS = range(40)
POS = ("learned", "sinusoidal", "rope")


def random_logits(seed: int, batch: int = 4, vocab: int = 11) -> torch.Tensor:
    """Random logits; even seeds take few distinct values, so ties (at every rank) abound."""
    g = torch.Generator().manual_seed(seed)
    if seed % 2 == 0:
        return torch.randint(-3, 4, (batch, vocab), generator=g).float() * 0.75
    return torch.randn(batch, vocab, generator=g) * 3


def random_ids(seed: int, batch: int = 4, vocab: int = 11, length: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + seed)
    return torch.randint(0, vocab, (batch, length), generator=g)


def lively(seed: int, **overrides) -> GPT:
    """A tiny GPT with larger random weights, in eval mode. At GPT-2's init the logits are all
    near log(1/V) (near ties everywhere) and greedy text repeats one token; these weights give
    well-separated logits and greedy continuations that depend on the context."""
    model = tiny(seed, **overrides)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:  # matrices; biases and layer norms keep their init
                std = 0.5 if name.startswith(("wte", "wpe")) else 4 / math.sqrt(p.shape[1])
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def assert_same(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert torch.equal(ours, theirs), (ours, theirs)


# --------------------------------------------------------------------------------------------
# Each processor is transformers' processor, bit for bit.


@pytest.mark.parametrize("seed", SEEDS)
def test_processors_equal_transformers_ties_included(seed, hf):
    logits, ids = random_logits(seed), random_ids(seed)
    before = logits.clone()
    for t in (0.3, 0.7, 1.0, 1.7, 4.0):
        assert_same(sampling.temperature(logits, t), hf.TemperatureLogitsWarper(t)(ids, logits))
    for k in (1, 2, 3, 5, 10, 11, 20):
        assert_same(sampling.top_k(logits, k), hf.TopKLogitsWarper(k)(ids, logits))
    for p in (0.01, 0.1, 0.3, 0.5, 0.75, 0.9, 0.99, 1.0):
        assert_same(sampling.top_p(logits, p), hf.TopPLogitsWarper(p)(ids, logits))
    for p in (0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 1.0):
        assert_same(sampling.min_p(logits, p), hf.MinPLogitsWarper(p)(ids, logits))
    for penalty in (0.5, 0.9, 1.0, 1.3, 2.0):
        theirs = hf.RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
        assert_same(sampling.repetition_penalty(logits, ids, penalty), theirs)
    assert torch.equal(logits, before)  # pure functions: the input is left alone


def test_ties_at_the_kth_value_are_kept():
    logits = torch.tensor([[3.0, 2.0, 2.0, 2.0, 1.0]])
    kept = torch.isfinite(sampling.top_k(logits, 2))
    assert kept.tolist() == [[True, True, True, True, False]]


def test_the_repetition_penalty_counts_each_token_once_and_takes_ragged_histories():
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.0], [2.0, -2.0, 1.0, 0.0]])
    out = sampling.repetition_penalty(logits, [[0, 0, 0, 1], [3]], 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, 0.0], [2.0, -2.0, 1.0, 0.0]]
    shared = sampling.repetition_penalty(logits, [2], 2.0)  # a flat list: every row's history
    assert shared[:, 2].tolist() == [0.5, 0.5]
    assert torch.equal(sampling.repetition_penalty(logits, [], 2.0), logits)


COMBOS = [
    dict(),
    dict(temperature=0.7),
    dict(temperature=1.3, top_k=4),
    dict(top_p=0.8),
    dict(temperature=0.5, top_k=6, top_p=0.9),
    dict(temperature=2.0, min_p=0.1),
    dict(repetition_penalty=1.5, temperature=0.8, top_k=5, top_p=0.85, min_p=0.05),
    dict(repetition_penalty=0.7, top_p=0.5, min_p=0.3),
    dict(repetition_penalty=1.2, top_k=1),
]


def transformers_list(
    hf, temperature=1.0, top_k=None, top_p=None, min_p=None, repetition_penalty=None
):
    """What transformers' generate(do_sample=True, ...) builds, in its order."""
    steps = hf.LogitsProcessorList()
    if repetition_penalty is not None and repetition_penalty != 1.0:
        steps.append(hf.RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if temperature != 1.0:
        steps.append(hf.TemperatureLogitsWarper(temperature))
    if top_k is not None:
        steps.append(hf.TopKLogitsWarper(top_k))
    if top_p is not None and top_p < 1.0:
        steps.append(hf.TopPLogitsWarper(top_p))
    if min_p is not None:
        steps.append(hf.MinPLogitsWarper(min_p))
    return steps


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: ",".join(c) or "defaults")
def test_process_equals_transformers_logits_processor_list(combo, hf):
    for seed in range(20):
        logits, ids = random_logits(seed), random_ids(seed)
        theirs = transformers_list(hf, **combo)(ids, logits.clone())
        assert_same(sampling.process(logits, ids, **combo), theirs)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(-8, 8, width=32), min_size=1, max_size=24),
    p=st.floats(0.0, 1.0, exclude_min=True),
)
def test_top_p_keeps_the_smallest_set_reaching_p(values, p):
    logits = torch.tensor([values])
    kept = torch.isfinite(sampling.top_p(logits, p))[0]
    probs = torch.softmax(logits.double(), dim=-1)[0]
    assert kept.any()
    if not kept.all():  # the most likely tokens are kept: none removed beats one kept
        assert probs[kept].min() >= probs[~kept].max()
    mass = probs[kept].sum().item()
    assert mass >= p - 1e-5  # it reaches p ...
    assert mass - probs[kept].min().item() < p + 1e-5  # ... and none of it could be spared


# --------------------------------------------------------------------------------------------
# Choosing a token.


@pytest.mark.parametrize("seed", range(1, 40, 2))  # odd seeds: no ties for best
def test_temperature_to_zero_is_greedy(seed):
    logits = random_logits(seed) * 10
    best = logits.argmax(dim=-1)
    g = torch.Generator().manual_seed(seed)
    for t in (1e-3, 1e-8, 1e-30, 1e-40, 1e-45, 0):  # the last ones overflow float32, or are 0
        scaled = sampling.temperature(logits, t)
        assert not scaled.isnan().any()
        assert torch.equal(sampling.sample_next(scaled, g), best)
    assert torch.equal(torch.isfinite(sampling.temperature(logits, 0)).sum(-1), torch.ones(4))
    ties = torch.tensor([[1.0, 3.0, 3.0]])  # t = 0 is argmax: the first of the best
    assert sampling.temperature(ties, 0).tolist() == [[-math.inf, 3.0, -math.inf]]


def test_sampling_follows_the_processed_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -50.0]]).repeat(20_000, 1)
    draws = sampling.sample_next(sampling.top_k(logits, 3), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    expected = torch.softmax(torch.tensor([2.0, 1.0, 0.0]).double(), dim=0)
    assert freq[3:].sum() == 0
    assert torch.allclose(freq[:3], expected, atol=0.015)
    huge = torch.tensor([[1e30, 0.0, -1e30]])  # exp(1e30) is inf; exp(1e30 - max) is 1
    assert sampling.sample_next(huge).tolist() == [0]
    with pytest.raises(ValueError, match="no finite logit"):
        sampling.sample_next(torch.full((1, 3), -math.inf))


# --------------------------------------------------------------------------------------------
# Generating.


def test_sampled_tokens_equal_gpt_generate_with_the_same_seed(one_thread):
    model = lively(3)
    prompt = [1, 2, 3]
    for temperature, top_k in ((1.0, None), (0.8, 5), (1.5, 2), (0, None)):
        ours = sampling.generate(
            model,
            prompt,
            20,
            temperature=temperature,
            top_k=top_k,
            generator=torch.Generator().manual_seed(7),
        )
        theirs = model.generate(
            torch.tensor(prompt), 20, temperature, top_k, torch.Generator().manual_seed(7)
        )
        assert ours == theirs[3:].tolist()


@pytest.mark.parametrize("pos_encoding", POS)
def test_cached_and_uncached_generation_give_the_same_tokens(pos_encoding, one_thread):
    model = lively(1, pos_encoding=pos_encoding)
    settings_ = [
        dict(temperature=0),
        dict(temperature=0, repetition_penalty=1.8),
        dict(temperature=0.9, top_p=0.9, min_p=0.05, repetition_penalty=1.3),
    ]
    for kwargs in settings_:  # 30 new tokens after 5: past the 16-token window
        runs = [
            sampling.generate(
                model,
                [4, 5, 6, 7, 8],
                30,
                generator=torch.Generator().manual_seed(0),
                use_cache=use_cache,
                **kwargs,
            )
            for use_cache in (True, False)
        ]
        assert runs[0] == runs[1] and len(runs[0]) == 30


def test_tiny_temperatures_generate_the_greedy_tokens(one_thread):
    model = lively(2)
    greedy = sampling.generate(model, [1], 12, temperature=0)
    assert greedy == model.generate(torch.tensor([1]), 12, temperature=0)[1:].tolist()
    for t in (1e-6, 1e-20, 1e-44):
        assert sampling.generate(model, [1], 12, temperature=t) == greedy


def test_streaming_yields_the_tokens_of_generate_one_at_a_time(one_thread):
    model = lively(4)
    model.train()  # generation runs in eval mode and gives the mode back
    kwargs = dict(temperature=0.9, top_k=8, stop_ids=())
    tokens = sampling.stream(
        model, [1, 2], 25, generator=torch.Generator().manual_seed(1), **kwargs
    )
    first = next(tokens)
    assert not model.training  # open stream: eval mode
    assert torch.is_grad_enabled()  # no_grad holds inside the stream only
    rest = list(tokens)
    assert model.training
    whole = sampling.generate(
        model, [1, 2], 25, generator=torch.Generator().manual_seed(1), **kwargs
    )
    assert [first, *rest] == whole and len(whole) == 25
    # A stream closed early gives the mode back too; bad settings fail at the call, not later.
    tokens = sampling.stream(model, [1, 2], 25)
    next(tokens)
    tokens.close()
    assert model.training
    with pytest.raises(ValueError, match="top_p"):
        sampling.stream(model, [1, 2], 25, top_p=2.0)


def test_generation_stops_after_a_stop_token_which_it_keeps(one_thread):
    model = lively(5)
    free = sampling.generate(model, [3], 20, temperature=0)
    stop, never = free[6], next(t for t in range(37) if t not in free)
    cut = sampling.generate(model, [3], 20, temperature=0, stop_ids=[stop, never])
    assert cut == free[: free.index(stop) + 1] and cut[-1] == stop
    assert sampling.generate(model, [3], 20, temperature=0, stop_ids=stop) == cut
    assert sampling.generate(model, [3], 0) == []


def test_a_prompt_longer_than_the_context_is_cropped_from_the_left(one_thread):
    model = lively(6)
    long = [(7 * i) % 37 for i in range(40)]  # block_size is 16
    assert sampling.generate(model, long, 8, temperature=0) == sampling.generate(
        model, long[-16:], 8, temperature=0
    )
    assert sampling.generate(model, torch.tensor(long), 8, temperature=0) == (
        model.generate(torch.tensor(long), 8, temperature=0)[40:].tolist()
    )


# The first batch is read incrementally through the cache until it fills the 16-token window;
# the second (a prompt longer than the window: cropped) re-fills the cache at every step.
@pytest.mark.parametrize("lengths", [(1, 4, 9, 3), (2, 16, 21, 5)])
@pytest.mark.parametrize("pos_encoding", POS)
def test_a_batch_equals_one_by_one_generation(pos_encoding, lengths, one_thread):
    model = lively(7, pos_encoding=pos_encoding)
    g = torch.Generator().manual_seed(sum(lengths))
    prompts = [torch.randint(0, 37, (n,), generator=g).tolist() for n in lengths]
    free = [sampling.generate(model, p, 14, temperature=0) for p in prompts]
    # A stop token that row i writes (before the end) and row j never does.
    t, i, j = next(
        (t, i, j)
        for i, j in itertools.permutations(range(len(prompts)), 2)
        for t in free[i][:12]
        if t not in free[j]
    )
    stops = [t]
    for kwargs in (
        dict(temperature=0),
        dict(temperature=0, repetition_penalty=1.5),
        dict(temperature=0, stop_ids=stops),
    ):
        batch = sampling.generate_batch(model, prompts, 14, **kwargs)
        alone = [sampling.generate(model, p, 14, **kwargs) for p in prompts]
        assert batch == alone
    assert len(batch[i]) < 14 and batch[i][-1] == t and len(batch[j]) == 14


def test_a_sampled_batch_is_reproducible_and_within_the_filters(one_thread):
    model = lively(8)
    kwargs = dict(temperature=1.2, top_k=3, max_new_tokens=10)
    runs = [
        sampling.generate_batch(
            model, [[1], [2, 3, 4]], generator=torch.Generator().manual_seed(3), **kwargs
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and [len(r) for r in runs[0]] == [10, 10]


# --------------------------------------------------------------------------------------------
# Beam search.


def sequence_log_prob(model: GPT, prompt: list[int], new: list[int]) -> float:
    ids = torch.tensor([prompt + new])
    logits, _ = model(ids[:, :-1])
    logp = F.log_softmax(logits[0, len(prompt) - 1 :].float(), dim=-1)
    return logp[torch.arange(len(new)), torch.tensor(new)].sum().item()


def brute_force(model, prompt, vocab, n, length_penalty, stops):
    """The best-scoring continuation among all of them: each ends at a stop token or at n."""
    best = None
    for length in range(1, n + 1):
        for new in itertools.product(range(vocab), repeat=length):
            new = list(new)
            if any(t in stops for t in new[:-1]):
                continue  # it would have stopped earlier
            if length < n and new[-1] not in stops:
                continue  # it would have gone on
            score = sequence_log_prob(model, prompt, new) / length**length_penalty
            if best is None or score > best[0]:
                best = (score, new)
    return best[1]


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("stops", [(), (2,)])
def test_wide_beam_search_finds_the_best_continuation(length_penalty, stops, one_thread):
    with torch.no_grad():
        for seed in range(4):
            model = lively(seed, vocab_size=5)
            prompt = [seed % 5, 1]
            best = brute_force(model, prompt, 5, 3, length_penalty, stops)
            # 25 = 5 ** 2 beams keep every two-token prefix: the search is exhaustive.
            assert sampling.beam_search(model, prompt, 25, 3, length_penalty, stops) == best


@pytest.mark.parametrize("stops", [(), (3, 9)])
def test_one_beam_is_greedy(stops, one_thread):
    for seed in range(4):
        model = lively(seed)
        greedy = sampling.generate(model, [1, 2], 20, temperature=0, stop_ids=stops)
        for lp in (0.0, 1.0):
            assert sampling.beam_search(model, [1, 2], 1, 20, lp, stops) == greedy


def as_transformers_gpt2(model: GPT):
    """The same weights in transformers' GPT2LMHeadModel (Conv1D layers hold W transposed)."""
    transformers = pytest.importorskip("transformers")
    c = model.config
    config = transformers.GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        activation_function="gelu",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=None,
        eos_token_id=None,
    )
    theirs = transformers.GPT2LMHeadModel(config).eval()
    state = {"transformer.wte.weight": model.wte.weight, "lm_head.weight": model.wte.weight}
    state["transformer.wpe.weight"] = model.wpe.embedding.weight
    for name in ("weight", "bias"):
        state[f"transformer.ln_f.{name}"] = getattr(model.ln_f, name)
    for i, block in enumerate(model.blocks):
        h = f"transformer.h.{i}."
        for ours, hers in (
            (block.attn.qkv, "attn.c_attn"),
            (block.attn.proj, "attn.c_proj"),
            (block.mlp.fc, "mlp.c_fc"),
            (block.mlp.proj, "mlp.c_proj"),
        ):
            state[h + hers + ".weight"] = ours.weight.T
            state[h + hers + ".bias"] = ours.bias
        for ln in ("ln_1", "ln_2"):
            for name in ("weight", "bias"):
                state[h + f"{ln}.{name}"] = getattr(getattr(block, ln), name)
    theirs.load_state_dict({k: v.detach().clone() for k, v in state.items()}, strict=False)
    return theirs


def test_beam_search_equals_transformers_beam_search(one_thread):
    checked = 0
    for seed in range(6):
        model = lively(seed, vocab_size=7)
        theirs = as_transformers_gpt2(model)
        prompt = [seed % 7, 3, 1]
        with torch.no_grad():
            assert torch.allclose(
                theirs(torch.tensor([prompt])).logits, model(torch.tensor([prompt]))[0], atol=1e-4
            )
        likely = sampling.generate(model, prompt, 3, temperature=0)[-1]  # a stop that comes
        for num_beams, lp, stops in itertools.product((2, 3), (0.0, 1.0, 2.0), ((), (likely,))):
            out = theirs.generate(
                torch.tensor([prompt]),
                attention_mask=torch.ones(1, 3, dtype=torch.long),
                num_beams=num_beams,
                max_new_tokens=6,
                do_sample=False,
                length_penalty=lp,
                early_stopping=False,
                eos_token_id=list(stops) or None,
                pad_token_id=0,
            )[0, 3:].tolist()
            assert sampling.beam_search(model, prompt, num_beams, 6, lp, stops) == out
            checked += bool(stops) and len(out) < 6
    assert checked  # some searches did end on the stop token


@pytest.mark.parametrize("combo", COMBOS[1:], ids=lambda c: ",".join(c))
def test_sampling_equals_transformers_generate_with_the_same_seed(combo, one_thread):
    """End to end: the processors in transformers' order, the prompt in the penalty, the draw."""
    model = lively(11)
    theirs = as_transformers_gpt2(model)
    prompt = [5, 17, 5, 30, 2]
    for seed in range(3):
        with torch.random.fork_rng():  # (the global stream: transformers takes no generator)
            torch.manual_seed(seed)
            out = theirs.generate(
                torch.tensor([prompt]),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                do_sample=True,
                max_new_tokens=10,
                pad_token_id=0,
                **{"top_k": 0, **combo},  # transformers' default top_k is 50, ours None
            )[0, len(prompt) :].tolist()
            torch.manual_seed(seed)
            assert sampling.generate(model, prompt, 10, **combo) == out


# --------------------------------------------------------------------------------------------
# Bad input.


def test_bad_settings_get_errors_naming_the_argument_and_range():
    logits = random_logits(1)
    cases = [
        (lambda: sampling.temperature(logits, -0.1), "temperature must be a finite number >= 0"),
        (lambda: sampling.temperature(logits, math.nan), "temperature"),
        (lambda: sampling.temperature(logits, math.inf), "temperature"),
        (lambda: sampling.top_k(logits, 0), r"top_k must be an int >= 1"),
        (lambda: sampling.top_k(logits, 2.0), "top_k"),
        (lambda: sampling.top_k(logits, True), "top_k"),
        (lambda: sampling.top_p(logits, 0), r"top_p must be a number in \(0, 1\]"),
        (lambda: sampling.top_p(logits, 1.01), "top_p"),
        (lambda: sampling.top_p(logits, math.nan), "top_p"),
        (lambda: sampling.min_p(logits, -0.01), r"min_p must be a number in \[0, 1\]"),
        (lambda: sampling.min_p(logits, 1.5), "min_p"),
        (lambda: sampling.repetition_penalty(logits, [1], 0), "repetition_penalty must be"),
        (lambda: sampling.repetition_penalty(logits, [1], -1.0), "> 0"),
        (lambda: sampling.repetition_penalty(logits, [11], 1.2), "previous_ids holds token id 11"),
        (lambda: sampling.repetition_penalty(logits, [[1], [2]], 1.2), "2 rows but logits has 4"),
        (lambda: sampling.process(logits, repetition_penalty=1.2), "needs previous_ids"),
        (lambda: sampling.process(logits, top_k=0), "top_k"),
        (lambda: sampling.top_k(logits[0], 2), r"\[batch, vocab\]"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="floating-point"):
        sampling.top_k(logits.long(), 2)


def test_bad_generation_inputs_get_clear_errors():
    model = tiny(0)
    cases = [
        (lambda: sampling.generate(model, [], 5), "prompt_ids is empty"),
        (lambda: sampling.generate(model, [1, 37], 5), r"token id 37 .* ids 0..36"),
        (lambda: sampling.generate(model, [1], -1), "max_new_tokens must be an int >= 0"),
        (lambda: sampling.generate(model, [1], 5, stop_ids=[40]), "stop_ids holds token id 40"),
        (lambda: sampling.generate(model, [1], 5, stop_ids=-1), "stop_ids"),
        (lambda: sampling.generate(model, [1], 5, temperature=-1), "temperature"),
        (lambda: sampling.generate(model, [1], 5, min_p=2), "min_p"),
        (lambda: sampling.generate_batch(model, [], 5), "prompts is empty"),
        (lambda: sampling.generate_batch(model, [[1], []], 5), r"prompts\[1\] is empty"),
        (lambda: sampling.generate_batch(model, [[1]], 5, pad_id=37), "pad_id"),
        (lambda: sampling.beam_search(model, [1], 0, 5), "num_beams must be an int >= 1"),
        (lambda: sampling.beam_search(model, [1], 2, 5, math.nan), "length_penalty"),
        (lambda: sampling.beam_search(model, [], 2, 5), "prompt_ids is empty"),
        (lambda: sampling.beam_search(model, [1], 2, 5, stop_ids=[99]), "stop_ids"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="model must be an llmlab.model.GPT"):
        sampling.generate(object(), [1], 5)
    with pytest.raises(TypeError, match="prompt_ids must be a list of token ids"):
        sampling.generate(model, "hello", 5)
    with pytest.raises(TypeError, match="int token ids"):
        sampling.generate(model, [1.5], 5)


def test_the_settings_object_is_checked_once_and_processes_like_the_keywords():
    config = sampling.SamplingConfig(temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.3)
    logits, history = random_logits(3), random_ids(3)
    keywords = sampling.process(
        logits, history, temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.3
    )
    assert torch.equal(config.process(logits, history), keywords)
    assert type(sampling.SamplingConfig(temperature=1).temperature) is float
    with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
        sampling.SamplingConfig(top_p=0)
    with pytest.raises(TypeError, match="unknown sampling setting 'topk'.*'top_k'"):
        sampling.generate(tiny(0), [1], 3, topk=3)
    with pytest.raises(TypeError, match="unknown sampling setting 'temp'"):
        sampling.process(logits, temp=0.5)


def test_the_loop_reads_the_prompt_then_the_newest_token_and_refills_a_full_window():
    from llmlab.decoding import next_inputs

    model = tiny(0).eval()
    window = model.config.block_size
    ids = torch.arange(window + 3)[None] % 37
    cache = model.new_cache(1)
    first, _ = next_inputs(ids[:, :5], None, cache, window)  # prefill: the whole prompt
    assert torch.equal(first, ids[:, :5])
    model(first, cache=cache)
    newest, _ = next_inputs(ids[:, :6], None, cache, window)  # then only the newest token
    assert torch.equal(newest, ids[:, 5:6]) and cache.length == 5
    cache.length = window  # a full window: emptied, then refilled with the last window
    refill, _ = next_inputs(ids, None, cache, window)
    assert torch.equal(refill, ids[:, -window:]) and cache.length == 0
    mask = torch.ones_like(ids)
    assert next_inputs(ids, mask, None, window)[1].shape == (1, window)


def test_the_loop_keeps_a_stopped_rows_column_but_not_its_tokens(one_thread):
    from llmlab.decoding import decode

    model = lively(0)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    script = iter([[7, 8], [9, 10], [11, 12]])

    def choose(logits, histories):
        return torch.tensor(next(script))

    steps = list(decode(model, ids, 5, choose, stop_ids=frozenset({8, 11})))
    assert steps == [[7, 8], [9, None], [11, None]]  # row 1 stopped at 8, row 0 at 11
    assert model.training is False  # (lively models are in eval mode; the loop restores it)
    model.train()
    list(decode(model, ids, 1, lambda logits, h: logits.argmax(-1)))
    assert model.training
