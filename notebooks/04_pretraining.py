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
# **What you will build:** a GPT, from the pieces of lessons 02 and 03, and its training. You will
# assemble a transformer block from attention, layer norm, residual connections and an MLP, check
# it against `llmlab.model`, count its parameters by hand, cut the plays into inputs and shifted
# targets, write the training loop (AdamW, warm-up and cosine decay, gradient clipping) and check
# it against `llmlab.train`, write the generation loop that turns a model into text, then
# pretrain a small model while its loss curve grows and its samples turn from noise into
# something like Shakespeare. Finally: perplexity and bits per character on held-out plays, what
# the model knows and does not (measured on its samples), and checkpoints — save, load,
# interrupt and resume.
#
# **CPU time:** about 2.5 minutes on a 2-core laptop (budget: 3 minutes), with the course's character
# model in the cache. Without it, the first run trains it (`llmlab prepare` does that ahead of
# time).

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
# ## 2. A transformer block, by hand
#
# A GPT is a stack of identical **blocks**. Each block does two things to every position's vector
# (the **residual stream**, of width `n_embd`):
#
# 1. **attention** — tokens talk to each other: each position gathers information from the
#    positions before it (lesson 02);
# 2. **MLP** — each position thinks alone: a two-layer network applied to every vector
#    separately, widened 4× inside, with a GELU non-linearity.
#
# Each of the two reads a **layer-normalised** copy of the stream and *adds* its result back:
# `x = x + attention(ln_1(x))`, then `x = x + mlp(ln_2(x))`. The additions are the **residual
# connections**: the stream is a running sum every layer writes into, and the gradient flows back
# along it untouched, which is what lets deep stacks train. (This is the *pre-norm* layout of
# GPT-2 and later; the original transformer normalised after the addition.)

# %% tags=["nbval-ignore-output"]
from llmlab import viz

viz.gpt_diagram(n_layer=4, n_embd=64, n_head=4)  # the model of this lesson

# %% [markdown]
#
# **Layer norm** rescales each vector to mean 0 and variance 1 over its channels, then applies a
# learned per-channel gain and bias. It keeps the scale of what enters each layer steady as the
# weights change. By hand, checked against torch:

# %%
import torch.nn.functional as F

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
# Now the whole block. Attention is `llmlab.attention.attention` with the causal mask, in
# `n_head` heads (lesson 02); the MLP is two matrix products around a GELU. Every weight comes
# from `block`, so the result must equal the block's own forward pass:

# %% tags=["nbval-ignore-output"]
from llmlab.attention import attention, merge_heads, split_heads


def block_by_hand(block: Block, x: torch.Tensor, residual: bool = True) -> torch.Tensor:
    """One pre-norm block; ``residual=False`` drops the two skip connections (measured below)."""
    attn, mlp = block.attn, block.mlp
    skip = x if residual else 0  # what the block's output is added to
    # 1. attention: every position gathers from the positions before it
    h = layer_norm(x, block.ln_1)
    q, k, v = (h @ attn.qkv.weight.T + attn.qkv.bias).chunk(3, dim=-1)
    q, k, v = (split_heads(t, config.n_head) for t in (q, k, v))  # [B, heads, T, head_dim]
    gathered, _ = attention(q, k, v, causal=True)
    x = skip + merge_heads(gathered) @ attn.proj.weight.T + attn.proj.bias  # residual connection
    # 2. MLP: each position alone, 4x wider inside
    skip = x if residual else 0
    h = layer_norm(x, block.ln_2)
    h = F.gelu(h @ mlp.fc.weight.T + mlp.fc.bias)
    return skip + h @ mlp.proj.weight.T + mlp.proj.bias  # residual connection


by_hand = block_by_hand(block, stream)
by_llmlab, _ = block(stream)
print(f"largest difference: {(by_hand - by_llmlab).abs().max().item():.1e}")
assert torch.allclose(by_hand, by_llmlab, atol=1e-4)

# %% [markdown]
# ## 3. From blocks to a GPT
#
# The whole model is a short recipe around the blocks: look up each token's vector and add its
# position's vector; run the blocks; normalise once more; score every vocabulary entry by a dot
# product with the **same** token table used at the input (*weight tying*: a character's input
# vector and its output scorer are one vector, which saves parameters and helps small models).
# The result, the **logits**, holds one score per possible next token at every position:

# %%
torch.manual_seed(1337)
model = GPT(config)
idx = x[:2]  # two windows from above, [2, 24]


