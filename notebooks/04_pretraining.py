# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 04 · Pretraining
#
# **What you will build:** a GPT and its training, from the pieces of lessons 02 and 03. First a
# small model that reads a fixed window of characters (a step up from lesson 03's bigram); then a
# transformer block (you write its forward pass), the whole GPT and its parameter count; the
# training step (you write the clipping and the AdamW update); the sampling loop (you write it);
# then a real pretraining run, while its loss curve grows and its samples turn from noise into
# something like Shakespeare. Finally: perplexity and bits per character on held-out plays, a fair
# comparison with lesson 00's counting table and with the course's standard `char` model, what
# the model knows and does not, and checkpoints — save, load, interrupt and resume.
#
# **CPU time:** about 3 minutes on a 2-core laptop (budget: 3.5 minutes), with the course's
# character model in the cache. Without it, the first run trains it (`llmlab prepare` does that
# ahead of time).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. The data: windows of text and the same windows shifted by one
#
# A language model learns from raw text: every position is an exercise, *given the text so far,
# what comes next?* We use characters as tokens (lesson 01): 76 distinct characters in the
# training plays, so 76 ids.

# %%
import torch

from llmlab import corpus
from llmlab.tokenization import CharTokenizer

train_text, val_text = corpus.text("train"), corpus.text("validation")
tokenizer = CharTokenizer(train_text)
train_ids = torch.tensor(tokenizer.encode(train_text))
val_ids = torch.tensor(tokenizer.encode(val_text))
print(f"vocabulary: {tokenizer.vocab_size} characters")
print(f"training:   {len(train_ids):,} tokens from {len(corpus.split_plays()['train'])} plays")
print(f"held out:   {len(val_ids):,} tokens from {len(corpus.VALIDATION_PLAYS)} plays")
assert tokenizer.decode(train_ids[:200].tolist()) == train_text[:200]
assert tokenizer.vocab_size == 76 and len(corpus.VALIDATION_PLAYS) == 6  # quoted in the prose

# %% [markdown]
# A training batch is a few random **windows** of `block_size + 1` consecutive tokens. The model
# reads the first `block_size` tokens of each (the inputs `x`) and is asked, at every position,
# for the token one further on (the targets `y`: the same window shifted by one). So one window
# of `T` inputs holds `T` exercises at once, with contexts of 1, 2, …, `T` tokens.
# `llmlab.train.get_batch` draws them:

# %%
from llmlab.train import get_batch

generator = torch.Generator().manual_seed(0)
x, y = get_batch(train_ids, batch_size=4, block_size=24, generator=generator)
print("x:", x.shape, " y:", y.shape)
for row_x, row_y in zip(x, y, strict=True):
    print(f"x {tokenizer.decode(row_x.tolist())!r}\ny {tokenizer.decode(row_y.tolist())!r}\n")
assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted left by one token
for row_x, row_y in zip(x, y, strict=True):  # each window is a real stretch of the plays
    assert tokenizer.decode(row_x.tolist() + row_y[-1:].tolist()) in train_text

# %% [markdown]
# The exercises hidden in the first window, one per position:

# %%
for t in range(8):
    context, target = tokenizer.decode(x[0, : t + 1].tolist()), tokenizer.decode([y[0, t].item()])
    print(f"{context!r:>14} -> {target!r}")

# %% [markdown]
# ## 2. A first model with context: an MLP over the last 8 characters
#
# Lesson 03's bigram predicts the next character from the current one alone. The smallest step
# towards a GPT is a model that reads a fixed window of the last `K = 8` characters with an
# **MLP** (a multi-layer perceptron: weighted sums, a non-linearity, weighted sums again), as
# Bengio et al. did for words in 2003: look up a learned vector of 16 numbers for each of the 8
# characters (an *embedding*), lay the 8 vectors end to end (128 numbers), and pass them through
# one hidden layer of 256 `tanh` units to 76 scores, one per possible next character.
#
# The **loss** measures a prediction: the cross-entropy, the average over positions of
# `-ln p(the character that came)`. It is in **nats** (natural logarithms; one nat is
# `1 / ln 2 ≈ 1.44` bits): lower is better, and a model sure and wrong pays a lot. The bigram is the
# count table `p(next | current)` of the training plays (plus one to every count, so nothing has
# probability zero); we score both on the same 4,096 random positions of the held-out plays:

# %%
from llmlab import stats

K = 8
pair_counts = torch.zeros(tokenizer.vocab_size, tokenizer.vocab_size)
pair_counts.index_put_(
    (train_ids[:-1], train_ids[1:]), torch.ones(len(train_ids) - 1), accumulate=True
)
bigram_logp = ((pair_counts + 1) / (pair_counts + 1).sum(dim=1, keepdim=True)).log()
positions = torch.randint(K, len(val_ids), (4096,), generator=torch.Generator().manual_seed(0))
bigram_nll = -bigram_logp[val_ids[positions - 1], val_ids[positions]]


def last_k(ids: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """The ``K`` tokens before each position in ``at``: ``[len(at), K]``."""
    return ids[at[:, None] - K + torch.arange(K)]


class ContextMLP(torch.nn.Module):
    def __init__(self, vocab_size: int, dim: int = 16, hidden: int = 256) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, dim)  # one learned vector per character
        self.hidden = torch.nn.Linear(K * dim, hidden)
        self.out = torch.nn.Linear(hidden, vocab_size)

    def forward(self, context: torch.Tensor) -> torch.Tensor:  # [N, K] -> [N, vocab_size]
        return self.out(torch.tanh(self.hidden(self.embed(context).flatten(1))))


# %% [markdown]
# Training: 1,500 steps, each on 128 random positions of the training plays: compute the loss,
# backpropagate (lesson 03), and let the optimizer **AdamW** move every weight. AdamW is gradient
# descent in which each weight gets its own step size, from running averages of its gradient and
# of its squared gradient; §7 takes it apart and you write it there.

# %%
import torch.nn.functional as F

torch.manual_seed(0)
context_mlp = ContextMLP(tokenizer.vocab_size)
optimizer = torch.optim.AdamW(context_mlp.parameters(), lr=3e-3)
draws = torch.Generator().manual_seed(1)
MLP_STEPS, MLP_BATCH = 1500, 128
for _ in range(MLP_STEPS):
    at = torch.randint(K, len(train_ids), (MLP_BATCH,), generator=draws)
    loss = F.cross_entropy(context_mlp(last_k(train_ids, at)), train_ids[at])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
with torch.no_grad():
    logits = context_mlp(last_k(val_ids, positions))
    mlp_nll = F.cross_entropy(logits, val_ids[positions], reduction="none")
mlp_params = sum(p.numel() for p in context_mlp.parameters())
gain = stats.difference(bigram_nll, mlp_nll)  # paired: the same positions

# %% tags=["nbval-ignore-output"]
print("held-out loss, nats/char (4,096 positions, mean ± SE):")
print(f"  bigram (76 x 76 counts):            {stats.mean(bigram_nll):.3f}")
print(f"  MLP over 8 characters ({mlp_params:,} params): {stats.mean(mlp_nll):.3f}")
print(f"  the MLP's gain:                     {gain:.3f}")

# %%
assert mlp_params == 53_772
assert 0.35 < gain.value < 0.45 and gain.beyond_noise(3)  # about 0.4

