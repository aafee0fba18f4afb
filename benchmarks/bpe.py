"""Byte-level BPE, llmlab against HF ``tokenizers``: training time, encoding speed, memory.

    python benchmarks/bpe.py                      # vocabulary sizes 512, 1024, 4096
    python benchmarks/bpe.py --sizes 1024 --repeat 1

Both libraries run on ONE CPU thread: ``TOKENIZERS_PARALLELISM=false`` and
``RAYON_NUM_THREADS=1`` are set before ``tokenizers`` is imported (llmlab is single-threaded
Python). They do the same work: the corpus's training split, GPT-2 pre-tokenization, the 256
bytes as initial alphabet, ``<|endoftext|>`` as special token, no normalizer.

* Training time: the best of ``--repeat`` runs. llmlab's one-time build of its regular
  expression (about 0.2 s, once per process) is done before timing.
* Peak memory: llmlab's training, measured in a separate run under ``tracemalloc`` (Python
  allocations; the 4 MB training text itself was allocated before and is not counted).
* Encoding: the held-out validation plays with each llmlab tokenizer (a fresh one, so its
  cache of pre-token encodings starts empty) and with its HF export (``to_hf()``, identical
  ids, checked), which encodes the lines as a batch (its fastest path).
* Bytes per token: validation bytes divided by the number of tokens, for llmlab's tokenizer
  and for the one HF trains (they differ only where equally frequent pairs tie).
* Streaming: ``encode_iterable`` over a file's lines against ``encode`` of the whole text, on
  the validation plays and on 500 KB of blank-line-separated paragraphs (a layout with no safe
  cut point: the stream must still be handled in linear time).
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402

from llmlab import corpus  # noqa: E402
from llmlab.tokenization import BPETokenizer, pretokenize, train_bpe, train_hf_bpe  # noqa: E402

SPECIALS = ["<|endoftext|>"]


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs (the least disturbed by other work) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 4096])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, the best is kept")
    args = parser.parse_args()

    train, validation = corpus.text("train"), corpus.text("validation")
    megabytes = len(validation.encode("utf-8")) / 1e6
    lines = validation.splitlines(keepends=True)
    pretokenize("")  # build the regular expression once, outside the timings
    print(
        f"training text: {len(train.encode('utf-8')) / 1e6:.2f} MB; encoded text: "
        f"{megabytes:.2f} MB (validation plays); one thread each; best of {args.repeat}\n"
    )

    rows = []
    for size in args.sizes:
        ours_s, (vocab, merges) = best_time(partial(train_bpe, train, size, SPECIALS), args.repeat)
        hf_s, hf_trained = best_time(partial(train_hf_bpe, train, size, SPECIALS), args.repeat)
        memory = peak_mib(partial(train_bpe, train, size, SPECIALS))

        fresh = BPETokenizer(vocab, merges, SPECIALS)  # its cache of pre-tokens starts empty
        hf = fresh.to_hf()
        encode_s, ids = best_time(partial(fresh.encode, validation), 1)
        hf_encode_s, encodings = best_time(partial(hf.encode_batch, lines), 1)
        assert [i for e in encodings for i in e.ids] == ids, "HF export gave different ids"
        hf_tokens = sum(len(e.ids) for e in hf_trained.encode_batch(lines))
        rows.append((size, ours_s, hf_s, memory, encode_s, hf_encode_s, len(ids), hf_tokens))

    print("training    llmlab s   HF s   llmlab/HF   llmlab peak MiB")
    for size, ours_s, hf_s, memory, *_ in rows:
        print(f"{size:>8} {ours_s:>10.2f} {hf_s:>6.2f} {ours_s / hf_s:>10.1f}x {memory:>14.0f}")
    print("\nencoding    llmlab MB/s   HF MB/s   HF/llmlab   bytes/token llmlab   HF-trained")
    for size, *_, encode_s, hf_encode_s, tokens, hf_tokens in rows:
        ours_mbs, hf_mbs = megabytes / encode_s, megabytes / hf_encode_s
        print(
            f"{size:>8} {ours_mbs:>13.2f} {hf_mbs:>9.2f} {hf_mbs / ours_mbs:>10.1f}x"
            f" {1e6 * megabytes / tokens:>20.3f} {1e6 * megabytes / hf_tokens:>12.3f}"
        )

    by_size = {row[0]: row for row in rows}
    if 1024 in by_size:
        ratio = by_size[1024][1] / by_size[1024][2]
        print(f"\ntarget: training at 1024 within 5x of HF: {ratio:.1f}x, {_verdict(ratio <= 5)}")
    slowest = min(megabytes / row[4] for row in rows)
    print(f"target: encoding at least 1 MB/s: slowest {slowest:.2f} MB/s, {_verdict(slowest >= 1)}")
    streaming(BPETokenizer(vocab, merges, SPECIALS), validation)


def streaming(tokenizer: BPETokenizer, validation: str) -> None:
    """``encode_iterable`` over lines, against ``encode`` of the joined text (same ids)."""
    paragraphs = ("the quality of mercy is not strained " * 8 + "\n\n") * 1650  # ~500 KB
    print("\nstreaming              encode s   encode_iterable s   ratio")
    worst = 0.0
    for name, text in (("validation plays", validation), ("blank-line paragraphs", paragraphs)):
        whole_s, ids = best_time(partial(tokenizer.encode, text), 1)
        lines = text.splitlines(keepends=True)
        stream_s, streamed = best_time(
            lambda lines=lines: list(tokenizer.encode_iterable(lines)), 1
        )
        assert streamed == ids, f"encode_iterable gave other ids on the {name}"
        worst = max(worst, stream_s / whole_s)
        print(f"{name:<22} {whole_s:>9.2f} {stream_s:>19.2f} {stream_s / whole_s:>7.1f}x")
    print(f"target: streaming within 3x of encode: {worst:.1f}x, {_verdict(worst <= 3)}")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
