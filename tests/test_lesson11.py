"""Lesson 11: each exercise's reference against the library function the lesson uses, on the
checker's own cases (the worked solution a learner sees computes what the lesson computes)."""

import random

import pytest

from llmlab import calibration, exercises, memorization, retrieval
from llmlab.exercises import registry

CASES = 200


def _cases(name: str):
    item, rng = exercises.EXERCISES[name], random.Random(0)
    return [item.cases(rng) for _ in range(CASES)]


def test_expected_calibration_error_is_the_librarys():
    for confidence, correct, n_bins in _cases("expected_calibration_error"):
        ours = exercises.expected_calibration_error(confidence, correct, n_bins)
        theirs = calibration.expected_calibration_error(confidence, correct, n_bins)
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (confidence, correct, n_bins)


def test_canary_exposure_is_the_librarys():
    for secret, losses in _cases("canary_exposure"):
        ours = exercises.canary_exposure(secret, losses)
        assert ours == pytest.approx(memorization.exposure(secret, losses), abs=1e-12)


def test_tfidf_scores_are_the_retrievers():
    for query, passages in _cases("tfidf_scores"):
        ours = exercises.tfidf_scores(query, passages)
        found = retrieval.TfidfRetriever(passages).scores(query)
        theirs = [found.get(i, 0.0) for i in range(len(passages))]
        assert registry._all_close(ours, theirs), (query, passages)


def test_the_cases_reach_the_awkward_inputs():
    """The checker's cases hold what a wrong answer gets wrong: confidence exactly 1, tied
    losses with the secret first and last, passages sharing no word with the query."""
    ece = _cases("expected_calibration_error")
    assert any(1.0 in c for c, _, _ in ece) and any(n == 1 for _, _, n in ece)
    exposure = _cases("canary_exposure")
    assert any(s == min(losses) for s, losses in exposure)
    assert any(s == max(losses) and len(losses) > 1 for s, losses in exposure)
    assert any(len(set(losses.tolist())) < len(losses) for _, losses in exposure)
    scores = [exercises.tfidf_scores(q, p) for q, p in _cases("tfidf_scores")]
    assert any(0.0 in s for s in scores) and any(all(v == 0.0 for v in s) for s in scores)
