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
# graph, build a tiny autograd engine and check it against finite differences and PyTorch, steer
# gradient descent in a playground widget, derive the gradient of softmax + cross-entropy,
# train a character-level language model three ways (by counting, with your engine, with torch),
# and finally train a small neural network with your engine and watch its hidden layer bend a
# decision boundary.
#
# **CPU time:** about 30 seconds on a 2-core laptop (budget: 1 minute). No checkpoint needed.

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. Derivatives by nudging
#
# Training means changing the parameters so the loss goes down. For that we need, for every
# parameter, the answer to one question: *if I nudge this number up a little, how much does the
# loss change?* That ratio is the **derivative**. The most direct way to get it is to try:


# %%
def curve(x: float) -> float:
    return x**3 - 4 * x + 5


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
# first error term, so it is far more accurate at the same `h`:

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

# %% [markdown]
# With several inputs we nudge one at a time (the **partial derivatives**, together the
# **gradient**). `llmlab.autograd.numerical_gradient` does exactly that with central differences.
# It costs two evaluations of the function per input: for a network with ten million parameters,
# twenty million forward passes per training step. Backpropagation gets every partial derivative
# in one backward pass, which costs about twice the forward pass (each multiply-add forward
# becomes two backward: one for each of its inputs; lesson 04 measures this on a GPT). Nudging
# stays useful as the judge that checks it.

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
# The engine in `llmlab.autograd` records the graph as we compute. Its `Value` holds a number
# (`data`) and, later, the gradient of the final result with respect to it (`grad`):

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
# Now backpropagate by hand, from `L` back to the leaves, one local derivative at a time:

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
# the same walk for any expression. The graph shows each value's data and its gradient:

# %% tags=["nbval-ignore-output"]
L.backward()
draw_graph(L)

# %%
engine = {"a": a.grad, "b": b.grad, "c": c.grad, "f": f.grad}
print(engine)
assert engine == by_hand

# %% [markdown]
# ## 3. The engine, built up
#
# Here is the heart of `llmlab.autograd` in about 40 lines. Each operation creates a node that
# remembers its inputs and a small function, `_backward`, that pushes the node's gradient to its
# inputs using the local derivative. `backward()` sorts the graph so that every node comes after
# its inputs (a *topological order*) and calls the `_backward`s in reverse: by the time a node
# pushes its gradient on, every use of it has already reported.

# %%
import math


class Scalar:
    """A number that remembers how it was made (the core of llmlab.autograd.Value)."""

    def __init__(self, data: float, children: tuple = ()) -> None:
        self.data, self.grad = data, 0.0
        self._children = children
        self._backward = lambda: None

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

    def tanh(self) -> "Scalar":
        out = Scalar(math.tanh(self.data), (self,))

        def _backward():  # d tanh(x)/dx = 1 - tanh(x)²
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        order, seen = [], set()

        def visit(node):  # depth first: a node is listed after all of its inputs
            if node not in seen:
                seen.add(node)
                for child in node._children:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# %% [markdown]
# A **neuron** is `tanh(x1·w1 + x2·w2 + b)`. Build it with our `Scalar` and with the library's
# `Value`, backpropagate both, and compare every gradient:


# %%
def neuron(kind):
    x1, x2, w1, w2, bias = (kind(v) for v in [2.0, 0.0, -3.0, 1.0, 6.8813735870195432])
    out = (x1 * w1 + x2 * w2 + bias).tanh()
    return out, [x1, x2, w1, w2, bias]


ours, our_inputs = neuron(Scalar)
theirs, their_inputs = neuron(Value)
ours.backward()
theirs.backward()
print(f"output {ours.data:.4f}; gradients {[round(v.grad, 4) for v in our_inputs]}")
assert abs(ours.data - theirs.data) < 1e-12
assert close([s.grad for s in our_inputs], [v.grad for v in their_inputs], 1e-12)

# %% tags=["nbval-ignore-output"]
for value, name in zip(their_inputs, ["x1", "x2", "w1", "w2", "b"], strict=True):
    value.label = name
theirs.label = "out"
draw_graph(theirs)

