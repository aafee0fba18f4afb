"""Auto-checked exercises: ``check("name", your_function)`` tells you whether your answer is right.

Each exercise is a reference function registered with :func:`exercise` and a generator of random
test cases. ``check`` runs your function and the reference on the same cases and explains the
first mismatch (inputs, expected, got) instead of a bare "wrong". ``solution("name")`` reveals
the worked solution: the reference's own source, so the solution shown is the one that is tested.
"""

from __future__ import annotations

import inspect
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Exercise:
    name: str
    reference: Callable[..., Any]
    cases: Callable[[random.Random], tuple[Any, ...]]  # rng -> positional arguments
    same: Callable[[Any, Any], bool]


EXERCISES: dict[str, Exercise] = {}


def _equal(a: Any, b: Any) -> bool:
    """Equality that also understands tensors and arrays (compared with a small tolerance)."""
    if hasattr(a, "shape") and hasattr(b, "shape"):
        import numpy as np

        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-6))
    if isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, int | float) and isinstance(b, int | float)
        return numbers and abs(a - b) <= 1e-6 * max(1.0, abs(b))
    return a == b


def exercise(
    name: str,
    cases: Callable[[random.Random], tuple[Any, ...]],
    same: Callable[[Any, Any], bool] = _equal,
):
    """Register the decorated function as the reference solution of exercise ``name``."""

    def register(reference: Callable[..., Any]) -> Callable[..., Any]:
        if name in EXERCISES:
            raise ValueError(f"exercise name {name!r} is already registered")
        EXERCISES[name] = Exercise(name, reference, cases, same)
        return reference

    return register


def _get(name: str) -> Exercise:
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[name]


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def check(name: str, your_function: Callable[..., Any], n_cases: int = 25, seed: int = 0) -> bool:
    """Run ``your_function`` against the reference on ``n_cases`` random cases; print the verdict.

    Returns True when every case matches. It never raises for a wrong answer (a learner's
    exception is reported as the mismatch), so a half-finished notebook still runs to the end.
    """
    item = _get(name)
    if not callable(your_function):
        raise TypeError(f"your_function must be callable, got {type(your_function).__name__}")
    rng = random.Random(seed)
    for number in range(1, n_cases + 1):
        args = item.cases(rng)
        expected = item.reference(*args)
        try:
            got = your_function(*args)
        except NotImplementedError:
            print(f"{name}: not implemented yet. Replace the `raise NotImplementedError` line.")
            return False
        except Exception as err:  # the learner's bug, shown as a result rather than a crash
            got = f"<raised {type(err).__name__}: {err}>"
        if not item.same(got, expected):
            print(
                f"{name}: case {number} differs.\n  inputs:   {_short(args)}\n"
                f"  expected: {_short(expected)}\n  got:      {_short(got)}"
            )
            return False
    print(f"{name}: all {n_cases} cases match. Well done!")
    return True


def solution_source(name: str) -> str:
    """The worked solution of exercise ``name``: the tested reference's source code."""
    source = textwrap.dedent(inspect.getsource(_get(name).reference))
    return "\n".join(line for line in source.splitlines() if not line.startswith("@"))


def solution(name: str) -> None:
    """Reveal the worked solution of exercise ``name`` (printed, ready to copy)."""
    print(solution_source(name))


# ---------------------------------------------------------------------------------------------
# The exercises, lesson by lesson. Each section registers its references; imports of heavier
# modules stay inside the functions so that importing this module stays cheap.
#
# Lesson 00: warm-ups on the corpus.


def _random_text(rng: random.Random) -> tuple[str]:
    from llmlab import corpus

    speech = rng.choice(corpus.speeches("validation"))
    extra = rng.choice(["", "é", "—", "ſ", "😀", "café"])  # some characters take several bytes
    return (speech.text + extra,)


@exercise("bytes_per_character", _random_text)
def bytes_per_character(text: str) -> float:
    """How many UTF-8 bytes each character of ``text`` takes on average."""
    return len(text.encode("utf-8")) / len(text)


def _random_speeches(rng: random.Random) -> tuple[list, int]:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - 200)
    return (every[start : start + rng.randint(1, 200)], rng.randint(1, 4))