def gpt_by_hand(
    model: GPT, idx: torch.Tensor, residual: bool = True, streams: list | None = None
) -> torch.Tensor:
    """The logits; ``streams``, if given, collects the residual stream entering each block."""
    T = idx.shape[1]
    h = model.wte.weight[idx] + model.wpe.embedding.weight[:T]  # token + position vectors
    for block in model.blocks:
        if streams is not None:
            h.retain_grad()  # keep its gradient after backward(), to measure it
            streams.append(h)
        h = block_by_hand(block, h, residual)
    return layer_norm(h, model.ln_f) @ model.wte.weight.T  # the tied output layer


logits, _ = model(idx)
print("logits:", tuple(logits.shape), "= [batch, time, vocabulary]")
assert torch.allclose(gpt_by_hand(model, idx), logits, atol=1e-5)
assert model.lm_head.weight is model.wte.weight  # tied: one matrix, two uses

# %% [markdown]
# ### What the residual connections buy
#
# "The gradient flows back along the stream untouched" can be measured. Take a deeper stack, 12
# blocks, at initialisation; backpropagate one batch's loss through `gpt_by_hand`, once as it
# is and once with the two `x +` of every block removed (`residual=False`), and read the size of
# the gradient arriving at each block's input:

# %%
torch.manual_seed(0)
deep = GPT(
    GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=12, n_head=4, n_embd=64)
)
x_deep, y_deep = get_batch(train_ids, 8, 64, torch.Generator().manual_seed(2))
stream_grad = {}
for residual in (True, False):
    streams = []
    logits_deep = gpt_by_hand(deep, x_deep, residual, streams)
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
assert spread[True] < 1.5 and spread[False] > 4

# %% [markdown]
# With the skips, every block's input receives nearly the same gradient: the sum hands the
# output's gradient straight back to every layer, and each layer adds its own share. Without
# them, the gradient must pass through every block in turn and its size drifts from layer to
# layer — here by several times over 12 layers, held in check only by the layer norms. In deeper
# stacks such drifts compound into gradients that vanish or explode, which is why every deep
# network since ResNet (2015) keeps a path that adds rather than transforms.

# %% [markdown]
# ## 4. Counting parameters
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

# %% [markdown]
# The `12C²` per block dominates as models grow (GPT-2 small: `C = 768`, 12 blocks, 85 M of its
# 124 M parameters):

# %%
gpt2_blocks = 12 * (12 * 768**2 + 13 * 768)
gpt2_total = 50257 * 768 + 1024 * 768 + gpt2_blocks + 2 * 768  # V = 50,257, T = 1,024
print(f"GPT-2 small: blocks {gpt2_blocks / 1e6:.0f} M of {gpt2_total / 1e6:.0f} M parameters")
assert round(gpt2_blocks / 1e6) == 85 and round(gpt2_total / 1e6) == 124

# %% [markdown]
# Each parameter costs one multiply-add (2 FLOPs) per token going forward, and two going
# backward (one for the gradient of its input, one for its own gradient): so the backward pass
# costs twice the forward, and training about **6 × parameters FLOPs per token** — the number
# lesson 05 builds scaling laws on. PyTorch can count the FLOPs of every operation it runs
# (attention runs as plain matrix products here, which the counter knows; the fused attention
# PyTorch picks otherwise is counted differently, or not at all, depending on the device and the
# torch version):

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
# ## 5. Before training: the loss of a uniform guess
#
# The **loss** is the cross-entropy: the average of `-ln p(correct next token)`. A model that
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
# ## 6. The training loop
#
# One step: draw a batch, compute the loss, backpropagate (lesson 03), and let the optimizer move
# every weight. Three ingredients make it work well:
#
# - **AdamW**: each weight gets its own step size, from running averages of its gradient and of
#   its squared gradient; *weight decay* pulls matrices gently towards zero.
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
# ## 7. Generating text, by hand
#
# A model gives scores; text comes from a loop around it. Each step: **crop** the text so far to
# the last `block_size` tokens (the model has no positions beyond), run the model, keep only the
# **last position's** logits (the guess for the next token), turn them into probabilities,
# **sample** one token, **append** it, repeat.
#
# The probabilities come with a knob, the **temperature** `T`: `softmax(z / T)`. Dividing the
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


