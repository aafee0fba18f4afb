"""Generation speed: ``GPT.generate`` with and without the KV cache, and the NumPy-only runner.

    python benchmarks/generate.py            # about 1-2 minutes on 2 idle cores
    python benchmarks/generate.py --quick    # a smoke test: short runs, one round

Measured in this run, on the standard ``char`` and ``bpe`` models (4 layers, width 128, a context
of 128 tokens), greedy decoding (so every runner makes the same tokens; checked):

* tokens/s (new tokens over the wall time of the call, prompt included) of
  ``GPT.generate(use_cache=True)`` and ``use_cache=False``, for a short prompt and many new
  tokens (8 -> 120), half and half (64 -> 64), a full context of new tokens (1 -> 128), and past
  the window (128 -> 32: each step then re-fills the cache, so it cannot help); torch on one
  thread (``torch.set_num_threads(1)``) and on its default number of threads. The **cache
  speed-up** is cached over uncached tokens/s.
* tokens/s of :mod:`llmlab.numpy_gpt` (its own cache) on the same prompts, and **numpy / torch**,
  its ratio to torch's cached generation. NumPy's BLAS runs on one thread
  (``OPENBLAS_NUM_THREADS=1``, set before NumPy is imported): a cached step multiplies
  ``[1, 128]`` by ``[128, 512]``, far too small to share out, and on a busy machine OpenBLAS's
  default threads made full-window passes many times slower (measured while writing this).
* what one cached step costs (a token through the model, 8 tokens cached) against the time of
  the matrix multiplies it is made of (a bare ``torch.mm`` chain) and of an uncached pass over
  the full window: the first difference is per-step overhead (Python, module calls, small-tensor
  bookkeeping); the ratio of the last two bounds what the cache can save in a model this small.

The three runners of a prompt are timed in turns (cached, uncached, NumPy, then again), and each
keeps its best of ``--repeat`` rounds (fewer once a prompt has taken 4 s), so a slow spell of the
machine hurts them alike rather than one ratio. Targets (reported, not asserted): a cache
speed-up of at least 3x for a full context of new tokens on the bpe model; NumPy within 3x of
torch's cached generation on char.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy is imported (see the docstring)

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llmlab import numpy_gpt, pretrained  # noqa: E402

#: (prompt tokens, new tokens); the context of both models is 128 tokens.
CASES = [(8, 120), (64, 64), (1, 128), (128, 32)]
QUICK_CASES = [(8, 16), (1, 32)]
TEXT = "ROMEO:\nBut soft, what light through yonder window breaks? It is the east.\n" * 40


def in_turns(
    runners: dict[str, Callable[[], Any]], rounds: int, budget: float = 4.0
) -> dict[str, tuple[float, Any]]:
    """``{name: (best seconds, last result)}``, running each runner once per round, in turns."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    results: dict[str, Any] = {}
    start, first = time.perf_counter(), next(iter(runners))
    while not results or (len(times[first]) < rounds and time.perf_counter() - start < budget):
        for name, run in runners.items():
            began = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - began)
    return {name: (min(times[name]), results[name]) for name in runners}