@exercise("top_speakers", _random_speeches)
def top_speakers(speeches: list, k: int) -> list[str]:
    """The ``k`` speakers with the most speeches; ties broken alphabetically."""
    counts: dict[str, int] = {}
    for speech in speeches:
        counts[speech.speaker] = counts.get(speech.speaker, 0) + 1
    return sorted(counts, key=lambda who: (-counts[who], who))[:k]


# Lesson 01: byte-pair encoding, by hand.

# The state BPE training works on: each distinct pre-token ("word") as its current tokens,
# mapped to how often it occurs in the text.
Words = dict[tuple[bytes, ...], int]


def _random_passage(rng: random.Random, speeches: int) -> str:
    from llmlab import corpus

    every = corpus.speeches("validation")
    start = rng.randrange(len(every) - speeches)
    return "\n".join(s.render() for s in every[start : start + speeches])


def _random_words(rng: random.Random) -> Words:
    """The words of a random passage of the held-out plays, after a few merges learned on it."""
    from llmlab.tokenization import pretokenize, train_bpe

    passage = _random_passage(rng, rng.randint(1, 12))
    words: Words = {}
    for word in pretokenize(passage):
        tokens = tuple(bytes([b]) for b in word.encode("utf-8"))
        words[tokens] = words.get(tokens, 0) + 1
    for pair in train_bpe(passage, 256 + rng.randint(0, 20))[1]:
        words = apply_merge(words, pair)
    return words


@exercise("count_pairs", lambda rng: (_random_words(rng),))
def count_pairs(words: Words) -> dict[tuple[bytes, bytes], int]:
    """How often each adjacent pair of tokens occurs in the whole text.

    A pair inside a word occurs once per occurrence of the word, so it counts the word's count.
    Pairs never span two words: that is how merges stay inside pre-tokens.
    """
    counts: dict[tuple[bytes, bytes], int] = {}
    for tokens, n in words.items():
        for i in range(len(tokens) - 1):
            pair = (tokens[i], tokens[i + 1])
            counts[pair] = counts.get(pair, 0) + n
    return counts


def _random_words_and_pair(rng: random.Random) -> tuple[Words, tuple[bytes, bytes]]:
    if rng.random() < 0.2:  # runs of one byte, where occurrences of the pair overlap
        return {(b"o",) * rng.randint(2, 7): rng.randint(1, 3), (b"n", b"o", b"o"): 1}, (b"o", b"o")
    words = _random_words(rng)
    pairs = sorted(count_pairs(words))
    return words, rng.choice(pairs) if pairs else (b"a", b"b")


@exercise("apply_merge", _random_words_and_pair)
def apply_merge(words: Words, pair: tuple[bytes, bytes]) -> Words:
    """Merge each occurrence of ``pair`` into one token, in every word.

    Scan left to right and skip past a merge, so occurrences never overlap: in o o o the pair
    (o, o) merges once, giving oo o. Counts are kept (and added up, should two words meet).
    """
    merged: Words = {}
    for tokens, n in words.items():
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
                out.append(pair[0] + pair[1])
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        merged[tuple(out)] = merged.get(tuple(out), 0) + n
    return merged


def _random_word_and_merges(rng: random.Random) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A word and merges learned on a passage (the word is from it, or one it has never seen)."""
    from llmlab.tokenization import pretokenize, train_bpe

    passage = _random_passage(rng, 20)
    merges = train_bpe(passage, 256 + rng.randint(1, 80))[1]
    words = [w for w in pretokenize(passage) if len(w) > 2]
    return rng.choice([*words, " Gloucestershire", " naïveté", "!!!!"]), merges


@exercise("encode_word", _random_word_and_merges)
def encode_word(word: str, merges: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Split one pre-token into tokens with learned merges, as ``BPETokenizer.encode`` does.

    Start from its bytes. While some adjacent pair is a learned merge, apply the one learned
    earliest (everywhere in the word), because training made the later merges out of the
    tokens of the earlier ones.
    """
    from llmlab.tokenization import merge

    rank = {pair: k for k, pair in enumerate(merges)}
    tokens = [bytes([b]) for b in word.encode("utf-8")]
    while True:
        pairs = [(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1)]
        learned = [p for p in pairs if p in rank]
        if not learned:
            return tokens
        first = min(learned, key=rank.get)
        tokens = merge(tokens, first, first[0] + first[1])


