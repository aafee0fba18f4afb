"""Lesson 05's exercises: a power law fitted by hand, one step of the arithmetic coder, and the
iso-FLOP sweep's verdict (is the best size bracketed, beyond the noise?)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from llmlab.exercises.registry import exercise, wrong_answer

# ----------------------------------------------------------------------------- the power law


def _random_power_law_points(rng: random.Random) -> tuple[list[float], list[float]]:
    n, scale, exponent = rng.randint(3, 8), rng.uniform(1, 20), rng.uniform(0.02, 1.0)
    xs = sorted({10 ** rng.uniform(2, 9) for _ in range(n)})
    return xs, [scale * x**-exponent * math.exp(rng.gauss(0, 0.05)) for x in xs]


@exercise(
    "power_law_exponent",
    _random_power_law_points,
    builds="the fit behind every scaling law: a least-squares line through the logs",
    difficulty=1,
    minutes=10,
    hints=(
        "Take the log of every x and every y: a power law y = a·x^-α becomes the straight line "
        "log y = log a - α·log x. The exponent is minus that line's slope.",
        "The least-squares slope through points (u, v) is Σ(u - ū)(v - v̄) / Σ(u - ū)², with ū "
        "and v̄ the means. Return its negative.",
    ),
    forbidden={
        "polyfit": "build the least-squares line yourself: two means and two sums",
        "lstsq": "build the least-squares line yourself: two means and two sums",
    },
)
def power_law_exponent(x: list[float], y: list[float]) -> float:
    """``alpha`` of the power law ``y = a * x**-alpha`` that fits the points best in log space:
    minus the slope of the least-squares line through ``(log x, log y)``."""
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )
    return -slope


@wrong_answer("power_law_exponent")
def _slope_not_its_negative(x: list[float], y: list[float]) -> float:
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


@wrong_answer("power_law_exponent")
def _line_through_the_end_points(x: list[float], y: list[float]) -> float:
    # Two points make a line, but not the best one through all of them.
    return -(math.log(y[-1]) - math.log(y[0])) / (math.log(x[-1]) - math.log(x[0]))


@wrong_answer("power_law_exponent")
def _fitted_without_logs(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return -sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sum(
        (a - mx) ** 2 for a in x
    )


# ----------------------------------------------------------------------------- arithmetic coding


def _random_interval_step(rng: random.Random) -> tuple[Fraction, Fraction, list[int], int]:
    freqs = [rng.randint(0, 9) for _ in range(rng.randint(2, 8))]
    symbol = rng.randrange(len(freqs))
    freqs[symbol] = max(freqs[symbol], 1)  # the symbol that came can be coded
    width = Fraction(rng.randint(1, 50), 2 ** rng.randint(6, 12))
    low = Fraction(rng.randint(0, 100), 128) * (1 - width)
    return low, width, freqs, symbol


@exercise(
    "narrow_interval",
    _random_interval_step,
    builds="one step of the arithmetic coder: the interval narrowed to a symbol's slice",
    difficulty=2,
    minutes=10,
    hints=(
        "The interval [low, low + width) is cut into one slice per symbol, in order, each of a "
        "size proportional to its frequency: symbol s gets width · freqs[s] / sum(freqs).",
        "Symbol s's slice starts after the slices of symbols 0 .. s-1: at low + width · "
        "sum(freqs[:s]) / sum(freqs). Return that start and the slice's width, as Fractions.",
    ),
)
def narrow_interval(
    low: Fraction, width: Fraction, freqs: list[int], symbol: int
) -> tuple[Fraction, Fraction]:
    """The coder's interval ``[low, low + width)`` narrowed to the slice of ``symbol``: slices
    in symbol order, each of a width proportional to its frequency. Exact (fractions), so a
    decoder that repeats the same steps finds the same slices."""
    total = sum(freqs)
    before = sum(freqs[:symbol])
    return low + width * Fraction(before, total), width * Fraction(freqs[symbol], total)


@wrong_answer("narrow_interval")
def _slice_counted_from_zero(
    low: Fraction, width: Fraction, freqs: list[int], symbol: int
) -> tuple[Fraction, Fraction]:
    # Forgets that the interval no longer starts at 0 after the first symbol.
    total = sum(freqs)
    return width * Fraction(sum(freqs[:symbol]), total), width * Fraction(freqs[symbol], total)


@wrong_answer("narrow_interval")
def _own_slice_counted_before_it(
    low: Fraction, width: Fraction, freqs: list[int], symbol: int
) -> tuple[Fraction, Fraction]:
    total = sum(freqs)
    return (
        low + width * Fraction(sum(freqs[: symbol + 1]), total),
        width * Fraction(freqs[symbol], total),
    )


@wrong_answer("narrow_interval")
def _slices_of_the_whole_unit_interval(
    low: Fraction, width: Fraction, freqs: list[int], symbol: int
) -> tuple[Fraction, Fraction]:
    # Slices sized as if the interval were still [0, 1): the width never shrinks with it.
    total = sum(freqs)
    return low + Fraction(sum(freqs[:symbol]), total), Fraction(freqs[symbol], total)


# ----------------------------------------------------------------------------- iso-FLOP verdict


def _random_sweep(rng: random.Random) -> tuple[list[list[float]], float]:
    """Per-window losses of a few sizes on the same windows: the windows' own difficulty is
    shared (so only a paired SE sees small differences), the sizes' offsets vary."""
    n_sizes, n_windows = rng.randint(3, 5), rng.randint(20, 60)
    difficulty = [rng.gauss(2.5, 0.5) for _ in range(n_windows)]
    best = rng.randrange(n_sizes)
    step = rng.choice([0.0, 0.005, 0.02, 0.1])
    offsets = [step * abs(i - best) + rng.uniform(0, 0.01) for i in range(n_sizes)]
    losses = [[d + off + rng.gauss(0, 0.02) for d in difficulty] for off in offsets]
    return losses, rng.choice([2.0, 3.0])


