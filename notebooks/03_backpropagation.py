# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 03 · Backpropagation
#
# **What you will build:** the algorithm that trains every neural network. You will measure
# derivatives by nudging, follow the chain rule backwards through a small expression drawn as a
# graph, write the backward pass of a tiny autograd engine yourself (the topological sort and the
# walk over it) and give the engine a new operation, check the engine against finite differences
# and PyTorch, steer gradient descent in a playground widget, derive the gradient of softmax +
# cross-entropy, train a character-level language model three ways (by counting, with the
# engine, with torch), and finally train a small neural network with the engine and watch its
# hidden layer bend a decision boundary.
#
# **CPU time:** about 40 seconds on a 2-core laptop (budget: 1 minute). No checkpoint needed.

# %%
import llmlab

llmlab.setup(threads=1)  # one thread, whatever the machine: the numbers do not depend on its cores

# %% [markdown]
# ## 1. Derivatives by nudging
#
# Training means changing the parameters so the loss goes down. For that we need, for every
# parameter, the answer to one question: *if I nudge this number up a little, how much does the
# loss change?* That ratio is the **derivative**. The most direct way to get it is to try:


# %%
def curve(x: float) -> float:
    return x * x * x - 4 * x + 5  # products, not **: the same rounding on every machine


x = 3.0
exact = 3 * x**2 - 4  # calculus: d/dx (x³ - 4x + 5) = 3x² - 4
for h in [0.1, 0.01, 0.001]:
    print(f"h = {h:<6} (curve(x+h) - curve(x)) / h = {(curve(x + h) - curve(x)) / h:.6f}")
print(f"exact slope at x = 3: {exact}")
assert abs((curve(x + 1e-3) - curve(x)) / 1e-3 - exact) < 0.01

# %% [markdown]
# Smaller `h` is better — until it is not. A float holds about 16 significant digits; with a
# tiny `h`, `curve(x + h)` and `curve(x)` agree in almost all of them and their difference is
# mostly rounding error. The **central difference** `(curve(x+h) - curve(x-h)) / 2h` cancels the
# first error term, so it is far more accurate at the same `h`, until `h` is so small that
# rounding error swamps both (from `1e-09` down in the table):

# %%
print("     h    one-sided error   central error")
errors = {}
for exponent in range(1, 14, 2):
    h = 10.0**-exponent
    one_sided = abs((curve(x + h) - curve(x)) / h - exact)
    central = abs((curve(x + h) - curve(x - h)) / (2 * h) - exact)
    errors[exponent] = (one_sided, central)
    print(f"1e-{exponent:02d}  {one_sided:15.1e}  {central:14.1e}")
assert errors[5][1] < errors[5][0] / 100  # central beats one-sided by orders of magnitude
assert errors[13][0] > errors[7][0]  # too small an h: rounding error takes over
assert all(errors[k][1] > errors[k][0] / 10 for k in (9, 11, 13))  # ... and central is no cure

# %% [markdown]
# Such ratios of nudges are called **finite differences**. With several inputs we nudge one at a
# time (the **partial derivatives**, together the **gradient**).
# `llmlab.autograd.numerical_gradient` does exactly that with central differences. It costs two
# evaluations of the function per input: for a network with ten million parameters, twenty
# million forward passes per training step. Backpropagation gets every partial derivative
# in one backward pass that visits each step of the computation once and does a fixed, small
# amount of work there (a product, for instance, sends one multiplication back to each of its two
# inputs). Nudging stays useful as the judge that checks it.

# %%
from llmlab.autograd import numerical_gradient


def close(got: list[float], expected: list[float], tol: float) -> bool:
    """Equal within a relative tolerance (absolute for numbers below 1)."""
    return len(got) == len(expected) and all(
        abs(g - e) <= tol * max(1.0, abs(e)) for g, e in zip(got, expected, strict=True)
    )


def g(v):  # works on plain numbers and on the engine's Values below
    a, b, c = v
    return a * b + c**2


print([round(d, 6) for d in numerical_gradient(g, [2.0, -3.0, 0.5])])  # exact: [b, a, 2c]
assert close(numerical_gradient(g, [2.0, -3.0, 0.5]), [-3.0, 2.0, 1.0], 1e-6)

# %% [markdown]
# ## 2. The chain rule, on a graph
#
# Take `L = (a·b + c)·f`, computed in steps: `e = a·b`, `d = e + c`, `L = d·f`. Each step is
# simple and so is its local derivative:
#
# - a **product** `d·f`: nudging `d` changes `L` by `f` times the nudge, so `∂L/∂d = f` (and
#   `∂L/∂f = d`) — each factor's gradient is the *other* factor;
# - a **sum** `e + c`: nudging `e` by ε nudges `d` by ε, so `∂d/∂e = 1` — a sum passes gradients
#   through unchanged.
#
# The **chain rule** strings them together: how `L` reacts to `e` is how `L` reacts to `d` times
# how `d` reacts to `e`, `∂L/∂e = ∂L/∂d · ∂d/∂e`. So we start at `L` (`∂L/∂L = 1`) and walk the
# graph *backwards*, multiplying local derivatives. That walk is **backpropagation**.
#
# The engine in `llmlab.autograd` (**autograd**: automatic gradients) records the graph as we
# compute. Its `Value` holds a number (`data`) and, later, the gradient of the final result with
# respect to it (`grad`):

# %%
from llmlab.autograd import Value, draw_graph

a = Value(2.0, label="a")
b = Value(-3.0, label="b")
c = Value(10.0, label="c")
f = Value(-2.0, label="f")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
L = d * f
L.label = "L"
print(L)

# %% [markdown]
# Now backpropagate by hand, from `L` back to the **leaves** (the values made by hand, not by an
# operation: `a`, `b`, `c`, `f`), one local derivative at a time:

# %%
grad_L = 1.0
grad_d = f.data * grad_L  # L = d * f
grad_f = d.data * grad_L
grad_e = 1.0 * grad_d  # d = e + c
grad_c = 1.0 * grad_d
grad_a = b.data * grad_e  # e = a * b
grad_b = a.data * grad_e
by_hand = {"a": grad_a, "b": grad_b, "c": grad_c, "f": grad_f}
print(by_hand)

