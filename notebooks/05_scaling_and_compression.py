# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 05 · Scaling and compression
#
# **What you will build:** the two ideas that explain why language models keep getting bigger.
# First, what training compute **costs**, from a 70-billion-parameter model's GPU bill to your
# laptop's. Then **scaling laws**: you will train a ladder of five models, each a few times
# bigger than the last and fed more text, and find that their held-out loss falls on a straight
# line on log-log axes; fit the line on the four smaller models, *predict* the largest one's loss
# and check the prediction. A small **iso-FLOP** sweep — several sizes for one budget — answers
# the question behind it all: bigger model or more data? Second, **prediction is compression**:
# you will measure the course's character model in bits per character against gzip, bz2 and
# lzma on a play it never saw, and run a real arithmetic coder that squeezes a speech into those
# bits and gets it back.
#
# **CPU time:** about 2.5 minutes on a 2-core laptop (budget: 3 minutes), with the course's character
# model in the cache. Without it, the first run trains it (`llmlab prepare` does that ahead of
# time).

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. Counting compute: 6 × parameters × tokens
#
# Training a model with `N` parameters on `D` tokens costs about `6ND` floating-point operations
# (FLOPs): each parameter does one multiply-add (2 FLOPs) per token going forward, and the
# backward pass costs twice the forward (lesson 04 counts both). This single number, **compute**, is what
# the scaling laws are written in. Here is the bill of the course's standard character model:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

standard, tokenizer = pretrained.load("char")
saved = pretrained.checkpoint("char")

# %%
from llmlab import scaling

n_params = standard.num_params()
tokens = saved.step * saved.train_config.batch_size * standard.config.block_size
flops = scaling.training_flops(n_params, tokens)
print(f"standard 'char': {n_params:,} parameters x {tokens:,} tokens -> {flops:.2e} FLOPs")
gpt3 = scaling.training_flops(175e9, 300e9)
print(f"GPT-3 (2020): 175e9 parameters x 300e9 tokens -> {gpt3:.2e} FLOPs")
print(f"GPT-3 / ours: {gpt3 / flops:.0e}")
assert flops == 6 * n_params * tokens and 3e9 < gpt3 / flops < 3e10

# %% [markdown]
# ### What compute costs
#
# Turn `6ND` into time and money for a model of the size people download: **Llama 2 70B**, 70
# billion parameters trained on 2 trillion tokens. An NVIDIA A100 peaks at 312 TFLOP/s in
# bfloat16; a large run keeps about **40%** of that busy with useful work (the rest goes to
# memory traffic, communication between chips and restarts). At an assumed bulk price of $1 per
# GPU-hour:

# %%
llama = scaling.training_cost(
    70e9, 2e12, peak_flops_per_s=312e12, utilisation=0.4, n_gpus=6000, dollars_per_gpu_hour=1.0
)
print(f"6 x 70e9 x 2e12 = {llama.flops:.1e} FLOPs")
print(f"{llama.gpu_hours / 1e6:.1f} million A100-hours = {llama.days:.0f} days on 6,000 GPUs")
print(f"about ${llama.dollars / 1e6:.1f} million")
assert llama.flops == 6 * 70e9 * 2e12 and 12 <= round(llama.days) <= 13
assert 1.5e6 < llama.dollars < 2.5e6  # "about $2M over 12 days"

# %% [markdown]
# Memory is the other bill. Training with AdamW keeps, for every parameter, the weight, its
# gradient and the optimizer's two running averages (lesson 04), each a 4-byte float:

# %%
import torch

from llmlab.model import GPT, GPTConfig

probe = GPT(GPTConfig(tokenizer.vocab_size, 16, n_layer=1, n_head=1, n_embd=16))
adamw = torch.optim.AdamW(probe.parameters())
probe(torch.zeros(1, 16, dtype=torch.long), torch.zeros(1, 16, dtype=torch.long))[1].backward()
adamw.step()


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t.ndim > 0)  # not the step count


