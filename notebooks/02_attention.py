# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02 · Attention
#
# **What you will build:** the one idea a transformer adds to an ordinary network. Tokens become
# vectors; positions are mixed in; then every token asks the others a question and takes an
# average of their answers. You will compute attention by hand on four tokens with every matrix
# on screen, add the causal mask, split it into heads, check all of it against PyTorch — and then
# open up the course's trained model with the **attention explorer** and measure what its heads
# actually do. Four exercises have you build the pieces yourself: the average of the past as one
# matrix product, a RoPE rotation, one causal attention head, and multi-head attention.
#
# **CPU time:** about 30 seconds on a 2-core laptop, with the course's character model in the
# cache (the repository ships it). Without it, the first run trains it (`llmlab prepare` does that
# ahead of time).

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 0. Tensors and matrix products
#
# Everything in this lesson is a **tensor**: a block of numbers with a **shape**. A `[2, 3]`
# tensor is a table of 2 rows of 3 numbers (a matrix); a `[4]` tensor is a list of 4 (a vector);
# a `[1, 5, 8]` tensor is 1 text of 5 tokens of 8 numbers each. The **dot product** of two
# vectors of the same length is the sum of their products, number by number. The **matrix
# product** `A @ B` of a `[n, k]` and a `[k, m]` tensor is the `[n, m]` tensor whose entry
# `(i, j)` is the dot product of row `i` of `A` with column `j` of `B`. `B.T` (the transpose)
# swaps rows and columns. With more than two dimensions, `@` does one matrix product per index
# of the leading ones: that is how many texts, or many heads, are computed at once.

# %%
import torch

A = torch.tensor([[1.0, 2, 0], [0, 1, 3]])  # [2, 3]
B = torch.tensor([[1.0, 0], [2, 1], [0, 4]])  # [3, 2]
print(f"A {list(A.shape)} @ B {list(B.shape)} = {list((A @ B).shape)}:\n{A @ B}")
print("entry (0, 1) = row 0 of A · column 1 of B =", (A[0] * B[:, 1]).sum().item())
assert (A @ B)[0, 1] == (A[0] * B[:, 1]).sum() and (A @ B).T.equal(B.T @ A.T)
stacked = torch.stack([A, 2 * A])  # [2, 2, 3]: two matrices
assert (stacked @ B).equal(torch.stack([A @ B, 2 * A @ B]))  # one product per leading index

# %% [markdown]
# ## 1. Tokens become vectors
#
# A model cannot compute with a token id like `52`: the number is a name, not a quantity (token 52
# is not "more" than token 51). So the first layer is a table, the **embedding**, with one
# learned vector per token. Looking up row `i` is the same as multiplying a one-hot vector by the
# table, which is why it counts as a layer and learns like one.
#
# Here is the course's standard character-level model, `char`. It is not the model lesson 04
# trains (that one is smaller: 64 numbers per vector and learned positions). `pretrained.load`
# builds `char` from a fixed recipe, `pretrained.recipe("char")`, and ships the result in
# `assets/`; the cell after the next prints the recipe.

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

model, tokenizer = pretrained.load("char")

# %%
recipe = pretrained.recipe("char")
shipped = pretrained.checkpoint("char")
print("shape:", recipe["model"])
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
steps, batch = recipe["train"]["max_steps"], recipe["train"]["batch_size"]
block = recipe["model"]["block_size"]
print(f"training: {steps:,} steps of {batch} windows of {block} characters, seed {recipe['seed']}")
print(f"the shipped checkpoint took {shipped.extra['seconds']:.0f} s to train")
print(f"its loss on the held-out plays: {shipped.extra['val_loss']:.3f} nats per character")
assert sum(p.numel() for p in model.parameters()) == 797_312
assert recipe["model"]["pos_encoding"] == "rope" and recipe["model"]["n_embd"] == 128

# %% [markdown]
# Four blocks of attention (with 4 heads each, §6) and 128 numbers per token, positions given
# by rotation (RoPE, §2). The *loss* is the average of `-ln p`, `p` the probability the model
# gave the character that came next (lessons 03 and 04 build it); its unit, the **nat**, is that
# of a natural logarithm: guessing uniformly among the 76 characters would score `ln 76 = 4.33`.
# To reproduce the model, train the same recipe into a file of your own:
# `pretrained.train_recipe(recipe, Path("my_char.safetensors"))` runs the training loop lesson
# 04 writes, with the recipe's seed, on a recipe sized for about five minutes on a 2-core laptop
# (`llmlab prepare char` does the same when neither the cache nor `assets/checkpoints/` holds it).

# %%
import torch.nn.functional as F

config = model.config
table = model.wte.weight.detach()  # [vocab, n_embd]
print(config)
print(f"embedding table: {tuple(table.shape)} = one {config.n_embd}-number vector per character")

ids = torch.tensor(tokenizer.encode("Romeo"))
one_hot = F.one_hot(ids, config.vocab_size).float()
assert torch.equal(model.wte(ids).detach(), table[ids])
assert torch.allclose(one_hot @ table, table[ids])  # a lookup is a one-hot matrix product

# %% [markdown]
# After training, characters that behave alike should have nearby vectors. Measure "nearby" by the
# **cosine similarity** (the cosine of the angle between two vectors: 1 when they point the
# same way, whatever their lengths) and list the nearest neighbours of a few characters:

# %% tags=["nbval-ignore-output"]
unit = F.normalize(table, dim=1)
similarity = unit @ unit.T  # [vocab, vocab]
similarity.fill_diagonal_(-1)  # a character is not its own neighbour


def neighbours(char: str, k: int = 5) -> list[str]:
    best = similarity[tokenizer.encode(char)[0]].topk(k).indices
    return [tokenizer.decode([i]) for i in best.tolist()]


for char in ["a", "e", "A", "T", "k", ".", "?", "\n"]:
    print(f"{char!r:6} -> {'  '.join(repr(c) for c in neighbours(char))}")

# %% [markdown]
# The pattern is measurable. Sort the characters into kinds — lowercase vowels, lowercase
# consonants, capitals, punctuation — and count how often a character's nearest neighbour is of
# its own kind, against what picking a random other character would give. The share comes with
# its **standard error** (± SE), the typical amount by which it would change on another sample
# of the same size; we claim a difference only when it is several SEs wide:

# %% tags=["nbval-ignore-output"]
from matplotlib.figure import Figure

from llmlab import stats
from llmlab.widgets import show_token

