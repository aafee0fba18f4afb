"""The exercise registry: :func:`exercise` registers a reference, :func:`check` compares a
learner's function against it, :func:`solution` shows it.

It imports no lesson, so every lesson module can import it in any order; the package's
``__init__`` gathers both.
"""

from __future__ import annotations

import inspect
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmlab import checks


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


def _all_close(a: Any, b: Any) -> bool:
    """Numbers, or (nested) lists and tuples of numbers, equal within a relative 1e-6."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_all_close(x, y) for x, y in zip(a, b, strict=True))
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return numbers and abs(a - b) <= 1e-6 * max(1.0, abs(b))


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
    checks.integer(n_cases, "n_cases", 1, hint="no cases would check nothing")
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
        if not _same(item, got, expected):
            kinds = ""
            if type(got) is not type(expected):
                kinds = f"\n  (expected a {type(expected).__name__}, got a {type(got).__name__})"
            print(
                f"{name}: case {number} differs.\n  inputs:   {_short(args)}\n"
                f"  expected: {_short(expected)}\n  got:      {_short(got)}{kinds}"
            )
            return False
    print(f"{name}: all {n_cases} cases match. Well done!")
    return True


def _same(item: Exercise, got: Any, expected: Any) -> bool:
    """The exercise's comparison, where an answer of another kind (an array for a list, say)
    counts as different instead of crashing the checker with an ambiguous truth value."""
    try:
        return bool(item.same(got, expected))
    except (TypeError, ValueError):
        return False


def solution_source(name: str) -> str:
    """The worked solution of exercise ``name``: the tested reference's source code."""
    source = textwrap.dedent(inspect.getsource(_get(name).reference))
    return "\n".join(line for line in source.splitlines() if not line.startswith("@"))


def solution(name: str) -> None:
    """Reveal the worked solution of exercise ``name`` (printed, ready to copy)."""
    print(solution_source(name))
