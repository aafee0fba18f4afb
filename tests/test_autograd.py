"""llmlab.autograd against torch.autograd, finite differences and the textbook examples."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmlab.autograd import (
    MLP,
    Layer,
    Neuron,
    Value,
    draw_graph,
    numerical_gradient,
    softmax_cross_entropy,
)

# Each operation is written once and runs on Values and on torch tensors alike. Operands that
# would leave a function's domain are made safe the same way in both (b*b + 1 > 0, ...).
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
    "radd": lambda a, b: 0.5 + a,
    "rsub": lambda a, b: 1.5 - a,
    "rmul": lambda a, b: -2 * a,
    "rdiv": lambda a, b: 1.5 / (a * a + 0.5),
    "neg": lambda a, b: -a,
    "square": lambda a, b: a**2,
    "cube": lambda a, b: a**3,
    "sqrt": lambda a, b: (a * a + 1) ** 0.5,
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: (a * a + 0.5).log(),
    "tanh": lambda a, b: a.tanh(),
    "relu": lambda a, b: a.relu(),
}
SMOOTH_OPS = sorted(set(OPS) - {"relu"})  # finite differences are wrong at a kink

leaves_strategy = st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=4)


def programs(ops):
    """A random expression graph: each step applies an op to any earlier nodes (so reuses them)."""
    step = st.tuples(st.sampled_from(ops), st.integers(0, 99), st.integers(0, 99))
    return st.lists(step, min_size=1, max_size=12)


def run(program, leaves):
    """Every node of the program's graph; operands are picked among all nodes made so far."""
    nodes = list(leaves)
    for name, i, j in program:
        nodes.append(OPS[name](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    return nodes


@given(program=programs(sorted(OPS)), leaves=leaves_strategy)
@settings(max_examples=300, deadline=None)
def test_engine_matches_torch_autograd_on_random_graphs(program, leaves):
    try:
        ours = run(program, [Value(x) for x in leaves])
    except OverflowError:  # e.g. exp(exp(exp(2))): out of float range, nothing to compare
        assume(False)
    # The output sums every node, so every node is used at least twice: a reused node must
    # collect the gradient from all its uses.
    out = sum(ours)
    assume(all(abs(v.data) < 1e8 for v in ours))
    out.backward()

    theirs = run(
        program, [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    )
    for t in theirs:
        if not t.is_leaf:
            t.retain_grad()
    sum(theirs).backward()

    assert out.data == pytest.approx(sum(theirs).item(), rel=1e-9, abs=1e-9)
    for v, t in zip(ours, theirs, strict=True):
        assert v.data == pytest.approx(t.item(), rel=1e-9, abs=1e-12)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-7, abs=1e-9)


@given(program=programs(SMOOTH_OPS), leaves=leaves_strategy)
@settings(max_examples=150, deadline=None)
def test_engine_matches_finite_differences(program, leaves):
    def f(xs):
        return run(program, xs)[-1]

    xs = [Value(x) for x in leaves]
    try:
        out = f(xs)
    except OverflowError:
        assume(False)
    assume(abs(out.data) < 1e4)
    out.backward()
    numeric = numerical_gradient(f, leaves, eps=1e-6)
    for x, g in zip(xs, numeric, strict=True):
        assert x.grad == pytest.approx(g, rel=1e-4, abs=1e-5)


def test_textbook_expression_golden_values():
    """micrograd's first example, worked by hand: L = (a*b + c) * f."""
    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    assert L.data == -8.0
    assert [a.grad, b.grad, c.grad, f.grad, e.grad, d.grad] == [6.0, -4.0, -2.0, 4.0, -2.0, -2.0]


def test_tanh_neuron_golden_values():
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)  # chosen so that n = 0.8814 and tanh(n) = 1/sqrt(2)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert o.data == pytest.approx(1 / math.sqrt(2))
    grads = [x1.grad, w1.grad, x2.grad, w2.grad]
    assert grads == pytest.approx([-1.5, 1.0, 0.5, 0.0])


def test_numpy_scalars_are_numbers_too():
    import numpy as np

    y = Value(np.int64(3)) * np.float32(2.0) + np.float64(1.0)
    assert y.data == 7.0 and isinstance(y.data, float)


def test_reused_node_accumulates():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7, collected from three uses
    y.backward()
    assert x.grad == 7.0


def test_backward_twice_accumulates_leaves_like_torch_and_zero_grad_resets():
    x = Value(0.5)
    y = (x * 3).tanh() * x
    y.backward()
    once = x.grad
    y.backward()  # intermediate grads restart from zero; the leaf adds a second copy
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    ty = (t * 3).tanh() * t
    ty.backward(retain_graph=True)
    ty.backward()
    assert x.grad == pytest.approx(2 * once) and x.grad == pytest.approx(t.grad.item())
    mlp = MLP(2, [3, 1])
    mlp([1.0, -1.0])[0].backward()
    assert any(p.grad != 0 for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0 for p in mlp.parameters())


def test_a_long_chain_does_not_hit_the_recursion_limit():
    xs = [Value(float(i)) for i in range(5000)]
    total = sum(x * x for x in xs)  # a chain 5000 additions deep
    total.backward()
    assert xs[1234].grad == 2 * 1234


def test_mlp_matches_torch_with_the_same_weights():
    random.seed(0)
    mlp = MLP(3, [4, 4, 1])
    assert len(mlp.parameters()) == (3 * 4 + 4) + (4 * 4 + 4) + (4 + 1)
    x = [2.0, 3.0, -1.0]
    loss = (mlp(x)[0] - 1.0) ** 2
    loss.backward()

    def tensor(rows):
        return torch.tensor(rows, dtype=torch.float64, requires_grad=True)

    weights = [tensor([[w.data for w in n.w] for n in layer.neurons]) for layer in mlp.layers]
    biases = [tensor([n.b.data for n in layer.neurons]) for layer in mlp.layers]
    h = torch.tensor(x, dtype=torch.float64)
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = w @ h + b
        h = h.tanh() if i < len(weights) - 1 else h
    torch_loss = (h[0] - 1.0) ** 2
    torch_loss.backward()

    assert loss.data == pytest.approx(torch_loss.item(), rel=1e-12)
    for layer, w, b in zip(mlp.layers, weights, biases, strict=True):
        for row, neuron in enumerate(layer.neurons):
            assert [p.grad for p in neuron.w] == pytest.approx(w.grad[row].tolist(), rel=1e-9)
            assert neuron.b.grad == pytest.approx(b.grad[row].item(), rel=1e-9)


def test_gradient_descent_on_an_mlp_fits_four_points():
    random.seed(1)
    mlp = MLP(3, [4, 4, 1])
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def loss() -> Value:
        return sum((mlp(x)[0] - y) ** 2 for x, y in zip(xs, ys, strict=True))

    first = loss().data
    for _ in range(40):
        current = loss()
        mlp.zero_grad()
        current.backward()
        for p in mlp.parameters():
            p.data -= 0.05 * p.grad
    assert loss().data < 0.05 * first


def test_layer_and_neuron_shapes():
    assert len(Layer(3, 5)([1.0, 2.0, 3.0])) == 5
    assert len(Neuron(3).parameters()) == 4
    assert Neuron(2, activation="relu")([-100.0, -100.0]).data >= 0.0


def test_softmax_cross_entropy_matches_torch_and_its_gradient_is_softmax_minus_onehot():
    raw = [1.5, -0.3, 2.2, 0.0]
    logits = [Value(z) for z in raw]
    loss = softmax_cross_entropy(logits, target=2)
    loss.backward()
    t = torch.tensor(raw, dtype=torch.float64, requires_grad=True)
    expected = F.cross_entropy(t[None], torch.tensor([2]))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    onehot = torch.nn.functional.one_hot(torch.tensor(2), 4)
    assert [z.grad for z in logits] == pytest.approx((t.softmax(0) - onehot).tolist(), abs=1e-12)
    assert [z.grad for z in logits] == pytest.approx(t.grad.tolist(), abs=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = [Value(1000.0), Value(1001.0), Value(999.0)]
    loss = softmax_cross_entropy(logits, 1)
    loss.backward()
    expected = F.cross_entropy(
        torch.tensor([[1000.0, 1001.0, 999.0]], dtype=torch.float64), torch.tensor([1])
    )
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert sum(z.grad for z in logits) == pytest.approx(0.0, abs=1e-12)


def test_numerical_gradient_of_a_plain_function():
    assert numerical_gradient(lambda xs: xs[0] ** 3 * xs[1], [2.0, 0.5]) == pytest.approx(
        [6.0, 8.0], rel=1e-6
    )
    assert numerical_gradient(lambda xs: 4.0, [1.0]) == [0.0]  # may return a plain number


def test_draw_graph_shows_every_value_with_data_and_grad():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = (a * b + 10) * -2
    L.label = "L"
    L.backward()
    fig = draw_graph(L)
    texts = fig.axes[0].texts
    values = [t.get_text() for t in texts if t.get_gid() == "value"]
    ops = sorted(t.get_text() for t in texts if t.get_gid() == "op")
    assert len(values) == 7 and ops == ["*", "*", "+"]  # a, b, a*b, 10, +, -2, L
    assert "a | data 2\ngrad 6" in values and "L | data -8\ngrad 1" in values
    fig.canvas.draw()  # the layout and arrows render without error


def test_draw_graph_refuses_huge_graphs():
    x = Value(1.0)
    big = sum(x * i for i in range(50))
    with pytest.raises(ValueError, match="max_nodes=60"):
        draw_graph(big)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Value("3"), TypeError, "got str"),
        (lambda: Value(True), TypeError, "got bool"),
        (lambda: Value(1.0) + "a", TypeError, "str"),
        (lambda: "a" + Value(1.0), TypeError, "str"),
        (lambda: Value(1.0) * [2.0], TypeError, "list"),
        (lambda: None * Value(1.0), TypeError, "NoneType"),
        (lambda: Value(1.0) - torch.tensor(1.0), TypeError, "Tensor"),
        (lambda: Value(2.0) ** Value(2.0), TypeError, "exponent k, got Value"),
        (lambda: Value(-1.0).log(), ValueError, "positive"),
        (lambda: Value(-8.0) ** 0.5, ValueError, "fractional power"),
        (lambda: Neuron(2)([1.0, 2.0, 3.0]), ValueError, "takes 2 inputs, got 3"),
        (lambda: Neuron(2, activation="sigmoid"), ValueError, "activation"),
        (lambda: MLP(2, []), ValueError, "layer_sizes"),
        (lambda: softmax_cross_entropy([1.0, 2.0], 2), ValueError, r"\[0, 2\)"),
        (lambda: softmax_cross_entropy([], 0), ValueError, "empty"),
        (lambda: softmax_cross_entropy(["x"], 0), TypeError, "str"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_decision_boundary_draws_both_regions_and_every_point():
    from llmlab import viz

    points, labels = [(-1.0, 0.0), (1.0, 0.0), (0.0, 1.0)], [0, 1, 1]
    figure = viz.decision_boundary(lambda a, b: a, points, labels, resolution=10)
    axes = figure.axes[0]
    assert sum(len(c.get_offsets()) for c in axes.collections if hasattr(c, "get_offsets")) >= 3
    with pytest.raises(ValueError, match="resolution"):
        viz.decision_boundary(lambda a, b: a, points, labels, resolution=1)
    with pytest.raises(ValueError, match="points and labels"):
        viz.decision_boundary(lambda a, b: a, points, [0, 1])