KINDS = {
    "vowel": set("aeiou"),
    "consonant": set("bcdfghjklmnpqrstvwxyz"),
    "capital": set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "punctuation": set("!\"$&',-.:;?—"),
}
kind_of = {c: kind for kind, chars in KINDS.items() for c in chars}
chars = [c for c in tokenizer.chars if c in kind_of]
hits = sum(kind_of.get(neighbours(c, 1)[0]) == kind_of[c] for c in chars)
same_kind = stats.proportion(hits, len(chars))  # a share of n, with its standard error
chance = sum((len(KINDS[kind_of[c]]) - 1) / (len(tokenizer.chars) - 1) for c in chars) / len(chars)
print(f"nearest neighbour of the same kind: {same_kind:.2f} ({hits} of {len(chars)} characters)")
print(f"a random other character would be:  {chance:.2f}")
assert same_kind.value - chance > 9 * same_kind.se  # nearly ten SEs
assert round(same_kind.value / chance) == 3  # about three times chance

# %% [markdown]
# About three characters in four (49 of 64: 0.77 ± 0.05) have a nearest neighbour of their own
# kind, three times the 0.25 of a random pick, nearly ten standard errors apart.
#
# A picture shows more of the table at once. Each vector has 128 numbers; project them onto
# the two directions along which the table varies most (its first two *principal components*,
# found by a standard matrix factorisation, the SVD) and colour each character by its kind.
# Which way each direction points is arbitrary (the SVD may return it negated): the cell's
# checks accept either sign, and on your machine the picture may come out mirrored:

# %% tags=["nbval-ignore-output"]
centred = table - table.mean(dim=0)
_, _, directions = torch.linalg.svd(centred, full_matrices=False)
flat = centred @ directions[:2].T  # [vocab, 2]: each character's place in the picture
figure = Figure(figsize=(6.5, 4.5), layout="constrained")
axes = figure.subplots()
colours = {"vowel": "tab:red", "consonant": "tab:blue", "capital": "tab:green"}
colours |= {"punctuation": "tab:orange", "other": "tab:gray"}
for i, char in enumerate(tokenizer.chars):
    kind = kind_of.get(char, "other")
    axes.text(*flat[i].tolist(), show_token(char), color=colours[kind], ha="center", va="center")
axes.set(xlim=(flat[:, 0].min() - 0.3, flat[:, 0].max() + 0.3))
axes.set(ylim=(flat[:, 1].min() - 0.3, flat[:, 1].max() + 0.3))
axes.set(xlabel="first direction", ylabel="second direction")
axes.set_title(
    "the embedding table in 2-D: " + ", ".join(f"{k} ({c[4:]})" for k, c in colours.items())
)


def place(group: str, axis: int) -> torch.Tensor:
    """The coordinates of the characters of ``group`` along direction ``axis`` (0 or 1)."""
    return flat[[tokenizer.chars.index(c) for c in group], axis]


def separated(group: str, other: str, axis: int) -> bool:
    """Do the two groups lie on two sides of one point of this direction, either way round?"""
    a, b = place(group, axis), place(other, axis)
    return bool(a.max() < b.min() or b.max() < a.min())


vowels, consonants = "".join(sorted(KINDS["vowel"])), "".join(sorted(KINDS["consonant"]))
rare, capitals = "qxzj", "".join(sorted(KINDS["capital"]))
common = "".join(c for c in vowels + consonants if c not in rare)
middle = rare + "".join(sorted(KINDS["punctuation"]))  # the rare letters and the punctuation
digits = "0123456789$"  # with the dollar sign, which sits among them
assert separated(digits, "".join(c for c in tokenizer.chars if c not in digits), 0)
assert separated(capitals, vowels + consonants, 1)
# the common letters at one end of the second direction, the capitals at the other, so the
# punctuation and the rare letters lie between them:
assert separated(common, middle + capitals, 1) and separated(capitals, common + middle, 1)
assert not separated(vowels, consonants, 0) and not separated(vowels, consonants, 1)
assert [sum(c in vowels for c in neighbours(v)) for v in "ae"] == [4, 4]  # in all 128 numbers
figure

# %% [markdown]
# What to see: the digits (grey), and the `$` that sits among them, lie apart from everything
# else along the first direction (far left here); the capitals (green) and the lowercase letters
# (red and blue) form two separate clouds at the two ends of the second (capitals at the top
# here), and every punctuation mark (orange) lies between them along it. Vowels (red) and
# consonants (blue) share the lowercase cloud: two directions out of 128 do not separate them,
# though in the full vectors the nearest neighbours of `a` and `e` printed above are four
# vowels out of five. Rare letters (`q`, `x`, `z`, `j`) sit a little apart from the other
# lowercase ones, towards the middle. (The cell above asserts each of these, for either sign.)

# %% [markdown]
# ## 2. Why order needs positions
#
# Attention, as we will see, lets each token take a weighted average of the others. An average does
# not care about order. Take the trained model's first attention layer — its weights, with no
# positions and no causal mask (§5: the mask that lets each token see only the tokens before it, a
# clue to order by itself, since the first token then sees only itself) — and feed it the same
# letters in two orders, `stop` and `pots`. Like every attention layer of the model, it first passes
# each token's vector through a **layer norm**: it shifts and scales the vector's numbers to mean 0
# and spread 1, then multiplies each of them (each **channel**: one position in the vector, the same
# for every token) by a learned weight, so attention always sees vectors of a steady size (lesson 04
# puts it in the block). Each letter comes out the same (to within `1e-6`, float rounding), just in
# the other order:

# %%
from llmlab import attention

block = model.blocks[0]
layer = attention.MultiHeadAttention(config.n_embd, config.n_head, bias=config.bias)
layer.load_state_dict(block.attn.state_dict())  # the trained query/key/value/output weights


def attend(x: torch.Tensor) -> torch.Tensor:
    """The trained first attention layer (layer norm included), bidirectional: ``[1, T, C]``."""
    with torch.no_grad():
        return layer(block.ln_1(x))


def embed(text: str) -> torch.Tensor:
    """The trained embeddings of ``text``'s characters, ``[1, T, n_embd]``, no positions."""
    return table[tokenizer.encode(text)][None]


stop, pots = attend(embed("stop"))[0], attend(embed("pots"))[0]
order = [3, 2, 1, 0]  # 'pots' is 'stop' reversed: position i of one is 3 - i of the other
print("same output for each letter in both orders:", torch.allclose(stop, pots[order], atol=1e-6))
assert torch.allclose(stop, pots[order], atol=1e-6)

# %% [markdown]
# To the layer these two words are one bag of letters. The simplest fix is to add to each token's
# vector a vector that depends on its **position**: GPT-2 learns one vector per position; the
# original transformer used fixed sine waves (below). Most recent LLMs, and the course's model,
# rotate the queries and keys instead (RoPE, below; §4 builds them): the model in this lesson and in
# the explorer was trained with RoPE, not with sine waves. We show the sine waves anyway, first,
# because they are the plainest way to see a position *as a vector* added to a token's, and because
# RoPE is built from the very same waves, used as angles of rotation instead of added. With the
# sine-wave position vectors added, the two orders differ:

