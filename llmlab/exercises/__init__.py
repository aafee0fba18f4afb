"""Auto-checked exercises: ``check("name", your_function)`` tells you whether your answer is right.

Each exercise is a reference function registered with :func:`exercise` and a generator of random
test cases. ``check`` runs your function and the reference on the same cases and explains the
first mismatch (inputs, expected, got) instead of a bare "wrong". ``solution("name")`` reveals
the worked solution: the reference's own source, so the solution shown is the one that is tested.

The registry is here; the exercises live one module per lesson (``lesson00`` ... ``lesson06``),
each holding that lesson's references and case generators. Imports of heavier modules stay inside
their functions, so that importing this package stays cheap.
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
    if not isinstance(n_cases, int) or isinstance(n_cases, bool) or n_cases < 1:
        raise ValueError(
            f"n_cases must be an int >= 1 (no cases would check nothing), got {n_cases!r}"
        )
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


# The lessons register their exercises when imported: last, because they import `exercise` from
# here. Their references stay reachable as attributes, e.g. ``exercises.count_pairs``.
from llmlab.exercises.lesson00 import greedy_generate, next_char_table, top_speakers  # noqa: E402
from llmlab.exercises.lesson01 import (  # noqa: E402
    apply_merge,
    bpe_tokenizer,
    count_pairs,
    encode_word,
)
from llmlab.exercises.lesson02 import (  # noqa: E402
    attention_entropy,
    causal_attention,
    causal_average,
)
from llmlab.exercises.lesson03 import (  # noqa: E402
    cross_entropy_gradient,
    momentum_step,
    sigmoid_op,
    topological_order,
)
from llmlab.exercises.lesson04 import greedy_until, rms_norm, windows_and_targets  # noqa: E402
from llmlab.exercises.lesson05 import (  # noqa: E402
    bits_per_char,
    chinchilla_split,
    power_law_exponent,
)
from llmlab.exercises.lesson06 import lora_forward, loss_mask, merged_weight  # noqa: E402
from llmlab.exercises.lesson07 import bradley_terry_loss, dpo_loss, k3, ranking_to_pairs  # noqa: E402
from llmlab.exercises.lesson08 import (  # noqa: E402
    cached_attention_step,
    repetition_penalty,
    top_p,
)

__all__ = [
    "EXERCISES",
    "Exercise",
    "apply_merge",
    "attention_entropy",
    "bits_per_char",
    "bpe_tokenizer",
    "bradley_terry_loss",
    "cached_attention_step",
    "causal_attention",
    "causal_average",
    "check",
    "chinchilla_split",
    "count_pairs",
    "cross_entropy_gradient",
    "dpo_loss",
    "encode_word",
    "exercise",
    "greedy_generate",
    "greedy_until",
    "k3",
    "lora_forward",
    "loss_mask",
    "merged_weight",
    "momentum_step",
    "next_char_table",
    "power_law_exponent",
    "repetition_penalty",
    "ranking_to_pairs",
    "rms_norm",
    "sigmoid_op",
    "solution",
    "solution_source",
    "top_p",
    "top_speakers",
    "topological_order",
    "windows_and_targets",
]