# %% [markdown]
# **Why `+=` and not `=`.** A value used twice receives gradient along both paths. In `y = x·x`,
# the product's `_backward` adds `x.data · 1` to `x.grad` twice, giving `2x` — the right answer.
# With `=`, the second write would overwrite the first and leave `x`, wrongly, at `x.data`:

# %%
x = Scalar(3.0)
y = x * x
y.backward()
print("d(x·x)/dx at 3:", x.grad)
assert x.grad == 6.0

# %% [markdown]
# `llmlab.autograd.Value` adds what a usable engine needs on top of these lines: more operations
# (`**`, `exp`, `log`, `relu`, `-`, `/`), plain numbers mixed in (`2 * x`), a topological sort
# that keeps its own stack (so a sum of ten thousand terms cannot hit Python's recursion limit),
# and error messages that say what went wrong:

# %%
try:
    Value(1.0) + "one"
except TypeError as err:
    print("TypeError:", err)

long_sum = sum(Value(1.0) for _ in range(10_000))
long_sum.backward()  # the library's sort: no recursion
print(f"a sum of 10,000 Values backpropagates: {long_sum.data:,.0f}")
try:
    sum((Scalar(1.0) for _ in range(10_000)), Scalar(0.0)).backward()  # our recursive visit()
except RecursionError:
    print("our Scalar's recursive sort: RecursionError")
else:
    raise AssertionError("expected our recursive sort to hit the recursion limit")

# %% [markdown]
# ## 4. Checking gradients on random expressions
#
# One worked example is not a proof. We generate random expressions — random operations wired to
# random earlier results, so values get reused — and compare the engine's gradients against
# finite differences and against `torch.autograd`, PyTorch's engine. The same Python code runs on
# `Value`s and on torch tensors, because both understand `+`, `*`, `.tanh()`, `.log()`...

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
# is the **learning rate**, the most important knob of training. To see what it does, we descend
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
# how `torch.optim.SGD` does it, and the playground's path matches torch's step for step:

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

# %%
verdicts = {}
for rate in [0.005, 0.05, 0.15, 0.25]:
    descent = widgets.descent_path(ravine, lr=rate, steps=50)
    verdicts[rate] = widgets.descent_verdict(descent)
    print(
        f"lr {rate:<5}: {verdicts[rate]:<10} loss {descent.losses[0]:.3g} -> {descent.losses[-1]:.3g}"
    )
assert list(verdicts.values()) == ["crawls", "converges", "oscillates", "diverges"]

# %% [markdown]
# On Rosenbrock's curved "banana" valley the floor is nearly flat and the walls are steep, so a
# rate small enough for the walls crawls along the floor. Momentum builds up speed along it:

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
# The playground is a Python object; setting its controls from code is the same as moving them:

# %%
before = playground.image.value
playground.lr.value = 0.15
print(playground.verdict())
assert playground.verdict() == "oscillates" and playground.image.value != before
playground.lr.value = 0.25
print(playground.verdict())
assert playground.verdict() == "diverges"
playground.lr.value = 0.15
playground.steps.value = 20

# %% tags=["nbval-ignore-output"]
playground.figure

# %% [markdown]
# ## 6. Softmax, cross-entropy and their gradient
#
# A language model outputs a score, a **logit** `zᵢ`, for every token of the vocabulary. Softmax
# turns the scores into probabilities, `pᵢ = exp(zᵢ) / Σⱼ exp(zⱼ)`, and the loss for a correct
# next token `t` is the **cross-entropy** `L = -log p_t` — small when the model gave the right
# token high probability. Write it as `L = log Σⱼ exp(zⱼ) - z_t` and differentiate:
#
# - `∂/∂zᵢ log Σⱼ exp(zⱼ) = exp(zᵢ) / Σⱼ exp(zⱼ) = pᵢ`,
# - `∂/∂zᵢ z_t` is 1 for `i = t` and 0 otherwise.
#
# So **`∂L/∂z = softmax(z) - onehot(t)`**: push the right token's logit up by `1 - p_t` and every
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
# (As a network: one-hot input times `W` — which just picks row `a`.) We train it on the plays'
# characters three ways, and all three must land on the same loss.
#
# ### 7a. By counting
#
# The best possible such table is known in closed form: count how often each pair `(a, b)` occurs
# and normalise each row. We add one to every count (**smoothing**) so that no pair gets
# probability zero — a pair never seen in training would otherwise cost infinite loss.

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
print(f"{V} characters; {len(train_ids):,} training pairs")
print(f"uniform guess:    {math.log(V):.4f} nats per character")
print(f"counting bigrams: {count_train:.4f} train, {count_valid:.4f} validation")
q, u = tokenizer.encode("qu")
print(f"P('u' | 'q') = {probs[q, u]:.3f}")
assert count_valid < math.log(V) - 1.5 and probs[q, u] > 0.9

