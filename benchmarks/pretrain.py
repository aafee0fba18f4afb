"""Pretraining speed and quality: llmlab's standard "char" recipe against nanoGPT's CPU baseline.

    python benchmarks/pretrain.py            # about 10 minutes on 2 cores
    python benchmarks/pretrain.py --quick    # a smoke test: 1/10 of the steps

Both recipes train on the same training plays with the same code path (``llmlab.train``) and are
scored on the same held-out plays, each at its own context length. Printed, all measured in this
run: the matmul peak (a big ``torch.mm``, fp32 and bf16), tokens/s and model FLOPs utilisation
(6 x parameters x tokens/s over that peak), validation loss against training time (evaluation
excluded), the **time-to-loss ratio** (the time the char recipe needs to reach the baseline's
final validation loss, over the baseline's time) and both final losses on *all* held-out text.

How the char recipe (``llmlab.pretrained.RECIPES["char"]``) was found, comparing validation loss
at equal numbers of training tokens (which, unlike timings, other processes cannot disturb):

* rotary positions: with learned positions and a 256-character context the loss sits near 2.5
  for the first ~300 steps; with RoPE it is 2.04 after 200 steps of 16 x 256 characters;
* small batches: early on the loss falls per *step*, so 8 x 128 characters per step beat
  16 x 128 all the way (1.50 against 1.52 after 6.1M characters) and 16 x 256 by far early on;
* learning rate 2e-3 to 3e-3 (5e-3 and 8e-3 are worse); width 192 had learned less than 128
  after 0.8M characters; a 256 context with 3 windows per step is worse than 128 with 8;
* bf16 autocast, but attention kept in float32: on this CPU (AMD EPYC, avx512_bf16) bf16
  matmuls are 2.7x faster, while torch's bf16 attention backward is 3x slower than float32;
* ``torch.compile``: 53 s to compile, no faster per step afterwards, so not used.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from llmlab import corpus, pretrained
from llmlab.model import GPT, GPTConfig
from llmlab.tokenization import CharTokenizer
from llmlab.train import evaluate, train
from llmlab.train_config import TrainConfig

#: nanoGPT's "baby GPT" CPU run (README, shakespeare_char with --device=cpu): fp32, plain AdamW.
BASELINE = {
    "model": {
        "n_layer": 4,
        "n_head": 4,
        "n_embd": 128,
        "block_size": 64,
        "dropout": 0.0,
        "bias": False,  # nanoGPT's train.py default
    },
    "train": {
        "batch_size": 12,
        "max_steps": 2000,
        "learning_rate": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 100,
        "weight_decay": 0.1,
        "beta2": 0.99,
        "grad_clip": 1.0,
        "fused": False,
        "dtype": "float32",
    },
    "seed": 1337,
}

EVAL_TOKENS = 32_768  # per evaluation during training: the same amount of text for both recipes


def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """Best FLOP/s of ``n x n`` matrix products within ``seconds`` (best: others may interfere)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def run(name: str, recipe: dict, data: dict, steps_scale: float) -> dict:
    """Train one recipe; return its curve, throughput and final full-validation loss."""
    r = copy.deepcopy(recipe)
    t = r["train"]
    t["max_steps"] = max(1, round(t["max_steps"] * steps_scale))
    t["warmup_steps"] = min(t["warmup_steps"], t["max_steps"])
    t["eval_windows"] = EVAL_TOKENS // r["model"]["block_size"]
    t["eval_interval"] = max(1, t["max_steps"] // 120)  # fine enough to time the crossing
    t["max_seconds"] = None
    torch.manual_seed(r["seed"])
    model = GPT(GPTConfig(vocab_size=data["vocab_size"], **r["model"]))
    print(f"\n{name}: {model.num_params():,} parameters, {r['model']}, {t}", flush=True)
    result = train(model, data["train"], data["val"], TrainConfig(**t))
    T = r["model"]["block_size"]
    full = evaluate(model, data["val"], windows=(len(data["val"]) - 1) // T)
    curve = [(h["time"], h["val_loss"]) for h in result.history if "val_loss" in h]
    tokens_per_s = result.tokens / result.seconds
    return {
        "name": name,
        "params": model.num_params(),
        "curve": curve,
        "seconds": result.seconds,
        "tokens_per_s": tokens_per_s,
        "flops": 6 * model.num_params() * tokens_per_s,
        "final": curve[-1][1],
        "full": full,
        "dtype": t["dtype"],
        "T": T,
    }


def time_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """Training time of the first evaluation at or below ``target`` (an upper bound)."""
    return next((seconds for seconds, loss in curve if loss <= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the steps: a smoke test")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M")
    train_text, val_text = corpus.text("train"), corpus.text("validation")
    tokenizer = CharTokenizer(train_text)
    data = {
        "train": torch.tensor(tokenizer.encode(train_text)),
        "val": torch.tensor(tokenizer.encode(val_text)),
        "vocab_size": tokenizer.vocab_size,
    }
    peak = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    scale = 0.1 if args.quick else 1.0
    base = run("baseline (nanoGPT CPU)", BASELINE, data, scale)
    ours = run("llmlab char", pretrained.recipe("char"), data, scale)
    for dtype in peak:  # again, and keep the best: other processes may have slowed one down
        peak[dtype] = max(peak[dtype], matmul_peak(getattr(torch, dtype)))

    print(
        f"\npretraining benchmark, {started}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"matmul peak (2048^2 torch.mm): fp32 {peak['float32'] / 1e9:.0f} GFLOP/s, "
        f"bf16 {peak['bfloat16'] / 1e9:.0f} GFLOP/s"
    )
    print(
        f"\n{'recipe':24}{'params':>10}{'dtype':>10}{'tokens/s':>10}{'GFLOP/s':>9}"
        f"{'MFU':>7}{'train s':>9}{'val':>8}{'val, all':>10}"
    )
    for r in (base, ours):
        mfu = r["flops"] / peak[r["dtype"]]
        print(
            f"{r['name']:24}{r['params']:>10,}{r['dtype']:>10}{r['tokens_per_s']:>10,.0f}"
            f"{r['flops'] / 1e9:>9.1f}{mfu:>7.0%}{r['seconds']:>9.1f}{r['final']:>8.4f}"
            f"{r['full']:>10.4f}"
        )
    print(
        "  MFU = 6 x params x tokens/s over the peak of the recipe's matmul dtype; "
        f"llmlab char over the fp32 peak: {ours['flops'] / peak['float32']:.0%}"
    )
    print(
        "  val: the last evaluation (32k held-out tokens); val, all: every held-out "
        "character, each recipe at its own context (baseline 64, char "
        f"{ours['T']})"
    )

    print("\nvalidation loss (nats/char) against training time")
    print(f"{'time s':>8}  {'baseline':>9}  {'llmlab char':>11}")
    end = max(base["seconds"], ours["seconds"])
    for mark in [end * i / 20 for i in range(1, 21)]:
        latest = [[loss for t, loss in r["curve"] if t <= mark] for r in (base, ours)]
        ended = [mark > r["seconds"] * 1.001 for r in (base, ours)]
        shown = [
            "" if done else f"{seen[-1]:.4f}" if seen else "-"
            for seen, done in zip(latest, ended, strict=True)
        ]
        print(f"{mark:>8.0f}  {shown[0]:>9}  {shown[1]:>11}")

    target = base["final"]
    reached = time_to_reach(ours["curve"], target)
    if reached is None:
        print(f"\ntime-to-loss: llmlab char never reached the baseline's {target:.4f}")
    else:
        print(
            f"\ntime-to-loss ratio: {reached:.1f} s / {base['seconds']:.1f} s = "
            f"{reached / base['seconds']:.2f} (target <= 0.5): llmlab char's time to the "
            f"baseline's final validation loss {target:.4f}, over the baseline's time"
        )
    print(
        f"best held-out loss of llmlab char: {ours['full']:.4f} nats/char on all held-out "
        f"plays after {ours['seconds']:.0f} s of training (aim <= 1.60 within 300 s)"
    )


if __name__ == "__main__":
    main()
