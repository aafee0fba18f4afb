"""Scaling laws in miniature, and the language model as a compressor (lesson 05).

**Scaling.** Language models follow power laws: held-out loss falls as ``L = a * x**-alpha`` in the
number of parameters, the tokens trained on, or the compute spent, over many orders of magnitude.
On log-log axes a power law is a straight line, ``log L = log a - alpha * log x``, so fitting one
is a least-squares line through the logs (:func:`fit_power_law`). Training compute is counted as
``6 * parameters * tokens`` FLOPs (:func:`training_flops`), and :func:`training_cost` turns that
into GPU-hours, days and dollars.

**Compression.** A model that gives the next character probability ``p`` can code it in
``-log2 p`` bits, so its loss *is* a compressed size: ``loss / ln 2`` bits per token. Arithmetic
coding achieves that within two bits for the whole message. :func:`arithmetic_encode` and
:func:`arithmetic_decode` do it exactly, with Python integers, so the claim can be checked by
decoding the text back; :func:`code_length_bits` counts the ideal length for a long text;
:func:`compressor_bits_per_char` measures gzip, bz2 and lzma on the same text.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmlab.model import GPT

# ----------------------------------------------------------------------------- scaling laws


@dataclass(frozen=True)
class PowerLaw:
    """``y = scale * x ** -exponent``; ``r_squared`` says how straight the log-log points were."""

    scale: float
    exponent: float
    r_squared: float

    def __call__(self, x: float) -> float:
        return self.scale * x**-self.exponent

    def __str__(self) -> str:
        return f"{self.scale:.4g} * x^-{self.exponent:.3f}"


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """The power law through points ``(x, y)``: a least-squares line through ``(log x, log y)``.

    Fitting in log space weighs every point by its *relative* error, so a model ten times bigger
    counts as much as one ten times smaller. A pure power law heads to zero loss; real curves
    flatten towards the entropy of the text, so trust it for extrapolation by a step, not ten.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"a power law needs at least 2 points, got {len(x)}")
    if not all(v > 0 and math.isfinite(v) for v in (*x, *y)):
        raise ValueError("x and y must be finite positive numbers (they are fitted in log space)")
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("x must hold at least two different values")
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx
    intercept = my - slope * mx
    residual = sum((b - intercept - slope * a) ** 2 for a, b in zip(lx, ly, strict=True))
    total = sum((b - my) ** 2 for b in ly)
    r_squared = 1.0 - residual / total if total > 0 else 1.0
    return PowerLaw(math.exp(intercept), -slope, r_squared)


def training_flops(n_params: int, tokens: int) -> float:
    """Training compute: ``6 * n_params * tokens`` floating-point operations.

    Every parameter takes part in one multiply-add (2 FLOPs) per token in the forward pass, and
    the backward pass costs twice the forward (gradients for activations and for weights).
    Attention's own ``T x T`` products are left out; they are small for short contexts.
    """
    if n_params < 1 or tokens < 0:
        raise ValueError(f"need n_params >= 1 and tokens >= 0, got {n_params} and {tokens}")
    return 6.0 * n_params * tokens


def window_losses(
    model: GPT, data: Sequence[int], windows: int, batch_size: int = 256
) -> list[float]:
    """Mean next-token loss (nats per token) of ``model`` on each of ``windows`` fixed windows.

    The windows (``block_size + 1`` tokens each) are spread evenly over ``data``, as in
    :func:`llmlab.train.evaluate`, whose single number is their mean. One loss *per window* is
    what a standard error needs: ``stats.mean(losses)`` gives the held-out loss with its SE, and
    two models scored on the same windows compare with ``stats.difference(a, b)`` (paired), which
    cancels how hard each window is. Runs in eval mode, without gradients, and restores the mode.
    """
    import torch
    import torch.nn.functional as F

    from llmlab import checks
    from llmlab.modes import evaluating

    data = torch.as_tensor(data, dtype=torch.long)
    T = model.config.block_size
    windows = checks.integer(windows, "windows", 2, hint="a standard error needs two windows")
    batch_size = checks.integer(batch_size, "batch_size", 1)
    if data.ndim != 1 or len(data) < T + 1:
        raise ValueError(f"data must be 1-D with at least block_size + 1 = {T + 1} tokens")
    starts = torch.linspace(0, len(data) - T - 1, windows).long()
    losses: list[float] = []
    with evaluating(model), torch.no_grad():
        for chunk in starts.split(batch_size):
            w = data[chunk[:, None] + torch.arange(T + 1)]
            logits = model(w[:, :-1])[0]
            loss = F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none")
            losses.extend(loss.mean(dim=1).tolist())
    return losses