weights = tensor_bytes(probe.parameters())
grads = tensor_bytes(p.grad for p in probe.parameters())
moments = tensor_bytes(t for state in adamw.state.values() for t in state.values())
per_parameter = (weights + grads + moments) / sum(p.numel() for p in probe.parameters())
print(f"bytes per parameter while training: {per_parameter:.0f}")
print(
    f"Llama 2 70B: {70e9 * per_parameter / 1e12:.2f} TB, {70e9 * per_parameter / 80e9:.0f} A100s of 80 GB"
)
assert per_parameter == 16

# %% [markdown]
# Before any activation is stored, the training state alone fills 14 of the largest A100s; real
# runs shard it across hundreds (and keep bfloat16 copies on top). Your laptop's side of the
# same accounting comes after the ladder below, which measures its speed.
#
# GPT-3 took some ten billion times more compute than our standard model. The question scaling
# laws answer: if you spend more, how much better does the model get — and should you spend it
# on a bigger model or on more data?
#
# ## 2. A ladder of models
#
# Five models, each two to four times bigger than the one before it, and each trained on about
# 1.7 times as much text. Every other setting is shared: the same data, the same context of 64
# characters, the same schedule, the same seed. Each run records its held-out loss as it goes,
# so we see every model's whole learning curve, not just its end. The cell prints how long the
# ladder took (about two minutes on two cores).

# %%
from llmlab import corpus
from llmlab.train import TrainConfig, evaluate, train

train_ids = torch.tensor(tokenizer.encode(corpus.text("train")))
val_ids = torch.tensor(tokenizer.encode(corpus.text("validation")))

LADDER = {  # name: (layers, heads, width, training steps of 16 windows of 64 characters)
    "XS": (1, 1, 16, 290),
    "S": (2, 2, 24, 490),
    "M": (2, 2, 48, 830),
    "L": (3, 2, 64, 1400),
    "XL": (3, 3, 96, 2400),
}
BATCH, CONTEXT, LR = 16, 64, 3e-3


def make(layers: int, heads: int, width: int) -> GPT:
    torch.manual_seed(0)
    shape = GPTConfig(tokenizer.vocab_size, CONTEXT, n_layer=layers, n_head=heads, n_embd=width)
    return GPT(shape)


print(f"{'model':<6}{'shape':>12}{'parameters':>12}{'tokens':>12}{'FLOPs':>10}")
sizes, texts = [], []
for name, (layers, heads, width, steps) in LADDER.items():
    n, d = make(layers, heads, width).num_params(), steps * BATCH * CONTEXT
    sizes.append(n)
    texts.append(d)
    print(f"{name:<6}{f'{layers} x {width}':>12}{n:>12,}{d:>12,}{6 * n * d:>10.1e}")
assert all(2 < bigger / n < 4 for n, bigger in zip(sizes, sizes[1:], strict=False))
assert all(1.6 < more / d < 1.8 for d, more in zip(texts, texts[1:], strict=False))

# %% tags=["nbval-ignore-output"]
runs = {}
for name, (layers, heads, width, steps) in LADDER.items():
    model = make(layers, heads, width)
    config = TrainConfig(
        batch_size=BATCH,
        max_steps=steps,
        learning_rate=LR,
        min_lr=LR / 10,
        warmup_steps=steps // 10,
        eval_interval=steps // 8,
        eval_windows=32,
    )
    result = train(model, train_ids, val_ids, config, progress=False)
    runs[name] = {
        "params": model.num_params(),
        "tokens": result.tokens,
        "seconds": result.seconds,
        "curve": [(h["tokens"], h["val_loss"]) for h in result.history if "val_loss" in h],
        "loss": evaluate(model, val_ids, windows=256),  # the final score: 16k held-out characters
    }
    print(f"{name:<3} {result.seconds:5.1f} s  held-out loss {runs[name]['loss']:.3f}")
print(f"the ladder: {sum(r['seconds'] for r in runs.values()):.0f} s of training")

# %% [markdown]
# **Your laptop's bill.** The largest rung's `6ND` divided by its training time is the useful
# work your CPU did per second. Against it, the speed of one large matrix product — about the
# best this CPU does with PyTorch — shows how much of that small models leave unused (numbers
# from this machine; yours will differ):

# %% tags=["nbval-ignore-output"]
import time

