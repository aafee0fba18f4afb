"""Lesson 03's exercises: the cross-entropy gradient, a new engine operation with its own
``_backward``, the topological sort behind ``backward()``, a momentum step."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from llmlab.exercises.registry import _all_close, exercise, wrong_answer

if TYPE_CHECKING:
    from llmlab.autograd import Value


def _random_logits(rng: random.Random) -> tuple[list[float], int]:
    n = rng.randint(2, 8)
    return ([rng.uniform(-5, 5) for _ in range(n)], rng.randrange(n))


@exercise(
    "cross_entropy_gradient",
    _random_logits,
    same=_all_close,
    builds="the gradient of the cross-entropy with respect to the logits",
    difficulty=2,
    minutes=15,
    hints=(
        "Derive it on paper for two logits first: d/dz_i of -log softmax(z)_target.",
        "The answer is softmax(z) with 1 taken off at the target.",
    ),
)
def cross_entropy_gradient(logits: list[float], target: int) -> list[float]:
    """d(cross-entropy)/d(logits) = softmax(logits) - onehot(target)."""
    import math

    top = max(logits)  # shifting by the largest logit keeps exp from overflowing
    exps = [math.exp(z - top) for z in logits]
    total = sum(exps)
    return [e / total - (i == target) for i, e in enumerate(exps)]


def _fresh_input(rng: random.Random) -> tuple:
    from llmlab.autograd import Value

    return (Value(rng.uniform(-6, 6), label="x"),)


def _same_node(got: Any, expected: Any) -> bool:
    """One new node on the input, with the reference's value and the reference's ``_backward``.

    The gradient is pushed back from ``3 * node``, so an answer that sets ``x.grad = ...`` where
    it should add ``... * out.grad`` is caught."""
    from llmlab.autograd import Value

    (x,) = expected._prev
    if not isinstance(got, Value) or tuple(got._prev) != (x,):
        return False  # built from several engine operations, or not on x
    slopes = []
    for node in (got, expected):
        x.grad = 0.5  # as if an earlier use of x had left a gradient: it must be added to
        (node * 3.0).backward()
        slopes.append(x.grad)
    return _all_close([got.data, slopes[0]], [expected.data, slopes[1]])


@exercise(
    "sigmoid_op",
    _fresh_input,
    same=_same_node,
    builds="a new engine operation: its value and its _backward",
    difficulty=2,
    minutes=15,
    hints=(
        "The node: Value(s, (x,), 'sigmoid'); its one input is x.",
        "_backward adds (+=) s * (1 - s) * out.grad to x.grad: x may have other uses.",
    ),
    allowed=("Value.__init__",),  # making the new node; its arithmetic is yours
)
def sigmoid_op(x: Value) -> Value:
    """sigmoid(x) = 1 / (1 + exp(-x)) as ONE new engine operation: its value, and a
    ``_backward`` that pushes ``s * (1 - s)`` times the output's gradient to ``x``."""
    import math

    from llmlab.autograd import Value

    s = 1 / (1 + math.exp(-x.data))
    out = Value(s, (x,), "sigmoid")

    def _backward() -> None:  # d sigmoid(x)/dx = s * (1 - s)
        x.grad += s * (1 - s) * out.grad

    out._backward = _backward
    return out


def _random_expression(rng: random.Random) -> tuple:
    """A random expression of engine Values, with reused intermediate results (a DAG)."""
    from llmlab.autograd import Value

    nodes = [Value(rng.uniform(-2, 2), label=f"x{i}") for i in range(rng.randint(1, 4))]
    for _ in range(rng.randint(0, 12)):
        a, b = rng.choice(nodes), rng.choice(nodes)
        nodes.append(rng.choice([a + b, a * b, a.tanh(), a - b]))
    return (nodes[-1],)


def _valid_order(got: Any, expected: Any) -> bool:
    """Every node of the reference's order exactly once, each after all of its inputs."""
    if not isinstance(got, list) or len(got) != len(expected):
        return False
    position = {id(node): i for i, node in enumerate(got)}
    if len(position) != len(got) or set(position) != {id(node) for node in expected}:
        return False
    return all(position[id(child)] < position[id(node)] for node in got for child in node._prev)


@exercise(
    "topological_order",
    _random_expression,
    same=_valid_order,
    builds="the order backward() visits nodes in",
    difficulty=2,
    minutes=15,
    hints=(
        "Depth first: visit a node's inputs (node._prev) before appending the node.",
        "A node reused by several others must appear once: remember the ones you have seen.",
    ),
)
def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on (``root`` included), each listed after its inputs
    (``node._prev``): depth first, a node is appended once all of its inputs are."""
    order: list[Value] = []
    seen: set[int] = set()

    def visit(node: Value) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    return order


def _random_step(rng: random.Random) -> tuple[list[float], list[float], list[float], float, float]:
    n = rng.randint(1, 5)
    params, grads, velocity = ([rng.uniform(-3, 3) for _ in range(n)] for _ in range(3))
    return params, grads, velocity, rng.choice([0.1, 0.01, 0.5]), rng.choice([0.0, 0.5, 0.9])


@exercise(
    "momentum_step",
    _random_step,
    same=_all_close,
    builds="one step of SGD with momentum, torch.optim.SGD's convention",
    minutes=10,
    hints=(
        "The velocity first: v = momentum * v + g.",
        "Then every parameter moves by -lr * v (the new v).",
    ),
)
def momentum_step(
    params: list[float], grads: list[float], velocity: list[float], lr: float, momentum: float
) -> tuple[list[float], list[float]]:
    """One step of SGD with momentum, as torch.optim.SGD does it: (new params, new velocity)."""
    velocity = [momentum * v + g for v, g in zip(velocity, grads, strict=True)]
    params = [p - lr * v for p, v in zip(params, velocity, strict=True)]
    return params, velocity


# Known wrong answers: the tests prove check() rejects each one.


@wrong_answer("cross_entropy_gradient")
def _softmax_only(logits: list[float], target: int) -> list[float]:
    import math

    exps = [math.exp(z - max(logits)) for z in logits]
    return [e / sum(exps) for e in exps]


@wrong_answer("cross_entropy_gradient")
def _sign_flipped(logits: list[float], target: int) -> list[float]:
    import math

    exps = [math.exp(z - max(logits)) for z in logits]
    return [(i == target) - e / sum(exps) for i, e in enumerate(exps)]


@wrong_answer("sigmoid_op")
def _sets_the_gradient(x: Value) -> Value:
    import math

    from llmlab.autograd import Value

    s = 1 / (1 + math.exp(-x.data))
    out = Value(s, (x,), "sigmoid")

    def _backward() -> None:
        x.grad = s * (1 - s) * out.grad  # = instead of +=: forgets x's other uses

    out._backward = _backward
    return out


@wrong_answer("sigmoid_op")
def _built_from_engine_operations(x: Value) -> Value:
    return 1 / (1 + (-x).exp())


@wrong_answer("topological_order")
def _repeats_shared_nodes(root: Value) -> list[Value]:
    order: list[Value] = []

    def visit(node: Value) -> None:
        for child in node._prev:
            visit(child)
        order.append(node)

    visit(root)
    return order


@wrong_answer("momentum_step")
def _steps_with_the_old_velocity(
    params: list[float], grads: list[float], velocity: list[float], lr: float, momentum: float
) -> tuple[list[float], list[float]]:
    moved = [p - lr * (v + g) for p, v, g in zip(params, velocity, grads, strict=True)]
    return moved, [momentum * v + g for v, g in zip(velocity, grads, strict=True)]
