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
# First, **scaling laws**: you will train a ladder of five models, each a few times bigger than
# the last and fed more text, and find that their held-out loss falls on a straight line on
# log-log axes — a power law in parameters and in compute — then use the line to predict a model
# ten times bigger. Second, **prediction is compression**: a model that predicts the next
# character well can *store* text in few bits. You will measure the course's character model in
# bits per character against gzip, bz2 and lzma on a play it never saw, and run a real arithmetic
# coder that squeezes a speech into those bits and gets it back.
#
# **CPU time:** about 2.5 minutes on a 2-core laptop (budget: 4 minutes), with the course's character
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
# backward pass costs twice the forward (lesson 04). This single number, **compute**, is what
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

# %% tags=["nbval-ignore-output"]
seconds = saved.extra["seconds"]  # the wall time recorded when it was trained
print(f"trained in {seconds:.0f} s: {flops / seconds / 1e9:.1f} GFLOP/s of useful work")

# %% [markdown]
# GPT-3 took some ten billion times more compute. The question scaling laws answer: if you
# spend more, how much better does the model get — and should you spend it on a bigger model or
# on more data?
#
# ## 2. A ladder of models
#
# Five models, each two to four times bigger than the one before it, and each trained on about
# 1.7 times as much text. Every other setting is shared: the same data, the same context of 64
# characters, the same schedule, the same seed. Each run records its held-out loss as it goes,
# so we see every model's whole learning curve, not just its end. The whole ladder takes about
# two minutes on two cores.

# %%
import torch

from llmlab import corpus
from llmlab.model import GPT, GPTConfig
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
# ## 3. Loss against compute
#
# Every model's learning curve, drawn against the compute spent so far (`6 × N × tokens seen`),
# on log-log axes. Early on, each curve falls steeply; then it bends and flattens, as its model
# runs out of capacity or its run out of data. The **lower envelope** of all the curves — the
# best loss any of our models reached for a given compute — is close to a straight line: a power
# law, `L = a · C^-α`. We fit it through the end points of the five runs:

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
# ## 4. Loss against parameters, and a prediction
#
# The same end points against the number of parameters give the second law, `L = b · N^-β`.
# What would a model **ten times bigger** than our largest reach, trained the ladder's way (its
# training text grown with its size, as from rung to rung)? The law extrapolates one step along
# the line (the star):

# %% tags=["nbval-ignore-output"]
size_law = scaling.fit_power_law([r["params"] for r in runs.values()], losses)
biggest = runs["XL"]["params"]
predicted = size_law(10 * biggest)
print(f"loss = {size_law}   (N in parameters; R² = {size_law.r_squared:.3f})")
print(f"prediction for {10 * biggest:,} parameters: held-out loss {predicted:.2f}")

# %% tags=["nbval-ignore-output"]
viz.scaling_plot(
    {name: (r["params"], r["loss"]) for name, r in runs.items()},
    size_law,
    predict_at=10 * biggest,
    title="Held-out loss against model size",
    xlabel="parameters",
)

# %% [markdown]
# The prediction is lower than anything we trained, yet far from zero: each tenfold of
# parameters buys the same *fraction* of loss, `1 - 10^-β`.

# %% tags=["nbval-ignore-output"]
gain = 1 - 10**-size_law.exponent
print(f"each 10x more parameters: {gain:.0%} lower loss")

# %%
assert 0 < predicted < losses[-1] and 0.02 < gain < 0.5