xl_rate = scaling.training_flops(runs["XL"]["params"], runs["XL"]["tokens"]) / runs["XL"]["seconds"]
a = torch.randn(1024, 1024)
a @ a  # warm up
started = time.perf_counter()
for _ in range(10):
    a @ a
matmul_rate = 10 * 2 * 1024**3 / (time.perf_counter() - started)
print(f"training XL: {xl_rate / 1e9:.1f} GFLOP/s of useful work")
print(f"one 1024 x 1024 matrix product: {matmul_rate / 1e9:.0f} GFLOP/s")
print(
    f"utilisation: {xl_rate / matmul_rate:.0%}; Llama 2 70B at this speed: {llama.flops / xl_rate / 3.15e7:.1e} years"
)

# %% [markdown]
# ## 3. Loss against compute
#
# Every model's learning curve, drawn against the compute spent so far (`6 × N × tokens seen`),
# on log-log axes. Early on, each curve falls steeply; then it bends and flattens. Each curve
# also **dips at its end**: the learning rate follows a cosine down to a tenth of its peak over
# each run (lesson 04), and the last, smallest steps stop bouncing around the valley and settle
# into it. So a point in the middle of a curve is *not* what a shorter run would reach — a
# shorter run would have decayed sooner and dipped there. Only the end points are fair, and the
# fits below use only them. Through the five end points, a power law `L = a · C^-α`:

# %% tags=["nbval-ignore-output"]
for run in runs.values():
    run["flops"] = scaling.training_flops(run["params"], run["tokens"])
compute_law = scaling.fit_power_law(
    [r["flops"] for r in runs.values()], [r["loss"] for r in runs.values()]
)
print(f"loss = {compute_law}   (compute in FLOPs; R² = {compute_law.r_squared:.3f})")

# %% tags=["nbval-ignore-output"]
from llmlab import viz

curves = {
    name: ([6 * r["params"] * t for t, _ in r["curve"]], [loss for _, loss in r["curve"]])
    for name, r in runs.items()
}
viz.scaling_plot(
    {f"{name} ({r['params']:,} params)": (r["flops"], r["loss"]) for name, r in runs.items()},
    compute_law,
    curves=curves,
    title="Held-out loss against training compute",
    xlabel="training compute (FLOPs)",
)

# %% [markdown]
# Every model's loss falls as it trains, and bigger, longer runs end lower. The fit is a
# *straight* line in log-log space, and a good one:

# %%
losses = [r["loss"] for r in runs.values()]
assert all(a > b for a, b in zip(losses, losses[1:], strict=False))  # each rung beats the last
assert 0.01 < compute_law.exponent < 0.5 and compute_law.r_squared > 0.9

# %% [markdown]
# ## 4. Predict, then verify
#
# A law earns trust by predicting what it was not fitted on. Fit `L = b · N^-β` on the four
# smaller rungs only, predict the largest rung's loss from its size, and compare with the loss
# it really reached:

# %%
names = list(runs)
fitted = scaling.fit_power_law(
    [runs[n]["params"] for n in names[:-1]], [runs[n]["loss"] for n in names[:-1]]
)
xl = runs["XL"]
predicted_xl = fitted(xl["params"])
error = predicted_xl / xl["loss"] - 1

# %% tags=["nbval-ignore-output"]
print(f"fitted on XS..L: loss = {fitted}   (N in parameters)")
print(f"XL ({xl['params']:,} parameters): predicted {predicted_xl:.3f}, measured {xl['loss']:.3f}")
print(f"error: {error:+.1%}")

# %%
assert abs(error) < 0.08  # within 8%

# %% tags=["nbval-ignore-output"]
viz.scaling_plot(
    {name: (r["params"], r["loss"]) for name, r in runs.items()},
    fitted,
    predict_at=xl["params"],
    title="Fitted on XS..L, the star predicts XL",
    xlabel="parameters",
)

# %% [markdown]
# **Two laws, or one?** Papers fit loss against parameters and against data separately — by
# holding one fixed and varying the other. Our ladder does not: every rung grows its data *with*
# its size, `D ≈ c · N^k`. Then compute `C = 6ND ∝ N^(1+k)`, and the compute law is the size law
# in other units: its exponent must be the size law's divided by `1 + k`.

