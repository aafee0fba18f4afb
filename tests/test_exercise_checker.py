"""The exercise checker cannot be fooled by the library or by known wrong answers.

Every exercise: its worked solution, copied out of the library the way a learner copies it,
passes; handing the work to llmlab (the reference itself, or a function that calls it) fails
with a message that says so; every registered wrong answer fails on a case, not by accident.
"""

from __future__ import annotations
import __future__

import inspect
import sys
from collections.abc import Callable
from typing import Any

import pytest

from llmlab import exercises
from llmlab.exercises import registry

NAMES = sorted(registry.EXERCISES)
WRONG = [(name, w) for name in NAMES for w in registry.EXERCISES[name].wrong]


def outside_the_library(function: Callable[..., Any], source: str | None = None) -> Callable:
    """``function`` compiled again from its source as if typed in a notebook cell: the same
    code, but not the library's (the checker tells the two apart by where code comes from)."""
    source = source or registry.without_decorators(inspect.getsource(function))
    namespace = dict(vars(sys.modules[function.__module__]))
    flags = __future__.annotations.compiler_flag
    exec(compile(source, "<ipython-input>", "exec", flags=flags, dont_inherit=True), namespace)
    return namespace[function.__name__]


@pytest.mark.parametrize("name", NAMES)
def test_the_worked_solution_typed_by_a_learner_passes(name, capsys):
    reference = registry.EXERCISES[name].reference
    copy = outside_the_library(reference, registry.solution_source(name))
    assert exercises.check(name, copy, n_cases=8), capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_handing_the_work_to_llmlab_fails_and_says_so(name, capsys):
    reference = registry.EXERCISES[name].reference
    assert not exercises.check(name, reference, n_cases=3)
    assert "called llmlab's own" in capsys.readouterr().out

    def delegating(*args):
        return reference(*args)

    assert not exercises.check(name, delegating, n_cases=3)
    assert f"called llmlab's own `lesson{reference.__module__[-2:]}.{name}`" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(("name", "answer"), WRONG, ids=[f"{n}-{w.__name__}" for n, w in WRONG])
def test_every_known_wrong_answer_is_rejected_on_its_merits(name, answer, capsys):
    assert not exercises.check(name, outside_the_library(answer), n_cases=25)
    verdict = capsys.readouterr().out
    assert f".{name}`" not in verdict  # not rejected for calling the reference
    assert "differs" in verdict or "your function" in verdict


def test_the_lessons_00_to_04_exercises_each_have_known_wrong_answers_and_hints():
    for name in NAMES:
        item = registry.EXERCISES[name]
        if item.reference.__module__[-2:] in {"00", "01", "02", "03", "04"}:
            assert item.builds and item.hints, name
            assert item.wrong, f"{name} has no known wrong answers"


def test_a_forbidden_operation_is_named(capsys):
    def with_cumsum(x):
        import torch

        return x.cumsum(0) / torch.arange(1, len(x) + 1)[:, None]

    assert not exercises.check("causal_average", with_cumsum)
    assert "your function used `cumsum`: the point is one matrix product" in capsys.readouterr().out


def test_allowed_library_code_may_call_anything_it_needs(capsys):
    """greedy_until may run the model (GPT.forward uses torch's fused attention inside)."""
    copy = outside_the_library(exercises.greedy_until)
    assert exercises.check("greedy_until", copy, n_cases=5)
    assert "all 5 cases match" in capsys.readouterr().out


def test_the_header_and_hints():
    assert exercises.header("attention_head") == (
        "Exercise `attention_head`: one causal attention head: projections, scaled scores, the "
        "mask, the softmax · ★★☆ medium · about 15 min"
    )
    exercises.hint("attention_head", 2)
    with pytest.raises(ValueError, match=r"number must be an int in 1..2"):
        exercises.hint("attention_head", 3)


def test_the_checker_leaves_no_profiler_behind():
    exercises.check("causal_average", lambda x: x, n_cases=2)
    assert sys.getprofile() is None


def test_torchs_python_level_attention_is_refused_too(capsys):
    """nn.MultiheadAttention with need_weights=True never reaches the fused C kernel: its Python
    core, F.multi_head_attention_forward, is forbidden by name."""
    import torch
    import torch.nn.functional as F

    def through_torch(x, w_q, w_k, w_v, w_o, n_heads):
        w_qkv = torch.cat([w_q.T, w_k.T, w_v.T])
        mask = torch.ones(len(x), len(x), dtype=torch.bool).triu(1)
        out, _ = F.multi_head_attention_forward(
            *(x[:, None],) * 3, x.shape[-1], n_heads, w_qkv, None, None, None, False, 0.0,
            w_o.T, None, need_weights=True, attn_mask=mask,
        )  # fmt: skip
        return out[:, 0]

    assert not exercises.check("multi_head_attention", through_torch, n_cases=2)
    assert "your function used `multi_head_attention_forward`" in capsys.readouterr().out
