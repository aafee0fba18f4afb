"""Lesson 03's exercises: the engine's backward pass (the topological sort, then the walk that
fills every ``.grad``) and a new engine operation with its own ``_backward``."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from llmlab.exercises.registry import _all_close, exercise, wrong_answer

if TYPE_CHECKING:
    from llmlab.autograd import Value


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
    builds="a topological order: every node of the graph after its inputs",
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


def _reusing_expression(rng: random.Random) -> tuple:
    """A random expression whose intermediate results are reused, so that a node gets gradient
    from several places (the case a wrong order or a repeated visit gets wrong)."""
    from llmlab.autograd import Value

    nodes = [Value(rng.uniform(-1.5, 1.5), label=f"x{i}") for i in range(rng.randint(1, 3))]
    for _ in range(rng.randint(2, 10)):
        a, b = rng.choice(nodes[-3:]), rng.choice(nodes)  # recent results, used again
        nodes.append(rng.choice([a + b, a * b.tanh(), a.tanh(), a - b, a.tanh().exp()]))  # bounded
    return (nodes[-1],)


def _gradients(args: tuple) -> list[float]:
    """Every node's gradient after the call, the expression's inputs first (each node after its
    inputs, in the library's order: both copies of a case list their nodes alike)."""
    from llmlab.autograd import _topological_order

    return [node.grad for node in _topological_order(args[0])]


# The local derivatives are the engine's (each node's _backward); the walk over them is yours.
_LOCAL_DERIVATIVES = tuple(
    f"Value.{op}.<locals>._backward" for op in ("__add__", "__mul__", "tanh", "exp")
) + ("Value.__init__.<locals>.<lambda>",)  # a leaf's _backward: nothing to push


@exercise(
    "backward",
    _reusing_expression,
    same=_all_close,
    builds="the engine's backward pass: a topological order, then every .grad filled",
    difficulty=3,
    minutes=25,
    hints=(
        "First list the nodes so that each comes after its inputs (node._prev): a depth-first "
        "visit that appends a node once its inputs are appended, and remembers what it has seen.",
        "Then root.grad = 1.0 and call node._backward() for every node in that list, reversed: "
        "a node pushes its gradient on only after all of its uses have added theirs.",
    ),
    allowed=_LOCAL_DERIVATIVES,
    after=_gradients,
)
def backward(root: Value) -> None:
    """Fill ``.grad`` of every node ``root`` depends on with d(root)/d(node): sort the graph so
    each node comes after its inputs, then push gradients back in the reverse of that order."""
    order: list[Value] = []
    seen: set[int] = set()

    def visit(node: Value) -> None:  # depth first: a node is listed after all of its inputs
        if id(node) not in seen:
            seen.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    root.grad = 1.0  # d(root)/d(root)
    for node in reversed(order):  # every use of a node reports before the node pushes on
        node._backward()


# Known wrong answers: the tests prove check() rejects each one.


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


@wrong_answer("backward")
def _walks_forwards(root: Value) -> None:
    order: list[Value] = []
    seen: set[int] = set()

    def visit(node: Value) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    root.grad = 1.0
    for node in order:  # inputs first: the leaves push nothing, nothing reaches them
        node._backward()


@wrong_answer("backward")
def _visits_shared_nodes_twice(root: Value) -> None:
    root.grad = 1.0

    def push(node: Value) -> None:  # a tree walk: a reused node pushes its gradient twice
        node._backward()
        for child in node._prev:
            push(child)

    push(root)


@wrong_answer("backward")
def _breadth_first(root: Value) -> None:
    root.grad = 1.0
    queue, seen = [root], {id(root)}
    while queue:  # nearest first: a node may push on before a later use of it has reported
        node = queue.pop(0)
        node._backward()
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)


@wrong_answer("backward")
def _forgets_the_seed(root: Value) -> None:
    order: list[Value] = []
    seen: set[int] = set()

    def visit(node: Value) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    for node in reversed(order):  # root.grad is still 0: every gradient stays 0
        node._backward()
