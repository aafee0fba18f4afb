"""llmlab.stats: standard errors that match their formulas and what resampling finds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmlab import stats


def test_the_standard_error_of_a_mean_is_s_over_root_n():
    values = [1.0, 2.0, 4.0, 7.0]
    estimate = stats.mean(values)
    assert estimate.value == 3.5 and estimate.n == 4
    assert math.isclose(estimate.se, np.std(values, ddof=1) / 2)
    assert stats.mean(torch.tensor(values, requires_grad=True)) == estimate


def test_pairing_cancels_what_the_items_share():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 1, 400)  # each window's own difficulty, shared by both models
    a = difficulty + rng.normal(0, 0.05, 400)
    b = difficulty + 0.02 + rng.normal(0, 0.05, 400)
    paired, unpaired = stats.difference(a, b), stats.difference(a, b, paired=False)
    assert math.isclose(paired.value, unpaired.value)
    assert paired.se < unpaired.se / 5
    assert paired.beyond_noise(2) and not unpaired.beyond_noise(2)


def test_a_proportion_and_its_interval():
    estimate = stats.proportion(30, 120)
    assert estimate.value == 0.25 and math.isclose(estimate.se, math.sqrt(0.25 * 0.75 / 120))
    low, high = estimate.interval()
    assert math.isclose(high - low, 2 * 1.96 * estimate.se)
    assert stats.proportion(0, 10).se == 0 and stats.proportion(0, 10).z == 0


def test_the_bootstrap_agrees_with_the_formula_and_keeps_pairs():
    rng = np.random.default_rng(1)
    values = rng.normal(2, 3, 500)
    low, high = stats.bootstrap(values, seed=3)
    formula = stats.mean(values).interval()
    assert abs((high - low) - (formula[1] - formula[0])) < 0.1 * (formula[1] - formula[0])
    assert stats.bootstrap(values, seed=3) == (low, high)
    pairs = np.stack([values, values + 1], axis=1)
    gap = stats.bootstrap(pairs, lambda rows: float((rows[:, 1] - rows[:, 0]).mean()))
    assert gap == pytest.approx((1.0, 1.0))  # resampled together, the pairing survives


def test_the_cluster_bootstrap_resamples_whole_groups():
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 1, 40)  # 40 groups of 25 items that share their group's value
    values = np.repeat(centres, 25) + rng.normal(0, 0.01, 1000)
    groups = np.repeat(np.arange(40), 25)
    low, high = stats.bootstrap(values, groups=groups, seed=1)
    formula = stats.mean(centres).interval()  # the 40 groups are the independent draws
    assert abs((high - low) - (formula[1] - formula[0])) < 0.15 * (formula[1] - formula[0])
    items = stats.bootstrap(values, seed=1)  # as if the 1000 items were independent
    assert items[1] - items[0] < 0.3 * (high - low)
    sizes = stats.bootstrap(values, len, groups=groups, n_resamples=100)
    assert sizes == (1000, 1000)  # equal groups: every resample holds 40 whole groups
    with pytest.raises(ValueError, match="groups must have one label per item"):
        stats.bootstrap(values, groups=groups[:-1])
    with pytest.raises(ValueError, match="at least 2 distinct labels"):
        stats.bootstrap(values, groups=np.zeros(1000))


def test_printing_an_estimate():
    estimate = stats.Estimate(0.12345, 0.0042, 64)
    assert f"{estimate:.3f}" == "0.123 ± 0.004"
    assert str(estimate) == "0.1235 ± 0.0042 (SE, n=64)"
    assert f"{estimate:+.2f}" == "+0.12 ± 0.00"  # the sign is the value's, never the SE's
    assert f"{stats.Estimate(-0.5, 0.25, 9):>+6.2f}" == " -0.50 ±   0.25"
    assert f"{stats.Estimate(0.5, 0.25, 9): .1f}" == " 0.5 ± 0.2"
    assert f"{stats.Estimate(3.0, 0.5, 9):+>6.1f}" == "+++3.0 ± +++0.5"  # '+' as a fill stays


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.mean([1.0]), "at least 2 values"),
        (lambda: stats.mean([1.0, math.nan]), "NaN or an infinity"),
        (lambda: stats.difference([1, 2], [1, 2, 3]), "one value per item"),
        (lambda: stats.proportion(5, 4), r"successes must be an int in 0..4"),
        (lambda: stats.bootstrap([1, 2, 3], level=1), r"level must be a number in \(0, 1\)"),
        (lambda: stats.bootstrap([1, 2, 3], n_resamples=10), "n_resamples must be an int >= 100"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