# The judge: nudge each leaf and watch L.
nudged = numerical_gradient(lambda v: (v[0] * v[1] + v[2]) * v[3], [2.0, -3.0, 10.0, -2.0])
print("by nudging:", [round(n, 6) for n in nudged])
assert close(nudged, list(by_hand.values()), 1e-6)

# %% [markdown]
# `∂L/∂a = 6` says: raise `a` by 0.001 and `L` rises by about 0.006. The engine's `backward()` does
# the same walk for any expression (in §3 you write it yourself). The graph shows each value's
# data and its gradient:

# %% tags=["nbval-ignore-output"]
L.backward()
draw_graph(L)

# %% [markdown]
# Read the figure from right to left: each box is a value (label, data, grad), each circle the
# operation that made it. `L`'s gradient is 1; the `*` before it hands `d` the other factor
# (`f = -2`) and `f` its own other factor (`d = 4`); the `+` copies `d`'s `-2` to `e` and `c`
# unchanged. The gradients in the boxes are the ones we computed by hand:

# %%
engine = {"a": a.grad, "b": b.grad, "c": c.grad, "f": f.grad}
print(engine)
assert engine == by_hand

# %% [markdown]
# ## 3. The engine, built up
#
# Here is the heart of `llmlab.autograd`. Each operation creates a node that remembers its
# inputs (`_prev`) and a small function, `_backward`, that pushes the node's gradient to its
# inputs using the local derivative. The pushes *add* (`+=`): a value used twice receives
# gradient along both paths.


# %%
class Scalar:
    """A number that remembers how it was made (the core of llmlab.autograd.Value)."""

    def __init__(self, data: float, children: tuple = ()) -> None:
        self.data, self.grad = data, 0.0
        self._prev = children
        self._backward = lambda: None  # a leaf has nothing to push

    def __add__(self, other: "Scalar") -> "Scalar":
        out = Scalar(self.data + other.data, (self, other))

        def _backward():  # a sum copies the gradient to both inputs
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: "Scalar") -> "Scalar":
        out = Scalar(self.data * other.data, (self, other))

        def _backward():  # a product: each input gets the other one times the gradient
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out


# %% [markdown]
# A one-input operation looks the same. Here is `tanh`, which squashes any number into (-1, 1)
# and whose slope is `1 - tanh(x)²`, added to the class after the fact:


# %%
import math


def scalar_tanh(self: Scalar) -> Scalar:
    out = Scalar(math.tanh(self.data), (self,))

    def _backward():  # d tanh(x)/dx = 1 - tanh(x)²
        self.grad += (1 - out.data**2) * out.grad

    out._backward = _backward
    return out


Scalar.tanh = scalar_tanh

# %% [markdown]
# Nothing computes a gradient yet: each node only knows how to push its own gradient one step
# back. Calling those pushes by hand, in the right order, already backpropagates
# `d = a·b + c`:

# %%
a, b, c = Scalar(2.0), Scalar(-3.0), Scalar(10.0)
e = a * b
d = e + c
d.grad = 1.0  # ∂d/∂d
d._backward()  # d = e + c: e and c get 1 each
e._backward()  # e = a·b: a gets b·1, b gets a·1
print(f"∂d/∂a = {a.grad}, ∂d/∂b = {b.grad}, ∂d/∂c = {c.grad}")
assert (a.grad, b.grad, c.grad) == (-3.0, 2.0, 1.0)

# %% [markdown]
# The order matters: `e` may push its gradient on only once every node that *uses* `e` has
# pushed into it (here just `d`), or it would pass on an incomplete sum. A list of the nodes in
# which each node comes after all of its inputs is a **topological order** (`a, b, e, c, d`
# here); walked backwards, it reaches every node after all of its uses. Automating that is the
# whole of `backward()`, and you write it in two steps.

# %% [markdown]
# ### Exercise: the topological order
# Given the final node `root` of an expression built from the engine's `Value`s, return a list
# of every node `root` depends on, `root` included, each listed after all of its inputs
# (`node._prev`) and each exactly once, even a value used by several others. The checker builds
# random expressions with reused values and accepts any valid order.

# %%
from llmlab import exercises

print(exercises.header("topological_order"))


# %%
def topological_order(root: Value) -> list[Value]:
    # every node root depends on, root included: each after its inputs, each once
    raise NotImplementedError  # your code here


