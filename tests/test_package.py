"""The package's shape: every module is reachable from ``import llmlab``, and every exercise's
reference agrees with an independent implementation (in llmlab itself, torch or the standard
library), so the solution a learner is shown is right, not merely self-consistent."""

import importlib
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from graphlib import TopologicalSorter
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import llmlab
from llmlab import (
    attention,
    chat,
    course,
    exercises,
    grpo,
    lens,
    policy,
    reward_model,
    scaling,
    stats,
)
from llmlab.autograd import Value
from llmlab.exercises import registry
from llmlab.lora import LoRALinear
from llmlab.model import GPT
from llmlab.tokenization import BPETokenizer, merge

PACKAGE = Path(llmlab.__file__).parent
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WRITTEN = [lesson for lesson in course.LESSONS if (NOTEBOOKS / f"{lesson.slug}.py").exists()]

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# Modules: the lazy list is the folder's contents, and every module a lesson names is in it.


@pytest.mark.parametrize("name", sorted({name for lesson in WRITTEN for name in lesson.modules}))
def test_every_module_of_a_written_lesson_imports_and_is_an_attribute(name):
    module = importlib.import_module(f"llmlab.{name}")
    assert getattr(llmlab, name) is module
    assert name in llmlab.__all__


def test_every_module_file_and_subpackage_is_in_the_lazy_list():
    files = {path.stem for path in PACKAGE.glob("*.py") if not path.name.startswith("_")}
    subpackages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert {"scaling", "pretokenize", "widgets", "exercises"} <= files | subpackages
    assert files | subpackages == llmlab._SUBMODULES
    assert set(llmlab.__all__) >= llmlab._SUBMODULES


def test_a_module_loads_on_first_touch():
    code = "import sys, llmlab; assert 'llmlab.scaling' not in sys.modules; print(llmlab.scaling)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "llmlab/scaling.py" in out.stdout


# ---------------------------------------------------------------------------------------------
# Exercises: each reference against an implementation written another way.


def next_char_table(text: str, n: int) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for gram in (text[i : i + n + 1] for i in range(len(text) - n)):
        table.setdefault(gram[:-1], Counter())[gram[-1]] += 1
    return table


def greedy_generate(table: dict, prompt: str, n: int, steps: int) -> str:
    while steps and table.get(prompt[-n:]):
        after = table[prompt[-n:]]
        best = max(after.values())
        prompt += sorted(c for c, count in after.items() if count == best)[0]
        steps -= 1
    return prompt


def top_speakers(speeches: list, k: int) -> list[str]:
    counts = Counter(speech.speaker for speech in speeches)
    return [who for who, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]]


def count_pairs(words: dict) -> Counter:
    counts: Counter = Counter()
    for tokens, n in words.items():
        for pair in pairwise(tokens):
            counts[pair] += n
    return counts


def apply_merge(words: dict, pair: tuple[bytes, bytes]) -> Counter:
    merged: Counter = Counter()
    for tokens, n in words.items():
        merged[tuple(merge(list(tokens), pair, pair[0] + pair[1]))] += n
    return merged


