"""A scalar autograd engine: backpropagation you can read in one sitting (after micrograd).

Every arithmetic operation on a :class:`Value` records a node in a graph: its result, its inputs
and a small function that knows the local derivative. ``loss.backward()`` then walks the graph
from the loss back to the inputs in reverse topological order and applies the chain rule::

    input.grad += (d output / d input) * output.grad

The ``+=`` matters: a value used twice (``x * x``) receives gradient along both paths. Leaves
(values you created) keep accumulating across ``backward()`` calls, as in PyTorch, so zero them
before each step with :meth:`Module.zero_grad` (or ``v.grad = 0``).

:class:`Neuron`, :class:`Layer` and :class:`MLP` build a small neural network out of Values;
:func:`draw_graph` draws an expression with the data and gradient of every node.
"""

from __future__ import annotations

import math
import numbers
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llmlab import checks

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

Number = int | float  # NumPy scalars (np.float32, np.int64, ...) are accepted too


class Value:
    """A number that remembers how it was computed, so gradients can flow back through it."""

    def __init__(
        self, data: Number, _children: tuple[Value, ...] = (), _op: str = "", label: str = ""
    ) -> None:
        if not _is_number(data):
            raise TypeError(f"Value holds an int or float, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0  # d(whatever backward() was called on) / d(this value)
        self._backward: Callable[[], None] = lambda: None  # pushes self.grad to the children
        self._prev = _children
        self._op = _op
        self.label = label

    def __add__(self, other: Value | Number) -> Value:
        other = _as_value(other, "+")
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # d(a+b)/da = 1 and d(a+b)/db = 1: the gradient is copied
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = _as_value(other, "*")
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # d(a*b)/da = b and d(a*b)/db = a: the gradients swap factors
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: Number) -> Value:
        if not _is_number(k):
            raise TypeError(f"Value ** k needs an int or float exponent k, got {type(k).__name__}")
        k = float(k)
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"a negative number ({self.data}) to a fractional power ({k})")
        out = Value(self.data**k, (self,), f"**{k:g}")

        def _backward() -> None:  # d(a**k)/da = k * a**(k-1)
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:  # d(e**a)/da = e**a, which is out.data
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:  # d(ln a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:  # d(tanh a)/da = 1 - tanh(a)**2
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward() -> None:  # slope 1 where a > 0, else 0 (PyTorch's choice at 0 too)
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        """Fill ``.grad`` of every value this one depends on with d(self)/d(value).

        Nodes are visited in reverse topological order, so a node's gradient is complete (all
        its uses have reported) before it is pushed further back. Intermediate nodes start from
        zero on every call; leaves accumulate, like PyTorch's ``.grad``.
        """
        order = _topological_order(self)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0  # d(self)/d(self)
        for node in reversed(order):
            node._backward()

    # Everything else is built from the operations above, so it needs no derivative of its own.
    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-_as_value(other, "-"))

    def __truediv__(self, other: Value | Number) -> Value:
        return self * _as_value(other, "/") ** -1

    def __radd__(self, other: Number) -> Value:  # 2 + x, and sum() which starts at 0
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return _as_value(other, "-") - self

    def __rtruediv__(self, other: Number) -> Value:
        return _as_value(other, "/") / self

    def __repr__(self) -> str:
        label = f"label={self.label!r}, " if self.label else ""
        return f"Value({label}data={self.data:.4g}, grad={self.grad:.4g})"


def _as_value(x: object, op: str) -> Value:
    """Numbers become constant Values; anything else is a mistake worth a clear message."""
    if isinstance(x, Value):
        return x
    if not _is_number(x):
        raise TypeError(
            f"unsupported operand for Value {op}: {type(x).__name__} (expected Value, int or float)"
        )
    return Value(x)


def _is_number(x: object) -> bool:
    """A real number (int, float, NumPy scalar), but not a bool: ``True + x`` is likely a slip."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _topological_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each listed after all of its inputs.

    A depth-first search that emits a node once its inputs are emitted. It keeps its own stack
    instead of recursing, so a long chain (a sum over thousands of terms) cannot overflow.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    return order


class Module:
    """What every network part shares: a list of parameters and a way to reset their gradients."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """Gradients accumulate, so each training step starts by zeroing them."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``activation(w · x + b)``: a weighted vote over the inputs, then a bend."""

    def __init__(self, n_inputs: int, activation: str | None = "tanh") -> None:
        checks.integer(n_inputs, "n_inputs", 1)
        if activation not in ("tanh", "relu", None):
            raise ValueError(f"activation must be 'tanh', 'relu' or None, got {activation!r}")
        # Random weights (seeded by llmlab.setup()), so neurons start different and learn apart.
        self.w = [Value(random.uniform(-1, 1), label="w") for _ in range(n_inputs)]
        self.b = Value(0.0, label="b")
        self.activation = activation

    def __call__(self, x: Sequence[Value | Number]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this neuron takes {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act if self.activation is None else getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``n_outputs`` neurons reading the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str | None = "tanh") -> None:
        checks.integer(n_outputs, "n_outputs", 1)
        self.neurons = [Neuron(n_inputs, activation) for _ in range(n_outputs)]

    def __call__(self, x: Sequence[Value | Number]) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def __repr__(self) -> str:
        return f"Layer({self.neurons!r})"


class MLP(Module):
    """Layers in a row; the hidden ones bend (``activation``), the last is linear."""

    def __init__(
        self, n_inputs: int, layer_sizes: Sequence[int], activation: str | None = "tanh"
    ) -> None:
        sizes = [n_inputs, *layer_sizes]
        if not layer_sizes or not all(checks.is_int(n) and n > 0 for n in sizes):
            raise ValueError(f"n_inputs and layer_sizes must be positive ints, got {sizes}")
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < len(layer_sizes) - 1 else None)
            for i in range(len(layer_sizes))
        ]

    def __call__(self, x: Sequence[Value | Number]) -> list[Value]:
        for layer in self.layers:
            x = layer(x)
        return list(x)

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP({self.layers!r})"


