"""The exercise registry: :func:`exercise` registers a reference, :func:`check` compares a
learner's function against it, :func:`solution` shows it.

An exercise asks the learner to *build* a piece, so the checker runs the learner's function
under a watch (:class:`_Watch`, Python's profiler hook): a call into llmlab's own code, unless the
exercise allows it (the autograd engine's ``Value`` to build a new operation on, a model to
generate from), or a use of an operation the exercise rules out (``cumsum`` where the point is a
matrix product), fails the check with a message that says what was called. Each exercise also
keeps a list of known wrong answers, and the tests prove the checker rejects every one.

It imports no lesson, so every lesson module can import it in any order; the package's
``__init__`` gathers both.
"""

from __future__ import annotations

import ast
import inspect
import random
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from llmlab import checks

LIBRARY = Path(__file__).resolve().parent.parent  # the llmlab package: code a learner must not call
DIFFICULTY = {1: "easy", 2: "medium", 3: "hard"}


@dataclass(frozen=True)
class Exercise:
    name: str
    reference: Callable[..., Any]
    cases: Callable[[random.Random], tuple[Any, ...]]  # rng -> positional arguments
    same: Callable[[Any, Any], bool]
    builds: str = ""  # what the learner builds, for the header
    difficulty: int = 1  # 1 easy, 2 medium, 3 hard
    minutes: int = 10
    hints: tuple[str, ...] = ()
    #: llmlab code the answer may call, by qualified name ("Value.__init__", "GPT.forward")
    allowed: tuple[str, ...] = ()
    #: operations the answer must not use (C function names, Python qualified names) -> why not
    forbidden: Mapping[str, str] = field(default_factory=dict)
    #: known wrong answers: the tests prove each one is rejected
    wrong: list[Callable[..., Any]] = field(default_factory=list)
    #: for a piece that works by changing its inputs (``backward`` fills ``.grad``) rather than
    #: by returning: what to compare, read from the inputs after the call. The reference and the
    #: learner then each get their own copy of a case.
    after: Callable[[tuple[Any, ...]], Any] | None = None


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
    *,
    builds: str = "",
    difficulty: int = 1,
    minutes: int = 10,
    hints: tuple[str, ...] = (),
    allowed: tuple[str, ...] = (),
    forbidden: Mapping[str, str] | None = None,
    after: Callable[[tuple[Any, ...]], Any] | None = None,
):
    """Register the decorated function as the reference solution of exercise ``name``.

    ``builds``, ``difficulty`` (1-3) and ``minutes`` make the exercise's header; ``hints`` come
    one at a time (:func:`hint`); ``allowed`` and ``forbidden`` are what :func:`check` watches;
    ``after`` reads the result of a piece that changes its inputs instead of returning.
    """
    checks.integer(difficulty, "difficulty", 1, 3)
    checks.integer(minutes, "minutes", 1)

    def register(reference: Callable[..., Any]) -> Callable[..., Any]:
        if name in EXERCISES:
            raise ValueError(f"exercise name {name!r} is already registered")
        EXERCISES[name] = Exercise(
            name,
            reference,
            cases,
            same,
            builds,
            difficulty,
            minutes,
            tuple(hints),
            tuple(allowed),
            dict(forbidden or {}),
            after=after,
        )
        return reference

    return register