def encode_word(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    vocab = {i: bytes([i]) for i in range(256)}
    vocab.update({256 + k: a + b for k, (a, b) in enumerate(merges)})
    return [vocab[i] for i in BPETokenizer(vocab, merges).encode(word)]


def bpe_tokenizer(train_text: str, vocab_size: int, text: str) -> tuple[list[int], str]:
    tokenizer = BPETokenizer.train(train_text, vocab_size)
    ids = tokenizer.encode(text)
    return ids, tokenizer.decode(ids)


def sigmoid_op(x: Value) -> Value:
    t = torch.tensor(x.data, dtype=torch.float64, requires_grad=True)
    s = torch.sigmoid(t)
    s.backward()
    out, slope = Value(s.item(), (x,)), t.grad.item()

    def _backward() -> None:
        x.grad += slope * out.grad

    out._backward = _backward
    return out


def topological_order(root: Value) -> list[Value]:
    nodes, todo = {}, [root]  # every node reachable from root, by id
    while todo:
        node = todo.pop()
        if id(node) not in nodes:
            nodes[id(node)] = node
            todo.extend(node._prev)
    sorter = TopologicalSorter({key: [id(c) for c in n._prev] for key, n in nodes.items()})
    return [nodes[key] for key in sorter.static_order()]


def backward(root: Value) -> None:
    nodes, todo = {}, [root]  # every node reachable from root, by id
    while todo:
        node = todo.pop()
        if id(node) not in nodes:
            nodes[id(node)] = node
            todo.extend(node._prev)
    # graphlib's order, reversed: each node after every node that uses it
    uses = {key: [id(c) for c in n._prev] for key, n in nodes.items()}
    root.grad = 1.0
    for key in reversed(list(TopologicalSorter(uses).static_order())):
        nodes[key]._backward()


def greedy_until(model: GPT, prompt, max_new_tokens: int, stop_id: int) -> list[int]:
    new = model.generate(prompt, max_new_tokens, temperature=0, use_cache=False)[len(prompt) :]
    new = new.tolist()
    return new[: new.index(stop_id) + 1] if stop_id in new else new


def block_forward(block, x):
    return block(x)[0]  # llmlab.model.Block itself


def adamw_step(params, grads, m, v, step, lr, weight_decay, max_norm):
    """torch's own: clip_grad_norm_ and AdamW, started from the given moments at ``step - 1``."""
    from llmlab.exercises.lesson04 import BETA1, BETA2, EPS

    weights = [p.clone().requires_grad_(True) for p in params]
    for w, g in zip(weights, grads, strict=True):
        w.grad = g.clone()
    optimizer = torch.optim.AdamW(
        weights, lr=lr, betas=(BETA1, BETA2), eps=EPS, weight_decay=weight_decay
    )
    for w, m_i, v_i in zip(weights, m, v, strict=True):
        optimizer.state[w] = {
            "step": torch.tensor(float(step - 1)),
            "exp_avg": m_i.clone(),
            "exp_avg_sq": v_i.clone(),
        }
    torch.nn.utils.clip_grad_norm_(weights, max_norm)
    optimizer.step()
    states = [optimizer.state[w] for w in weights]
    return (
        [w.detach() for w in weights],
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
    )


def sample_with_temperature(model, idx, max_new_tokens, temperature, seed):
    generator = torch.Generator().manual_seed(seed)
    return model.generate(
        idx, max_new_tokens, temperature=temperature, generator=generator, use_cache=False
    )


def narrow_interval(low, width, freqs, symbol):
    edges = [0, *accumulate(freqs)]  # slice i is [edges[i], edges[i + 1]) out of edges[-1]
    lo, hi = (low + width * Fraction(e, edges[-1]) for e in edges[symbol : symbol + 2])
    return lo, hi - lo


def bracketed_minimum(losses, k):
    means = np.mean(losses, axis=1)
    best = int(np.argmin(means))
    if best in (0, len(losses) - 1):
        return None
    gaps = [stats.difference(losses[n], losses[best]) for n in (best - 1, best + 1)]
    return best if all(g.value > k * g.se for g in gaps) else None


def loss_mask(roles: list[str], lengths: list[int]) -> list[bool]:
    # One byte, one token: a byte-level tokenizer without merges, plus the chat tokens.
    tokenizer = chat.chat_tokenizer(BPETokenizer({i: bytes([i]) for i in range(256)}, []))
    turns = [(role, "a" * n) for role, n in zip(roles, lengths, strict=True)]
    return chat.render_chat(turns, tokenizer)[1]


def _lora_layer(W, A, B, alpha: float, rank: int) -> LoRALinear:
    base = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer = LoRALinear(base, rank, alpha)
    with torch.no_grad():
        for param, value in ((base.weight, W), (layer.lora_A, A), (layer.lora_B, B)):
            param.copy_(value)
    return layer


def lora_forward(x, W, A, B, alpha: float, rank: int):
    with torch.no_grad():
        return _lora_layer(W, A, B, alpha, rank)(x)


def sft_loss(logits, ids, mask):
    # llmlab's SFT targets: the next token where it is learned, else the index F ignores.
    targets = torch.where(mask[:, 1:], ids[:, 1:], -100)
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=-100)


def last_token_pool(hidden, attention_mask):
    from llmlab.model import last_real_positions

    return hidden[torch.arange(len(hidden)), last_real_positions(attention_mask)]