def cached_run(name: str, settings: Mapping[str, Any], measure: Callable[[], dict]) -> dict:
    """``measure()``'s result (a dict of JSON values), saved in :func:`llmlab.cache_dir` under a
    hash of ``settings``, and read back from there when the same settings come again.

    A lesson's training runs are deterministic given their settings, so a second run of the
    lesson (or a widget that shows the runs, in a browser test that must be quick) need not
    train them again. ``settings`` must hold everything the result depends on; dataclasses (the
    model's and the training's configs) count by their fields and tensors (the data) by a hash
    of their bytes. The code version and the torch version are added, so a cache made by other
    code is never read. Floats survive JSON exactly, so a cached result prints as the fresh one.
    """
    import dataclasses
    import hashlib
    import json
    from pathlib import Path

    import torch

    from llmlab import cache_dir
    from llmlab.files import write_atomically
    from llmlab.pretrained import CODE_VERSION

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a short identifier (it names the file), got {name!r}")

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            return (
                f"{tensor.dtype}{list(tensor.shape)}:"
                + hashlib.sha256(tensor.numpy().tobytes()).hexdigest()
            )
        raise ValueError(f"settings hold a {type(value).__name__}, which has no stable key")

    every = {**settings, "code": CODE_VERSION, "torch": torch.__version__}
    key = hashlib.sha256(json.dumps(every, sort_keys=True, default=plain).encode()).hexdigest()
    path = Path(cache_dir()) / f"{name}-{key[:16]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = measure()
    write_atomically(path, json.dumps(result).encode())
    return json.loads(json.dumps(result))  # the same types a later read gives (lists, not tuples)


@dataclass(frozen=True)
class TrainingCost:
    """What a run of ``flops`` costs on ``n_gpus`` accelerators at a given utilisation."""

    flops: float
    gpu_hours: float
    days: float
    dollars: float


def training_cost(
    n_params: float,
    tokens: float,
    peak_flops_per_s: float,
    utilisation: float,
    n_gpus: int,
    dollars_per_gpu_hour: float,
) -> TrainingCost:
    """``6ND`` turned into time and money: GPU-hours at ``utilisation`` of each chip's peak.

    No real run reaches the peak: memory traffic, communication between chips and restarts
    leave large runs at roughly 30-50% of it ("model FLOPs utilisation").
    """
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation!r}")
    if peak_flops_per_s <= 0 or n_gpus < 1 or dollars_per_gpu_hour < 0:
        raise ValueError(
            "need peak_flops_per_s > 0, n_gpus >= 1 and dollars_per_gpu_hour >= 0, got "
            f"{peak_flops_per_s!r}, {n_gpus!r}, {dollars_per_gpu_hour!r}"
        )
    flops = training_flops(n_params, tokens)
    gpu_hours = flops / (peak_flops_per_s * utilisation) / 3600
    return TrainingCost(flops, gpu_hours, gpu_hours / n_gpus / 24, gpu_hours * dollars_per_gpu_hour)


# ----------------------------------------------------------------------------- compression