# %%
def generate_by_hand(
    model: GPT, idx: torch.Tensor, max_new_tokens: int, temperature: float, generator
) -> torch.Tensor:
    """Extend each row of ``idx [B, T]`` by ``max_new_tokens`` sampled tokens."""
    model.eval()  # no dropout while generating
    with torch.no_grad():  # no gradients needed: nothing is trained here
        for _ in range(max_new_tokens):
            context = idx[:, -model.config.block_size :]  # 1. crop to the context
            logits, _ = model(context)
            last = logits[:, -1, :]  # 2. only the last position predicts the next token
            # 3. softmax(z / T); subtracting the largest logit first changes nothing but keeps
            #    exp() from overflowing at small T
            probs = torch.softmax((last - last.max(dim=-1, keepdim=True).values) / temperature, -1)
            next_id = torch.multinomial(probs, 1, generator=generator)  # 4. sample
            idx = torch.cat([idx, next_id], dim=1)  # 5. append
    return idx


prompt_ids = torch.tensor([tokenizer.encode("ROMEO:\n")])
ours = generate_by_hand(model, prompt_ids, 150, 0.8, torch.Generator().manual_seed(0))
library = model.generate(
    prompt_ids, 150, temperature=0.8, generator=torch.Generator().manual_seed(0), use_cache=False
)
assert torch.equal(ours, library)
print("150 tokens past the 128-token context: the loop by hand equals GPT.generate")

# %% [markdown]
# `GPT.generate` is this loop plus input checks, a greedy path for `T = 0`, optional top-k, and
# a *KV cache* that avoids recomputing the past at every step (lesson 08 builds sampling
# strategies and the cache on this loop; `use_cache=False` above reads exactly what our loop
# reads). From here on we use it, through `sample`:

# %%
import re


def sample(model: GPT, prompt: str = "ROMEO:\n", length: int = 240, seed: int = 0) -> str:
    """Continue ``prompt``, sampling each character (temperature 0.8, reproducible by ``seed``)."""
    ids = torch.tensor(tokenizer.encode(prompt))
    out = model.generate(
        ids, length, temperature=0.8, generator=torch.Generator().manual_seed(seed)
    )
    return tokenizer.decode(out.tolist())


known_words = set(re.findall(r"[a-z']+", train_text.lower()))


def real_word_share(text: str) -> float:
    """The share of the words of 3+ letters in ``text`` that occur in the training plays."""
    words = [w for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 3]
    return sum(w in known_words for w in words) / max(1, len(words))


# %% [markdown]
# ## 8. Pretraining, live
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
# And a sample after training:

# %% tags=["nbval-ignore-output"]
after = sample(model)
print(after)
for name, text in [("before", before), *during.items(), ("after", after)]:
    print(f"{name!s:>6}: {real_word_share(text):.0%} of the words are real words")

# %% [markdown]
# Speaker names in capitals, line breaks, real words, even a little grammar — from 128
# characters of context and a couple of minutes of CPU. We check what the eye sees with the share of
# generated words found in the plays, and the losses:

# %%
last = result.history[-1]
assert loss_at_init.item() > 4 > 2.1 > last["val_loss"]  # from about ln(76) = 4.3 to below 2.1
assert real_word_share(after) > real_word_share(before) + 0.3

# %% [markdown]
# ## 9. Perplexity and bits per character
#
# The loss is in **nats** per token (natural logarithms). Two friendlier readings of it:
#
# - **perplexity** `= e^loss`: the model is as unsure as if it picked uniformly among that many
#   tokens. A uniform guess over 76 characters has perplexity 76.
# - **bits per character** `= loss / ln 2`: how many bits an ideal coder driven by the model
#   needs per character (lesson 05 makes this real, and races the model against gzip).
#
# Only **held-out** text counts: the six plays the model never saw. We score four predictors on
# the same 200 windows of them: a uniform guess, character frequencies alone (no context), our
# model, and the course's standard character model (`pretrained.load` trains it once, then
# serves it from the cache). Both read the same 32 training plays, but the standard model
# differs from ours in more than one way — size, and also how long it trained and how:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

standard, standard_tokenizer = pretrained.load("char")

# %%
recipe = pretrained.checkpoint("char")
standard_tokens = recipe.step * recipe.train_config.batch_size * standard.config.block_size
differences = {
    "width x blocks": (f"{C} x {L}", f"{standard.config.n_embd} x {standard.config.n_layer}"),
    "parameters": (f"{model.num_params():,}", f"{standard.num_params():,}"),
    "characters seen": (f"{result.tokens:,}", f"{standard_tokens:,}"),
    "passes over the plays": (
        f"{result.tokens / len(train_ids):.2f}",
        f"{standard_tokens / len(train_ids):.2f}",
    ),
    "windows per step": (run.batch_size, recipe.train_config.batch_size),
    "positions": (model.config.pos_encoding, standard.config.pos_encoding),
    "biases": (model.config.bias, standard.config.bias),
    "matrix products in": ("float32", recipe.train_config.dtype),
}
print(f"{'':<24}{'ours':>12}{'standard':>12}")
for name, (mine, theirs) in differences.items():
    print(f"{name:<24}{mine!s:>12}{theirs!s:>12}")