def top_p_sample(logits, p: float, u: float) -> int:
    # transformers' nucleus cut, then the inverse CDF of what is left, in vocabulary order
    # sorted by probability (the order the exercise walks).
    from transformers.generation.logits_process import TopPLogitsWarper

    kept = TopPLogitsWarper(p)(None, logits[None].clone())[0].softmax(dim=-1)
    order = sorted(range(len(kept)), key=lambda i: (-kept[i].item(), i))
    total = 0.0
    for i in order:
        total += kept[i].item()
        if total > u and kept[i] > 0:
            return i
    return max(i for i in order if kept[i] > 0)


def beam_step(beams, scores, log_probs, num_beams: int):
    candidates = [
        (scores[b].item() + log_probs[b, t].item(), beams[b] + [t])
        for b in range(len(beams))
        for t in range(log_probs.shape[1])
    ]
    best = sorted(candidates, key=lambda c: -c[0])[:num_beams]
    return [new for _, new in best], torch.tensor([score for score, _ in best])


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads):
    layer = attention.MultiHeadAttention(x.shape[-1], n_heads, bias=False, causal=True)
    with torch.no_grad():
        layer.qkv.weight.copy_(torch.cat([w_q, w_k, w_v], dim=1).T)
        layer.proj.weight.copy_(w_o.T)
        return layer(x[None])[0]


def cached_attention_step(q, k, v, keys, values):
    keys, values = torch.cat([keys, k], dim=1), torch.cat([values, v], dim=1)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