# %% [markdown]
# Two cautions, both visible in real scaling studies:
#
# - A pure power law heads to zero loss. Real curves flatten toward the **entropy of the text**
#   itself — what no model can predict (which of two names comes next, a new idea). Real fits
#   add that floor: `L = E + a · N^-α`. With five small models we cannot see it yet.
# - The law holds only when size and data grow **together**. A big model on little data
#   memorises; a small model on lots of data saturates (its curve flattens in the figure above).
#   DeepMind's Chinchilla study (2022) found the compute-optimal balance near **20 tokens per
#   parameter** — exercise 3 works out what that means for a budget.
#
# ## 5. The model is a compressor
#
# A model that assigns probability `p` to the character that actually comes next could have
# *written it down* in `-log₂ p` bits: likely characters cheaply, surprising ones expensively.
# That is not a metaphor. **Arithmetic coding** turns any sequence of predictions into a code
# that reaches `Σ -log₂ p` bits for the whole text, within two bits. So the held-out loss
# divided by `ln 2` *is* a compressed size in bits per character, and a better language model
# is a better compressor — the idea behind the Hutter Prize, and behind lesson 00's "an LLM is
# a compression of its training text".
#
# Let's race the course's standard character model against the classic compressors on a play
# none of them was tuned on: *Macbeth*, one of the held-out plays.

# %%
import math

play = "\n".join(s.render() for s in corpus.speeches("validation") if s.play == "macbeth")
play_ids = tokenizer.encode(play)
bits = {f"uniform guess (log2 {tokenizer.vocab_size})": math.log2(tokenizer.vocab_size)}
bits.update(scaling.compressor_bits_per_char(play))
print(f"Macbeth: {len(play):,} characters, {len(play.encode()):,} bytes")
for name, value in bits.items():
    print(f"{name:<26} {value:5.2f} bits per character   ({value * len(play) / 8e3:5.1f} kB)")

# %% [markdown]
# And the model: the total of `-log₂ p` over the play (`scaling.code_length_bits`: lesson 04's
# loss, summed instead of averaged, in windows of the model's full context):

# %% tags=["nbval-ignore-output"]
model_bits = scaling.code_length_bits(standard, play_ids) / len(play)
bits["standard 'char' model"] = model_bits
print(f"{'standard char model':<26} {model_bits:5.2f} bits per character")
viz.bar_chart(bits, title="Macbeth, compressed", ylabel="bits per character", fmt="{:.2f}")

# %% [markdown]
# The model beats all three, gzip by a wide margin (more than a bit per character) and the best
# of them, bz2, by more than 0.3 bits per character: the better the predictions, the fewer the
# bits.

# %%
assert model_bits < bits["gzip"] - 1.0
assert model_bits < min(bits["gzip"], bits["bz2"], bits["lzma"]) - 0.3

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
# ## 6. Arithmetic coding, for real
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
# - Training compute is `6 × parameters × tokens` FLOPs.
# - Held-out loss falls as a power law in compute and in parameters — a straight line on
#   log-log axes — when model and data grow together; a fit to small models predicts bigger
#   ones, a step at a time.
# - A language model is a compressor: `loss / ln 2` bits per character are achievable with
#   arithmetic coding, and the course's small model beats gzip, bz2 and lzma on a held-out play.
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


exercises.check("power_law_exponent", power_law_exponent)

# %% [markdown]
# **Exercise 2.** A BPE model's loss is in nats per *token*, but its tokens are several
# characters long. Convert its mean loss on a text of `n_tokens` tokens and `n_chars`
# characters to bits per character, so it can be compared with the character model.


# %%
def bits_per_char(loss: float, n_tokens: int, n_chars: int) -> float:
    raise NotImplementedError  # your code here


exercises.check("bits_per_char", bits_per_char)

# %% [markdown]
# **Exercise 3.** The Chinchilla rule of thumb: for a compute budget `C = 6ND`, train about
# 20 tokens per parameter (`D = 20N`). Return `(N, D)` for a budget of `flops`.


# %%
def chinchilla_split(flops: float) -> tuple[float, float]:
    raise NotImplementedError  # your code here


exercises.check("chinchilla_split", chinchilla_split)

# %% [markdown]
# To reveal a solution, run `exercises.solution("name")`. Here is the first one:

# %%
exercises.solution("power_law_exponent")