# %% tags=["nbval-ignore-output"]
size_law = scaling.fit_power_law([r["params"] for r in runs.values()], losses)
data_vs_size = scaling.fit_power_law(sizes, texts)  # D = c N^k: the fit returns -k
k = -data_vs_size.exponent
print(f"the ladder: tokens grow as N^{k:.2f}")
print(f"size law exponent / (1 + k) = {size_law.exponent / (1 + k):.4f}")
print(f"compute law exponent        = {compute_law.exponent:.4f}")
assert abs(size_law.exponent / (1 + k) - compute_law.exponent) < 0.1 * compute_law.exponent

# %% [markdown]
# One law, then: on this ladder we cannot tell how much of the gain came from parameters and how
# much from data. To separate them, hold the compute fixed and trade one against the other.
#
# ## 5. Bigger model or more data? An iso-FLOP sweep
#
# One budget of compute, three ways to spend it: a small model on many tokens, a middle one, a
# large model on few. Each run's tokens are set so that `6ND` is the same budget:

# %%
BUDGET = 3e10  # FLOPs per run
SWEEP = {f"{w} wide": (2, 2, w) for w in (16, 24, 32, 64)}  # 2 blocks each
iso = {}
for name, shape in SWEEP.items():
    n = make(*shape).num_params()
    steps = round(BUDGET / (6 * n * BATCH * CONTEXT))
    iso[name] = {"params": n, "steps": steps, "tokens": steps * BATCH * CONTEXT}
    print(
        f"{name}: {n:>7,} parameters x {iso[name]['tokens']:>9,} tokens "
        f"({iso[name]['tokens'] / n:5.1f} per parameter)"
    )
assert all(abs(6 * r["params"] * r["tokens"] / BUDGET - 1) < 0.02 for r in iso.values())

# %% tags=["nbval-ignore-output"]
for name, shape in SWEEP.items():
    steps = iso[name]["steps"]
    config = TrainConfig(
        batch_size=BATCH,
        max_steps=steps,
        learning_rate=LR,
        min_lr=LR / 10,
        warmup_steps=steps // 10,
        eval_interval=0,
    )
    model = make(*shape)
    train(model, train_ids, None, config, progress=False)
    iso[name]["loss"] = evaluate(model, val_ids, windows=256)
    print(f"{name}: held-out loss {iso[name]['loss']:.3f}")
best = min(iso, key=lambda name: iso[name]["loss"])
print(
    f"best for {BUDGET:.0e} FLOPs: {best}, {iso[best]['tokens'] / iso[best]['params']:.0f} tokens per parameter"
)

# %%
from itertools import pairwise

iso_losses = [r["loss"] for r in iso.values()]  # smallest model first
assert all(bigger > smaller + 0.02 for smaller, bigger in pairwise(iso_losses))

# %% [markdown]
# Same compute, different answers — and at this budget the answer is **more data**: every step
# up in size made the loss worse. The biggest model, fed under one token per parameter, has
# barely started learning when its budget runs out; the smallest, with 82 tokens per parameter,
# wins. Give the sweep a bigger budget and the best size moves up: as compute grows, the best
# model and its data grow together. DeepMind's Chinchilla study (2022) measured this on models
# of up to 16 billion parameters and found the balance near **20 tokens per parameter**; models
# as tiny as ours, on a budget this small, are outside that range, and here the best ratio lies
# at 82 or beyond (a sweep with smaller models would find where). Exercise 3 works out what
# Chinchilla's rule means for a budget.
#
# Two cautions, both visible in real scaling studies:
#
# - A pure power law heads to zero loss. Real curves flatten toward the **entropy of the text**
#   itself — what no model can predict (which of two names comes next, a new idea). Real fits
#   add that floor: `L = E + a · N^-α`. With five small models we cannot see it yet.
# - The law holds only when size and data grow **together**. A big model on little data
#   memorises; a small model on lots of data saturates (its curve flattens in the figure above).
#   The iso-FLOP sweep above is the fair way to see it.
#
# ## 6. The model is a compressor
#
# Two kinds of compression meet in this course, and they should not be confused. Lesson 00's
# sense is **lossy**: the weights are a summary of the training text, far smaller than the text
# for a big model, from which the text cannot be restored — only its regularities. This section
# is about the other kind, **lossless**: the model *plus a coder* squeezes *new* text and gets
# every character back.
#
# A model that assigns probability `p` to the character that actually comes next could have
# *written it down* in `-log₂ p` bits: likely characters cheaply, surprising ones expensively.
# That is not a metaphor. **Arithmetic coding** turns any sequence of predictions into a code
# that reaches `Σ -log₂ p` bits for the whole text, within two bits. So the held-out loss
# divided by `ln 2` *is* a compressed size in bits per character, and a better language model
# is a better compressor — the idea behind the Hutter Prize.
#
# Let's race the course's standard character model against the classic compressors on a play
# the model never saw: *Macbeth*, one of the held-out plays. The race must be fair: the model
# has read the 32 training plays, so the compressors may read them too. We compress the training
# plays followed by Macbeth, subtract the training plays compressed alone, and charge each
# compressor only for what Macbeth added:

