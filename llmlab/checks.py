"""Checking arguments where they enter, with one message shape everywhere.

Every public function checks what it is given before doing any work, so a wrong value gets a
``ValueError`` that names the argument and what is allowed::

    top_p must be a number in (0, 1], got 1.5

instead of a silent wrong answer or a stack trace from deep inside torch. ``True`` is an ``int``
to Python but never a count or a size here, so booleans are refused; NumPy's integers and
floats are accepted (they are what indexing an array gives back). This module imports nothing
but the standard library, so the NumPy runner can use it without torch.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any


def is_int(value: Any) -> bool:
    """An integer that is not a bool (``isinstance(True, int)`` holds in Python)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number that is not a bool and not NaN (infinities pass: :func:`number` decides)."""
    return isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(value)


def _message(name: str, kind: str, allowed: str, value: Any, optional: bool, hint: str) -> str:
    what = f"None or {kind}" if optional else kind
    hint = f" ({hint})" if hint else ""
    return f"{name} must be {what}{allowed}{hint}, got {value!r}"


def integer(
    value: Any,
    name: str,
    low: int | None = None,
    high: int | None = None,
    *,
    optional: bool = False,
    hint: str = "",
) -> Any:
    """``value`` as an ``int`` in ``low..high`` (either end may be open), else a ValueError.

    With ``optional``, ``None`` is allowed and returned as is (a setting that can be off).
    """
    if optional and value is None:
        return None
    if low is not None and high is not None:
        allowed = f" in {low}..{high}"
    elif low is not None:
        allowed = f" >= {low}"
    elif high is not None:
        allowed = f" <= {high}"
    else:
        allowed = ""
    fits = is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if not fits:
        raise ValueError(_message(name, "an int", allowed, value, optional, hint))
    return int(value)


def number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    hint: str = "",
) -> Any:
    """``value`` as a finite ``float`` between ``low`` and ``high``, else a ValueError.

    The ends are included unless ``low_open``/``high_open``; an end left ``None`` is unbounded
    (still finite: infinities and NaN are always refused). ``optional`` allows ``None``.
    """
    if optional and value is None:
        return None
    if low is not None and high is not None:
        kind = "a number"
        allowed = f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    else:
        kind = "a finite number"
        allowed = ""
        if low is not None:
            allowed = f" {'>' if low_open else '>='} {low}"
        elif high is not None:
            allowed = f" {'<' if high_open else '<='} {high}"
    fits = is_number(value) and math.isfinite(value)
    if fits and low is not None:
        fits = value > low if low_open else value >= low
    if fits and high is not None:
        fits = value < high if high_open else value <= high
    if not fits:
        raise ValueError(_message(name, kind, allowed, value, optional, hint))
    return float(value)


def flag(value: Any, name: str) -> bool:
    """``value`` if it is a bool: ``1`` or ``"yes"`` for a switch is a mistake worth naming."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return value


def one_of(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
