"""llmlab.calibration: bins, ECE, Brier and the selective curve against hand-made cases and brute
force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmlab import calibration


def test_bins_split_confidence_into_equal_widths_and_keep_one_in_the_last():
    bins = calibration.reliability_bins([0.05, 0.15, 0.55, 1.0], [0, 1, 1, 1], n_bins=2)
    assert [b.count for b in bins] == [2, 2]
    assert bins[0].confidence == pytest.approx(0.1) and bins[0].accuracy == 0.5
    assert bins[1].confidence == pytest.approx(0.775) and bins[1].accuracy == 1.0
    empty = calibration.reliability_bins([0.95], [1], n_bins=4)
    assert [b.count for b in empty] == [0, 0, 0, 1] and math.isnan(empty[0].accuracy)


def test_ece_by_hand():
    # Bin [0, 0.5): confidence 0.25, 0.25, accuracy 0.5 -> gap 0.25, weight 2/5.
    # Bin [0.5, 1]: confidence 0.75 x3, accuracy 1/3 -> gap 5/12, weight 3/5.
    conf, right = [0.25, 0.25, 0.75, 0.75, 0.75], [1, 0, 1, 0, 0]
    expected = 2 / 5 * 0.25 + 3 / 5 * (0.75 - 1 / 3)
    assert calibration.expected_calibration_error(conf, right, n_bins=2) == pytest.approx(expected)


def test_a_calibrated_forecaster_has_small_ece_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20_000)
    right = rng.uniform(0, 1, conf.size) < conf  # right exactly as often as it says
    assert calibration.expected_calibration_error(conf, right) < 0.02
    sure = np.full(conf.size, 0.99)  # always 99% sure, right about half the time
    assert calibration.expected_calibration_error(sure, right) == pytest.approx(0.99 - right.mean())


def test_brier_against_its_definition_with_options_of_different_sizes():
    probabilities = [[0.5, 0.5], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0, 0.0]]
    labels = [0, 2, 1]
    by_hand = [0.25 + 0.25, 0.04 + 0.09 + 0.25, 1.0 + 1.0]
    estimate = calibration.brier_score(probabilities, labels)
    assert estimate.value == pytest.approx(np.mean(by_hand))
    assert estimate.se == pytest.approx(np.std(by_hand, ddof=1) / math.sqrt(3))
    uniform = calibration.brier_score([[1 / 6] * 6] * 2, [0, 5])
    assert uniform.value == pytest.approx(1 - 1 / 6) and uniform.se == 0


def test_the_selective_curve_keeps_the_surest_first_and_never_splits_ties():
    conf = [0.9, 0.2, 0.6, 0.6, 0.4]
    right = [1, 0, 1, 0, 1]
    thresholds, coverage, accuracy = calibration.selective_curve(conf, right)
    assert thresholds.tolist() == [0.9, 0.6, 0.4, 0.2]
    assert coverage.tolist() == [0.2, 0.6, 0.8, 1.0]
    assert accuracy.tolist() == pytest.approx([1.0, 2 / 3, 3 / 4, 3 / 5])
    # Brute force: every threshold's accuracy among the answers kept.
    for t, c, a in zip(thresholds, coverage, accuracy, strict=True):
        kept = [r for x, r in zip(conf, right, strict=True) if x >= t]
        assert c == len(kept) / len(conf) and a == pytest.approx(np.mean(kept))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="confidence must hold probabilities"):
        calibration.expected_calibration_error([1.2], [1])
    with pytest.raises(ValueError, match="correct must have one value per confidence"):
        calibration.reliability_bins([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="correct must hold only 0/1"):
        calibration.selective_curve([0.5], [2])
    with pytest.raises(ValueError, match="n_bins"):
        calibration.reliability_bins([0.5], [1], n_bins=0)
    with pytest.raises(ValueError, match="confidence is empty"):
        calibration.expected_calibration_error([], [])
    with pytest.raises(ValueError, match=r"probabilities\[0\] must be a distribution"):
        calibration.brier_score([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match=r"labels\[0\]"):
        calibration.brier_score([[0.5, 0.5]], [2])


def test_calibrated_ece_is_the_noise_floor_of_a_calibrated_model():
    confidence = np.full(40, 0.3)
    floor = calibration.calibrated_ece(confidence, n_bins=10, n_simulations=2000, seed=1)
    # one bin of 40 answers: ECE = |k/40 - 0.3| with k ~ Binomial(40, 0.3)
    k = np.arange(41)
    pmf = np.array([math.comb(40, int(i)) * 0.3**i * 0.7 ** (40 - i) for i in k])
    assert floor.mean() == pytest.approx(float((pmf * abs(k / 40 - 0.3)).sum()), abs=0.004)
    assert (calibration.calibrated_ece([0.0, 1.0, 1.0], n_simulations=50) == 0).all()
    assert (floor == calibration.calibrated_ece(confidence, 10, 2000, seed=1)).all()
    with pytest.raises(ValueError, match="n_simulations"):
        calibration.calibrated_ece(confidence, n_simulations=0)
    with pytest.raises(ValueError, match="confidence"):
        calibration.calibrated_ece([1.5])