# %%
import math

play = "\n".join(s.render() for s in corpus.speeches("validation") if s.play == "macbeth")
play_ids = tokenizer.encode(play)
alone = scaling.compressor_bits_per_char(play)
after_training = scaling.compressor_bits_per_char(play, context=corpus.text("train"))
bits = {f"uniform guess (log2 {tokenizer.vocab_size})": math.log2(tokenizer.vocab_size)}
bits.update(after_training)
print(f"Macbeth: {len(play):,} characters, {len(play.encode()):,} bytes")
print(f"{'bits per character':<26}{'alone':>8}{'after the training plays':>27}")
for name in alone:
    print(f"{name:<26}{alone[name]:>8.2f}{after_training[name]:>27.2f}")
assert all(after_training[name] < alone[name] for name in alone)  # the plays help each one
assert after_training["lzma"] < alone["lzma"] - 0.3  # lzma's window reaches furthest back

# %% [markdown]
# And the model: the total of `-log₂ p` over the play (`scaling.code_length_bits`: lesson 04's
# loss, summed instead of averaged, in windows of the model's full context):

# %% tags=["nbval-ignore-output"]
model_bits = scaling.code_length_bits(standard, play_ids) / len(play)
bits["standard 'char' model"] = model_bits
print(f"{'standard char model':<26} {model_bits:5.2f} bits per character")
viz.bar_chart(bits, title="Macbeth, compressed", ylabel="bits per character", fmt="{:.2f}")

# %% [markdown]
# Reading the plays first helps every compressor: lzma most, its window reaching back
# megabytes; bz2 too (Macbeth shares its 900 kB block with the end of the training plays);
# gzip barely, as it looks back only 32 kB. Alone, the compressors lose to the model by nearly half a
# bit per character or more. With the plays to read, the closest of them comes within about a
# tenth of a bit — and the model still wins: gzip by almost a bit per character.

# %%
assert model_bits < min(alone.values()) - 0.4  # "nearly half a bit or more"
assert 0.05 < min(after_training.values()) - model_bits < 0.2  # "about a tenth of a bit"
assert model_bits < after_training["gzip"] - 0.9  # "almost a bit"

# %% [markdown]
# Why can a small network beat tools built for compression? gzip and lzma look for *repeats* of
# earlier text in the file; bz2 sorts similar contexts together. None of them knows English.
# The model brings knowledge from 32 other plays: spelling, grammar, metre, who speaks how.
#
# That knowledge is not free: to decompress, the receiver needs the model too, and its weights
# are much bigger than the play. Compression contests count the decompressor's size, so a model
# pays off only over a lot of text — which is exactly how an LLM is used: one set of weights,
# billions of predictions.

# %%
weights_bytes = 4 * standard.num_params(non_embedding=False)  # float32
print(f"the model: {weights_bytes / 1e6:.1f} MB of weights; Macbeth: {len(play) / 1e6:.2f} MB")
assert weights_bytes > len(play.encode())