# Lesson 02: attention.


def _random_qkv(rng: random.Random) -> tuple[Any, Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    T, d = rng.randint(1, 6), rng.randint(1, 5)
    return tuple(torch.randn(T, d, generator=generator) for _ in range(3))


@exercise("causal_attention", _random_qkv)
def causal_attention(q: Any, k: Any, v: Any) -> Any:
    """Scaled dot-product attention of ``[T, d]`` queries, keys and values, with a causal mask."""
    import math

    import torch

    scores = q @ k.T / math.sqrt(q.shape[-1])
    T = q.shape[0]
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)  # key j > query i
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return weights @ v


def _random_weights(rng: random.Random) -> tuple[Any]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    T = rng.randint(1, 7)
    scores = 3 * torch.randn(T, T, generator=generator)
    # Causal: the future gets weight 0 (0·log 0 counts as 0), and row 0 all on one token.
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return (scores.masked_fill(~causal, float("-inf")).softmax(dim=-1),)


@exercise("attention_entropy", _random_weights)
def attention_entropy(weights: Any) -> Any:
    """The entropy (in nats) of each row of ``weights [T, T]``: 0 when a token attends to one
    token only, ``log(n)`` when it spreads evenly over ``n``. Zero weights contribute nothing."""
    import torch

    terms = torch.where(weights > 0, -weights * weights.log(), torch.zeros_like(weights))
    return terms.sum(dim=-1)


@exercise("sinusoidal_encoding", lambda rng: (rng.randint(1, 12), 2 * rng.randint(1, 6)))
def sinusoidal_encoding(T: int, d: int) -> Any:
    """``[T, d]``: channel ``2i`` holds ``sin(pos / 10000**(2i/d))``, channel ``2i+1`` its cos."""
    import math

    import torch

    table = torch.zeros(T, d)
    for pos in range(T):
        for i in range(0, d, 2):
            angle = pos / 10000 ** (i / d)
            table[pos, i], table[pos, i + 1] = math.sin(angle), math.cos(angle)
    return table


# Lesson 03: backpropagation.