def _reward_model_step(model, optimizer, chosen, rejected):
    """Through the library's Bradley-Terry loss."""
    optimizer.zero_grad()
    loss = reward_model.bradley_terry_loss(model(chosen).squeeze(-1), model(rejected).squeeze(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


def _dpo_step(pc, pr, rc, rr, chosen_mask, rejected_mask, beta):
    """Through the library's DPO loss, on summed reply log-probabilities."""
    sums = [(x * m).sum(-1) for x, m in ((pc, chosen_mask), (pr, rejected_mask))]
    refs = [(x * m).sum(-1).detach() for x, m in ((rc, chosen_mask), (rr, rejected_mask))]
    loss = policy.dpo_loss(*sums, *refs, beta)[0]
    loss.backward()
    return loss


def _clipped_ppo_loss(logps, old_logps, advantages, mask, clip):
    """PPO's objective, maximised, written as the minimum of the two surrogates."""
    ratio = (logps - old_logps).exp()
    objective = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    return -(objective * mask).sum() / mask.sum()


def expected_calibration_error(confidence, correct, n_bins: int) -> float:
    # Bins as counts: torch's bincount sums each bin's answers, confidences and right answers.
    c, right = torch.tensor(confidence, dtype=torch.float64), torch.tensor(correct).double()
    index = (c * n_bins).floor().long().clamp(max=n_bins - 1)
    count = torch.bincount(index, minlength=n_bins).double()
    sum_c = torch.bincount(index, weights=c, minlength=n_bins)
    sum_right = torch.bincount(index, weights=right, minlength=n_bins)
    filled = count > 0
    return float(((sum_right - sum_c)[filled].abs()).sum() / len(c))


def canary_exposure(secret_loss: float, candidate_losses) -> float:
    # The rank by binary search in the sorted losses: how many lie strictly before the secret.
    ordered = np.sort(np.asarray(candidate_losses, dtype=float))
    rank = 1 + int(np.searchsorted(ordered, secret_loss, side="left"))
    return float(np.log2(len(ordered) / rank))


def tfidf_scores(query: str, passages: list[str]) -> list[float]:
    # A document-term matrix and one matrix-vector product (words cut by hand, not by a regex).
    def cut(text: str) -> list[str]:
        keep = set("abcdefghijklmnopqrstuvwxyz0123456789'")
        return "".join(ch if ch in keep else " " for ch in text.lower()).split()

    docs = [cut(p) for p in passages]
    vocabulary = sorted({w for d in docs for w in d})
    column = {w: j for j, w in enumerate(vocabulary)}
    counts = np.zeros((len(docs), len(vocabulary)))
    for i, d in enumerate(docs):
        for w in d:
            counts[i, column[w]] += 1
    idf = np.log((1 + len(docs)) / (1 + (counts > 0).sum(axis=0))) + 1
    matrix = counts * idf
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-300)
    q = np.zeros(len(vocabulary))
    for w in cut(query):
        if w in column:
            q[column[w]] += idf[column[w]]
    norm = np.linalg.norm(q)
    return (matrix @ (q / norm if norm else q)).tolist()


def _minimal_pair_preference(model, pairs):
    """By the chain rule: log p(prefix + continuation) - log p(prefix), from full-text scores."""

    def text_logprob(ids):
        logps = model(torch.tensor([ids]))[0][0].log_softmax(-1)
        return logps[:-1].gather(1, torch.tensor(ids[1:])[:, None]).sum().item()

    wins = []
    for prefix, first, second in pairs:
        a, b = (text_logprob(prefix + c) - text_logprob(prefix) for c in (first, second))
        wins.append(0.5 if abs(a - b) < 1e-12 else float(a > b))
    return sum(wins) / len(wins)


def _probe_selectivity(train_x, train_task, train_control, test_x, test_task, test_control):
    """Nearest class mean by Euclidean distance (the same rule as x.m - |m|^2/2)."""

    def accuracy(labels, truth):
        classes = [c for c in (0, 1) if (labels == c).any()]
        means = torch.stack([train_x[labels == c].mean(0) for c in classes])
        guess = torch.tensor(classes)[torch.cdist(test_x, means).argmin(1)]
        return (guess == truth).float().mean().item()

    return accuracy(train_task, test_task) - accuracy(train_control, test_control)


INDEPENDENT: dict[str, Callable[..., Any]] = {
    "top_speakers": top_speakers,
    "next_char_table": next_char_table,
    "greedy_generate": greedy_generate,
    "count_pairs": count_pairs,
    "apply_merge": apply_merge,
    "encode_word": encode_word,
    "bpe_tokenizer": bpe_tokenizer,
    "causal_average": lambda x: x.cumsum(dim=0) / torch.arange(1, len(x) + 1)[:, None],
    "attention_head": lambda x, w_q, w_k, w_v: F.scaled_dot_product_attention(
        x @ w_q, x @ w_k, x @ w_v, is_causal=True
    ),
    "multi_head_attention": multi_head_attention,
    "rope_rotation": lambda x, base: attention.apply_rope(
        x, *attention.rope_frequencies(x.shape[-1], len(x), base)
    ),
    "sigmoid_op": sigmoid_op,
    "topological_order": topological_order,
    "backward": backward,
    "greedy_until": greedy_until,
    "block_forward": block_forward,
    "adamw_step": adamw_step,
    "sample_with_temperature": sample_with_temperature,
    "power_law_exponent": lambda x, y: scaling.fit_power_law(x, y).exponent,
    "narrow_interval": narrow_interval,
    "bracketed_minimum": bracketed_minimum,
    "loss_mask": loss_mask,
    "lora_forward": lora_forward,
    "sft_loss": sft_loss,
    "last_token_pool": last_token_pool,
    "top_p_sample": top_p_sample,
    "beam_step": beam_step,
    "cached_attention_step": cached_attention_step,
    "reward_model_step": _reward_model_step,
    "dpo_step": _dpo_step,
    "group_advantages": lambda rewards, normalize: grpo.group_advantages(rewards, normalize),
    "clipped_ppo_loss": _clipped_ppo_loss,
    "expected_calibration_error": expected_calibration_error,
    "canary_exposure": canary_exposure,
    "tfidf_scores": tfidf_scores,
    "minimal_pair_preference": _minimal_pair_preference,
    "logit_lens_readout": lambda model, ids: lens.logit_lens(model, ids[None]).argmax(-1)[:, 0],
    "probe_selectivity": _probe_selectivity,
}


def test_every_exercise_has_an_independent_implementation():
    assert sorted(INDEPENDENT) == sorted(exercises.EXERCISES)


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_reference_agrees_with_an_independent_implementation(name):
    """On the checker's own cases and comparison. (Not through ``check``: these may call the
    library and torch's built-ins, which ``check`` rightly refuses from a learner.)"""
    item, rng = exercises.EXERCISES[name], random.Random(0)
    for _ in range(200):
        args, expected = registry.case(item, rng)
        got = registry.outcome(item, args, INDEPENDENT[name](*args))
        assert registry._same(item, got, expected), (name, args)