def compressor_bits_per_char(text: str, context: str = "") -> dict[str, float]:
    """Bits per character of ``text`` after gzip, bz2 and lzma, each at its strongest setting.

    With a ``context`` (e.g. the training text), each compressor is charged only for what
    ``text`` adds after it: ``size(context + text) - size(context)``. That is the fair race
    against a model that has read the context: both may use it, and neither pays for it.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty str")
    if not isinstance(context, str):
        raise ValueError(f"context must be a str (may be empty), got {type(context).__name__}")
    compressors = {
        "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
        "bz2": lambda data: bz2.compress(data, compresslevel=9),
        "lzma": lambda data: lzma.compress(data, preset=9 | lzma.PRESET_EXTREME),
    }
    before, after = context.encode("utf-8"), (context + text).encode("utf-8")
    bits = {}
    for name, compress in compressors.items():
        added = len(compress(after)) - (len(compress(before)) if context else 0)
        bits[name] = 8 * added / len(text)
    return bits


def code_length_bits(model: GPT, ids: Sequence[int], batch_size: int = 16) -> float:
    """Bits an arithmetic coder driven by ``model`` needs for the token ids ``ids``: sum of -log2 p.

    The text is cut into consecutive windows of ``block_size`` predictions; each window's first
    token is predicted from the one before it only (the context restarts), so every token after
    the first is coded exactly once. The first token has no context at all: it costs
    ``log2(vocab_size)`` bits, as with a uniform guess.
    """
    import torch

    from llmlab.modes import evaluating

    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.ndim != 1 or len(ids) < 1:
        raise ValueError(f"ids must be a non-empty 1-D sequence, got shape {list(ids.shape)}")
    T = model.config.block_size
    starts = list(range(0, len(ids) - 1, T))
    nats = 0.0
    with evaluating(model), torch.no_grad():
        full = [s for s in starts if s + T + 1 <= len(ids)]
        for first in range(0, len(full), batch_size):
            chunk = torch.tensor(full[first : first + batch_size])
            windows = ids[chunk[:, None] + torch.arange(T + 1)]
            nats += model(windows[:, :-1], windows[:, 1:])[1].item() * windows[:, 1:].numel()
        if starts and starts[-1] + T + 1 > len(ids):  # a shorter last window
            tail = ids[starts[-1] :][None]
            nats += model(tail[:, :-1], tail[:, 1:])[1].item() * (tail.shape[1] - 1)
    return nats / math.log(2) + math.log2(model.config.vocab_size)


def quantize(probs: Sequence[float], precision: int = 16) -> list[int]:
    """Integer frequencies summing to ``2**precision``, proportional to ``probs``, each >= 1.

    An arithmetic coder works with whole numbers: it needs the same integers on both sides, and
    every symbol that might occur needs a frequency of at least 1, or it could not be coded.
    """
    total = 2**precision
    n = len(probs)
    if n < 1 or n > total:
        raise ValueError(f"probs must have between 1 and 2**precision={total} entries, got {n}")
    if any(not p >= 0 for p in probs) or sum(probs) <= 0:
        raise ValueError("probs must be non-negative numbers with a positive sum")
    mass = sum(probs)
    shares = [p / mass * (total - n) for p in probs]  # what is left after the floor of 1 each
    freqs = [1 + math.floor(share) for share in shares]
    left = total - sum(freqs)  # what flooring left over: 0 to n units
    if left < 0:  # float rounding overshot by a unit or two: take it from the most frequent
        freqs[max(range(n), key=freqs.__getitem__)] += left
    # Hand the rest to the largest fractional parts (ties: lowest index).
    order = sorted(range(n), key=lambda i: (-(shares[i] % 1), i))
    for i in order[: max(left, 0)]:
        freqs[i] += 1
    return freqs


#: ``next_frequencies(prefix)`` -> the integer frequencies (summing to a power of two) of the
#: next symbol given the symbols so far; it must give the same answer when encoding and decoding.
Predictor = Callable[[list[int]], Sequence[int]]


def arithmetic_encode(symbols: Sequence[int], next_frequencies: Predictor) -> str:
    """Code ``symbols`` as a string of bits, each symbol in about ``-log2 p`` bits.

    The coder keeps an interval of [0, 1), starting with all of it. Each symbol narrows it to the
    slice the symbol owns, of a size proportional to its probability; after all symbols the
    interval's width is the product of their probabilities. We send the shortest bit string
    ``b`` whose every continuation ``0.b...`` lies inside it: at least ``-log2(width)`` bits (the
    ideal length), at most two more. Every continuation fitting makes the code prefix-free: a
    decoder can tell where it ends even if more bits follow. Bounds are integers over the common
    denominator ``2**scale`` (exact: no rounding anywhere).
    """
    low, width, scale, prefix = 0, 1, 0, []
    for s in symbols:
        freqs, bits = _frequencies(next_frequencies, prefix)
        if not 0 <= s < len(freqs):
            raise ValueError(f"symbol {s} has no frequency (the predictor gave {len(freqs)})")
        low = (low << bits) + width * sum(freqs[:s])  # now over 2**(scale + bits)
        width *= freqs[s]
        scale += bits
        prefix.append(s)
    for k in range(scale + 1):  # shortest k: [b, b + 1) / 2**k inside [low, low + width)
        shift = scale - k
        b = -(-low >> shift)  # ceil(low / 2**shift): the first k-bit number not below low
        if (b + 1) << shift <= low + width:
            return format(b, f"0{k}b") if k else ""
    raise AssertionError("unreachable: k = scale always fits")


def arithmetic_decode(bits: str, n_symbols: int, next_frequencies: Predictor) -> list[int]:
    """The inverse of :func:`arithmetic_encode`: ``n_symbols`` symbols back from ``bits``.

    The decoder replays the encoder: it asks the same predictor for the same frequencies and
    finds, at each step, which symbol's slice holds the received number.
    """
    if not isinstance(bits, str) or set(bits) - {"0", "1"}:
        raise ValueError("bits must be a string of '0' and '1'")
    value, value_scale = int(bits or "0", 2), len(bits)
    low, width, scale, symbols = 0, 1, 0, []
    for _ in range(n_symbols):
        freqs, step = _frequencies(next_frequencies, symbols)
        scale += step
        # Compare value / 2**value_scale with bounds over 2**scale, on a common denominator.
        common = max(scale, value_scale)
        target = value << (common - value_scale)
        start, shift = low << step, common - scale
        # Walk the slices to the one holding the value. The value lies in [low, low + width)
        # (it did for the encoder), so one does; a damaged message just decodes differently.
        s, cumulative = 0, 0
        while target >= (start + width * (cumulative + freqs[s])) << shift:
            cumulative += freqs[s]
            s += 1
        low, width = start + width * cumulative, width * freqs[s]
        symbols.append(s)
    return symbols


def _frequencies(next_frequencies: Predictor, prefix: list[int]) -> tuple[list[int], int]:
    """The predictor's frequencies for ``prefix`` and ``log2`` of their total (checked)."""
    freqs = [int(f) for f in next_frequencies(list(prefix))]
    total = sum(freqs)
    if not freqs or min(freqs) < 0 or total & (total - 1):
        raise ValueError(f"frequencies must be >= 0 and sum to a power of two, got sum {total}")
    return freqs, total.bit_length() - 1


def model_predictor(model: GPT, precision: int = 16) -> Predictor:
    """A :data:`Predictor` from a GPT: its next-token probabilities, quantized.

    An empty prefix gets a uniform guess (the model needs at least one token of context). Each
    call runs the model on the last ``block_size`` tokens alone, in eval mode: the encoder and
    the decoder then compute bit-identical probabilities, which a coder needs. (One batched
    pass over the whole text could differ in the last bits and derail the decoder.) The model's
    train/eval mode is restored after every call.
    """
    import torch

    from llmlab.modes import evaluating

    vocab, T = model.config.vocab_size, model.config.block_size

    def predict(prefix: list[int]) -> list[int]:
        if not prefix:
            return quantize([1.0] * vocab, precision)
        with evaluating(model), torch.no_grad():
            logits = model(torch.tensor([prefix[-T:]]))[0][0, -1].double()
        return quantize(torch.softmax(logits, dim=-1).tolist(), precision)

    return predict