@exercise(
    "bracketed_minimum",
    _random_sweep,
    builds="the iso-FLOP sweep's verdict: the best size, only if both neighbours lose beyond "
    "the noise",
    difficulty=2,
    minutes=15,
    hints=(
        "Find the size with the lowest mean loss. If it is the first or the last, the sweep has "
        "not bracketed its minimum: return None.",
        "Compare it with each neighbour on the same windows: the per-window differences "
        "(neighbour - best), their mean, and its SE = sample standard deviation (n - 1) / √n. "
        "Both means must exceed k SEs, or return None.",
    ),
)
def bracketed_minimum(losses: list[list[float]], k: float) -> int | None:
    """The index of the size with the lowest mean loss, if a sweep brackets it: not at either
    end, and each neighbour's loss higher by more than ``k`` standard errors of the paired
    per-window difference. ``None`` otherwise: the sweep cannot say where the best size is."""
    means = [sum(row) / len(row) for row in losses]
    best = min(range(len(means)), key=means.__getitem__)
    if best in (0, len(losses) - 1):
        return None
    for neighbour in (best - 1, best + 1):
        gaps = [a - b for a, b in zip(losses[neighbour], losses[best], strict=True)]
        mean = sum(gaps) / len(gaps)
        sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1))
        if mean <= k * sd / math.sqrt(len(gaps)):
            return None
    return best


@wrong_answer("bracketed_minimum")
def _best_even_at_the_edge(losses: list[list[float]], k: float) -> int | None:
    means = [sum(row) / len(row) for row in losses]
    return min(range(len(means)), key=means.__getitem__)


@wrong_answer("bracketed_minimum")
def _unpaired_standard_error(losses: list[list[float]], k: float) -> int | None:
    # Treats the two sizes' windows as independent: the shared difficulty swamps the SE.
    def mean_and_se(row: list[float]) -> tuple[float, float]:
        m = sum(row) / len(row)
        sd = math.sqrt(sum((v - m) ** 2 for v in row) / (len(row) - 1))
        return m, sd / math.sqrt(len(row))

    means = [sum(row) / len(row) for row in losses]
    best = min(range(len(means)), key=means.__getitem__)
    if best in (0, len(losses) - 1):
        return None
    m_best, se_best = mean_and_se(losses[best])
    for neighbour in (best - 1, best + 1):
        m, se = mean_and_se(losses[neighbour])
        if m - m_best <= k * math.hypot(se, se_best):
            return None
    return best


@wrong_answer("bracketed_minimum")
def _any_lower_mean_will_do(losses: list[list[float]], k: float) -> int | None:
    # Brackets by the means alone: a difference inside the noise counts as a minimum.
    means = [sum(row) / len(row) for row in losses]
    best = min(range(len(means)), key=means.__getitem__)
    return None if best in (0, len(losses) - 1) else best