# %% [markdown]
# ## 7. Arithmetic coding, for real
#
# The claim "`-log₂ p` bits are achievable" deserves a demonstration. The coder keeps an
# interval of [0, 1). For each character, it splits the interval into one slice per possible
# character, sized by the model's probabilities, and keeps the slice of the character that
# actually came. After the whole message the interval's width is the product of the
# probabilities, and any number inside it identifies the message. Writing down such a number in
# binary takes about `-log₂(width) = Σ -log₂ p` bits.
#
# To decode, the receiver runs the **same model**: it computes the same slices and sees which
# one the number falls into, one character at a time. (So both sides must compute bit-identical
# probabilities; `scaling.model_predictor` runs the model the same way on both sides.)

# %% tags=["nbval-ignore-output"]
speech = next(
    s
    for s in corpus.speeches("validation")
    if s.speaker == "LADY MACBETH" and 80 < len(s.render()) <= standard.config.block_size
)
message = speech.render()
predict = scaling.model_predictor(standard)
code = scaling.arithmetic_encode(tokenizer.encode(message), predict)
print(message)
print(f"{len(code)} bits: {code[:64]}...")

# %% tags=["nbval-ignore-output"]
decoded = tokenizer.decode(scaling.arithmetic_decode(code, len(message), predict))
ideal = scaling.code_length_bits(standard, tokenizer.encode(message))  # Σ -log2 p
print(f"{len(message)} characters -> {len(code)} bits = {len(code) / len(message):.2f} bits/char")
print(f"the model's Σ -log2 p: {ideal:.1f} bits")
assert decoded == message  # lossless
assert ideal - 2 <= len(code) <= ideal + 2 + 0.01 * len(message)  # the ideal, up to rounding

# %% [markdown]
# (We picked a speech that fits in the model's context of `block_size` characters, so the coder
# and `code_length_bits` see the same contexts. The small excess comes from rounding
# probabilities to 16-bit integers.)
#
# ## Recap
#
# - Training compute is `6 × parameters × tokens` FLOPs: for Llama 2 70B about 1.9 million
#   A100-hours at 40% utilisation (13 days on 6,000 GPUs, about $2M); training state takes 16
#   bytes per parameter with AdamW.
# - Held-out loss falls as a power law — a straight line on log-log axes — when model and data
#   grow together; fitted on four rungs, it predicted the fifth within 8%. On such a ladder the
#   size law and the compute law are one law.
# - At a fixed budget, size and data trade against each other: at 3e10 FLOPs the sweep's
#   smallest model, on the most tokens per parameter, beat every bigger one.
# - Lossy vs lossless: the weights summarise the training text; the model plus an arithmetic
#   coder compresses new text losslessly to `loss / ln 2` bits per character, beating gzip, bz2
#   and lzma even when they may read the training plays first.
#
# **Next:** lesson 06 fine-tunes the pretrained model into a dialogue partner and a classifier.
#
# ## Exercises
#
# **Exercise 1.** Fit a power law yourself: return the exponent `α` of `y = a · x^-α` that fits
# points best in log space (least squares through `(log x, log y)`).


# %%
from llmlab import exercises


def power_law_exponent(x: list[float], y: list[float]) -> float:
    raise NotImplementedError  # your code here


passed = exercises.check("power_law_exponent", power_law_exponent)

# %% [markdown]
# **Exercise 2.** A BPE model's loss is in nats per *token*, but its tokens are several
# characters long. Convert its mean loss on a text of `n_tokens` tokens and `n_chars`
# characters to bits per character, so it can be compared with the character model.


# %%
def bits_per_char(loss: float, n_tokens: int, n_chars: int) -> float:
    raise NotImplementedError  # your code here


passed = exercises.check("bits_per_char", bits_per_char)

# %% [markdown]
# **Exercise 3.** The Chinchilla rule of thumb: for a compute budget `C = 6ND`, train about
# 20 tokens per parameter (`D = 20N`). Return `(N, D)` for a budget of `flops`.


# %%
def chinchilla_split(flops: float) -> tuple[float, float]:
    raise NotImplementedError  # your code here


passed = exercises.check("chinchilla_split", chinchilla_split)

# %% [markdown]
# Stuck? `exercises.solution("power_law_exponent")` (or any exercise's name) prints a worked
# solution.