passed = exercises.check("topological_order", topological_order)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("topological_order")` (then
# `exercises.hint("topological_order", 2)`), and only then `exercises.solution("topological_order")`.

# %% [markdown]
# ### Exercise: the backward pass
# Now fill the gradients: given `root`, set `.grad` of every node it depends on to
# ∂root/∂node, using each node's `_backward` (the engine's local derivatives) and an order like
# the one above. Return nothing: the result is the `.grad`s. The nodes start at `grad = 0`. You
# may call your `topological_order`; the library's own `backward()` and its sort are refused.

# %%
print(exercises.header("backward"))


# %%
def backward(root: Value) -> None:
    # every node's .grad set to ∂root/∂node; nothing returned
    raise NotImplementedError  # your code here


passed = exercises.check("backward", backward)

# %% [markdown]
# Stuck? `exercises.hint("backward")`, then `exercises.hint("backward", 2)`, then
# `exercises.solution("backward")`.

# %% [markdown]
# The library's `Value.backward()` is this algorithm, with more operations (`**`, `exp`, `log`,
# `-`, `/`, and `relu`, which keeps a positive number and turns a negative one into 0), plain
# numbers mixed in (`2 * x`), and error messages that say what went wrong. From here on we use
# it. A **neuron** is `tanh(x1·w1 + x2·w2 + b)`: build it with `Value`, backpropagate, and let
# nudging judge every gradient:


# %%
def neuron(inputs):
    x1, x2, w1, w2, bias = inputs
    return (x1 * w1 + x2 * w2 + bias).tanh()


start = [2.0, 0.0, -3.0, 1.0, 6.8813735870195432]
names = ["x1", "x2", "w1", "w2", "b"]
their_inputs = [Value(v, label=name) for v, name in zip(start, names, strict=True)]
theirs = neuron(their_inputs)
theirs.label = "out"
theirs.backward()
print(f"output {theirs.data:.4f}; gradients {[round(v.grad, 4) for v in their_inputs]}")
nudged = numerical_gradient(neuron, start)
assert close([v.grad for v in their_inputs], nudged, 1e-6)

# %% tags=["nbval-ignore-output"]
draw_graph(theirs)

# %% [markdown]
# In the figure, the `tanh` passes back `1 - 0.7071² = 0.5` of `out`'s gradient of 1; the
# sums copy that 0.5 to each product, and each product hands it to each factor times the other
# factor: `w1` gets `x1 · 0.5 = 1`, and `x2`, being 0, gives `w2` nothing.
#
# **Why `+=` and not `=`.** In `y = x·x`, the product's `_backward` adds `x.data · 1` to `x.grad`
# twice, once per factor, giving `2x`. With `=`, the second write would replace the first and
# leave `x.grad` at `x.data`, half the truth:

# %%
x = Value(3.0)
y = x * x
y.backward()
print("d(x·x)/dx at 3:", x.grad)
assert x.grad == 6.0

# %% [markdown]
# The library's sort keeps its own stack instead of calling itself, so a sum of ten thousand
# terms (a chain ten thousand nodes deep) is no problem. A function that walks the graph by
# calling itself on each input (here one that measures the chain's depth) needs one nested call
# per level, and Python refuses to nest that deep:

# %%
long_sum = sum(Value(1.0) for _ in range(10_000))
long_sum.backward()  # the library's sort: no recursion
print(f"a sum of 10,000 Values backpropagates: {long_sum.data:,.0f}")


def depth(node: Value) -> int:  # the longest path down to a leaf, by recursion
    return 1 + max((depth(child) for child in node._prev), default=0)


try:
    depth(long_sum)
except RecursionError:
    print("a recursive walk of the same graph: RecursionError")
else:
    raise AssertionError("expected the recursive walk to hit the recursion limit")

# %% [markdown]
# ### Exercise: a new operation
# The **sigmoid**, `σ(x) = 1 / (1 + exp(-x))`, squashes any number into (0, 1). Add it to the
# engine as **one** new node, the way `tanh` is added above: a `Value` made from `x` alone
# (`Value(data, (x,), "sigmoid")`) with its own `_backward`. Its local derivative is yours to
# derive. (Built from `exp`, `+` and `/` it gives the right numbers, but three nodes, not a new
# operation: the checker looks for a single node on `x`, and it gives `x` a gradient from an
# earlier use before your node pushes its own.)

# %%
print(exercises.header("sigmoid_op"))


# %%
def sigmoid(x: Value) -> Value:
    # the value, from x.data; the node, whose one input is x
    # its _backward: what x receives, given out.grad
    raise NotImplementedError  # your code here


passed = exercises.check("sigmoid_op", sigmoid)

# %% [markdown]
# Stuck? `exercises.hint("sigmoid_op")`, then `exercises.hint("sigmoid_op", 2)`, then
# `exercises.solution("sigmoid_op")`.

# %% [markdown]
# ## 4. Checking gradients on random expressions
#
# One worked example is not a proof. We generate random expressions — random operations wired to
# random earlier results, so values get reused — and compare the engine's gradients against
# finite differences and against `torch.autograd`, PyTorch's engine.
#
# PyTorch computes with **tensors**: arrays of numbers with any number of dimensions (a single
# number, a vector, a matrix — a table of rows and columns — or more), all of one type
# (`float64` here: 16 significant digits, like Python's floats). An operation on a tensor acts on
# every element at once, and a tensor made with `requires_grad=True` records the operations on
# it, as our `Value`s do, so that `.backward()` can fill its `.grad`. The same Python code runs
# on `Value`s and on torch tensors, because both understand `+`, `*`, `.tanh()`, `.log()`...

# %%
import random

import torch

OPS = {  # every one is safe: no division by zero, no log of a negative, no overflowing exp
    "{} + {}": lambda p, q: p + q,
    "{} * {}": lambda p, q: p * q,
    "{} - {}": lambda p, q: p - q,
    "{} / ({}² + 1)": lambda p, q: p / (q**2 + 1),
    "tanh({})": lambda p, q: p.tanh(),
    "relu({})": lambda p, q: p.relu(),
    "log({}² + 1)": lambda p, q: (p**2 + 1).log(),
    "exp(tanh({}))": lambda p, q: p.tanh().exp(),
}


def random_program(rng: random.Random, n_inputs: int = 3, n_ops: int = 8) -> list[tuple]:
    """Each step: an operation and the indices of two earlier values (inputs or results)."""
    return [
        (rng.choice(list(OPS)), rng.randrange(n_inputs + i), rng.randrange(n_inputs + i))
        for i in range(n_ops)
    ]


# %% [markdown]
# A program is run by applying its steps in turn; its output, the one number we differentiate,
# is the sum of every step's result. The first random program:


# %%
def run(program: list[tuple], inputs: list):
    """Evaluate a program on Values or tensors; the output is the sum of every result."""
    values = list(inputs)
    for op, i, j in program:
        values.append(OPS[op](values[i], values[j]))
    return sum(values[len(inputs) :])


rng = random.Random(0)
program = random_program(rng)
for k, (op, i, j) in enumerate(program, start=3):
    print(f"v{k} = " + op.format(f"v{i}", f"v{j}"))
print("output = v3 + v4 + ... + v10")


# %%
def engine_gradient(program, point):
    inputs = [Value(p) for p in point]
    run(program, inputs).backward()
    return [v.grad for v in inputs]


def torch_gradient(program, point):
    inputs = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    run(program, list(inputs)).backward()
    return inputs.grad.tolist()


def finite_difference_gradient(program, point):
    return numerical_gradient(lambda inputs: run(program, inputs), point)


reused = 0
for _ in range(200):
    program = random_program(rng)
    point = [rng.uniform(-2, 2) for _ in range(3)]
    ours = engine_gradient(program, point)
    assert close(ours, torch_gradient(program, point), 1e-9), (program, point)
    assert close(ours, finite_difference_gradient(program, point), 1e-5), (program, point)
    used = [k for _, i, j in program for k in {i, j}]
    reused += len(used) != len(set(used))
print("200 random expressions: the engine agrees with torch.autograd and with finite differences")
print(f"{reused} of them use some value more than once")
assert reused > 100

# %% [markdown]
# ## 5. Gradient descent and the learning rate
#
# The gradient points uphill, so a small step against it goes downhill:
# `parameter -= learning_rate * gradient`, repeated. That is **gradient descent**. How far to step
# is the **learning rate**, a knob every training run must set. To see what it does, we descend
# on a 2-D "ravine", `loss = x²/2 + 5y²`: gentle along `x`, steep along `y`, minimum at `(0, 0)`.
# By hand, with the engine supplying gradients:

# %%
from llmlab import widgets

ravine = widgets.SURFACES["ravine"]
point, lr = ravine.start, 0.05
for _ in range(50):
    px, py = Value(point[0]), Value(point[1])
    loss = ravine.loss(px, py)
    loss.backward()
    point = (px.data - lr * px.grad, py.data - lr * py.grad)
print(f"start {ravine.start}, after 50 steps ({point[0]:.4f}, {point[1]:.4f})")

path = widgets.descent_path(ravine, lr=0.05, steps=50)
assert path.points[-1] == point  # the playground's descent is exactly this loop

# %% [markdown]
# **Momentum** keeps a running "velocity": `velocity = momentum · velocity + gradient`, then
# `parameter -= lr · velocity`. Steps that agree build up speed; steps that zig-zag cancel. This is
# how `torch.optim.SGD` (stochastic gradient descent: the same rule, usually on a random part of
# the data at each step) does it, and the playground's path matches torch's step for step:

# %%
xy = torch.tensor(ravine.start, dtype=torch.float64, requires_grad=True)
sgd = torch.optim.SGD([xy], lr=0.05, momentum=0.9)
torch_points = [tuple(xy.tolist())]
for _ in range(50):
    sgd.zero_grad()
    ravine.loss(xy[0], xy[1]).backward()
    sgd.step()
    torch_points.append(tuple(xy.tolist()))
ours = widgets.descent_path(ravine, lr=0.05, steps=50, momentum=0.9).points
assert torch.allclose(torch.tensor(ours), torch.tensor(torch_points), atol=1e-12)
print("descent with momentum 0.9 matches torch.optim.SGD at all 50 steps")

# %% [markdown]
# Along `y` the gradient is `10y`, so one step maps `y` to `(1 - 10·lr)·y`. For `lr < 0.1` the
# factor is between 0 and 1: `y` shrinks from one side. For `0.1 < lr < 0.2` it is between -1
# and 0: every step **overshoots** the valley floor, but by less each time — the path zig-zags in.
# For `lr > 0.2` it is below -1: each overshoot is bigger than the last and the run **diverges**.
# Along `x` the factor is `1 - lr`: a tiny rate barely moves at all — it **crawls**. The curvature
# of the steepest direction sets the largest usable learning rate (here `2/10`); the gentlest
# direction sets how long training takes.
#
# `widgets.descent_verdict` names a run by two measured things: did the loss close 99% of its
# gap to the minimum ("converges", else "crawls"), and did the path reverse direction along `x` or
# along `y` on most steps ("zig-zagging"; "oscillates" if it also did not converge); "diverges" if
# the loss grew.

# %%
verdicts, final = {}, {}
for rate in [0.005, 0.05, 0.15, 0.25]:
    descent = widgets.descent_path(ravine, lr=rate, steps=50)
    verdicts[rate], final[rate] = widgets.descent_verdict(descent), descent.losses[-1]
    print(f"lr {rate:<5}: {verdicts[rate]:<22} loss {descent.losses[0]:.3g} -> {final[rate]:.3g}")
assert list(verdicts.values()) == ["crawls", "converges", "converges, zig-zagging", "diverges"]
assert final[0.15] < final[0.05] / 1000 < final[0.005]  # the zig-zagging rate ends lowest

# %% [markdown]
# A zig-zag is not a failure: `lr = 0.15` overshoots along `y` on every step and still ends
# more than a thousand times lower than `lr = 0.05`, because the slow direction, `x`, shrinks by
# `1 - lr` per step (0.85 against 0.95). Of these four rates the best is the largest that does
# not diverge, and it zig-zags.

# %% [markdown]
# On Rosenbrock's curved "banana" valley the floor is nearly flat and the walls are steep. At
# `lr = 0.005`, plain descent is still crawling along the floor after 200 steps; momentum, at the
# same rate, builds up speed along it:

# %%
banana = widgets.SURFACES["banana"]
plain = widgets.descent_path(banana, lr=0.005, steps=200)
heavy = widgets.descent_path(banana, lr=0.005, steps=200, momentum=0.9)
print(f"no momentum:  loss {plain.losses[-1]:.3g} -> {widgets.descent_verdict(plain)}")
print(f"momentum 0.9: loss {heavy.losses[-1]:.2g} -> {widgets.descent_verdict(heavy)}")
assert widgets.descent_verdict(plain) == "crawls" and widgets.descent_verdict(heavy) == "converges"

# %% [markdown]
# ### The gradient-descent playground
#
# Pick a surface, then move the learning rate, the momentum and the number of steps. The red path
# is where descent goes; the right panel is the loss (minus its minimum) per step, on a log scale.
# Find the rate where the ravine starts to zig-zag, the rate where it blows up, and a momentum
# that gets through the banana valley in under 100 steps.

# %% tags=["nbval-ignore-output"]
playground = widgets.DescentPlayground()
playground

# %% [markdown]
# The playground is a Python object; setting its controls from code is the same as moving them
# (a second playground, `driven`, so the one above keeps what you set):

# %%
driven = widgets.DescentPlayground()
before = driven.image.value
driven.lr.value = 0.15
print(driven.verdict())
assert driven.verdict() == "converges, zig-zagging" and driven.image.value != before
driven.lr.value = 0.25
print(driven.verdict())
assert driven.verdict() == "diverges"
driven.lr.value = 0.15
driven.steps.value = 20
shown = widgets.descent_path(ravine, lr=0.15, steps=20).losses  # the loss curve drawn below
assert all(shown[k + 1] < shown[k] for k in range(len(shown) - 1))  # falls on every step
assert abs(shown[-1] / shown[-2] - 0.85**2) < 1e-3  # at the end: by 0.85² per step

# %% tags=["nbval-ignore-output"]
driven.figure

# %% [markdown]
# What to see: at `lr = 0.15` the red path jumps across the ravine's floor (`y` changes sign) on
# every step, by less each time, while it slides along `x` toward the gold star (the minimum).
# The loss on the right falls on every step all the same, and once the zig-zag has died down it
# falls along a straight line on this log scale: by a constant factor per step, `0.85²`, set by
# the slow `x` direction.

# %% [markdown]
# ## 6. Softmax, cross-entropy and their gradient
#
# A language model outputs a score, a **logit** `zᵢ`, for every token of the vocabulary. The
# **softmax** turns the scores into probabilities, `pᵢ = exp(zᵢ) / Σⱼ exp(zⱼ)` (positive, summing
# to 1, larger for larger scores), and the loss for a correct next token `t` is the
# **cross-entropy** `L = -log p_t` — small when the model gave the right token high probability.
# With the natural logarithm, as everywhere in this course, the loss is measured in **nats**
# (with log₂ it would be bits; 1 nat ≈ 1.443 bits). Write `L = log Σⱼ exp(zⱼ) - z_t` and
# differentiate:
#
# - `∂/∂zᵢ log Σⱼ exp(zⱼ) = exp(zᵢ) / Σⱼ exp(zⱼ) = pᵢ`,
# - `∂/∂zᵢ z_t` is 1 for `i = t` and 0 otherwise.
#
# So **`∂L/∂z = softmax(z) - onehot(t)`**, where `onehot(t)` is the vector with a 1 at position
# `t` and 0 elsewhere: push the right token's logit up by `1 - p_t` and every
# other logit down by its probability. Three ways to compute it must agree: the formula, our
# engine (`autograd.softmax_cross_entropy`, built from `exp`, `log`, `+`), and PyTorch.

# %%
import torch.nn.functional as F

from llmlab.autograd import softmax_cross_entropy

logits, target = [2.0, 1.0, 0.1, -1.0], 0
formula = (torch.tensor(logits).softmax(0) - F.one_hot(torch.tensor(target), 4)).tolist()

values = [Value(z) for z in logits]
loss = softmax_cross_entropy(values, target)
loss.backward()
engine = [v.grad for v in values]

z = torch.tensor(logits, requires_grad=True)
torch_loss = F.cross_entropy(z[None], torch.tensor([target]))
torch_loss.backward()

print(f"loss {loss.data:.4f} (torch {torch_loss.item():.4f})")
print("softmax - onehot:", [round(v, 4) for v in formula])
print("engine:          ", [round(v, 4) for v in engine])
print("torch:           ", [round(v, 4) for v in z.grad.tolist()])
assert close(engine, formula, 1e-6) and close(engine, z.grad.tolist(), 1e-6)
assert abs(loss.data - torch_loss.item()) < 1e-6
assert abs(sum(engine)) < 1e-12  # probabilities sum to 1, the one-hot too: the gradient to 0

# %% [markdown]
# ## 7. A bigram language model, three ways
#
# The simplest neural language model predicts the next character from the current one only: a
# table `W` of `V × V` logits, row `a` holding the scores of every character that may follow `a`.
# As a network it is a **matrix product**: for a vector `x` of `V` numbers, `x @ W` is the vector
# whose entry `j` is `Σₖ x[k]·W[k, j]`; when `x` is `onehot(a)` only `k = a` counts, and the
# product is row `a` of `W`. We train it on the plays' characters three ways, and each must head
# for the loss that counting gives on the text it trains on.
#
# ### 7a. By counting
#
# The best such table for the training text is known in closed form: count how often each pair
# `(a, b)` occurs and normalise each row. We add one to every count (**smoothing**) so that no
# pair gets probability zero — a pair never seen in training would otherwise cost infinite loss.

# %%
from collections import Counter
from itertools import pairwise

from llmlab import corpus
from llmlab.tokenization import CharTokenizer

train_text, valid_text = corpus.text("train"), corpus.text("validation")
tokenizer = CharTokenizer(train_text)
V = tokenizer.vocab_size
train_ids = torch.tensor(tokenizer.encode(train_text))
valid_ids = torch.tensor(tokenizer.encode(valid_text))

counts = torch.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).reshape(V, V).float()
probs = (counts + 1) / (counts + 1).sum(dim=1, keepdim=True)


def nll(log_probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Average -log p(next | current) over a text: the cross-entropy of a bigram table."""
    return -log_probs[ids[:-1], ids[1:]].mean().item()


count_train, count_valid = nll(probs.log(), train_ids), nll(probs.log(), valid_ids)
print(f"{V} characters; {len(train_ids) - 1:,} training pairs")
print(f"uniform guess:    {math.log(V):.4f} nats per character")
print(f"counting bigrams: {count_train:.4f} train, {count_valid:.4f} validation")
q, u = tokenizer.encode("qu")
print(f"P('u' | 'q') = {probs[q, u]:.3f}")
assert count_valid < math.log(V) - 1.5 and probs[q, u] > 0.9

# %% [markdown]
# Unsmoothed, the table gives some validation pairs probability exactly zero (the commonest of
# them sit inside the names of the held-out plays' people, as lesson 01 found for whole words):

# %%
never = counts[valid_ids[:-1], valid_ids[1:]] == 0  # per place in the validation text
unseen = never.sum().item()
pairs_at = Counter(zip(valid_ids[:-1][never].tolist(), valid_ids[1:][never].tolist(), strict=True))
unseen_pairs = set(pairs_at)
raw = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
print(f"places in the validation text whose pair never occurs in training: {unseen}")
print(f"distinct pairs among them: {len(unseen_pairs)}; the commonest:")
for (first, second), n in pairs_at.most_common(4):
    print(f"  {tokenizer.decode([first, second])!r} {n} times")
print(f"loss of the unsmoothed table on validation: {nll(raw.log(), valid_ids)}")
assert unseen > 0 and nll(raw.log(), valid_ids) == math.inf

# %% [markdown]
# Sampling: start from a newline, draw the next character from its row, repeat. A seeded
# generator makes the draw repeatable on one machine (torch's random draws may differ on another
# processor, so your sample may not be this one). A bigram model knows which letters follow
# which, and nothing more:


# %% tags=["nbval-ignore-output"]
def sample(probabilities: torch.Tensor, n: int, seed: int = 0) -> str:
    generator = torch.Generator().manual_seed(seed)
    ids = tokenizer.encode("\n")
    for _ in range(n):
        ids.append(torch.multinomial(probabilities[ids[-1]], 1, generator=generator).item())
    return tokenizer.decode(ids)


print(sample(probs, 200))

# %% [markdown]
# ### 7b. With our engine
#
# Now learn `W` by gradient descent instead: start from all-zero logits (a uniform guess), compute
# the cross-entropy over the text, backpropagate, step. Our scalar engine is slow — every logit of
# every example is a Python object — so it gets a tiny text: the first 80 characters of the
# plays, with a vocabulary of just their characters. On this text the best possible loss is again
# the one of counting (without smoothing), so we know where descent should head.

# %%
snippet = train_text[:80]
small = CharTokenizer(snippet)
pairs = list(pairwise(small.encode(snippet)))
pair_counts, row_counts = Counter(pairs), Counter(a for a, _ in pairs)
best = -sum(n * math.log(n / row_counts[a]) for (a, _), n in pair_counts.items()) / len(pairs)
print(repr(snippet))
print(f"{small.vocab_size} characters, {len(pairs)} pairs; best possible loss {best:.4f}")

# %%
n = small.vocab_size
W = [[Value(0.0) for _ in range(n)] for _ in range(n)]
params = [w for row in W for w in row]
engine_losses, lr = [], 80.0
for _ in range(15):
    loss = sum(softmax_cross_entropy(W[a], b) for a, b in pairs) / len(pairs)
    for p in params:
        p.grad = 0.0
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    engine_losses.append(loss.data)
print(" ".join(f"{v:.3f}" for v in engine_losses))
assert all(later < earlier for earlier, later in pairwise(engine_losses))
assert engine_losses[-1] - best < 0.1 * (engine_losses[0] - best)  # 90% of the way to the best

# %% [markdown]
# ### 7c. With torch: the same steps, then the whole corpus
#
# PyTorch does the same with one tensor `W` instead of thousands of `Value`s. Starting from the
# same zeros with the same learning rate, its losses match the engine's step for step:

# %%
inputs, targets = torch.tensor(pairs).T
W_torch = torch.zeros(n, n, dtype=torch.float64, requires_grad=True)
sgd = torch.optim.SGD([W_torch], lr=lr)
torch_losses = []
for _ in range(15):
    loss = F.cross_entropy(W_torch[inputs], targets)
    sgd.zero_grad()
    loss.backward()
    sgd.step()
    torch_losses.append(loss.item())
print(" ".join(f"{v:.3f}" for v in torch_losses))
assert close(torch_losses, engine_losses, 1e-9)
assert torch.allclose(
    W_torch.detach(), torch.tensor([[w.data for w in row] for row in W], dtype=torch.float64)
)

# %%
assert round((len(train_ids) - 1) / 1e6, 1) == 4.1  # pairs, quoted below

# %% [markdown]
# On the full corpus there are 4.1 million pairs. The cross-entropy over all of them is a sum of
# one term per pair, and identical pairs give identical terms — so it equals a sum over the `V × V`
# *distinct* pairs, each weighted by its count: `L = -Σ counts[a,b] · log softmax(W[a])[b] / N`.
# That makes each full-data step cost `V²` instead of 4.1 million rows. Check the identity on a
# slice of 200,000 pairs:

# %%
chunk = train_ids[:200_001]
chunk_counts = torch.bincount(chunk[:-1] * V + chunk[1:], minlength=V * V).reshape(V, V)
W_check = torch.randn(V, V)
direct = F.cross_entropy(W_check[chunk[:-1]], chunk[1:])
weighted = -(chunk_counts * W_check.log_softmax(dim=1)).sum() / chunk_counts.sum()
print(f"one row per pair: {direct:.4f}; distinct pairs weighted by count: {weighted:.4f}")
assert torch.allclose(direct, weighted, rtol=1e-5)

# %% [markdown]
# To train on it we use a step rule other than plain gradient descent. **Adam** keeps, for every
# parameter, two running averages: of its gradients (the momentum of §5) and of its squared
# gradients; each step moves the parameter by `lr` times the first divided by the square root of
# the second. The division makes the step about `lr` in size whatever the scale of that
# parameter's gradient: a parameter with tiny gradients (here, the row of a rare character) moves
# as readily as one with large gradients. `torch.optim.Adam` implements it; lesson 04 trains its GPT
# with a variant, AdamW.

# %%
W_full = torch.zeros(V, V, requires_grad=True)
adam = torch.optim.Adam([W_full], lr=0.5)
for _ in range(200):
    loss = -(counts * W_full.log_softmax(dim=1)).sum() / counts.sum()
    adam.zero_grad()
    loss.backward()
    adam.step()
log_probs = W_full.detach().log_softmax(dim=1)
torch_train, torch_valid = nll(log_probs, train_ids), nll(log_probs, valid_ids)
best_train = nll(raw.log(), train_ids)  # unsmoothed counts: the optimum on the training text
print(f"torch:    {torch_train:.4f} train, {torch_valid:.4f} validation")
print(
    f"counting: {best_train:.4f} train (unsmoothed optimum), {count_valid:.4f} validation (smoothed)"
)
assert abs(torch_train - best_train) < 2e-3
assert abs(torch_valid - count_valid) < 0.01
assert round(best_train, 2) == 2.47 and round(count_valid, 2) == 2.49  # quoted in the recap
assert round(torch_train, 2) == 2.47 and round(torch_valid, 2) == 2.49  # likewise

# %% [markdown]
# Gradient descent reached the training loss of the table that counting writes down directly.
# Row by row, we compare its table with the smoothed counted table of §7a: the two distributions
# of the next character, by their **total variation distance** (half the summed absolute
# differences: the probability mass that would have to move), averaged over characters as often
# as they occur, and separately for the rarest and the commonest:

# %%
row_distance = (log_probs.exp() - probs).abs().sum(dim=1) / 2  # total variation, per row
how_often = counts.sum(dim=1) / counts.sum()
typical = (how_often * row_distance).sum().item()
by_frequency = how_often.argsort()
rare, common = row_distance[by_frequency[:10]].mean(), row_distance[by_frequency[-10:]].mean()
print(f"distance between the tables, averaged as characters occur: {typical:.1%}")
seen = counts.sum(dim=1)[by_frequency[:10]]
print(f"the 10 rarest characters (seen {seen.min():.0f} to {seen.max():.0f} times each):", end=" ")
print(f"{rare:.1%}; the 10 commonest: {common:.1%}")
assert typical < 0.01 and rare > 5 * common
followers = (log_probs.exp() * (counts > 0))[by_frequency[:10]].sum(dim=1)  # mass on seen pairs
assert (followers > 0.99).all()  # the learned rare rows: on the characters seen after them

# %% [markdown]
# Weighted by how often characters occur, the tables are 0.1% apart; in the rows of the rarest
# characters they are almost entirely different. There the 1 that smoothing adds to every count
# outweighs the few real counts and flattens the counted row toward uniform, while descent fits
# the training pairs with no smoothing (its training loss is the unsmoothed optimum's) and puts
# over 99% of the row's probability on the few characters seen after it. Samples from the learned
# table, with the same seed as the counted table's above (the same random draws: wherever the two
# tables agree, they pick the same characters):

# %% tags=["nbval-ignore-output"]
print(sample(log_probs.exp(), 200))

# %% [markdown]
# Counting gives the best table in closed form only for a model this simple. Gradient descent
# needs nothing but a loss that can be differentiated: give the next character a longer context,
# replace the table by a network, and the same loop — loss, `backward()`, step — trains it.
#
# ## 8. A neural network, trained with the engine
#
# A table of logits cannot learn anything a table cannot hold. A **neural network** can: layers
# of neurons (§3), each a weighted sum and a bend (`tanh`), the last layer without a bend.
# `llmlab.autograd.MLP(2, [6, 1])` is such a network, an **MLP** (multi-layer perceptron: each
# neuron of a layer reads every output of the layer before): 2 inputs, a **hidden layer** of 6
# neurons, 1 output — a score, positive for class 1. The task: 40 points in the plane, class 0
# inside a disc, class 1 on a ring around it. No straight line separates them.

# %%
from llmlab.autograd import MLP

rng = random.Random(0)
points, labels = [], []
for i in range(40):
    label = i % 2  # alternate: 20 points of each class
    radius = rng.uniform(0.0, 0.8) if label == 0 else rng.uniform(1.2, 2.0)
    angle = rng.uniform(0, 2 * math.pi)
    points.append((radius * math.cos(angle), radius * math.sin(angle)))
    labels.append(label)


def logistic_loss(scores: list[Value], labels: list[int]) -> Value:
    """Mean ``log(1 + exp(-y·s))`` with ``y = ±1``: cross-entropy of two classes, from a score."""
    terms = [
        ((-(2 * label - 1) * s).exp() + 1).log() for s, label in zip(scores, labels, strict=True)
    ]
    return sum(terms) / len(terms)


# %% [markdown]
# Training is the loop of §5 with the engine's gradients; a network's verdict on a point is the
# sign of its score.


# %%
def fit(model: MLP, steps: int, lr: float) -> list[float]:
    """Full-batch gradient descent with the engine: forward, loss, zero, backward, step."""
    losses = []
    for _ in range(steps):
        loss = logistic_loss([model(p)[0] for p in points], labels)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


def correct(model: MLP) -> list[float]:
    """1.0 for each point the model puts in its class (score > 0 means class 1), else 0.0."""
    return [float((model(p)[0].data > 0) == (y == 1)) for p, y in zip(points, labels, strict=True)]


# %% [markdown]
# First, is the engine's gradient for a whole network right? The same weights in torch, the same
# loss, one `backward()` each. In torch the whole network is two matrix products: `X` holds the
# 40 points as rows, `W1.T` (`.T` swaps rows and columns) holds each hidden neuron's two weights
# as a column, so `X @ W1.T` is every point's weighted sum for every neuron at once, 40 × 6:

# %%
random.seed(0)  # the MLP draws its starting weights from Python's random
network = MLP(2, [6, 1])
hidden, output = network.layers
W1 = torch.tensor([[w.data for w in n.w] for n in hidden.neurons], requires_grad=True)
b1 = torch.tensor([n.b.data for n in hidden.neurons], requires_grad=True)
W2 = torch.tensor([[w.data for w in n.w] for n in output.neurons], requires_grad=True)
b2 = torch.tensor([n.b.data for n in output.neurons], requires_grad=True)
X, Y = torch.tensor(points), torch.tensor(labels, dtype=torch.float32)
torch_scores = (torch.tanh(X @ W1.T + b1) @ W2.T + b2)[:, 0]
F.binary_cross_entropy_with_logits(torch_scores, Y).backward()
network.zero_grad()
logistic_loss([network(p)[0] for p in points], labels).backward()
engine_grad = [w.grad for n in hidden.neurons for w in n.w]
print(f"{len(network.parameters())} parameters; first hidden weights' gradients:")
print("engine:", [round(g, 4) for g in engine_grad[:4]])
print("torch: ", [round(g, 4) for g in W1.grad.flatten()[:4].tolist()])
assert close(engine_grad, W1.grad.flatten().tolist(), 1e-5)
assert close([n.b.grad for n in output.neurons], b2.grad.tolist(), 1e-5)

# %% [markdown]
# Now train it, and beside it a network with **no hidden layer**, `MLP(2, [1])`: a weighted sum
# of the two coordinates, whose class boundary (its **decision boundary**, where the score
# crosses 0) can only be a straight line. Accuracy is measured on the 40 training points (what
# each network can fit, not how it would do on new points), with its standard error (± SE, from
# `llmlab.stats`: how much it would vary with another draw of 40 points); the gap is paired, both
# networks scored on the same points.

# %%
from llmlab import stats

network_losses = fit(network, steps=100, lr=0.5)
random.seed(0)
linear = MLP(2, [1])
linear_losses = fit(linear, steps=100, lr=0.5)
deep, flat = correct(network), correct(linear)
gap = stats.difference(deep, flat, paired=True)
print(f"hidden layer of 6: loss {network_losses[0]:.2f} -> {network_losses[-1]:.2f}", end=" ")
print(f"accuracy {stats.mean(deep):.2f}")
print(f"no hidden layer:   loss {linear_losses[0]:.2f} -> {linear_losses[-1]:.2f}", end=" ")
print(f"accuracy {stats.mean(flat):.2f}")
print(f"gap: {gap:.2f}")
assert stats.mean(deep).value >= 0.95 and gap.beyond_noise(3)

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.decision_boundary(lambda a, b: network([a, b])[0].data, points, labels, title="MLP(2, [6, 1])")

# %% [markdown]
# What to see: the region the network calls class 0 is a closed, curved patch around the disc's
# points, with the ring's points outside it. Now the network without a hidden layer:

# %% tags=["nbval-ignore-output"]
viz.decision_boundary(lambda a, b: linear([a, b])[0].data, points, labels, title="MLP(2, [1])")

# %% [markdown]
# What to see: its boundary is a straight line, so one side of the plane, whichever way the line
# is turned, holds points of both classes. Each hidden neuron draws one straight line (where its
# weighted sum crosses zero) and `tanh` bends the plane along it; the output adds six bent planes,
# and the sum can enclose the disc. Without the bend, six hidden neurons would collapse into one
# weighted sum — still a straight line. Every block of the GPT in `llmlab.model` (lesson 04)
# holds such an MLP, with a hidden layer 4× wider than its input and a different bend, trained by
# the same loop: loss, `backward()`, step.
#
# ## Recap
#
# - A derivative is the effect of a nudge; finite differences measure it, slowly and roughly.
# - Backpropagation applies the chain rule from the output back through the graph: each operation
#   knows only its local derivative and adds (`+=`) its share to its inputs; `backward()` walks a
#   topological order in reverse, so a node pushes on only after all its uses have reported. You
#   wrote that walk, and a new operation for it.
# - The engine agrees with `torch.autograd` and with finite differences on 200 random expressions.
# - The learning rate is bounded by the steepest curvature (overshoot, zig-zag, divergence) and
#   the flattest direction sets the pace: of the four rates tried on the ravine, the largest that
#   does not diverge (0.15) zig-zags and ends lowest; at `lr = 0.005` momentum gets through the
#   banana valley where plain descent crawls.
# - The gradient of softmax + cross-entropy is `softmax(z) - onehot(t)`.
# - A bigram model trained by gradient descent (with Adam) reaches the loss of counting: ≈ 2.47
#   nats per character on the training plays, ≈ 2.49 on held-out plays.
# - A hidden layer with a non-linearity bends the decision boundary: the engine trains an MLP to
#   separate a disc from a ring, which no straight line can.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

lowest = min(final, key=final.get)
rare_rows = "in the rows of the rarest characters"
straight = "its decision boundary can only be a straight line"
assert unseen > 0 and nll(raw.log(), valid_ids) == math.inf and gap.beyond_noise(3)
Quiz(
    [
        Question(
            "On the ravine, which of the four learning rates ended lowest after 50 steps?",
            [f"lr = {rate}" for rate in final],
            f"lr = {lowest}",
            "Losses after 50 steps: "
            + ", ".join(f"{rate}: {final[rate]:.3g} ({verdicts[rate]})" for rate in final)
            + ". The best is the largest rate that does not diverge: it zig-zags along the "
            "steep direction but shrinks the gentle one fastest (by 1 - lr per step).",
        ),
        Question(
            "Why is the unsmoothed bigram table's validation loss infinite?",
            [
                "some validation pairs never occur in training: probability 0, and -log 0 is ∞",
                "it memorised the training text, so it overfits",
                "the sum of the losses overflows a float",
            ],
            "some validation pairs never occur in training: probability 0, and -log 0 is ∞",
            f"At {unseen} places the validation text has a pair never seen in training "
            f"({len(unseen_pairs)} distinct pairs). Adding 1 to every count "
            f"(smoothing) gives them some probability: {count_valid:.2f} nats per character.",
        ),
        Question(
            "Gradient descent's bigram table and the smoothed counted table: where do they "
            "differ most?",
            [rare_rows, "in the rows of the commonest characters", "nowhere: they are identical"],
            rare_rows if rare > common else "in the rows of the commonest characters",
            f"Total variation distance: {float(rare):.1%} in the 10 rarest rows, "
            f"{float(common):.2%} in the 10 commonest. There, the 1 that smoothing adds to every "
            "count outweighs the few real counts; descent fits the pairs with no smoothing.",
        ),
        Question(
            "Why can the network with no hidden layer not separate the disc from the ring?",
            [straight, "it was trained for too few steps", "its learning rate was too high"],
            straight,
            f"Same points, steps and rate: accuracy {stats.mean(flat).value:.2f} without a hidden "
            f"layer, {stats.mean(deep).value:.2f} with 6 tanh neurons ({gap.value:.2f} ± "
            f"{gap.se:.2f} apart). A weighted sum of the coordinates splits the plane by a line.",
        ),
    ]
)