def _all_close(a: Any, b: Any) -> bool:
    """Numbers, or (nested) lists and tuples of numbers, equal within a relative 1e-6."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_all_close(x, y) for x, y in zip(a, b, strict=True))
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return numbers and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _random_logits(rng: random.Random) -> tuple[list[float], int]:
    n = rng.randint(2, 8)
    return ([rng.uniform(-5, 5) for _ in range(n)], rng.randrange(n))


@exercise("cross_entropy_gradient", _random_logits, same=_all_close)
def cross_entropy_gradient(logits: list[float], target: int) -> list[float]:
    """d(cross-entropy)/d(logits) = softmax(logits) - onehot(target)."""
    import math

    top = max(logits)  # shifting by the largest logit keeps exp from overflowing
    exps = [math.exp(z - top) for z in logits]
    total = sum(exps)
    return [e / total - (i == target) for i, e in enumerate(exps)]


@exercise("sigmoid_and_slope", lambda rng: (rng.uniform(-6, 6),), same=_all_close)
def sigmoid_and_slope(x: float) -> tuple[float, float]:
    """sigmoid(x) = 1 / (1 + exp(-x)) built from engine Values, and its slope by backward()."""
    from llmlab.autograd import Value

    v = Value(x)
    out = 1 / (1 + (-v).exp())
    out.backward()
    return out.data, v.grad


def _random_step(rng: random.Random) -> tuple[list[float], list[float], list[float], float, float]:
    n = rng.randint(1, 5)
    params, grads, velocity = ([rng.uniform(-3, 3) for _ in range(n)] for _ in range(3))
    return params, grads, velocity, rng.choice([0.1, 0.01, 0.5]), rng.choice([0.0, 0.5, 0.9])


@exercise("momentum_step", _random_step, same=_all_close)
def momentum_step(
    params: list[float], grads: list[float], velocity: list[float], lr: float, momentum: float
) -> tuple[list[float], list[float]]:
    """One step of SGD with momentum, as torch.optim.SGD does it: (new params, new velocity)."""
    velocity = [momentum * v + g for v, g in zip(velocity, grads, strict=True)]
    params = [p - lr * v for p, v in zip(params, velocity, strict=True)]
    return params, velocity


# Lesson 04: pretraining.


def _random_gpt_shape(rng: random.Random) -> tuple[int, int, int, int]:
    return rng.randint(2, 1000), rng.randint(1, 1024), rng.randint(1, 12), 8 * rng.randint(1, 32)


@exercise("count_parameters", _random_gpt_shape)
def count_parameters(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """All parameters of a GPT with learned positions, biases everywhere and a tied output layer."""
    C = n_embd
    embeddings = vocab_size * C + block_size * C  # the output layer reuses the token table
    layer_norm = 2 * C  # a gain and a bias per channel
    attention = (3 * C * C + 3 * C) + (C * C + C)  # q, k, v projections; output projection
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # widen 4x; project back
    block = 2 * layer_norm + attention + mlp
    return embeddings + n_layer * block + layer_norm  # the last: the final layer norm


def _random_schedule_point(rng: random.Random) -> tuple[int, float, float, int, int]:
    warmup, decay = rng.randint(0, 50), rng.randint(1, 500)
    max_lr = rng.choice([1e-3, 3e-3, 6e-4])
    return rng.randint(0, decay + 20), max_lr, max_lr * rng.choice([0.0, 0.1]), warmup, decay


@exercise("warmup_cosine", _random_schedule_point)
def warmup_cosine(
    step: int, max_lr: float, min_lr: float, warmup_steps: int, decay_steps: int
) -> float:
    """The learning rate at ``step``: linear warm-up to ``max_lr`` over ``warmup_steps`` steps,
    then half a cosine down to ``min_lr`` at ``decay_steps``, and ``min_lr`` after that."""
    import math

    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, decay_steps - warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def _random_activations(rng: random.Random) -> tuple[Any, Any, float]:
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))] + [rng.randint(1, 16)]
    x = rng.choice([0.1, 1.0, 30.0]) * torch.randn(shape, generator=generator)
    weight = 1 + 0.1 * torch.randn(shape[-1], generator=generator)
    return x, weight, rng.choice([1e-5, 1e-6])


@exercise("rms_norm", _random_activations)
def rms_norm(x: Any, weight: Any, eps: float) -> Any:
    """RMSNorm (LLaMA and most recent LLMs): divide each vector of the last dimension by its
    root mean square, then scale each channel by ``weight``. Layer norm without the mean."""
    import torch

    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


# Lesson 05: scaling and compression.


def _random_power_law_points(rng: random.Random) -> tuple[list[float], list[float]]:
    import math

    n, scale, exponent = rng.randint(2, 8), rng.uniform(1, 20), rng.uniform(0.02, 1.0)
    xs = sorted({10 ** rng.uniform(2, 9) for _ in range(n)})
    return xs, [scale * x**-exponent * math.exp(rng.gauss(0, 0.05)) for x in xs]


@exercise("power_law_exponent", _random_power_law_points)
def power_law_exponent(x: list[float], y: list[float]) -> float:
    """``alpha`` of the power law ``y = a * x**-alpha`` that fits the points best in log space:
    minus the slope of the least-squares line through ``(log x, log y)``."""
    import math

    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )
    return -slope


def _random_token_loss(rng: random.Random) -> tuple[float, int, int]:
    n_tokens = rng.randint(1, 10**6)
    return rng.uniform(0.5, 7.0), n_tokens, int(n_tokens * rng.uniform(1.0, 5.0))


@exercise("bits_per_char", _random_token_loss)
def bits_per_char(loss: float, n_tokens: int, n_chars: int) -> float:
    """Bits per character of a text of ``n_chars`` characters and ``n_tokens`` tokens, from a
    model's mean loss in nats per token: the total is ``loss * n_tokens`` nats; ``ln 2`` nats
    make a bit. This is how models with different tokenizers are compared fairly."""
    import math

    return loss * n_tokens / math.log(2) / n_chars


@exercise("chinchilla_split", lambda rng: (10 ** rng.uniform(10, 24),), same=_all_close)
def chinchilla_split(flops: float) -> tuple[float, float]:
    """``(parameters, tokens)`` for a compute budget, by the Chinchilla rule of thumb: about 20
    training tokens per parameter, with compute ``C = 6 * N * D``. So ``C = 120 N^2``."""
    import math

    n_params = math.sqrt(flops / 120)
    return n_params, 20 * n_params