# %% [markdown]
# Unsmoothed, the table gives some validation pairs probability exactly zero:

# %%
unseen = (counts[valid_ids[:-1], valid_ids[1:]] == 0).sum().item()
raw = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
print(f"validation pairs never seen in training: {unseen}")
print(f"loss of the unsmoothed table on validation: {nll(raw.log(), valid_ids)}")
assert unseen > 0 and nll(raw.log(), valid_ids) == math.inf

# %% [markdown]
# Sampling: start from a newline, draw the next character from its row, repeat. A seeded
# generator makes the draw repeatable. A bigram model knows which letters follow which, and
# nothing more:


# %%
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
assert round(len(train_ids) / 1e6, 1) == 4.1  # quoted below

# %% [markdown]
# On the full corpus there are 4.1 million pairs. The cross-entropy over all of them is a sum of
# one term per pair, and identical pairs give identical terms — so it equals a sum over the `V × V`
# *distinct* pairs, each weighted by its count: `L = -Σ counts[a,b] · log softmax(W[a])[b] / N`.
# That makes each full-data step cost `V²` instead of 4.1 million rows. Check the identity on a
# slice, then train with Adam:

# %%
chunk = train_ids[:200_001]
chunk_counts = torch.bincount(chunk[:-1] * V + chunk[1:], minlength=V * V).reshape(V, V)
W_check = torch.randn(V, V)
direct = F.cross_entropy(W_check[chunk[:-1]], chunk[1:])
weighted = -(chunk_counts * W_check.log_softmax(dim=1)).sum() / chunk_counts.sum()
assert torch.allclose(direct, weighted, rtol=1e-5)

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

# %% [markdown]
# Gradient descent found the table that counting writes down directly. Row by row, the two
# tables give the next character nearly the same distribution (they differ most in the rows of
# rare characters, where smoothing adds the most and the gradient the least):

# %%
row_distance = (log_probs.exp() - probs).abs().sum(dim=1) / 2  # total variation distance per row
how_often = counts.sum(dim=1) / counts.sum()
print(
    f"distance between the tables, averaged over characters as they occur: {(how_often * row_distance).sum():.1%}"
)
assert (how_often * row_distance).sum() < 0.01

# %% [markdown]
# So its samples read alike; with the same seed, they are often the very same draws.

# %% tags=["nbval-ignore-output"]
print(sample(log_probs.exp(), 200))

# %% [markdown]
# Counting only works for this one tiny model. Gradient descent works for any differentiable
# model: give the next character a longer context, replace the table by a network, and the same
# loop — loss, `backward()`, step — trains it.
#
# ## 8. A neural network, trained with the engine
#
# A table of logits cannot learn anything a table cannot hold. A **neural network** can: layers
# of neurons (§3), each a weighted sum and a bend (`tanh`), the last layer without a bend.
# `llmlab.autograd.MLP(2, [6, 1])` is such a network: 2 inputs, a **hidden layer** of 6 neurons,
# 1 output — a score, positive for class 1. The task: 40 points in the plane, class 0 inside a
# disc, class 1 on a ring around it. No straight line separates them.

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


def accuracy(model: MLP) -> float:
    return sum((model(p)[0].data > 0) == (y == 1) for p, y in zip(points, labels, strict=True)) / 40


# %% [markdown]
# First, is the engine's gradient for a whole network right? The same weights in torch, the same
# loss, one `backward()` each:

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
# of the two coordinates, whose class boundary can only be a straight line.