def wrong_answer(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as a known wrong answer to exercise ``name``: a mistake
    learners make (or a shortcut they take) that the checker must reject; the tests prove it."""

    def register(answer: Callable[..., Any]) -> Callable[..., Any]:
        _get(name).wrong.append(answer)
        return answer

    return register


def _get(name: str) -> Exercise:
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[name]


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


class _Watch:
    """Watches a learner's function run (``sys.setprofile``) for calls it must not make.

    A call into llmlab's code counts unless its qualified name is ``allowed``; whatever allowed
    code calls in turn is the library's business (a model's forward pass may use any
    operation). A call to a ``forbidden`` operation (a C function of torch or NumPy by name, or
    one of their Python functions by name or qualified name) counts outside allowed code. The
    first such call is kept in :attr:`broke` as a sentence for the learner.
    """

    def __init__(self, allowed: tuple[str, ...], forbidden: Mapping[str, str]) -> None:
        self.allowed, self.forbidden = set(allowed), forbidden
        self.inside: list[FrameType] = []  # allowed llmlab frames being run
        self.broke: str | None = None

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``, watched (the hook is set and removed in this one frame, so no
        call of the checker's own is seen)."""
        previous = sys.getprofile()
        sys.setprofile(self._event)
        try:
            return function(*args)
        finally:
            sys.setprofile(previous)

    def _event(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and self.inside and self.inside[-1] is frame:
            self.inside.pop()
        if self.inside or self.broke is not None:
            return
        if event == "call" and _in_library(frame.f_code.co_filename):
            name = frame.f_code.co_qualname
            if name in self.allowed:
                self.inside.append(frame)
            else:
                module = Path(frame.f_code.co_filename).stem
                self.broke = (
                    f"your function called llmlab's own `{module}.{name}`: the check runs your "
                    f"code without the library's version of what you are building, so write it "
                    f"yourself"
                )
        elif event == "c_call" and getattr(arg, "__name__", None) in self.forbidden:
            self.broke = f"your function used `{arg.__name__}`: {self.forbidden[arg.__name__]}"
        elif event == "call" and _in_a_package(frame):
            for name in (frame.f_code.co_qualname, frame.f_code.co_name):
                if name in self.forbidden:
                    self.broke = f"your function used `{name}`: {self.forbidden[name]}"
                    break


def _in_a_package(frame: FrameType) -> bool:
    """Code of torch or NumPy written in Python (``F.multi_head_attention_forward``, say): a
    learner's own function of the same name, in a notebook, is not one."""
    return frame.f_globals.get("__name__", "").partition(".")[0] in {"torch", "numpy"}


def _in_library(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(LIBRARY)
    except (OSError, ValueError):  # "<stdin>", "<ipython-input-...>"
        return False


def case(item: Exercise, rng: random.Random) -> tuple[tuple[Any, ...], Any]:
    """One random case of ``item``: the arguments for the learner, and the reference's result.

    For an exercise that changes its inputs (``after``) the case is drawn twice from one seed, so
    the reference's run cannot leave anything behind in the learner's copy (a filled ``.grad``)."""
    if item.after is None:
        args = item.cases(rng)
        return args, item.reference(*args)
    seed = rng.getrandbits(64)
    theirs = item.cases(random.Random(seed))
    item.reference(*theirs)
    return item.cases(random.Random(seed)), item.after(theirs)


def outcome(item: Exercise, args: tuple[Any, ...], got: Any) -> Any:
    """What is compared with the reference's result: the return value, or for an exercise that
    changes its inputs, what its ``after`` reads from them after the call."""
    return got if item.after is None else item.after(args)


def check(name: str, your_function: Callable[..., Any], n_cases: int = 25, seed: int = 0) -> bool:
    """Run ``your_function`` against the reference on ``n_cases`` random cases; print the verdict.

    Returns True when every case matches and the function built the piece itself (see
    :class:`_Watch`). It never raises for a wrong answer (a learner's exception is reported as
    the mismatch), so a half-finished notebook still runs to the end.
    """
    item = _get(name)
    if not callable(your_function):
        raise TypeError(f"your_function must be callable, got {type(your_function).__name__}")
    checks.integer(n_cases, "n_cases", 1, hint="no cases would check nothing")
    rng = random.Random(seed)
    for number in range(1, n_cases + 1):
        args, expected = case(item, rng)
        watch = _Watch(item.allowed, item.forbidden)
        try:
            got = outcome(item, args, watch.run(your_function, *args))
        except NotImplementedError:
            got = NotImplemented
        except Exception as err:  # the learner's bug, shown as a result rather than a crash
            got = f"<raised {type(err).__name__}: {err}>"
        if watch.broke is not None:
            print(f"{name}: {watch.broke}.")
            return False
        if got is NotImplemented:
            print(f"{name}: not implemented yet. Replace the `raise NotImplementedError` line.")
            return False
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
    return without_decorators(inspect.getsource(_get(name).reference))


def without_decorators(source: str) -> str:
    """A function's source from its ``def`` line on (the registration above it is not the
    solution)."""
    source = textwrap.dedent(source)
    definition = ast.parse(source).body[0]
    return "\n".join(source.splitlines()[definition.lineno - 1 :])


def solution(name: str) -> None:
    """Reveal the worked solution of exercise ``name`` (printed, ready to copy)."""
    print(solution_source(name))


def header(name: str) -> str:
    """The exercise's one-line header: what you build, how hard, about how long."""
    item = _get(name)
    stars = "★" * item.difficulty + "☆" * (3 - item.difficulty)
    return (
        f"Exercise `{name}`: {item.builds or 'see the cell below'} · {stars} "
        f"{DIFFICULTY[item.difficulty]} · about {item.minutes} min"
    )


def hint(name: str, number: int = 1) -> None:
    """Print hint ``number`` (1 first) of exercise ``name``: try it before the next one."""
    item = _get(name)
    if not item.hints:
        print(f"{name} has no hints: `solution({name!r})` shows a worked solution.")
        return
    number = checks.integer(number, "number", 1, len(item.hints))
    more = f" ({len(item.hints) - number} more)" if number < len(item.hints) else ""
    print(f"Hint {number} of {len(item.hints)}{more}: {item.hints[number - 1]}")
