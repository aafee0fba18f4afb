"""The shared argument checks, the evaluation-mode switch and the batch sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmlab import checks
from llmlab.modes import evaluating
from llmlab.train import Batch, sampled_batches


@pytest.mark.parametrize("value", [0, 7, np.int64(3), np.int8(-2)])
def test_ints_are_ints_numpy_included(value):
    assert checks.is_int(value)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, np.float32(1)])
def test_bools_floats_and_strings_are_not_ints(value):
    assert not checks.is_int(value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: checks.integer(0, "n", 1), "n must be an int >= 1, got 0"),
        (lambda: checks.integer(True, "n", 1), "n must be an int >= 1, got True"),
        (lambda: checks.integer(9, "k", 0, 8), "k must be an int in 0..8, got 9"),
        (lambda: checks.integer(2.0, "k", optional=True), "k must be None or an int, got 2.0"),
        (
            lambda: checks.number(1.5, "top_p", 0, 1, low_open=True),
            "top_p must be a number in (0, 1], got 1.5",
        ),
        (
            lambda: checks.number(float("nan"), "t", 0, hint="0 = greedy"),
            "t must be a finite number >= 0 (0 = greedy), got nan",
        ),
        (lambda: checks.number(float("inf"), "lr", 0), "lr must be a finite number >= 0, got inf"),
        (lambda: checks.number(0, "beta", 0, low_open=True), "beta must be a finite number > 0"),
        (lambda: checks.number(1, "p", 0, 1, high_open=True), "p must be a number in [0, 1), got"),
        (lambda: checks.number(False, "x"), "x must be a finite number, got False"),
        (lambda: checks.one_of("b", "mode", ("a",)), "mode must be one of ('a',), got 'b'"),
    ],
)
def test_a_refused_value_is_named_with_what_is_allowed(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)


def test_accepted_values_come_back_as_plain_python_numbers():
    assert (
        checks.integer(np.int64(4), "n", 1, 4) == 4
        and type(checks.integer(np.int64(4), "n")) is int
    )
    assert checks.number(np.float32(0.5), "p", 0, 1) == 0.5
    assert type(checks.number(1, "p", 0, 1)) is float
    assert checks.integer(None, "k", 1, optional=True) is None
    assert checks.number(None, "p", 0, 1, optional=True) is None
    assert checks.flag(False, "bias") is False
    with pytest.raises(TypeError, match="bias must be a bool"):
        checks.flag(1, "bias")


def test_evaluating_switches_to_eval_and_restores_the_mode_even_on_error():
    model = torch.nn.Sequential(torch.nn.Dropout(0.5)).train()
    with evaluating(model) as same:
        assert same is model and not model.training and not model[0].training
    assert model.training and model[0].training
    with pytest.raises(RuntimeError), evaluating(model):
        raise RuntimeError("stop")
    assert model.training
    model.eval()
    with evaluating(model):
        pass
    assert not model.training


def test_sampled_batches_draw_with_the_generator_only():
    rows = list(range(10))
    draw = sampled_batches(rows, lambda picked: Batch({"x": torch.tensor(picked)}, len(picked)))
    first = draw(torch.Generator().manual_seed(3), 6)
    again = draw(torch.Generator().manual_seed(3), 6)
    expected = torch.randint(10, (6,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(first["x"], again["x"]) and torch.equal(first["x"], expected)
    assert first.tokens == 6