# %%
network_losses = fit(network, steps=100, lr=0.5)
random.seed(0)
linear = MLP(2, [1])
linear_losses = fit(linear, steps=100, lr=0.5)
print(
    f"hidden layer of 6: loss {network_losses[0]:.2f} -> {network_losses[-1]:.2f}, accuracy {accuracy(network):.0%}"
)
print(
    f"no hidden layer:   loss {linear_losses[0]:.2f} -> {linear_losses[-1]:.2f}, accuracy {accuracy(linear):.0%}"
)
assert accuracy(network) >= 0.95 and accuracy(linear) <= 0.75

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.decision_boundary(lambda a, b: network([a, b])[0].data, points, labels, title="MLP(2, [6, 1])")

# %% tags=["nbval-ignore-output"]
viz.decision_boundary(lambda a, b: linear([a, b])[0].data, points, labels, title="MLP(2, [1])")

# %% [markdown]
# Each hidden neuron draws one straight line (where its weighted sum crosses zero) and `tanh`
# bends the plane along it; the output adds six bent planes, and the sum can enclose the disc.
# Without the bend, six hidden neurons would collapse into one weighted sum — still a straight
# line. This is the MLP inside every GPT block of lesson 04, 4× wider than its input, and trained
# by the same loop: loss, `backward()`, step.
#
# ## Recap
#
# - A derivative is the effect of a nudge; finite differences measure it, slowly and roughly.
# - Backpropagation applies the chain rule from the output back through the graph: each operation
#   knows only its local derivative; gradients of reused values add up (`+=`).
# - Our engine agrees with `torch.autograd` and with finite differences on 200 random expressions.
# - The learning rate is bounded by the steepest curvature (overshoot, zig-zag, divergence) and
#   the flattest direction sets the pace; momentum helps along flat valleys.
# - The gradient of softmax + cross-entropy is `softmax(z) - onehot(t)`.
# - A bigram model trained by gradient descent reaches the loss of counting: ≈ 2.47 nats per
#   character on the training plays, ≈ 2.49 on held-out plays.
# - A hidden layer with a non-linearity bends the decision boundary: the engine trains an MLP to
#   separate a disc from a ring, which no straight line can.
#
# ## Exercises
#
# **Exercise 1.** Return the gradient of the cross-entropy with respect to the logits (a list of
# floats), without any autograd.


# %%
from llmlab import exercises


def cross_entropy_gradient(logits: list[float], target: int) -> list[float]:
    raise NotImplementedError  # your code here


passed = exercises.check("cross_entropy_gradient", cross_entropy_gradient)

# %% [markdown]
# **Exercise 2.** Give the engine a new operation. Write `sigmoid(x)`, `1 / (1 + exp(-x))`, as
# **one** node, the way `tanh` is written in §3: compute `s` from `x.data`, make
# `out = Value(s, (x,), "sigmoid")`, and give it a `_backward` that adds the local slope
# `s·(1 - s)` times `out.grad` to `x.grad`. (Building it from `exp`, `+` and `/` gives the right
# numbers but not a new operation: the checker looks for a single node on `x`.)


# %%
def sigmoid(x: Value) -> Value:
    raise NotImplementedError  # your code here


passed = exercises.check("sigmoid_op", sigmoid)

# %% [markdown]
# **Exercise 3.** Write the topological sort that `backward()` relies on: every node `root`
# depends on (its inputs are `node._prev`), `root` included, each listed after all of its inputs,
# and each once — even a value used twice. (The checker builds random expressions with reused
# values and accepts any valid order.)


# %%
def topological_order(root: Value) -> list[Value]:
    raise NotImplementedError  # your code here


passed = exercises.check("topological_order", topological_order)

# %% [markdown]
# **Exercise 4.** One step of SGD with momentum as `torch.optim.SGD` takes it: given lists of
# parameters, gradients and velocities, return `(new_params, new_velocity)`.


# %%
def momentum_step(params, grads, velocity, lr: float, momentum: float):
    raise NotImplementedError  # your code here


passed = exercises.check("momentum_step", momentum_step)

# %% [markdown]
# Stuck? `exercises.solution("sigmoid_op")` (or any exercise's name) prints a worked solution.