def softmax_cross_entropy(logits: Sequence[Value | Number], target: int) -> Value:
    """``-log softmax(logits)[target]``, the loss of a classifier (and of a language model).

    Computed as ``logsumexp(logits) - logits[target]``, shifting by the largest logit first:
    ``exp(1000)`` overflows, ``exp(1000 - 1000)`` does not, and a constant shift changes neither
    the loss nor its gradient, which works out to ``softmax(logits) - onehot(target)``.
    """
    logits = [_as_value(z, "in softmax_cross_entropy") for z in logits]
    if not logits:
        raise ValueError("logits must not be empty")
    if not checks.is_int(target) or not 0 <= target < len(logits):
        raise ValueError(f"target must be an int in [0, {len(logits)}), got {target!r}")
    shift = max(z.data for z in logits)  # a plain number: no gradient flows through it
    log_sum_exp = sum((z - shift).exp() for z in logits).log() + shift
    return log_sum_exp - logits[target]


def numerical_gradient(
    f: Callable[[list[Value]], Value | Number], xs: Sequence[Number], eps: float = 1e-6
) -> list[float]:
    """Derivatives by nudging: ``(f(x + eps) - f(x - eps)) / 2eps`` for each input in turn.

    ``f`` takes a list of Values (so the same function can be backpropagated through) and
    returns a Value or a number. The central difference is accurate to about ``eps**2``; it needs
    two evaluations per input, which is why networks use backpropagation instead.
    """

    def at(point: list[float]) -> float:
        out = f([Value(x) for x in point])
        return out.data if isinstance(out, Value) else float(out)

    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((at(up) - at(down)) / (2 * eps))
    return grads


def draw_graph(root: Value, max_nodes: int = 60) -> Figure:
    """Draw the graph that computed ``root``: a box per value (label, data, grad), the operation
    that made it in a circle before it, arrows from inputs to the operations that use them.

    Pure matplotlib: no graphviz binary needed. Call ``root.backward()`` first to see gradients.
    """
    from matplotlib.figure import Figure

    order = _topological_order(root)
    if len(order) > max_nodes:
        raise ValueError(
            f"the graph has {len(order)} values; draw_graph draws up to "
            f"max_nodes={max_nodes} (pass a larger max_nodes, or a smaller expression)"
        )
    place = _layout(order)
    columns = max(col for col, _ in place.values()) + 1
    rows = max(Counter(col for col, _ in place.values()).values())
    fig = Figure(figsize=(2.2 * columns, 0.8 * rows + 0.4), layout="constrained")
    ax = fig.subplots()
    style = {"ha": "center", "va": "center", "fontsize": 8, "zorder": 3}
    box = {"boxstyle": "round,pad=0.3", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5"}
    circle = {"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "gray"}

    def arrow(source: Text, target: Text, bend: float = 0.0) -> None:  # right edge -> left edge
        props = {"arrowstyle": "->", "color": "gray", "connectionstyle": f"arc3,rad={bend}"}
        ax.annotate(
            "",
            xy=(0, 0.5),
            xycoords=target,
            xytext=(1, 0.5),
            textcoords=source,
            arrowprops=props,
            zorder=1,
        )

    drawn = {}
    for node in order:  # inputs first, so every input is drawn before an arrow leaves it
        col, y = place[id(node)]
        name = f"{node.label} | " if node.label else ""
        text = f"{name}data {node.data:.4g}\ngrad {node.grad:.4g}"
        drawn[id(node)] = ax.text(
            2 * col, y, text, family="monospace", bbox=box, gid="value", **style
        )
        if node._op:
            op = ax.text(2 * col - 1, y, node._op, bbox=circle, gid="op", **style)
            arrow(op, drawn[id(node)])
            for child in node._prev:  # an arrow that skips columns arcs over what lies between
                span = col - place[id(child)][0]
                arrow(drawn[id(child)], op, bend=-0.4 / span if span > 1 else 0.0)
    ax.set_xlim(-0.8, 2 * columns - 1.2)
    ax.set_ylim(-rows / 2, rows / 2)
    ax.axis("off")
    return fig


def _layout(order: list[Value]) -> dict[int, tuple[int, float]]:
    """``id(node) -> (column, height)``: the root in the last column, every value one column
    before its first use (so arrows stay short), each column sorted by where its values are used
    (so arrows rarely cross)."""
    distance = {id(order[-1]): 0}  # to the root, along the longest path
    users: dict[int, list[Value]] = {id(node): [] for node in order}
    for node in reversed(order):  # the root first: a node comes after everything that uses it
        for child in node._prev:
            distance[id(child)] = max(distance.get(id(child), 0), distance[id(node)] + 1)
            users[id(child)].append(node)
    last = max(distance.values())
    height: dict[int, float] = {}
    for d in range(last + 1):
        column = [node for node in reversed(order) if distance[id(node)] == d]
        if d > 0:
            column.sort(key=lambda n: -sum(height[id(u)] for u in users[id(n)]) / len(users[id(n)]))
        for row, node in enumerate(column):
            height[id(node)] = (len(column) - 1) / 2 - row
    return {key: (last - distance[key], height[key]) for key in distance}