# %% [markdown]
# Eight characters of context beat one by about 0.4 nats per character, many times the standard
# error of the paired difference (the SE of the mean of the 4,096 per-position differences). But
# the window is fixed: the MLP cannot look 9 characters back, and each of its 8 slots has its own
# weights, so what it learns about a character in one slot does not carry over to another. A GPT
# reads any context up to its limit with the same weights at every position, and lets every
# position choose which earlier positions matter: attention (lesson 02).
#
# ## 3. A transformer block
#
# A GPT is a stack of identical **blocks**. Each block transforms every position's vector (the
# **residual stream**, of width `n_embd`: the vector that carries what the model knows about that
# position from layer to layer) in two steps:
#
# 1. **attention** — tokens talk to each other: each position gathers information from the
#    positions before it (lesson 02), in `n_head` heads;
# 2. **MLP** — each position thinks alone: a two-layer network applied to every vector
#    separately, widened 4× inside, with a **GELU** between the layers (the non-linearity
#    `GELU(z) = z · Φ(z)`, `Φ` the standard normal distribution function: a smooth ReLU, about 0
#    for negative `z` and about `z` for large positive `z`).
#
# Before each step the block **layer-normalises** the stream: each vector is rescaled to mean 0
# and variance 1 over its channels, then multiplied by a learned per-channel gain and shifted by a
# learned bias. That keeps the scale of what enters each layer steady as the weights change. By
# hand, checked against torch's `LayerNorm`:

# %%
from llmlab.model import GPT, Block, GPTConfig


def layer_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    variance = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(variance + norm.eps) * norm.weight + norm.bias


config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=64)
torch.manual_seed(0)
block = Block(config)
with torch.no_grad():  # random values everywhere, so no weight can hide behind a 0 or a 1
    for parameter in block.parameters():
        parameter.normal_(0.0, 0.3)
stream = torch.randn(2, 10, config.n_embd)  # [batch, time, channels]
assert torch.allclose(layer_norm(stream, block.ln_1), block.ln_1(stream), atol=1e-5)

# %% [markdown]
# Each of the two steps *adds* its result to the stream instead of replacing it:
# `x = x + attention(ln_1(x))`, then `x = x + mlp(ln_2(x))`. The additions are the **residual
# connections**: the stream is a running sum every layer writes into (§4 measures what they do to
# the gradients). This is the *pre-norm* layout of GPT-2 and later; the original transformer
# (Vaswani et al., 2017) normalised after the addition. The diagram draws the model of this lesson:

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.gpt_diagram(n_layer=4, n_embd=64, n_head=4)

# %% [markdown]
# Read it bottom-up: tokens and positions enter as vectors, pass through 4 identical blocks
# (each: norm → attention → add, norm → MLP → add), a final norm, and leave as one score per
# vocabulary entry.
#
# ### Exercise: a transformer block's forward pass
# Given a `llmlab.model.Block` (its layers: `block.ln_1`, `block.attn.qkv` (one linear layer
# making queries, keys and values side by side), `block.attn.proj`, `block.ln_2`, `block.mlp.fc`,
# `block.mlp.proj`; `block.attn.n_head` heads) and a stream `x [B, T, C]`, return the block's
# output `[B, T, C]`: causal multi-head attention on `ln_1(x)` added to `x`, then the MLP on
# `ln_2` of that, added again. Call the block's torch layers, but not the block itself, its
# attention or its MLP (the checker refuses those calls).

# %%
from llmlab import exercises

print(exercises.header("block_forward"))


# %%
def block_forward(block: Block, x: torch.Tensor) -> torch.Tensor:
    # 1. attention on ln_1(x): q, k, v from block.attn.qkv, split into heads
    #    [B, heads, T, C // heads], causal attention, heads merged back, block.attn.proj
    # 2. add it to x (a residual connection)
    # 3. the MLP on ln_2 of the result: fc, GELU, proj; add it again
    raise NotImplementedError  # your code here