# %% tags=["nbval-ignore-output"]
positions = attention.sinusoidal_encoding(4, config.n_embd)  # one vector per position 0..3
stop_p = attend(embed("stop") + positions)[0]
pots_p = attend(embed("pots") + positions)[0]
gap = (stop_p - pots_p[order]).norm(dim=-1) / stop_p.norm(dim=-1)
print("relative difference per letter, with positions:", [round(g, 2) for g in gap.tolist()])
assert gap.min() > 0.05

# %% [markdown]
# **Sinusoidal encoding** (`attention.sinusoidal_encoding`): channel pair `2i, 2i+1` holds
# `sin, cos` of `position / 10000^(2i/d)` — fast waves in the first channels, slow ones in the
# last, like the hands of a clock. Every position gets its own pattern:

# %% tags=["nbval-ignore-output"]
from llmlab import viz

waves = attention.sinusoidal_encoding(64, 32)
viz.heatmap(waves, title="sinusoidal encoding", xlabel="channel", ylabel="position")

# %% [markdown]
# Read it row by row: each row is one position's vector. In the left channels the colours change
# from one row to the next (fast waves); in the right ones they hardly change over 64 positions
# (the slowest wave turns by 1/100 of a radian in all). No two rows are the same:

# %%
assert len({tuple(row.tolist()) for row in waves}) == 64  # no two positions look alike
slowest = waves[:, -1]  # cos of the slowest angle: 1 at position 0, barely less at 63
print(f"last channel: {slowest[0]:.4f} at position 0, {slowest[-1]:.4f} at position 63")

# %% [markdown]
# **RoPE** (rotary position embedding, `attention.apply_rope`) adds nothing to the token's
# vector. It turns the **queries** and **keys** instead: two vectors that attention makes from
# each token's vector, the dot product (§0) of one token's query with another's key scoring
# how much the first attends to the second (§4 builds them). Split a `d`-number vector into `d/2`
# **pairs** of channels: in the layout of this course (and of GPT-NeoX and LLaMA), pair `i` is
# channels `i` and `i + d/2`. Read each pair as a point `(a, b)` in a plane, and at position `m`
# turn it by the angle `m·θᵢ`, with `θᵢ = base^(-2i/d)` (`base` = 10000): pair 0 turns by one
# radian per position, the last pair very slowly — the sine waves above, used as angles. Turning
# `(a, b)` by an angle `φ` gives `(a cos φ − b sin φ, a sin φ + b cos φ)`.
#
# Why turn? The dot product of two vectors turned by `m·θ` and `n·θ` only depends on the angle
# between them, `(m − n)·θ`: the score of a query at position `m` and a key at `n` depends on
# their distance, not on where they are. Build it.

# %% [markdown]
# ### Exercise: a RoPE rotation
# `x` is a `[T, d]` tensor (`d` even), row `m` at position `m`; `base` is a number above 1.
# Return the `[T, d]` tensor with every pair `(i, i + d/2)` of row `m` turned by `m·base^(-2i/d)`.
# Vectorised: no loop over positions or pairs is needed. The check compares your function with
# `attention.apply_rope(x, *attention.rope_frequencies(d, T, base))`; calling that (or anything
# else of `llmlab`) inside yours is refused by the check.

# %%
from llmlab import exercises

print(exercises.header("rope_rotation"))


# %%
def rope_rotation(x: torch.Tensor, base: float) -> torch.Tensor:
    # 1. the d/2 frequencies theta_i = base ** (-2 i / d), i = 0 .. d/2 - 1      -> [d/2]
    # 2. the angles: position m times theta_i, for every m and i                -> [T, d/2]
    # 3. the two halves of x: channels 0 .. d/2 - 1 and d/2 .. d - 1            -> [T, d/2] each
    # 4. turn each pair by its angle; put the halves back together              -> [T, d]
    raise NotImplementedError  # your code here