assert standard.num_params() > 3.5 * model.num_params() and standard_tokens == 2 * result.tokens
assert standard_tokens / len(train_ids) < 2  # under two passes over the same text

# %%
from llmlab.train import evaluate

counts = torch.bincount(train_ids, minlength=V).double()
unigram_loss = -(torch.bincount(val_ids, minlength=V) * (counts / counts.sum()).log()).sum()
assert standard_tokenizer.chars == tokenizer.chars  # same characters, same ids
losses = {
    "uniform guess": math.log(V),
    "character frequencies": (unigram_loss / len(val_ids)).item(),
    f"our model ({model.num_params():,} params)": evaluate(model, val_ids, windows=200),
    f"standard 'char' ({standard.num_params():,})": evaluate(standard, val_ids, windows=200),
}

# %% tags=["nbval-ignore-output"]
print(f"{'held-out plays':<34}{'nats/char':>10}{'perplexity':>12}{'bits/char':>11}")
for name, loss in losses.items():
    print(f"{name:<34}{loss:>10.3f}{math.exp(loss):>12.2f}{loss / math.log(2):>11.3f}")

# %%
uniform, unigram, ours, theirs = losses.values()
assert round(math.exp(uniform)) == V  # a uniform guess: perplexity = vocabulary size
assert 0.8 < uniform - unigram < 1.2 and unigram - max(ours, theirs) > 1.0
assert math.exp(ours) < 10 and theirs < ours - 0.1

# %% [markdown]
# Knowing which characters are common saves about one nat; knowing the context saves more than
# another nat. Our model's perplexity is below 10: at a typical position it hesitates between a
# handful of characters, not 76. The standard model does better still, by more than 0.1 nats —
# but it is four times bigger, saw twice the characters and was trained differently (rotary
# positions, no biases, bfloat16 products, smaller batches), all at once, so this table cannot
# say which of those pays. Lesson 05 changes one thing at a time. (Lower held-out loss is also,
# exactly, better compression: lesson 05 races these models against gzip.)
#
# ## 10. What the model knows, and what it does not
#
# The samples can be measured, not just read. Every speech starts with a speaker's name in
# capitals on its own line; `llmlab.corpus` knows every speaker of the training plays. What
# share of the names the standard model writes are real ones? Eight samples of 200 characters:

# %%
speakers = {speech.speaker for speech in corpus.speeches("train")}
starts = torch.tensor([tokenizer.encode("\n\n")] * 8)
written = standard.generate(
    starts, 200, temperature=0.8, generator=torch.Generator().manual_seed(0)
)
samples = [tokenizer.decode(row.tolist()) for row in written]
names = [n for text in samples for n in re.findall(r"^([A-Z][A-Z' ]*[A-Z]):$", text, re.M)]
real = [n for n in names if n in speakers]

# %% tags=["nbval-ignore-output"]
print(f"{len(speakers)} speakers in the training plays")
print(f"{len(real)} of {len(names)} names written are real: {real[:8]}")
print("invented:", sorted(set(names) - speakers))

# %%
assert len(names) >= 8 and len(real) / len(names) > 0.5

# %% [markdown]
# More than half of the names are real, and the invented ones are plausible blends of real
# ones: a name is a short, often-repeated string, cheap to store. A whole line is not. Can the model recite famous lines it read during training? We give it the start and
# read what it writes next with `T = 0` (always its favourite), and how many nats per character
# the real continuation costs it — a memorised line would cost close to zero:

# %%
famous = {
    "GLOUCESTER:\nNow is the winter of our ": "discontent\nMade glorious summer",
    "KING RICHARD III:\nA horse! a horse! my kingdom for a ": "horse!",
    "a wound.\nBut, soft! what light through yonder ": "window breaks?",  # Romeo
}
line_cost = {}
for start, rest in famous.items():
    assert start + rest in train_text  # it did read these lines
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
assert min(line_cost.values()) > 0.5  # none is recited: far from zero cost

# %% [markdown]
# It does not recite them. Seen once or twice among four million characters, a line leaves no
# trace a model this small can replay; what it stores is what repeats — spelling, names, the
# shape of a speech. Big models do recite famous text (it repeats across the web), and their
# invented "facts" are the same thing as these invented names: a likely-looking continuation, not
# a looked-up one.