passed = exercises.check("block_forward", block_forward)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("block_forward")` (then
# `exercises.hint("block_forward", 2)`), and only then `exercises.solution("block_forward")`.

# %% [markdown]
# ## 4. From blocks to a GPT
#
# The whole model is a short recipe around the blocks: look up each token's vector and add its
# position's vector (this model *learns* one vector per position, 0 to 127); run the blocks;
# normalise once more; score every vocabulary entry by a dot product with the **same** token
# table used at the input (*weight tying*: a character's input vector and its output scorer are
# one vector, which saves a vocabulary × width table: 76 × 64 = 4,864 numbers here). The
# result, the **logits**, holds one score per possible next token at every position:

# %%
torch.manual_seed(1337)
model = GPT(config)
idx = x[:2]  # two windows from above, [2, 24]


def gpt_by_hand(model: GPT, idx: torch.Tensor, run_block=None, streams=None) -> torch.Tensor:
    """The logits. ``run_block(block, h)`` runs one block (default: the block itself);
    ``streams``, if given, collects the residual stream entering each block."""
    T = idx.shape[1]
    h = model.wte.weight[idx] + model.wpe.embedding.weight[:T]  # token + position vectors
    for block in model.blocks:
        if streams is not None:
            h.retain_grad()  # keep its gradient after backward(), to measure it
            streams.append(h)
        h = run_block(block, h) if run_block else block(h)[0]
    return layer_norm(h, model.ln_f) @ model.wte.weight.T  # the tied output layer


logits, _ = model(idx)
print("logits:", tuple(logits.shape), "= [batch, time, vocabulary]")
assert torch.allclose(gpt_by_hand(model, idx), logits, atol=1e-5)
assert model.lm_head.weight is model.wte.weight  # tied: one matrix, two uses

# %% [markdown]
# ### What the residual connections buy
#
# The additions also carry gradients: the gradient of a sum reaches each term unchanged, so the
# gradient arriving at the top of the stream reaches every block's input directly. To see what
# that does, here is a block with a switch that drops its two `x +` (it is one answer to the
# exercise above, so try that first):

# %%
from llmlab.attention import attention, merge_heads, split_heads


def block_by_hand(block: Block, x: torch.Tensor, residual: bool = True) -> torch.Tensor:
    """One pre-norm block; ``residual=False`` drops the two skip connections."""
    skip = x if residual else 0  # what the block's output is added to
    q, k, v = block.attn.qkv(layer_norm(x, block.ln_1)).chunk(3, dim=-1)
    q, k, v = (split_heads(t, block.attn.n_head) for t in (q, k, v))  # [B, heads, T, hd]
    gathered, _ = attention(q, k, v, causal=True)
    x = skip + block.attn.proj(merge_heads(gathered))
    skip = x if residual else 0
    return skip + block.mlp.proj(F.gelu(block.mlp.fc(layer_norm(x, block.ln_2))))


assert torch.allclose(block_by_hand(block, stream), block(stream)[0], atol=1e-4)

# %% [markdown]
# Take a deeper stack, 12 blocks, at initialisation; backpropagate one batch's loss through
# `gpt_by_hand`, once as it is and once with the skips removed, and read the size of the
# gradient arriving at each block's input:

# %%
torch.manual_seed(0)
deep = GPT(
    GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=12, n_head=4, n_embd=64)
)
x_deep, y_deep = get_batch(train_ids, 8, 64, torch.Generator().manual_seed(2))
stream_grad = {}
for residual in (True, False):
    streams = []
    run_block = lambda b, h, r=residual: block_by_hand(b, h, r)  # noqa: E731
    logits_deep = gpt_by_hand(deep, x_deep, run_block, streams)
    F.cross_entropy(logits_deep.flatten(0, 1), y_deep.flatten()).backward()
    stream_grad[residual] = [h.grad.norm().item() for h in streams]
    deep.zero_grad()
spread = {r: max(norms) / min(norms) for r, norms in stream_grad.items()}

# %% tags=["nbval-ignore-output"]
print("block:            " + " ".join(f"{i:>5}" for i in range(1, 13)))
for residual, name in [(True, "with skips:     "), (False, "without skips:  ")]:
    print(name, " ".join(f"{g:5.2f}" for g in stream_grad[residual]))
print(f"largest / smallest: {spread[True]:.1f}x with skips, {spread[False]:.1f}x without")

# %%
assert spread[True] < 1.5 and spread[False] > 8

# %% [markdown]
# With the skips, every block's input receives nearly the same gradient: the sum hands the
# output's gradient straight back to every layer, and each layer adds its own share. Without
# them, the gradient must pass through every block in turn and its size drifts from layer to
# layer — here by more than eight times over 12 blocks. This cell measures only the first step of
# training, not whether the stack then trains; that skips are what make deep stacks trainable is
# the finding of the ResNet paper (He et al., 2015), which trained both kinds, not something this
# lesson shows.

# %% [markdown]
# ## 5. Counting parameters
#
# Where do the parameters live? With `V` the vocabulary, `T` the context and `C` the width, each
# block holds two layer norms (`2C` each: gain and bias), the attention's `q, k, v` projection
# (`3C² + 3C`) and output projection (`C² + C`), and the MLP's two layers (`4C² + 4C` and
# `4C² + C`): `12C² + 13C` in all. Around the blocks: the token table `VC` (tied, so counted once),
# the position table `TC`, and the final layer norm `2C`.

# %%
V, T, C, L = config.vocab_size, config.block_size, config.n_embd, config.n_layer
per_block = 2 * (2 * C) + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) + (4 * C * C + C)
parts = {
    "token table (= output layer)": V * C,
    "position table": T * C,
    f"{L} blocks x {per_block:,}": L * per_block,
    "final layer norm": 2 * C,
}
for name, count in parts.items():
    print(f"{name:<30} {count:>9,}")
total = sum(parts.values())
print(f"{'total':<30} {total:>9,}")
assert per_block == 12 * C * C + 13 * C
assert total == model.num_params(non_embedding=False)
assert total - T * C == model.num_params()  # what scaling laws count: positions left out
assert 0.93 < L * per_block / total < 0.94  # the blocks: 94% of this model

# %% [markdown]
# The blocks hold most of the parameters: 94% of ours. Their `12C²` grows with the square of the
# width, the tables only in proportion to it; but a large vocabulary makes a large token table.
# GPT-2 small (`C = 768`, 12 blocks, a vocabulary of 50,257 tokens) has 85 M of its 124 M
# parameters in the blocks, a smaller share (68%), because its token table alone holds 39 M:

# %%
gpt2_blocks = 12 * (12 * 768**2 + 13 * 768)
gpt2_total = 50257 * 768 + 1024 * 768 + gpt2_blocks + 2 * 768  # V = 50,257, T = 1,024
print(f"GPT-2 small: blocks {gpt2_blocks / 1e6:.0f} M of {gpt2_total / 1e6:.0f} M parameters")
assert round(gpt2_blocks / 1e6) == 85 and round(gpt2_total / 1e6) == 124
assert 0.68 < gpt2_blocks / gpt2_total < 0.69 and round(50257 * 768 / 1e6) == 39

# %% [markdown]
# Compute is counted in **FLOPs** (floating-point operations: one multiplication or one addition
# each). Each parameter costs one multiply-add (2 FLOPs) per token going forward, and two going
# backward (one for the gradient of its input, one for its own gradient): so the backward pass costs
# twice the forward, and training about **6 × parameters FLOPs per token** — the number lesson 05
# builds scaling laws on. PyTorch can count the FLOPs of every operation it runs; we ask it to run
# attention as plain matrix products, which the counter knows how to count, rather than rely on how
# it counts the fused attention kernels PyTorch may pick otherwise:

# %%
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as forward_count:
    _, count_loss = model(x[:2], y[:2])
with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as backward_count:
    count_loss.backward()
model.zero_grad()
forward_flops, backward_flops = forward_count.get_total_flops(), backward_count.get_total_flops()
per_token = (forward_flops + backward_flops) / x[:2].numel()
print(f"backward / forward: {backward_flops / forward_flops:.1f}")
print(f"training FLOPs per token: {per_token / model.num_params():.1f} x parameters")
assert round(backward_flops / forward_flops, 1) == 2.0
assert 5.5 < per_token / model.num_params() < 6.5  # attention's own products add a little

# %% [markdown]
#
# ## 6. Before training: the loss of a uniform guess
#
# Recall the loss (§2): the average of `-ln p(correct next token)`, in nats. A model that
# knows nothing spreads its probability evenly, `p = 1/V`, and scores `ln V`. GPT-2's
# initialisation (small random weights) makes the logits nearly equal, so a fresh model should
# score just that. If it scored much more, it would be confidently wrong from the start — a sign
# of a bad initialisation:

# %%
import math

x_init, y_init = get_batch(train_ids, 32, config.block_size, torch.Generator().manual_seed(1))
with torch.no_grad():
    _, loss_at_init = model(x_init, y_init)
print(f"loss at initialisation: {loss_at_init.item():.3f}   ln(V) = ln({V}) = {math.log(V):.3f}")
assert abs(loss_at_init.item() - math.log(V)) < 0.1

# %% [markdown]
# ## 7. The training loop
#
# One step: draw a batch, compute the loss, backpropagate (lesson 03), and let the optimizer move
# every weight. Three ingredients make it work well:
#
# - **AdamW** (Adam with decoupled Weight decay): each weight gets its own step size, from
#   running averages of its gradient (`m`) and of its squared gradient (`v`); *weight decay*
#   pulls matrices gently towards zero.
# - **Learning-rate schedule**: a linear **warm-up** (the first steps from random weights are
#   erratic; small steps keep them from doing damage), then a **cosine decay** to a floor (big
#   steps to travel, small steps to settle).
# - **Gradient clipping**: if the gradient's overall length exceeds 1, scale it down to 1, so a
#   freak batch cannot throw the weights far away.
#
# Here is the schedule a 1000-step run would follow (`llmlab.train.lr_at`):

# %%
from llmlab import viz
from llmlab.train import TrainConfig, lr_at

schedule = TrainConfig(max_steps=1000, learning_rate=3e-3, min_lr=3e-4, warmup_steps=100)
steps = list(range(0, 1001, 20))
rates = [lr_at(s, schedule) for s in steps]
print(f"step 0: {rates[0]:.2e}, step 100: {lr_at(100, schedule):.2e}, step 1000: {rates[-1]:.2e}")
assert lr_at(99, schedule) == schedule.learning_rate  # warm-up ends at the peak
assert rates[-1] == schedule.min_lr
assert all(a >= b for a, b in zip(rates[5:], rates[6:], strict=False))  # decays after warm-up

# %% tags=["nbval-ignore-output"]
viz.line_chart(steps, {"learning rate": rates}, title="Warm-up, then cosine decay", xlabel="step")

# %% [markdown]
# What to see: a straight ramp from almost 0 to the peak `3e-3` over the first 100 steps, then a
# half cosine that is flat at first, steepest in the middle, and flattens again onto the floor
# `3e-4` at step 1,000.

# %% [markdown]
# The loop itself is short. Here it is by hand, for 20 steps of a copy of our model, next to
# `llmlab.train.train` doing the same 20 steps. They must end with *identical* weights:
# `train` adds evaluation, checkpoints, a progress bar and safety checks around this core, and
# nothing else.

# %% tags=["nbval-ignore-output"]
import copy

from llmlab.train import make_optimizer, train

short = TrainConfig(
    batch_size=8, max_steps=20, learning_rate=3e-3, min_lr=3e-4, warmup_steps=5, eval_interval=0
)
hand_model = copy.deepcopy(model)
optimizer = make_optimizer(hand_model, short)  # AdamW; no weight decay on biases and norm gains
batches = torch.Generator().manual_seed(short.seed)
for step in range(short.max_steps):
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, short)
    xb, yb = get_batch(train_ids, short.batch_size, config.block_size, batches)
    _, loss = hand_model(xb, yb)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(hand_model.parameters(), short.grad_clip)
    optimizer.step()

train_model = copy.deepcopy(model)
result = train(train_model, train_ids, config=short, progress=False)
print(f"by hand: loss {loss.item():.3f} after {step + 1} steps; llmlab: {result.step} steps")
assert all(
    torch.equal(a, b)
    for a, b in zip(hand_model.parameters(), train_model.parameters(), strict=True)
)

# %% [markdown]
# ### Exercise: a training step's update, clipping and AdamW
# The loop above hands the update to torch (`clip_grad_norm_`, then `AdamW.step`). Write it
# yourself, on plain tensors. Inputs: lists `params`, `grads`, `m`, `v` (one tensor per weight
# tensor), the step number `step` (1 for the first), `lr`, `weight_decay` and `max_norm`. First
# clip: the overall norm is the length of *all* the gradients taken as one long vector; if it
# exceeds `max_norm`, every gradient is scaled by `max_norm / (norm + 1e-6)`. Then AdamW with
# `beta1, beta2, eps = 0.9, 0.99, 1e-8`, for each tensor:
#
# - running averages: `m ← beta1·m + (1 − beta1)·g` and `v ← beta2·v + (1 − beta2)·g²`;
# - bias correction (both averages start at 0, so early on they are too small):
#   `m̂ = m / (1 − beta1^step)`, `v̂ = v / (1 − beta2^step)`;
# - decoupled weight decay, then the step: `p ← p·(1 − lr·weight_decay) − lr·m̂ / (√v̂ + eps)`.
#
# Return the new `(params, m, v)` as three lists; torch's optimizer and clipping are off limits.
# The reference the check compares you with is tested against `torch.optim.AdamW` after
# `clip_grad_norm_`.

# %%
print(exercises.header("adamw_step"))


# %%
def adamw_step(params, grads, m, v, step: int, lr: float, weight_decay: float, max_norm: float):
    beta1, beta2, eps = 0.9, 0.99, 1e-8  # noqa: F841 (yours to use)
    # 1. the overall gradient norm, and one scale for every gradient
    # 2. for each tensor: update m and v, correct their bias, decay the weight, take the step
    raise NotImplementedError  # your code here: return new_params, new_m, new_v


passed = exercises.check("adamw_step", adamw_step)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("adamw_step")` (then
# `exercises.hint("adamw_step", 2)`), and only then `exercises.solution("adamw_step")`.

# %% [markdown]
# ## 8. Generating text
#
# A model gives scores; text comes from a loop around it. Each step: **crop** the text so far to
# the last `block_size` tokens (the model has no positions beyond), run the model, keep only the
# **last position's** logits (the guess for the next token), turn them into probabilities,
# **sample** one token, **append** it, repeat.
#
# The probabilities come with a knob, the **temperature** `T` (the letter of §5's context
# length; where it has a value, as in `T = 0.5` or `T = 0`, it is the temperature):
# `softmax(z / T)`. Dividing the
# logits by `T < 1` stretches their differences, so the favourite gets more of the probability;
# `T > 1` flattens them towards uniform; `T → 0` always picks the favourite. On four logits:

# %%
z = torch.tensor([2.0, 1.0, 0.1, -1.0])
spread_by_t = {}
for t in [0.5, 1.0, 2.0]:
    spread_by_t[t] = torch.softmax(z / t, dim=0)
    print(f"T = {t}: " + "  ".join(f"{p:.3f}" for p in spread_by_t[t].tolist()))
assert torch.allclose(spread_by_t[1.0], z.softmax(0))
assert spread_by_t[0.5][0] > spread_by_t[1.0][0] > spread_by_t[2.0][0]  # colder: sharper
assert all(torch.equal(p.argsort(), z.argsort()) for p in spread_by_t.values())  # same order


# %% [markdown]
# What to see: at `T = 0.5` the favourite holds 86% of the probability, at `T = 2` only 45%; the
# order of the four never changes.
#
# ### Exercise: the sampling loop
# Write the loop: extend each row of `idx [B, T]` by `max_new_tokens` tokens, each step cropping
# to the last `model.config.block_size` tokens, running the model (`logits, _ = model(ids)`, the
# one llmlab call allowed), keeping the last position's logits, dividing them by `temperature`,
# turning them into probabilities with a softmax, and drawing one token per row with
# `torch.multinomial(..., generator=generator)`, where `generator =
# torch.Generator().manual_seed(seed)` is made once. Return the extended `[B, T + max_new_tokens]`.

# %%
print(exercises.header("sample_with_temperature"))


# %%
def sample_with_temperature(
    model: GPT, idx: torch.Tensor, max_new_tokens: int, temperature: float, seed: int
) -> torch.Tensor:
    # one generator for the whole loop; then, max_new_tokens times:
    # crop -> model -> last position's logits / temperature -> softmax -> draw -> append
    raise NotImplementedError  # your code here


passed = exercises.check("sample_with_temperature", sample_with_temperature)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("sample_with_temperature")` (then
# `exercises.hint("sample_with_temperature", 2)`), and only then
# `exercises.solution("sample_with_temperature")`.
#
# `GPT.generate` is this loop plus input checks, a greedy path for `T = 0`, optional *top-k*
# (drawing only among the `k` most likely tokens), and a *KV cache* that avoids recomputing the
# past at every step (lesson 10 builds sampling strategies and the cache on this loop). With
# `use_cache=False` it draws exactly the tokens of the exercise's reference loop, with the same
# seed (the cell checks it on 200 tokens, past the 128-token context). From here on we use it,
# through `sample`:

# %%
import re

from llmlab.exercises.lesson04 import sample_with_temperature as reference_loop  # the answer

prompt_ids = torch.tensor([tokenizer.encode("ROMEO:\n")])
seeded = torch.Generator().manual_seed(0)
uncached = model.generate(prompt_ids[0], 200, temperature=0.8, generator=seeded, use_cache=False)
assert torch.equal(uncached, reference_loop(model, prompt_ids, 200, 0.8, seed=0)[0])


def sample(model: GPT, prompt: str = "ROMEO:\n", length: int = 240, seed: int = 0) -> str:
    """Continue ``prompt``, sampling each character (temperature 0.8, reproducible by ``seed``)."""
    ids = torch.tensor(tokenizer.encode(prompt))
    out = model.generate(
        ids, length, temperature=0.8, generator=torch.Generator().manual_seed(seed)
    )
    return tokenizer.decode(out.tolist())


known_words = set(re.findall(r"[a-z']+", train_text.lower()))


def real_words(text: str) -> list[int]:
    """For each word of 3+ letters in ``text``: 1 if it occurs in the training plays, else 0."""
    return [int(w in known_words) for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 3]


# %% [markdown]
# ## 9. Pretraining, live
#
# Now a real run: our model (4 blocks, 64 wide: about 200 thousand parameters) for 1,500 steps
# of 16 windows of 128 characters — three million characters; the cell prints how long it took
# (a couple of minutes on a laptop). Before we start, a sample from the untrained model,
# where every character is about equally likely:

# %%
assert round(model.num_params(), -5) == 200_000 and round(1500 * 16 * 128, -6) == 3_000_000

# %% tags=["nbval-ignore-output"]
before = sample(model)
print(before)

# %% [markdown]
# The run. `LiveLossCurve` redraws the loss under the cell as records arrive (training loss
# every 10 steps; held-out loss, the dots, every 100); at a few steps we also print a sample.

# %% tags=["nbval-ignore-output"]
import tempfile
from pathlib import Path

folder = Path(tempfile.mkdtemp(prefix="llmlab-04-"))
run = TrainConfig(
    batch_size=16,
    max_steps=1500,
    learning_rate=3e-3,
    min_lr=3e-4,
    warmup_steps=50,
    eval_interval=100,
    eval_windows=64,
)
live = viz.LiveLossCurve(every=5, title="Pretraining on the plays")
during = {}


def callback(record: dict) -> None:
    live(record)
    if record["step"] in (100, 500):
        during[record["step"]] = sample(model, length=160)
        print(f"--- step {record['step']} (held-out loss {record['val_loss']:.2f}):")
        print(during[record["step"]])


# %% tags=["nbval-ignore-output"]
result = train(
    model,
    train_ids,
    val_ids,
    run,
    checkpoint=folder / "run.safetensors",
    tokenizer=tokenizer.to_dict(),
    callback=callback,
)
print(f"{result.step} steps, {result.tokens:,} tokens in {result.seconds:.0f} s")

# %% [markdown]
# What to see in the curve: the training loss (the line) starts near 4 at its first point (step
# 10; at step 0 it is about ln 76 ≈ 4.3, §6) and falls steeply over the first hundred steps —
# further than in all the 1,400 steps after — then ever more slowly; the held-out loss (the dots,
# every 100 steps) falls with it. And a sample after training:

# %% tags=["nbval-ignore-output"]
after = sample(model)
print(after)
for name, text in [("before", before), *during.items(), ("after", after)]:
    share = stats.mean(real_words(text))  # a share of words, with its SE
    print(f"{name!s:>6}: {share:.2f} of its {share.n} words are real words")

# %% [markdown]
# Speaker names in capitals, line breaks, real words — from 128 characters of context and a
# couple of minutes of CPU. We check what the eye sees with the share of
# generated words found in the plays (its SE is large: a sample has a few dozen words, yet the
# gain is many times it), and the losses:

# %%
last = result.history[-1]
assert loss_at_init.item() > 4 > 2.1 > last["val_loss"]  # from about ln(76) = 4.3 to below 2.1
held_out = {r["step"]: r["val_loss"] for r in result.history if "val_loss" in r}
first = result.history[0]
assert first["step"] == 10 and 3.5 < first["loss"] < 4.3  # the line's first point: near 4
assert loss_at_init.item() - held_out[100] > held_out[100] - held_out[1500] > 0  # steep, then slow
word_gain = stats.difference(real_words(after), real_words(before), paired=False)
assert word_gain.value > 0.3 and word_gain.beyond_noise(3)

# %% [markdown]
# ### Your turn: a run you steer
#
# The widget below trains a model of its own from scratch (2 blocks, 64 wide, 64 characters of
# context, so a step is quick; `model` above is left as it is) with `llmlab.train`'s own step,
# while you watch: the loss curve is redrawn about once a second (held-out loss every 100 steps,
# the dots), and every 100 steps it writes a new sample from the same prompt and the same seed,
# so what changes between two samples is the model alone. Nothing runs until you press
# **Start**; **Pause** stops it after the current step, and Kernel → Interrupt stops it too.
# Things to try:
#
# - Let it run a few hundred steps, pause, and read the sample: which came first, line breaks
#   and speaker names, or real words?
# - Raise the learning rate tenfold (click the slider's handle and press → ten times: from
#   3.2e-3, about the peak rate of the run above, to 3.2e-2) and watch the curve for a hundred
#   steps. Then go back down. The new rate is used from the very next step, with no warm-up: is
#   the curve as smooth as before?

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import TrainingView

view = TrainingView(tokenizer, train_ids, val_ids)
assert (view.config.n_layer, view.config.n_embd, view.config.block_size) == (2, 64, 64)
assert view.step == 0 and view.eval_every == view.sample_every == 100  # nothing runs before Start
assert f"{view.lr.value:.1e}" == "3.2e-03" and f"{view.lr.value * 10:.1e}" == "3.2e-02"
view

# %% [markdown]
# ## 10. Perplexity, bits per character, and a fair comparison
#
# The loss is in nats per token. Two friendlier readings of it:
#
# - **perplexity** `= e^loss`: the model is as unsure as if it picked uniformly among that many
#   tokens. A uniform guess over 76 characters has perplexity 76.
# - **bits per character** `= loss / ln 2`: how many bits an ideal coder driven by the model
#   needs per character (lesson 05 makes this real, and races the model against gzip).
#
# Only **held-out** text counts: the six plays the model never saw. Besides our model we score
# the course's standard character model, the one lessons 00, 02, 05 and 08 load. It is **not** the
# model this lesson trains: `pretrained.load("char")` returns it (shipped in `assets/`, or
# trained once and cached if missing), and `pretrained.recipe("char")` is its recipe:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

standard, standard_tokenizer = pretrained.load("char")

# %%
shipped = pretrained.checkpoint("char")
print(pretrained.recipe("char")["model"])
standard_tokens = shipped.step * shipped.train_config.batch_size * standard.config.block_size
differences = {
    "width x blocks": (f"{C} x {L}", f"{standard.config.n_embd} x {standard.config.n_layer}"),
    "parameters": (f"{model.num_params():,}", f"{standard.num_params():,}"),
    "positions": (model.config.pos_encoding, standard.config.pos_encoding),
    "steps x windows": (f"{result.step} x {run.batch_size}", f"{shipped.step} x 8"),
    "characters seen": (f"{result.tokens:,}", f"{standard_tokens:,}"),
    "biases": (model.config.bias, standard.config.bias),
    "matrix products in": ("float32", shipped.train_config.dtype),
}
print(f"{'':<20}{'ours':>12}{'standard':>12}")
for name, (mine, theirs) in differences.items():
    print(f"{name:<20}{mine!s:>12}{theirs!s:>12}")
assert standard.num_params() == 797_312 and model.num_params() == 204_928
assert standard_tokens == 2 * result.tokens and shipped.train_config.batch_size == 8

# %% tags=["nbval-ignore-output"]
print(
    f"the standard model trained in {shipped.extra['seconds'] / 60:.1f} minutes where it was made"
)

# %% [markdown]
# The standard model is 128 wide with 4 blocks and **RoPE** positions (lesson 02's rotary
# encoding: queries and keys are rotated by an angle that grows with the position, instead of a
# learned position vector being added): 797,312 parameters, trained 6,000 steps of 8 windows,
# with its matrix products in **bfloat16** (a 16-bit number format with float32's range but only
# 8 significant bits, 2 to 3 decimal digits: faster on many processors, less precise). To train
# it yourself, run `llmlab pretrain --recipe char` in a terminal (or
# `pretrained.train_recipe(pretrained.recipe("char"), path)`): the same recipe and seed; the run
# that made the shipped file took the time printed above.
#
# Now a fair race. Every predictor reads the same 200 windows of 128 characters, spread evenly
# over the held-out plays, and predicts each character from the characters before it *in its
# window*; we keep one loss per window, so two predictors can be compared window by window
# (a paired difference, whose standard error cancels what is easy or hard about each window).
# Besides a uniform guess and character frequencies (no context), we bring back lesson 00's
# counting table: every 7-character string of the training plays counted, with **back-off** to
# shorter contexts for rare ones. Its one constant, `BLEND`, is chosen on 64 *other* held-out
# windows, drawn at random and kept only if they share no character with the 200 scored ones, so
# the table is not tuned on the text it is scored on.

# %%
from llmlab import ngram

ORDER = 6  # characters of context the table reads
table = ngram.BackoffTable.from_text(train_text, order=ORDER, vocab_size=V)  # lesson 00's table


# %%
starts = torch.linspace(0, len(val_ids) - T - 1, 200).long()  # llmlab.train.evaluate's windows
drawn = torch.randint(len(val_ids) - T - 1, (128,), generator=torch.Generator().manual_seed(1))
apart = (drawn[:, None] - starts[None, :]).abs().min(dim=1).values > T  # no character shared
tuning = drawn[apart][:64]
assert len(tuning) == 64
tuned = {
    blend: sum(table.window_loss(val_text[s : s + T + 1], blend) for s in tuning.tolist())
    for blend in (1, 8, 64, 512)
}
BLEND = min(tuned, key=tuned.get)
print(f"BLEND = {BLEND}, chosen on 64 other windows")


# %%


def model_window_losses(gpt: GPT) -> torch.Tensor:
    windows = val_ids[starts[:, None] + torch.arange(T + 1)]
    with torch.no_grad():
        logits, _ = gpt.eval()(windows[:, :-1])
    nll = F.cross_entropy(logits.float().transpose(1, 2), windows[:, 1:], reduction="none")
    return nll.mean(dim=1)


frequencies = torch.bincount(train_ids, minlength=V).double()
frequency_logp = (frequencies / frequencies.sum()).log()
per_window = {
    "uniform guess": torch.full((200,), math.log(V)),
    "character frequencies": -frequency_logp[val_ids[starts[:, None] + 1 + torch.arange(T)]]
    .mean(dim=1)
    .float(),
    f"counting table (BLEND {BLEND})": torch.tensor(
        [table.window_loss(val_text[s : s + T + 1], BLEND) for s in starts.tolist()]
    ),
    "our model": model_window_losses(model),
    "standard 'char'": model_window_losses(standard),
}
assert standard_tokenizer.chars == tokenizer.chars and len(val_text) == len(val_ids)

# %% tags=["nbval-ignore-output"]
print(f"{'200 held-out windows':<26}{'nats/char':>16}{'perplexity':>12}{'bits/char':>11}")
for name, losses in per_window.items():
    loss, shown = losses.mean().item(), f"{stats.mean(losses):.3f}"
    print(f"{name:<26}{shown:>16}{math.exp(loss):>12.2f}{loss / math.log(2):>11.3f}")
uniform, unigram, table, ours, theirs = per_window.values()
versus = {
    "our model - table": stats.difference(ours, table),
    "standard - table": stats.difference(theirs, table),
    "our model - standard": stats.difference(ours, theirs),
}
for name, gap in versus.items():
    print(f"{name:<22}{gap.value:+.3f} ± {gap.se:.3f} nats/char (paired SE)")

# %%
assert 0.8 < (uniform - unigram).mean() < 1.2 and math.exp(ours.mean()) < 10
assert (unigram - ours).mean() > 1  # knowing the context: more than another nat
assert versus["our model - table"].value > 0.3 and versus["our model - table"].beyond_noise(3)
assert not versus["standard - table"].beyond_noise(2)  # a tie, within the noise
lesson_00_gap = 0.007  # lesson 00: the table minus the standard model, on 1,024 other windows
assert lesson_00_gap < 2 * versus["standard - table"].se  # too small for 200 windows to resolve
assert versus["our model - standard"].value > 0.3 and versus["our model - standard"].beyond_noise(3)

# %% [markdown]
# Knowing which characters are common saves about one nat over a uniform guess; knowing the context
# saves more than another nat. Our model's perplexity is below 10: at a typical position it
# hesitates between a handful of characters, not 76. But it **loses to the counting table**, by more
# than 0.3 nats per character, many times the paired SE. The standard model, about four times bigger
# and trained on twice the characters, is **within two paired standard errors** of the table on
# these 200 windows. Lesson 00 scored the two on 1,024 windows and found the standard model ahead
# by 0.007 ± 0.003 nats per character: under 1% of the loss, and less than two of the paired SEs
# of these 200 windows, too small for them to resolve. So on 4 MB of text, a character GPT of the
# standard model's size predicts the next character only barely better than counting 7-character
# strings with back-off, and ours does worse (lesson 05 measures how a GPT's loss falls as it
# grows). More than 0.3 nats also separate our model from the standard
# one — but they differ in size, positions, length of training, batch, biases and precision all at
# once, so this table cannot say which of those pays; lesson 05 changes one thing at a time. (Lower
# held-out loss is also, exactly, better compression: lesson 05 races these models against gzip.)
#
# ## 11. What the model knows, and what it does not
#
# The samples can be measured, not just read. Every speech starts with a speaker's name in
# capitals on its own line; `llmlab.corpus` knows every speaker of the training plays. What
# share of the names the standard model writes are real ones? Eight samples of 200 characters:

# %%
speakers = {speech.speaker for speech in corpus.speeches("train")}
openings = torch.tensor([tokenizer.encode("\n\n")] * 8)
written = standard.generate(
    openings, 200, temperature=0.8, generator=torch.Generator().manual_seed(0)
)
samples = [tokenizer.decode(row.tolist()) for row in written]
names = [n for text in samples for n in re.findall(r"^([A-Z][A-Z' ]*[A-Z]):$", text, re.M)]
real = [n for n in names if n in speakers]

# %% tags=["nbval-ignore-output"]
print(f"{len(speakers)} speakers in the training plays")
print(
    f"{len(real)} of {len(names)} names written are real ({stats.proportion(len(real), len(names)):.2f}): {real[:8]}"
)
print("invented:", sorted(set(names) - speakers))

# %%
assert len(names) >= 8 and stats.proportion(len(real), len(names)).value > 0.5

# %% [markdown]
# More than half of the names in these samples are real ones — with a dozen or two names the
# share's SE is above 0.1, so these samples say little more than that — and the invented ones
# look like blends of real ones. A name is a short string, repeated at the head of every speech
# it opens. A whole line is not. Can the model recite famous lines of the training plays? We give
# it the start and read what it writes next with `T = 0` (always its favourite), and how many nats
# per character the real continuation costs it — a memorised line would cost close to zero:

# %%
famous = {
    "GLOUCESTER:\nNow is the winter of our ": "discontent\nMade glorious summer",
    "KING RICHARD III:\nA horse! a horse! my kingdom for a ": "horse!",
    "a wound.\nBut, soft! what light through yonder ": "window breaks?",  # Romeo
}
line_cost = {}
for start, rest in famous.items():
    assert start + rest in train_text  # each line is in the training plays
    ids = torch.tensor([tokenizer.encode(start + rest)])
    with torch.no_grad():
        logits, _ = standard(ids[:, :-1])
    losses_here = F.cross_entropy(logits[0].float(), ids[0, 1:], reduction="none")
    line_cost[start] = losses_here[-len(rest) :].mean().item()
greedy = {
    start: tokenizer.decode(
        standard.generate(torch.tensor(tokenizer.encode(start)), 20, temperature=0)[
            len(start) :
        ].tolist()
    )
    for start in famous
}

# %% tags=["nbval-ignore-output"]
for start, rest in famous.items():
    print(f"{start.split(chr(10))[1]!r}")
    print(f"   real: {rest!r}  ({line_cost[start]:.2f} nats/char)  model: {greedy[start]!r}")

# %%
assert min(line_cost.values()) > 1.2 and max(line_cost.values()) < 2.3  # far from zero cost
assert min(line_cost.values()) < theirs.mean().item() < max(line_cost.values())  # an ordinary cost
assert all(greedy[start][:6] != rest[:6] for start, rest in famous.items())  # nor written

# %% [markdown]
# It recites none of the three: its favourite continuation is not the line, and the real line costs
# it 1.3 to 2.2 nats per character, far from zero and about what an ordinary held-out character
# costs it (1.497 on average, §10). But did it ever read them? It did not read the
# plays from front to back: each of its 6,000 steps drew 8 windows of 129 characters at random
# places (`get_batch` of §1, from a generator `llmlab.train` seeds with the seed saved in the
# checkpoint). Replaying those draws takes only the random numbers, no model. One trick does it
# with the library's own code: draw the windows from the array of positions `0, 1, 2, …` instead
# of from the text, and each window's first entry is where it starts. Then we count, for each
# place a line occurs in the plays, the windows that held it whole, and how many of its
# characters were in any window at all:

# %%
from llmlab.train import lm_batches

settings, W = shipped.train_config, standard.config.block_size + 1  # a window: 129 characters
draw = lm_batches(torch.arange(len(train_ids)), standard.config.block_size)
replay = torch.Generator().manual_seed(settings.seed)  # as llmlab.train.fit seeds it
window_starts = torch.cat(
    [draw(replay, settings.batch_size)["input_ids"][:, 0] for _ in range(shipped.step)]
)
in_windows = (window_starts[:, None] + torch.arange(W)).flatten()
covered = torch.bincount(in_windows, minlength=len(train_ids))  # windows per character


def windows_holding(first: int, end: int) -> tuple[int, int]:
    """How many training windows held characters first..end-1 whole, and how many of those
    characters were in any window at all."""
    whole = (window_starts <= first) & (window_starts + W >= end)
    return int(whole.sum()), int((covered[first:end] > 0).sum())


held, on_average = {}, {}  # per line: windows_holding at each place; windows holding it, expected
for start, rest in famous.items():
    line = start.split("\n")[1] + rest
    places = re.finditer(re.escape(line), train_text)
    held[line] = [windows_holding(m.start(), m.end()) for m in places]
    on_average[line] = len(window_starts) * (W - len(line) + 1) / (len(train_ids) - W + 1)

# %%
for line, places in held.items():
    print(f"{line!r}: {len(line)} characters; places in the plays: {len(places)}")
    for whole, some in places:
        print(
            f"   windows holding it whole: {whole} (on average: {on_average[line]:.2f}); ", end=""
        )
        print(f"characters in any window: {some} of {len(line)}")
print(
    f"{len(window_starts):,} windows of {W} characters: {len(window_starts) * W / len(train_ids):.2f}"
    f" times the {len(train_ids):,} characters of the plays"
)
never, at_most_two = (covered == 0).sum() / len(train_ids), (covered <= 2).sum() / len(train_ids)
print(f"characters in no window: {never:.0%}; in at most two: {at_most_two:.0%}")

# %%
assert shipped.step == settings.max_steps == 6000 and settings.batch_size == 8
assert [[whole for whole, _ in places] for places in held.values()] == [[0], [0, 1], [0]]
assert [[some for _, some in places] for places in held.values()] == [[5], [32, 41], [0]]
assert 0.2 < never < 0.25 and 0.8 < at_most_two < 0.85 and min(on_average.values()) > 0.8
assert max(on_average.values()) < 1.1  # about one window per line, on average
horse = list(famous)[1]
assert 1.3 < line_cost[horse] < 1.5  # the line held whole once: far from recited

# %% [markdown]
# Two of the three lines were never inside a training window whole: of the winter line, only 5 of
# its 56 characters were in any window, and of Romeo's line none. The horse line occurs at two
# places; one of them was held whole by one window. That is the luck of the draw: a line this long
# falls whole inside about one window on average, and the 48,000 windows add up to 1.50 times the
# plays, yet 22% of the plays' characters fell in no window at all and 81% in at most two. So the
# standard model was trained on a random sample of windows, most of the text seen twice or less,
# some never; and the real ending of the one line it did see whole, once, still costs it 1.4 nats
# per character. It does not recite. What the samples do get right is what recurs throughout the
# plays — speakers' names, the layout of a speech. (Much larger models do reproduce text that
# repeats many times in their training data: Carlini et al., 2021, extracted memorised passages
# from GPT-2.) An invented name here is a likely-looking continuation, not a looked-up one.

# %% [markdown]
# ## 12. Checkpoints: save, load, resume
#
# A checkpoint is the model on disk. `llmlab` writes tensors in **safetensors** (a plain table of
# named arrays: loading it runs no code, unlike Python's pickle) and everything else — configs,
# step, tokenizer, loss history — as JSON in the file's header, with a SHA-256 of the header and
# the tensors so a damaged file is refused (the cell below flips one bit of a copy and checks
# that). Files are written under a temporary name and renamed (`llmlab.files.write_atomically`),
# so a crash mid-write does not leave half a checkpoint under the real name.
#
# **Weights only** is what you share or deploy:

# %%
from llmlab.checkpoint import load_checkpoint, save_checkpoint

weights_file = save_checkpoint(
    folder / "weights.safetensors", model, step=result.step, tokenizer=tokenizer.to_dict()
)
loaded = load_checkpoint(weights_file)
copy_of_model = loaded.build_model()
print(f"{weights_file.name}: {weights_file.stat().st_size / 1e3:.0f} kB, step {loaded.step}")
print(f"{len(loaded.tensors)} tensors:", ", ".join(sorted(loaded.tensors)[:3]), "...")
assert torch.equal(copy_of_model(idx)[0], model.eval()(idx)[0])
damaged = bytearray(weights_file.read_bytes())
damaged[-1] ^= 1  # one bit of the last weight flipped
(folder / "damaged.safetensors").write_bytes(damaged)
try:
    load_checkpoint(folder / "damaged.safetensors")
    refused = False
except ValueError:  # "... not a valid llmlab checkpoint ... do not match the SHA-256 ..."
    refused = True
assert refused

# %% [markdown]
# The run above also wrote a **training checkpoint**, `run.safetensors`, every 100 steps: the
# weights plus everything needed to continue — AdamW's two running averages per weight, the step,
# and the states of the random generators. That makes it about three times the size:

# %%
full = load_checkpoint(folder / "run.safetensors")
kinds = sorted({name.split(".")[0] for name in full.tensors})
size_ratio = (folder / "run.safetensors").stat().st_size / weights_file.stat().st_size
print(f"run.safetensors: step {full.step}, tensors of kinds {kinds}, {size_ratio:.2f}x the size")
assert kinds == ["model", "optimizer", "rng"] and 2.9 < size_ratio < 3.1

# %% [markdown]
# **Resume.** Long runs get interrupted: the laptop sleeps, the kernel is stopped. When you press ■
# (interrupt the kernel) during `train`, it finishes the step in progress, saves the checkpoint and
# returns; `train(..., resume=True)` later continues from the file. Because the optimizer and the
# random generators are restored too, the resumed run ends with **exactly** the weights of a run
# never stopped.
#
# Let's prove it on a small model. Run A trains 40 steps straight. Run B is interrupted — we send
# the interrupt signal from code, just as the ■ button would, right after step 20 is recorded, so
# the step in progress is step 21 and B stops after it — and run C resumes B's checkpoint into a
# freshly made model:

# %%
import signal

tiny = GPTConfig(vocab_size=V, block_size=32, n_layer=2, n_head=2, n_embd=32)
steps40 = TrainConfig(
    batch_size=8, max_steps=40, warmup_steps=5, eval_interval=0, checkpoint_interval=10
)


def fresh(seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(tiny)


def press_stop(record: dict) -> None:
    if record["step"] == 20:
        signal.raise_signal(signal.SIGINT)  # what the kernel's interrupt button sends


run_a = fresh(0)
a = train(run_a, train_ids, config=steps40, progress=False)
saved_b = folder / "b.safetensors"
b = train(
    fresh(0), train_ids, config=steps40, checkpoint=saved_b, callback=press_stop, progress=False
)
run_c = fresh(99)  # different random weights: the checkpoint replaces them
c = train(run_c, train_ids, config=steps40, checkpoint=saved_b, resume=True, progress=False)
print(f"A: {a.stop_reason} at step {a.step}")
print(f"B: {b.stop_reason} at step {b.step}")
print(f"C: resumed from step {b.step}, {c.stop_reason} at step {c.step}")
assert b.stop_reason == "interrupted" and b.step == 21 and c.step == 40
assert all(torch.equal(p, q) for p, q in zip(run_a.parameters(), run_c.parameters(), strict=True))

# %% [markdown]
# ## Recap
#
# - The data: random windows of the text; the targets are the inputs shifted by one.
# - A fixed window of 8 characters through an MLP already beats the bigram by about 0.4 nats per
#   character (paired SE above); a GPT reads any context up to its limit with the same weights.
# - A GPT block is attention then an MLP (with a GELU), each reading a layer-normalised copy of
#   the residual stream and adding its result back. A GPT is embeddings, a stack of blocks, a
#   final norm and a tied output layer; by hand it matches `llmlab.model`.
# - At initialisation the residual connections hand every layer nearly the same gradient
#   (measured on 12 blocks); without them it drifts by more than eight times across the 12 blocks.
# - Parameters: `12C² + 13C` per block, plus the tables; the backward pass costs twice the
#   forward, so training costs about `6 ×` parameters FLOPs per token (counted by PyTorch).
# - A fresh model scores `ln(vocab)`; the training loop (AdamW, warm-up + cosine, clipping) is a
#   dozen lines, and `llmlab.train` is exactly that plus evaluation, checkpoints and safety.
# - Text comes from a loop: crop, last position's logits, `softmax(z / T)`, sample, append. The
#   samples' speaker names were real about six times in ten (0.62 ± 0.12, a rough share from
#   eight samples) and the famous lines wrong: the standard
#   model trained on 48,000 windows drawn at random, and two of the three lines were never
#   whole inside any of them.
# - Perplexity `e^loss` and bits per character `loss / ln 2` read the held-out loss. On the same
#   windows, lesson 00's counting table beats the model trained here and is within two paired
#   SEs of the standard `char` model (128 wide, RoPE, 797,312 parameters, `llmlab pretrain
#   --recipe char`), which lesson 00's 1,024 windows put ahead of it by under 1% of the loss.
# - Checkpoints: weights only to share; weights + optimizer + RNG states to resume, bit for bit.
#
# **Next:** lesson 05 trains a ladder of models to find the power law behind "bigger is better",
# and uses a model as a compressor.
#
# ## More exercises
#
# ### Exercise: greedy generation that stops
# The loop of §8, greedy and with a stop: each step, crop to the context, take the last
# position's logits and append the most likely token (`argmax`); stop after `max_new_tokens`
# tokens, or right after appending `stop_id` (a newline ends a line; `<|end|>` ends a reply in
# lesson 06). `prompt` is one row of ids `[T]`; return only the new tokens, as a list of ints.

# %%
print(exercises.header("greedy_until"))


# %%
def greedy_until(model: GPT, prompt: torch.Tensor, max_new_tokens: int, stop_id: int) -> list[int]:
    # at most max_new_tokens times: crop, model, argmax of the last logits, keep it, append;
    # if it was stop_id, stop (it stays in the answer)
    raise NotImplementedError  # your code here


passed = exercises.check("greedy_until", greedy_until)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("greedy_until")` (then
# `exercises.hint("greedy_until", 2)`), and only then `exercises.solution("greedy_until")`.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz


def verdict(gap: stats.Estimate, ahead: str, behind: str) -> str:
    """Which of two models a paired difference (``ahead`` minus ``behind``, in loss) favours."""
    if not gap.beyond_noise(2):
        return "neither: within 2 SE"
    return f"{behind}, by more than 2 SE" if gap.value > 0 else f"{ahead}, by more than 2 SE"


context = "it reads the last 8 characters; the bigram reads only 1"
uneven = "it varies many times more from block to block"
ours_vs_table = versus["our model - table"]
theirs_vs_table = versus["standard - table"]
winter = next(iter(held))  # 'Now is the winter of our discontent...', at one place
never_whole = "no training window ever held that line whole"
seen_little = "it trained on that line once or twice: too few times to store it"
seen_all = "it trained on every line of the plays about one and a half times"
mlp_positions = MLP_STEPS * MLP_BATCH
assert gain.value > 0 and gain.beyond_noise(3) and spread[False] > 2 * spread[True]
assert mlp_params > tokenizer.vocab_size**2 and mlp_positions < len(train_ids) - 1
assert not theirs_vs_table.beyond_noise(2) and never > 0.2 and len(held[winter]) == 1
Quiz(
    [
        Question(
            "Why does the small MLP over 8 characters predict held-out text better than the "
            "bigram table?",
            [
                context,
                f"its {mlp_params:,} weights store more of the training pairs than "
                f"{tokenizer.vocab_size**2:,} counts can",
                "it trained on more of the text than the bigram counted",
            ],
            context,
            f"The bigram counted all {len(train_ids) - 1:,} pairs of the training plays; the MLP "
            f"trained on {mlp_positions:,} random positions of them: less text, not more. And it "
            f"has more numbers to fit, not fewer: {mlp_params:,} parameters against the bigram's "
            f"{tokenizer.vocab_size**2:,} counts. What it has is context: it gains "
            f"{gain.value:.3f} ± {gain.se:.3f} nats per character from the characters before "
            "the last one.",
        ),
        Question(
            "In a 12-block GPT at initialisation, what happens to the gradient reaching each "
            "block when the residual connections are removed?",
            [uneven, "it stays as even as with them", "it becomes exactly zero"],
            uneven if spread[False] > 2 * spread[True] else "it stays as even as with them",
            f"Largest over smallest gradient across the blocks: {spread[True]:.1f}x with the "
            f"skips, {spread[False]:.1f}x without. Each skip adds a path that carries the "
            "gradient past the block untouched.",
        ),
        Question(
            "On the same 200 held-out windows, which predicts better: the model trained here or "
            "lesson 00's counting table?",
            [
                "the model trained here, by more than 2 SE",
                "the counting table, by more than 2 SE",
                "neither: within 2 SE",
            ],
            verdict(ours_vs_table, "the model trained here", "the counting table"),
            f"Model minus table: {ours_vs_table.value:+.3f} ± {ours_vs_table.se:.3f} nats per "
            f"character, paired by window. The standard 'char' model, 4 times bigger and trained "
            f"on twice the characters, is at {theirs_vs_table.value:+.3f} ± "
            f"{theirs_vs_table.se:.3f}: within 2 SE of the table on these 200 windows (lesson "
            "00's 1,024 windows put it ahead of the table by 0.007 ± 0.003, under 1% of the loss).",
        ),
        Question(
            "'Now is the winter of our discontent' is in the training plays, and the standard "
            "model does not recite it. What does replaying its training draws show?",
            [never_whole, seen_little, seen_all],
            never_whole if max(whole for whole, _ in held[winter]) == 0 else seen_little,
            f"Its {len(window_starts):,} windows were drawn at random places: together "
            f"{len(window_starts) * W / len(train_ids):.2f} times the plays, yet {never:.0%} of "
            f"the characters fell in no window. The winter line was held whole by "
            f"{held[winter][0][0]} windows, and only {held[winter][0][1]} of its {len(winter)} "
            "characters were in any window. Even the horse line, held whole once at one of its "
            f"two places, has an ending that costs the model {line_cost[horse]:.2f} nats per "
            "character: it does not recite.",
        ),
    ]
)