def step_costs(model: Any, runner: numpy_gpt.NumpyGPT, ids: list[int]) -> dict[str, float]:
    """Milliseconds: one cached step in torch and in NumPy, the step's matrix multiplies alone,
    and torch's uncached pass over a full window (the most a step without the cache costs)."""
    c, n = model.config, 100

    def per_call(fn: Callable[[], Any]) -> float:
        fn()
        began = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - began) / n * 1e3

    cache, numpy_cache = model.new_cache(1), runner.new_cache()
    with torch.no_grad():
        model(torch.tensor([ids[:8]]), cache=cache)
        runner.logits(ids[:8], numpy_cache)
        newest = torch.tensor([ids[8:9]])

        def torch_step() -> None:
            cache.length = 8
            model(newest, cache=cache)

        def numpy_step() -> None:
            numpy_cache.length = 8
            runner.logits(ids[8:9], numpy_cache)

        C = c.n_embd  # per layer: qkv, attention out, MLP in, MLP out; then the head
        shapes = [(C, 3 * C), (C, C), (C, 4 * C), (4 * C, C)] * c.n_layer + [(C, c.vocab_size)]
        products = [(torch.randn(1, a), torch.randn(a, b)) for a, b in shapes]
        window = torch.tensor([(ids * c.block_size)[: c.block_size]])
        return {
            "torch step": per_call(torch_step),
            "its matmuls": per_call(lambda: [x @ w for x, w in products]),
            "numpy step": per_call(numpy_step),
            "torch 1-token pass": per_call(lambda: model(window[:, :1])),
            "torch 128-token pass": per_call(lambda: model(window)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: short runs, once")
    parser.add_argument("--repeat", type=int, default=None, help="rounds, the best is kept")
    args = parser.parse_args()
    cases = QUICK_CASES if args.quick else CASES
    rounds = args.repeat or (1 if args.quick else 3)
    default_threads = torch.get_num_threads()
    settings = [1] if default_threads == 1 else [1, default_threads]
    print(
        f"torch {torch.__version__} (default threads {default_threads}), numpy {np.__version__} "
        f"(1 BLAS thread), {os.cpu_count()} CPUs; greedy decoding; best of {rounds} rounds\n"
    )
    full_context: dict[tuple[str, int], tuple[int, float]] = {}  # the 1-token prompt
    numpy_ratio: dict[tuple[str, int], list[float]] = {}
    costs: dict[tuple[str, int], dict[str, float]] = {}
    for name in ("char", "bpe"):
        model, tokenizer = pretrained.load(name, progress=False)
        runner = numpy_gpt.load(pretrained.checkpoint(name, progress=False).path)
        ids_of_text = tokenizer.encode(TEXT)
        print(f"{name}: {model.num_params():,} parameters, context {model.config.block_size}")
        print(
            f"{'threads':>7}  {'prompt -> new':>13}  {'cached tok/s':>12}  {'uncached tok/s':>14}"
            f"  {'cache speed-up':>14}  {'numpy tok/s':>11}  {'numpy / torch':>13}"
        )
        for threads in settings:
            torch.set_num_threads(threads)
            for prompt_len, new in cases:
                prompt = ids_of_text[:prompt_len]
                ids = torch.tensor(prompt)
                timed = in_turns(
                    {
                        "cached": lambda i=ids, n=new, m=model: m.generate(i, n, temperature=0),
                        "uncached": lambda i=ids, n=new, m=model: m.generate(
                            i, n, temperature=0, use_cache=False
                        ),
                        "numpy": lambda p=prompt, n=new, r=runner: r.generate(p, n, temperature=0),
                    },
                    rounds,
                )
                tokens = {key: np.asarray(result) for key, (_, result) in timed.items()}
                assert np.array_equal(tokens["cached"], tokens["uncached"]), "cache changed tokens"
                same = np.array_equal(tokens["numpy"], tokens["cached"])
                rate = {key: new / seconds for key, (seconds, _) in timed.items()}
                speed_up, ratio = rate["cached"] / rate["uncached"], rate["numpy"] / rate["cached"]
                if prompt_len == 1:
                    full_context[name, threads] = new, speed_up
                numpy_ratio.setdefault((name, threads), []).append(ratio)
                print(
                    f"{threads:>7}  {f'{prompt_len} -> {new}':>13}  {rate['cached']:>12.0f}  "
                    f"{rate['uncached']:>14.0f}  {speed_up:>13.1f}x  {rate['numpy']:>11.0f}  "
                    f"{ratio:>12.2f}x" + ("" if same else "  (numpy's tokens differ)")
                )
            costs[name, threads] = step_costs(model, runner, ids_of_text)
        print()
    torch.set_num_threads(default_threads)

    print("one cached step (one new token, 8 cached) and uncached passes, in ms; the cache's")
    print("expected speed-up from 1 to 128 tokens: (1-token pass + 128-token pass) / 2 steps")
    for (name, threads), row in costs.items():
        one, full = row["torch 1-token pass"], row["torch 128-token pass"]
        row["expected"] = (one + full) / (2 * row["torch step"])
        if name == "char" and threads == 1:
            print(f"{'model':>5}  {'threads':>7}" + "".join(f"  {key:>{len(key)}}" for key in row))
        cells = "".join(f"  {value:>{len(key)}.3f}" for key, value in row.items())
        print(f"{name:>5}  {threads:>7}{cells}")

    print("\ntargets (reported, not asserted)")
    for threads in settings:
        if ("bpe", threads) in full_context:
            new, speed_up = full_context["bpe", threads]
            mark = "met" if speed_up >= 3 else "missed"
            print(f"  bpe, 1 -> {new}, {threads} thread(s): cache speed-up {speed_up:.1f}x", end="")
            print(f" (>= 3x): {mark}")
        worst = min(numpy_ratio["char", threads])
        mark = "met" if worst >= 1 / 3 else "missed"
        print(f"  char, {threads} thread(s): numpy / torch cached {worst:.2f}x at worst", end="")
        print(f" (>= 0.33x): {mark}")


if __name__ == "__main__":
    main()