# %% [markdown]
# ## 11. Checkpoints: save, load, resume
#
# A checkpoint is the model on disk. `llmlab` writes tensors in **safetensors** (a plain table of
# named arrays: loading it runs no code, unlike Python's pickle) and everything else — configs,
# step, tokenizer, loss history — as JSON in the file's header, with a SHA-256 of the tensors so
# a damaged file is refused. Files are written under a temporary name and renamed, so a crash
# mid-write never leaves half a checkpoint.
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
# **Resume.** Long runs get interrupted: the laptop sleeps, the kernel is stopped. When you press
# ■ (interrupt the kernel) during `train`, it finishes the current step, saves the checkpoint and
# returns; `train(..., resume=True)` later continues from the file. Because the optimizer and the
# random generators are restored too, the resumed run ends with **exactly** the weights of a run
# never stopped.
#
# Let's prove it on a small model. Run A trains 40 steps straight. Run B is interrupted — we send
# the interrupt signal from code, at step 20, just as the ■ button would — and run C resumes B's
# checkpoint into a freshly made model:

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
assert b.stop_reason == "interrupted" and b.step < 40 and c.step == 40
assert all(torch.equal(p, q) for p, q in zip(run_a.parameters(), run_c.parameters(), strict=True))

# %% [markdown]
# ## Recap
#
# - A GPT block is attention then an MLP, each reading a layer-normalised copy of the residual
#   stream and adding its result back. A GPT is embeddings, a stack of blocks, a final norm and a
#   tied output layer; we rebuilt it by hand and matched `llmlab.model` exactly.
# - Parameters: `12C² + 13C` per block, plus the tables; the backward pass costs twice the
#   forward, so training costs about `6 ×` parameters FLOPs per token (counted by PyTorch).
# - The data: random windows of the text; the targets are the inputs shifted by one.
# - The residual connections hand every layer nearly the same gradient (measured on 12 blocks).
# - Text comes from a loop: crop, last position's logits, `softmax(z / T)`, sample, append; our
#   loop equals `GPT.generate`. The samples get speakers' names mostly right and famous lines
#   wrong: a small model stores what repeats.
# - A fresh model scores `ln(vocab)`; the training loop (AdamW, warm-up + cosine, clipping) is a
#   dozen lines, and `llmlab.train` is exactly that plus evaluation, checkpoints and safety.
# - Perplexity `e^loss` and bits per character `loss / ln 2` read the held-out loss.
# - Checkpoints: weights only to share; weights + optimizer + RNG states to resume, bit for bit.
#
# **Next:** lesson 05 trains a ladder of models to find the power law behind "bigger is better",
# and uses a model as a compressor.
#
# ## Exercises
#
# **Exercise 1.** Cut the training examples yourself: given token ids, the start of each window
# and `block_size`, return `(x, y)` — `x[b]` the `block_size` tokens from `starts[b]`, `y[b]`
# the same window one token later (so `y[b, t]` is the token after `x[b, t]`). `get_batch` is
# this, with the starts drawn by `torch.randint`.


# %%
from llmlab import exercises


def windows_and_targets(ids: torch.Tensor, starts: list[int], block_size: int):
    raise NotImplementedError  # your code here


passed = exercises.check("windows_and_targets", windows_and_targets)

# %% [markdown]
# **Exercise 2.** The generation loop of §7, greedy and with a stop: crop to the context, take
# the last position's logits, append the most likely token (`argmax`); stop after
# `max_new_tokens` tokens, or right after appending `stop_id` (a newline ends a line, `<|end|>`
# ends a reply in lesson 06). Return only the new tokens, as a list of ints.


# %%
def greedy_until(model: GPT, prompt: torch.Tensor, max_new_tokens: int, stop_id: int) -> list[int]:
    raise NotImplementedError  # your code here


passed = exercises.check("greedy_until", greedy_until)

# %% [markdown]
# **Exercise 3.** Most recent LLMs (LLaMA, Mistral, …) replace layer norm by **RMSNorm**: divide
# each vector by its root mean square `sqrt(mean(x²) + eps)` — no mean subtracted, no bias — then
# multiply each channel by a learned `weight`. Write it for tensors `[..., C]`.


# %%
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    raise NotImplementedError  # your code here


passed = exercises.check("rms_norm", rms_norm)

# %% [markdown]
# Stuck? `exercises.solution("greedy_until")` (or any exercise's name) prints a worked solution.