passed = exercises.check("rope_rotation", rope_rotation)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("rope_rotation")` (then
# `exercises.hint("rope_rotation", 2)`), and only then `exercises.solution("rope_rotation")`.
#
# The library's version, in plain view: rotate one query and one key to every position of 40
# and compare scores. The same distance gives the same score, wherever it lies; another
# distance gives another. (Once your `rope_rotation` passes, the cell uses yours too.)

# %%
torch.manual_seed(0)
head_dim, T = 16, 40
cos, sin = attention.rope_frequencies(head_dim, T)
q, k = torch.randn(head_dim), torch.randn(head_dim)
rotated_q = attention.apply_rope(q.expand(T, head_dim), cos, sin)  # q at every position
rotated_k = attention.apply_rope(k.expand(T, head_dim), cos, sin)
if passed:  # your rotation, against the library's
    assert torch.allclose(rope_rotation(q.expand(T, head_dim), 10000.0), rotated_q, atol=1e-5)


def score(m: int, n: int) -> float:
    """The attention score of the query at position m for the key at position n."""
    return (rotated_q[m] @ rotated_k[n]).item()


print(f"score(5, 2) = {score(5, 2):.4f}, score(35, 32) = {score(35, 32):.4f}")
print(f"score(7, 2) = {score(7, 2):.4f}")
assert abs(score(5, 2) - score(35, 32)) < 1e-4 and abs(score(5, 2) - score(7, 2)) > 1e-3
assert torch.allclose(rotated_q.norm(dim=-1), q.norm().expand(T))  # rotation keeps lengths

# %% [markdown]
# ## 3. Attention is an average
#
# Before queries and keys, the core move. Let each token take the **average of its own vector
# and of all the vectors before it**: token 0 keeps its own, token 1 gets the mean of 0 and 1,
# and so on. A token then carries a summary of its past. With a loop:

# %%
x_small = torch.tensor([[1.5, -0.5], [-2, 1], [-1, -1.5], [0.5, 1]])  # 4 tokens, 2 numbers each
by_loop = torch.stack([x_small[: t + 1].mean(dim=0) for t in range(4)])
print(f"x:\n{x_small}\n\naverage of the past, by a loop:\n{by_loop}")

# %% [markdown]
# ### Exercise: the average of the past as one matrix product
# `x` is a `[T, d]` tensor; return the `[T, d]` tensor whose row `t` is the mean of rows `0..t`.
# Do it as one matrix product (§0): find the `[T, T]` matrix `W` such that `W @ x` is the
# answer — row `t` of `W` says how much of each row of `x` goes into output row `t`. No loop
# over tokens, no `cumsum`. Attention is this product with a `W` that depends on the data.

# %%
print(exercises.header("causal_average"))


# %%
def causal_average(x: torch.Tensor) -> torch.Tensor:
    # 1. W, [T, T]: row t has equal weights on columns 0..t and 0 after; each row sums to 1
    # 2. one matrix product                                         -> [T, d]
    raise NotImplementedError  # your code here


passed = exercises.check("causal_average", causal_average)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("causal_average")` (then
# `exercises.hint("causal_average", 2)`), and only then `exercises.solution("causal_average")`.
#
# Such weights can also come out of a **softmax**. It turns a row of scores `s₀ … sₙ` into
# weights `wⱼ = e^sⱼ / Σₖ e^sₖ`: every weight is positive, they sum to 1, a larger score gets a
# larger weight, equal scores get equal weights, and a score of `-inf` gets weight `e^-inf = 0`:

# %%
import math

row = torch.tensor([2.0, 1.0, 0.0, float("-inf")])
by_formula = row.exp() / row.exp().sum()
print(f"scores {row.tolist()} -> weights {[round(w, 4) for w in by_formula.tolist()]}")
assert torch.allclose(row.softmax(dim=-1), by_formula) and by_formula[3] == 0
assert math.isclose(by_formula.sum().item(), 1.0, rel_tol=1e-6)

# %% [markdown]
# So give every pair (token, earlier token) the same score, 0, set the scores of later tokens to
# `-inf` (the future), and softmax each row: the weights are exactly the average of the past.

# %%
fixed_scores = torch.zeros(4, 4).masked_fill(
    ~torch.ones(4, 4, dtype=torch.bool).tril(), float("-inf")
)
weights_fixed = fixed_scores.softmax(dim=-1)
print(f"scores:\n{fixed_scores}\n\nsoftmax of each row:\n{weights_fixed}")
assert torch.allclose(weights_fixed @ x_small, by_loop)  # the loop's averages

# %% [markdown]
# An equal average treats every past token alike, but some matter more than others (the letter
# just before; the start of the line). **Attention** keeps this softmax-weighted average and only
# changes where the scores come from: instead of 0, each score is computed from the two tokens'
# vectors, so the weights depend on the data. That is what queries and keys are for.
#
# ## 4. Attention by hand, on four tokens
#
# Each token makes three vectors from its embedding, with three learned matrices:
#
# - a **query** `q = x·Wq`: what am I looking for?
# - a **key** `k = x·Wk`: what do I offer?
# - a **value** `v = x·Wv`: what do I pass on if chosen?
#
# Token `i`'s attention to token `j` is the score `qᵢ·kⱼ` (how well the question matches the
# offer), divided by `√d`, turned into weights by a softmax over `j`. Its output is the weighted
# average of the values. Four tokens, 4-number vectors, all matrices printed. The numbers are
# small whole numbers and halves (a trained model's are not): every computer stores them
# exactly, so `Q`, `K`, `V` and the scores below come out exactly the same on every machine.

# %%
tokens = list("dogs")
d = 4
X = torch.tensor(  # stand-in embeddings (+ positions) of the 4 tokens, one row each
    [[1.0, 1, -1, 2], [1, -1, 1, 0], [0, 0, -1, -1], [1, 1, 1, 1]]
)
Wq = torch.tensor([[1.0, 0.5, 0, -0.5], [0.5, 1, 1, -1], [0, -1, -0.5, -1], [0.5, 1, 0, 0.5]])
Wk = torch.tensor([[1.0, 0, 0.5, -0.5], [0, -1, 0, -0.5], [1, -1, 0.5, -1], [-1, 0.5, 0.5, -0.5]])
Wv = torch.tensor([[-0.5, 0, 1, 0.5], [-1, 1, 0.5, -0.5], [-0.5, -1, -1, -1], [1, 0.5, -1, 0.5]])
Q, K, V = X @ Wq, X @ Wk, X @ Wv
shown = {"X": X, "Wq": Wq, "Wk": Wk, "Wv": Wv, "Q = X Wq": Q, "K = X Wk": K, "V = X Wv": V}
for name, matrix in shown.items():
    print(f"{name}:\n{matrix}\n")

# %% [markdown]
# Scores: every query against every key, one matrix product. Row `i`, column `j` is how much
# token `i` wants token `j`:

# %%
scores = Q @ K.T / d**0.5
weights = scores.softmax(dim=-1)
output = weights @ V
print(f"scores = Q Kᵀ / √{d}:\n{scores}\n")
print(f"weights = softmax(scores), row by row (each row sums to 1):\n{weights}\n")
print(f"output = weights V:\n{output}")
assert torch.allclose(weights.sum(dim=-1), torch.ones(4))

# %% [markdown]
# `llmlab.attention.attention` is the same computation (with masks and batches), and PyTorch's
# fused `F.scaled_dot_product_attention` agrees with both:

# %%
ours, ours_weights = attention.attention(Q, K, V)
assert torch.allclose(ours, output, atol=1e-6) and torch.allclose(ours_weights, weights)
assert torch.allclose(F.scaled_dot_product_attention(Q, K, V), output, atol=1e-5)
print("by hand == llmlab.attention.attention == torch.nn.functional.scaled_dot_product_attention")

# %% [markdown]
# **Why divide by `√d`?** A dot product of two random `d`-number vectors (numbers of spread 1) has a
# spread (standard deviation) of about `√d`. With `d = 128` unscaled scores are so far apart that
# the softmax puts nearly all weight on one key (91% on average, below). Dividing by `√d` brings the
# scores back to a spread of about 1, whatever the width. Measured on 2000 random groups of 8
# queries and 8 keys (the largest weight of each query, averaged per group, ± its standard error
# over the 2000 groups):

# %%
for width in [4, 128]:
    q8, k8 = torch.randn(2000, 8, width), torch.randn(2000, 8, width)  # 2000 groups of 8 and 8
    raw = q8 @ k8.transpose(-1, -2)
    top_raw = raw.softmax(dim=-1).amax(dim=-1).mean(dim=-1)  # [2000]
    top_scaled = (raw / math.sqrt(width)).softmax(dim=-1).amax(dim=-1).mean(dim=-1)
    print(
        f"d = {width:3}: score spread {raw.std():5.1f}; largest weight of 8: "
        f"{stats.mean(top_raw):.3f} unscaled, {stats.mean(top_scaled):.3f} scaled"
    )
    assert abs(raw.std() / math.sqrt(width) - 1) < 0.05  # a spread of about √d ...
    assert abs((raw / math.sqrt(width)).std() - 1) < 0.05  # ... and about 1 once divided
gap = stats.difference(top_raw, top_scaled, paired=True)
print(f"d = 128, unscaled minus scaled: {gap:.3f}")
assert gap.value > 0.4 and gap.beyond_noise(10) and stats.mean(top_raw).value > 0.9

# %% [markdown]
# ## 5. The causal mask
#
# A model that predicts the next token must not see it. In a **decoder** like GPT, token `i` may
# attend only to tokens `0..i`: the scores above the diagonal (key after query) are set to
# `-inf` before the softmax, so they get weight exactly 0. `attention.attention` does it with
# `causal=True`; PyTorch's fused kernel agrees:

# %%
mask = attention.causal_mask(4)
print(f"may attend (True) — row = query, column = key:\n{mask}\n")
ours, causal_weights = attention.attention(Q, K, V, causal=True)
print(f"causal weights:\n{causal_weights}")
assert torch.allclose(F.scaled_dot_product_attention(Q, K, V, is_causal=True), ours, atol=1e-5)
assert (causal_weights.triu(diagonal=1) == 0).all()  # nothing from the future
assert causal_weights[0, 0] == 1  # the first token sees only itself

# %% tags=["nbval-ignore-output"]
viz.heatmap(
    causal_weights,
    tokens,
    tokens,
    title="causal attention weights",
    xlabel="looked at (key)",
    ylabel="looking (query)",
)

# %% [markdown]
# What to see: the upper-right triangle is empty (weight 0: the future), the first row puts all
# its weight on `d` itself, and each later row spreads its weight over the tokens up to itself.
#
# So what a token computes cannot depend on anything after it. Change the last token and every
# earlier output stays exactly the same:

# %%
X_changed = X.clone()
X_changed[3] = torch.randn(d)
changed, _ = attention.attention(X_changed @ Wq, X_changed @ Wk, X_changed @ Wv, causal=True)
print("outputs 0..2 unchanged:", torch.equal(changed[:3], ours[:3]))
assert torch.equal(changed[:3], ours[:3]) and not torch.allclose(changed[3], ours[3])

# %% [markdown]
# ### Exercise: one causal attention head
# `x` is `[T, C]` (T tokens, C channels); `w_q`, `w_k`, `w_v` are `[C, d]` projections. Return
# the head's `[T, d]` output: queries, keys and values (§4), scores divided by `√d`, the causal
# mask, the softmax over the keys, the weighted average of the values. Not allowed: `llmlab`'s
# attention or `F.scaled_dot_product_attention` (the check reports either).

# %%
print(exercises.header("attention_head"))


# %%
def attention_head(
    x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> torch.Tensor:
    # 1. queries, keys, values                                  -> [T, d] each
    # 2. scores: every query against every key, scaled           -> [T, T] (row = query)
    # 3. hide the future (key after query), then the softmax     -> [T, T], rows sum to 1
    # 4. the weighted average of the values                      -> [T, d]
    raise NotImplementedError  # your code here


passed = exercises.check("attention_head", attention_head)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("attention_head")` (then
# `exercises.hint("attention_head", 2)`), and only then `exercises.solution("attention_head")`.

# %% [markdown]
# ## 6. Several heads
#
# One head gives each token one set of weights over the past. **Multi-head attention** runs
# several small attentions side by side: the `C` channels of the queries, keys and values are
# split into `H` heads of `D = C/H` channels (head `h` gets channels `h·D` to `h·D + D − 1`),
# each head attends on its own with its own scores, and the heads' outputs are put back side by
# side (merged) and mixed by one more `[C, C]` matrix, the **output projection**. It has the same
# number of weights as one head of width `C`, but `H` weight patterns per token instead of one;
# §8 finds heads of the trained model that look at different things. The shapes:

# %%
x = torch.randn(1, 5, 8)  # a batch of 1, 5 tokens, 8 channels
heads = attention.split_heads(x, n_heads=2)
print(
    f"{tuple(x.shape)} -> split into heads {tuple(heads.shape)} -> merged back "
    f"{tuple(attention.merge_heads(heads).shape)}"
)
assert torch.equal(attention.merge_heads(heads), x)
n_weights = {
    h: sum(p.numel() for p in attention.MultiHeadAttention(8, h).parameters()) for h in (1, 2)
}
assert n_weights[1] == n_weights[2]  # two heads: the same number of weights as one big one

# %% [markdown]
# `attention.MultiHeadAttention` is that module. Given the same weights, PyTorch's
# `nn.MultiheadAttention` computes the same thing. (Careful with masks: ours, like
# `F.scaled_dot_product_attention`, says `True` = *may attend*; `nn.MultiheadAttention` says
# `True` = *blocked*.)

# %%
mha = attention.MultiHeadAttention(8, n_heads=2, causal=True)
reference = torch.nn.MultiheadAttention(8, num_heads=2, batch_first=True)
with torch.no_grad():
    reference.in_proj_weight.copy_(mha.qkv.weight)
    reference.in_proj_bias.copy_(mha.qkv.bias)
    reference.out_proj.weight.copy_(mha.proj.weight)
    reference.out_proj.bias.copy_(mha.proj.bias)
    ours, ours_weights = mha(x, need_weights=True)
    theirs, their_weights = reference(
        x, x, x, attn_mask=~attention.causal_mask(5), average_attn_weights=False
    )
print(f"output {tuple(ours.shape)}, weights {tuple(ours_weights.shape)} = [batch, heads, T, T]")
assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(ours_weights, their_weights)

# %% [markdown]
# ### Exercise: multi-head attention
# `x` is `[T, C]`; `w_q`, `w_k`, `w_v`, `w_o` are `[C, C]`; `n_heads` divides `C`. Return the
# `[T, C]` output of causal multi-head attention: project, split each of q, k, v into heads
# (`[H, T, D]`), attend in every head at once (scores divided by `√D`, the head's width), merge
# the heads back to `[T, C]` in the order they were split, and apply `w_o`. The trap is the
# split: each head must get *its own channels of every token*, not a slice of the tokens.

# %%
print(exercises.header("multi_head_attention"))


# %%
def multi_head_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    w_o: torch.Tensor,
    n_heads: int,
) -> torch.Tensor:
    # 1. project                                         q, k, v: [T, C]
    # 2. split the channels into heads                   q, k, v: [H, T, D], D = C // n_heads
    # 3. causal attention in every head at once          [H, T, T] weights -> [H, T, D]
    # 4. merge the heads back, then the output matrix    [T, C]
    raise NotImplementedError  # your code here


passed = exercises.check("multi_head_attention", multi_head_attention)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("multi_head_attention")` (then
# `exercises.hint("multi_head_attention", 2)`), and only then
# `exercises.solution("multi_head_attention")`.

# %% [markdown]
# ## 7. Encoder or decoder?
#
# The same layer is used in two ways:
#
# - An **encoder** (BERT and its kin) is **bidirectional**: every token sees every other, before
#   and after it. It is trained to fill in hidden words and used to *understand* text — classify
#   it, compare it, find things in it.
# - A **decoder** (GPT and nearly every chat model) is **causal**: every token sees only its past.
#   Trained to predict the next token at every position of a text at once, it *generates* text,
#   one token at a time.
#
# (The original transformer, for translation, had both: an encoder reads the source sentence,
# a decoder writes the translation while attending to the encoder.) The difference is only the
# mask, and it shows: change the last token, and the first token's output changes in the encoder
# but not in the decoder.

# %%
encoder = attention.MultiHeadAttention(8, n_heads=2, causal=False)
decoder = attention.MultiHeadAttention(8, n_heads=2, causal=True)
decoder.load_state_dict(encoder.state_dict())  # the very same weights
x_changed = x.clone()
x_changed[0, -1] = torch.randn(8)
with torch.no_grad():
    encoder_moved = (encoder(x_changed) - encoder(x))[0, 0].abs().max().item()
    decoder_moved = (decoder(x_changed) - decoder(x))[0, 0].abs().max().item()
print(
    f"first token's output moved by {encoder_moved:.3f} in the encoder, {decoder_moved} in the decoder"
)
assert encoder_moved > 1e-3 and decoder_moved == 0.0

# %% [markdown]
# ## 8. Inside the trained model
#
# The course's model is a decoder: `n_layer` blocks, each with `n_head` causal heads. Asked with
# `return_attention=True`, it hands back every head's weights, `[batch, layer, head, T, T]`.
# First, make sure those are what we think they are: recompute layer 0's attention by hand from
# the model's own weights (embedding, layer norm, the query/key projections, RoPE's rotation of
# queries and keys, our `attention`) and compare.

# %%
text = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
ids = torch.tensor([tokenizer.encode(text)])
with torch.no_grad():
    _, _, maps = model(ids, return_attention=True)
    block = model.blocks[0]
    h = block.ln_1(model.wte(ids))  # no position vectors: positions enter by rotation
    q, k, v = (attention.split_heads(t, config.n_head) for t in block.attn.qkv(h).chunk(3, dim=-1))
    cos, sin = attention.rope_frequencies(config.head_dim, ids.shape[1], config.rope_base)
    q, k = attention.apply_rope(q, cos, sin), attention.apply_rope(k, cos, sin)  # RoPE
    _, by_hand = attention.attention(q, k, v, causal=True)
print(f"attention maps: {tuple(maps.shape)}")
assert torch.allclose(by_hand[0], maps[0, 0], atol=1e-5)

# %% [markdown]
# ### The attention explorer
#
# Type a line (a speaker's name in capitals, a colon, a new line, the speech — the layout the
# model was trained on); the pictures follow when you pause typing or press Enter. Pick a layer
# and a head, and pick a token with the `token` slider:
#
# - the **heat map** (left) has one row per token: how that token spreads its attention over the
#   tokens before it (the chosen token's row is framed);
# - the **lines** (middle) show the same weights as links from each token (left column) to the
#   tokens it looks at (right column), the chosen token's in red: the darker, the more weight;
# - the **grid** (right, or below on a narrow screen) shows every head at once, to spot the ones
#   worth a closer look.
#
# This is the course's character model, which was trained with RoPE (§2): positions enter by
# rotating queries and keys, so no position vectors appear anywhere in these pictures. The model
# runs once per text; moving the sliders only picks a slice of what it returned.

# %% tags=["nbval-ignore-output"]
from llmlab import widgets

explorer = widgets.AttentionExplorer(model, tokenizer, text)
explorer

# %% [markdown]
# Driven from code, like any widget of the course (a second explorer, `driven`, so the one above
# keeps what you set):

# %%
driven = widgets.AttentionExplorer(model, tokenizer, text)
before = (driven.caption.value, driven.image.value)
driven.layer.value, driven.head.value = 1, 2
print(f"now showing layer {driven.layer.value}, head {driven.head.value}")
assert driven.caption.value != before[0] and driven.image.value != before[1]

# %% [markdown]
# ### What the heads do, measured
#
# One line can mislead: a pattern that looks striking may be a coincidence of that line. To say
# what a head *does*, measure it on many texts. We run the model once on 32 windows of its full
# context (`block_size` characters) from the held-out plays (text it never trained on):

# %%
import re

from llmlab import corpus

T = config.block_size
valid_text = corpus.text("validation")
generator = torch.Generator().manual_seed(0)
starts = torch.randint(len(valid_text) - T, (32,), generator=generator).tolist()
windows = [valid_text[s : s + T] for s in starts]
with torch.no_grad():
    _, _, maps = model(torch.tensor([tokenizer.encode(w) for w in windows]), return_attention=True)
print(f"{tuple(maps.shape)} = [window, layer, head, query, key]")

# %% [markdown]
# Each statistic is the share of its attention a token gives to some *chosen* tokens, averaged
# over tokens. A 0/1 array `chosen[window, query, key]` says which keys count for which query.
# Its **chance** level is what a head spreading its attention evenly over the past would give:
# the number of chosen keys divided by the number of tokens the query can see.
# `attention.attention_share(maps, chosen)` computes both, for every head at once (read it in
# `llmlab/attention.py`: a product with the 0/1 array, a sum over keys, a mean over queries).
# Each statistic is drawn as a heat map of the 16 heads, with chance marked on the colour bar:
# a head is only interesting where its colour is well above that line.

# %%
import numpy as np
from matplotlib.figure import Figure


def heads_figure(title: str, per_head: torch.Tensor, chance: float) -> Figure:
    """Every head's share as a heat map, each cell labelled, chance marked on the colour bar."""
    figure = Figure(figsize=(4.2, 3.2), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(per_head.numpy(), cmap="Blues", vmin=0, vmax=1)
    for (layer_index, head_index), value in np.ndenumerate(per_head.numpy()):
        colour = "white" if value > 0.5 else "black"
        axes.text(head_index, layer_index, f"{value:.0%}", ha="center", va="center", color=colour)
    axes.set(
        xlabel="head", ylabel="layer", xticks=range(config.n_head), yticks=range(config.n_layer)
    )
    axes.set_title(f"{title}\n(chance {chance:.1%})", fontsize=10)
    axes.grid(False)
    bar = figure.colorbar(image, ax=axes, shrink=0.9)
    bar.ax.axhline(chance, color="tab:red", lw=2)
    bar.ax.text(
        1.6, chance, "chance", color="tab:red", va="center", transform=bar.ax.get_yaxis_transform()
    )
    return figure


# %%
def best_head(per_head: torch.Tensor) -> tuple[int, int]:
    """(layer, head) of the largest share."""
    return divmod(per_head.argmax().item(), config.n_head)


def against_chance(chosen: torch.Tensor, head: tuple[int, int]) -> stats.Estimate:
    """The head's share minus chance, window by window: their mean ± SE over the windows (the
    windows are the independent samples; windows without a chosen key are left out)."""
    shares, chances = [], []
    for b in range(len(windows)):
        if chosen[b].any():
            share, chance_b = attention.attention_share(maps[b : b + 1], chosen[b : b + 1])
            shares.append(share[head].item())
            chances.append(chance_b)
    return stats.difference(shares, chances, paired=True)


# %% [markdown]
# **The previous token.** The character just before is all that a *bigram* model uses to
# predict the next one (lesson 03 builds one: a table of which character follows which). Is
# there a head that looks at it?

# %%
previous = torch.zeros(len(windows), T, T)
previous[:, range(1, T), range(T - 1)] = 1  # query t, key t - 1
previous_shares, previous_chance = attention.attention_share(maps, previous)
previous_head = best_head(previous_shares)
previous_gap = against_chance(previous, previous_head)
best_maps = maps[:, previous_head[0], previous_head[1]]  # [window, query, key]
back = [best_maps.diagonal(offset=-k, dim1=-2, dim2=-1).mean().item() for k in range(6)]
print(f"best previous-token head: layer {previous_head[0]}, head {previous_head[1]}")
print(f"its share minus chance, per window: {previous_gap:.2f} (n = {previous_gap.n} windows)")
print("its weight 0 (itself), 1, 2, 3, 4, 5 tokens back:", "  ".join(f"{v:.0%}" for v in back))
print(f"2 to 5 tokens back together: {sum(back[2:]):.0%}")
assert previous_gap.value > 0.4 and previous_gap.beyond_noise(10)
assert back[1] > 0.5 and round(back[0] + back[1], 1) == 0.8 and max(back[3:]) < 0.01
assert (previous_shares > previous_chance).all() and (previous_shares > 0.3).sum() == 8
largest = previous_shares.flatten().topk(3).values  # the three largest shares
assert [round(v, 2) for v in largest.tolist()] == [0.55, 0.51, 0.49]

# %% tags=["nbval-ignore-output"]
heads_figure("weight on the previous token", previous_shares, previous_chance)

# %% [markdown]
# What to see: not one cell but many are far above the chance mark (3.5%). Pooled over all
# tokens, every head gives the previous token more than chance, and 8 of the 16 give it 30% or
# more: looking at the character just before is common in this model. The largest share is
# layer 0's head 1's, 55%, with layer 3's heads 1 (51%) and 2 (49%) close behind; whether it
# leads them by more than noise is not measured here, so "best" above means only "largest".
# Take it as the **previous-token head**: window by window, its share exceeds chance by
# 0.52 ± 0.01 (mean ± SE over the 32 windows). It gives 55% of its weight to the token just
# before and 25% to the token itself, then 8% to the one two back and about 1% or less to each
# further back: its output at each position averages the values of those two tokens with 80% of
# its weight.
#
# **The start of the line.** The plays are set out in lines, each ended by a newline (a speech
# is usually several of them), so where the current line started might be worth knowing. Does
# a head look at the current line's start (its newline)?

# %%
line_start = torch.zeros(len(windows), T, T)
for b, window in enumerate(windows):
    last_newline = None
    for t, char in enumerate(window):
        if last_newline is not None:
            line_start[b, t, last_newline] = 1
        if char == "\n":
            last_newline = t
line_shares, line_chance = attention.attention_share(maps, line_start)
line_head = best_head(line_shares)
line_gap = against_chance(line_start, line_head)
print(f"best line-start head: layer {line_head[0]}, head {line_head[1]}: ", end="")
print(f"{line_shares.max():.0%} of its weight on the line's newline (chance {line_chance:.0%})")
print(f"share minus chance, per window: {line_gap:.2f} (n = {line_gap.n} windows)")
assert line_head == (1, 0) and line_gap.value > 0.3 and line_gap.beyond_noise(10)
assert line_shares.flatten().topk(2).values[1] < line_shares.max() / 4  # one head stands out

# %% tags=["nbval-ignore-output"]
heads_figure("weight on the start of the line", line_shares, line_chance)

# %% [markdown]
# What to see: again one cell stands out. Layer 1's head 0 gives, on average, about half its
# weight (52%) to the newline that starts the current line, against 2% for a head spreading its
# weight evenly (window by window, 0.50 ± 0.02 above chance).
#
# **The speaker's name.** Who speaks shapes what is said (a king, a clown). For the tokens inside
# a speech, how much attention goes to the name of that speech's speaker (`SIR TOBY BELCH` in
# `SIR TOBY BELCH:\nWho, Sir Andrew Aguecheek?`)?

# %%
speaker = torch.zeros(len(windows), T, T)
for b, window in enumerate(windows):
    for match in re.finditer(r"\n\n([A-Z][A-Z ,.'&-]*):\n", window):
        end = window.find("\n\n", match.end())
        speech = slice(match.end(), T if end < 0 else end)
        speaker[b, speech, match.start(1) : match.end(1)] = 1
speaker_shares, speaker_chance = attention.attention_share(maps, speaker)
speaker_head = best_head(speaker_shares)
speaker_gap = against_chance(speaker, speaker_head)
print(f"best speaker-name head: layer {speaker_head[0]}, head {speaker_head[1]}: ", end="")
print(f"{speaker_shares.max():.0%} of its weight on the name (chance {speaker_chance:.0%})")
print(f"share minus chance, per window: {speaker_gap:.2f} (n = {speaker_gap.n} windows)")
below = (speaker_shares < speaker_chance).sum().item()
print(f"heads below chance: {below} of {speaker_shares.numel()}")
assert speaker_head == line_head  # the line-start head again
assert below == speaker_shares.numel() - 1  # every other head
assert speaker_gap.beyond_noise(3) and speaker_gap.value < 0.1  # above chance, but small

# %% tags=["nbval-ignore-output"]
heads_figure("weight on the speaker's name", speaker_shares, speaker_chance)

# %% [markdown]
# What to see: one cell, the line-start head's, is above the chance mark; every other cell is
# below it. Only the line-start head gives the speaker's name more than chance: 14% of its
# weight against 11%, pooled over all tokens; window by window, its excess over chance is
# 0.05 ± 0.01 in the 15 windows that hold the start of a speech (beyond noise, but small). Its
# newline sits right after the name on a speech's first line (`NAME:` then a newline), which
# may be all there is to it (a guess: nothing here measures it). Every other head gives the name
# less than a head spreading its attention evenly would.
# A pattern we might expect is not necessarily there: only a measurement says.
#
# **The first token.** Large models have been reported to park spare attention on the very
# first token of their context (an "attention sink", Xiao et al., 2023). Does this one? Take the
# first token of each window, seen from at least 16 tokens later:

# %%
first = torch.zeros(len(windows), T, T)
first[:, 16:, 0] = 1
first_shares, first_chance = attention.attention_share(maps, first)
first_head = best_head(first_shares)
first_gap = against_chance(first, first_head)
print(
    f"most weight any head gives the first token: {first_shares.max():.1%} (chance {first_chance:.1%})"
)
print(f"that head's share minus chance, per window: {first_gap:.3f} (n = {first_gap.n} windows)")
assert (first_shares < first_chance).all() and first_gap.value < 2 * first_gap.se

# %% tags=["nbval-ignore-output"]
heads_figure("weight on the first token", first_shares, first_chance)

# %% [markdown]
# What to see: every cell's number is below the chance of 1.8% (at these sizes the colours,
# all near white, hardly differ from the mark). Pooled over all tokens, each head gives the
# first token less than a head spreading its weight evenly would;
# the one that gives it most is, window by window, within noise of chance (-0.006 ± 0.005). So
# no head of this model is an attention sink.
#
# %% [markdown]
# Now look at those heads in the second explorer, on a text of a few lines, from the `b` of
# `nobler`.
# The line-start head is the easiest to see: the tokens of a line send much of their weight to
# the newline that starts it (the dark columns of the heat map).

# %% tags=["nbval-ignore-output"]
driven.text.value = "HAMLET:\nTo be, or not to be: that is the question:\nWhether 'tis nobler\n"
driven.token.value = driven.text.value.rindex("b")  # a token in the middle of a line
for name, (layer_index, head_index) in [
    ("previous token", previous_head),
    ("line start", line_head),
]:
    driven.layer.value, driven.head.value = layer_index, head_index
    summary = widgets.head_summary(driven.pattern, driven.maps.tokens, driven.token.value)
    print(f"{name} head, layer {layer_index}, head {head_index}: {summary}")
driven.layer.value, driven.head.value = line_head
looked_at = driven.pattern[driven.token.value].argmax().item()
assert driven.text.value[looked_at - 1 : looked_at + 2] == ":\nW"  # the newline before Whether

# %% tags=["nbval-ignore-output"]
driven

# %% [markdown]
# What to see: with the line-start head selected, the row of the framed `b` is darkest at the
# newline before `Whether` (the cell above asserts that it is that row's largest weight); switch
# to the previous-token head (layer 0, head 1) and the weight sits on the diagonal and just left
# of it instead.
#
# ## Recap
#
# - A tensor is a block of numbers with a shape; a matrix product takes dot products of rows with
#   columns. An embedding table gives each token a learned vector; in the trained model, a
#   character's nearest neighbour is usually of its own kind.
# - Attention alone sees a bag of tokens; positional encodings (learned, sinusoidal, RoPE) bring
#   order in. RoPE turns pairs of channels by angles that grow with the position, so scores
#   depend on distances.
# - Attention is an average of the past whose weights depend on the data: the averaging matrix,
#   then a softmax of fixed scores, then scores from queries and keys.
# - Attention: `softmax(Q Kᵀ / √d) V`. Queries ask, keys offer, values are passed on; dividing by
#   `√d` keeps the softmax from putting nearly all its weight on one key.
# - The causal mask makes a decoder (GPT): nothing a token computes depends on what comes after.
#   Without it, an encoder (BERT): every token sees the whole text.
# - Multi-head attention splits the channels into heads that attend side by side.
# - In the trained model, heads do measurably particular things, beyond chance by many standard
#   errors: many look at the previous token (layer 0's head 1 gives it the most, 0.52 ± 0.01
#   above chance), one at the line's start (0.50 ± 0.02 above chance). An expected one is not
#   there: the most any head gives the speaker's name is 0.05 ± 0.01 above chance. A measured
#   statistic, not one picture, says what a head does.
#
# You built the average of the past, a RoPE rotation, one attention head and multi-head
# attention (the exercises above; `exercises.check` tells you when each one is right).
#
# **Next:** lesson 03 shows how all these weights are learned: backpropagation.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

bag = "the same vector for each letter, only in the other order"
one_key = "nearly all the weight goes to one key"
unscaled, scaled = stats.mean(top_raw).value, stats.mean(top_scaled).value
patterns = {
    "the previous character": previous_gap,
    "the newline that starts the line": line_gap,
    "the speaker's name": speaker_gap,
    "the first character of the window": first_gap,
}
absent = [name for name, found in patterns.items() if not found.beyond_noise(2) or found.value < 0]
assert len(absent) == 1
assert decoder_moved == 0.0 < encoder_moved
Quiz(
    [
        Question(
            "Fed 'stop' and then 'pots' with no positions and no causal mask, what does an "
            "attention layer give?",
            [bag, "different vectors: the order changes the averages", "an error"],
            bag
            if torch.allclose(stop, pots[order], atol=1e-6)
            else "different vectors: the order changes the averages",
            "Attention is a weighted average, and an average ignores order: the trained first "
            "layer gave each letter the same output in both words (within 1e-6). Positions, "
            "added or rotated in, are what tell the orders apart.",
        ),
        Question(
            "With 128 numbers per query and key, what happens if the scores are not divided "
            "by √128?",
            [one_key, "the weights become nearly equal", "nothing measurable"],
            one_key if unscaled > 0.8 else "nothing measurable",
            f"Dot products of 128 random numbers spread about √128 ≈ 11, so the softmax is "
            f"nearly a max: the largest of 8 weights averaged {unscaled:.2f} unscaled and "
            f"{scaled:.2f} scaled ({gap.value:.3f} ± {gap.se:.3f} apart).",
        ),
        Question(
            "In a decoder, change the last token of a text: what happens to the first token's "
            "output?",
            ["it stays exactly the same", "it changes a little", "it changes as much as any"],
            "it stays exactly the same" if decoder_moved == 0 else "it changes a little",
            f"The causal mask gives every later key weight exactly 0: with the very same "
            f"weights the first output moved by {decoder_moved} in the decoder and by "
            f"{encoder_moved:.3f} in the encoder, which sees the whole text.",
        ),
        Question(
            "Four things a head might attend to. For which one did even the head that attends "
            "to it most not beat chance by 2 SE?",
            list(patterns),
            absent[0],
            "The best head's share minus chance, per window: "
            + "; ".join(
                f"{name}: {gap_.value:.3f} ± {gap_.se:.3f}" for name, gap_ in patterns.items()
            )
            + ". Only that one is not above chance by 2 SE; nobody wrote the rules of the others: "
            "training found them.",
        ),
    ]
)
