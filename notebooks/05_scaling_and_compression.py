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
# laptop's. Then **scaling laws**: you will train a ladder of five small models, each bigger than
# the last and fed more text, and find that their held-out loss falls on a straight line on
# log-log axes; fit the line on the four smaller models, *predict* the largest one's loss and
# check the prediction against the measurement and its standard error. Two **iso-FLOP** sweeps
# (several sizes for one budget, at two budgets) answer the question behind it all: bigger model
# or more data? Second, **prediction is compression**: you will measure the course's character
# model in bits per character against gzip, bz2 and lzma on a play it never saw, and run a real
# arithmetic coder that squeezes a speech into those bits and gets it back. You build three
# pieces yourself: the power-law fit, the sweep's verdict, and a step of the coder.
#
# **CPU time:** about 2 minutes on a 2-core laptop, one thread (budget: 2.5 minutes), with the
# course's character model in the cache. Without it, the first run trains it (`llmlab prepare` does that ahead of time).

# %%
import llmlab

llmlab.setup()

# %% [markdown]
# ## 1. Counting compute: 6 × parameters × tokens

# %% [markdown]
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
# billion parameters trained on 2 trillion tokens. An NVIDIA A100 peaks at 312 TFLOP/s (312
# million million FLOPs per second) in bfloat16, the 16-bit floats large models train in; a
# large run keeps about **40%** of that busy with useful work (the rest goes to memory traffic,
# communication between chips and restarts). At an assumed bulk price of $1 per GPU-hour:

# %%
llama = scaling.training_cost(
    70e9, 2e12, peak_flops_per_s=312e12, utilisation=0.4, n_gpus=6000, dollars_per_gpu_hour=1.0
)
print(f"6 x 70e9 x 2e12 = {llama.flops:.1e} FLOPs")
print(f"{llama.gpu_hours / 1e6:.1f} million A100-hours = {llama.days:.0f} days on 6,000 GPUs")
print(f"about ${llama.dollars / 1e6:.1f} million")
assert llama.flops == 6 * 70e9 * 2e12 and 12 <= round(llama.days) <= 13
assert 1.5e6 < llama.dollars < 2.5e6  # "about $2M over 12 days"
reported = 1_720_320  # A100-hours for Llama 2 70B (Touvron et al. 2023, the Llama 2 paper)
implied = llama.flops / (reported * 3600 * 312e12)
print(f"Meta reported {reported / 1e6:.2f} million A100-hours: a utilisation of {implied:.0%}")
assert 0.35 < implied < 0.5  # the 40% guess is about right

# %% [markdown]
# The estimate holds up: Meta's paper reports the hours it really took, and `6ND` over those
# hours is 43% of the A100's peak, close to the 40% we assumed.
#
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
assert per_parameter == 16 and round(70e9 * per_parameter / 80e9) == 14

# %% [markdown]
# Before any activation is stored, the training state alone fills 14 of the largest A100s; real
# runs shard it across hundreds (and keep bfloat16 copies on top).
#
# GPT-3 took some ten billion times more compute than our standard model. The question scaling
# laws answer: if you spend more, how much better does the model get — and should you spend it
# on a bigger model or on more data?

# %% [markdown]
# ## 2. A ladder of models

# %% [markdown]
# Five small models, each wider than the one before it (6 to 24 numbers per character, two
# transformer blocks each, one attention head per 8 numbers of width, at least one) and each
# trained on 10 to 20% more text than the one before (the table prints how much).
# Every other setting is shared: the same data, the same context of 64 characters, the same
# learning-rate schedule, the same seed. Each run records its held-out loss as it goes, so we
# see every model's whole learning curve, not just its end.
#
# The final score of each model is its loss (lesson 04's cross-entropy, in **nats**: natural-log
# units, per character) on 2,048 fixed windows of 64 characters of the held-out plays (131,072
# characters it never trained on), one loss per window. Another set of windows would
# give a slightly different mean; the **standard error** (SE) says by how much, typically:
# the windows' standard deviation divided by √2048 (`stats.mean`, printed as `value ± SE`).
# Two models scored on the *same* windows are compared window by window (`stats.difference`,
# paired): how hard a window is cancels out, and the SE of the difference is much smaller.

# %%
from itertools import pairwise

from llmlab import corpus, stats
from llmlab.train import TrainConfig, train

train_ids = torch.tensor(tokenizer.encode(corpus.text("train")))
val_ids = torch.tensor(tokenizer.encode(corpus.text("validation")))

LADDER = {"XS": (6, 620), "S": (8, 687), "M": (12, 760), "L": (16, 834), "XL": (24, 1000)}
BATCH, CONTEXT, LR, WINDOWS = 16, 64, 3e-3, 2048  # (width, steps of 16 windows of 64 chars)


def make(width: int, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    heads = max(1, width // 8)
    return GPT(GPTConfig(tokenizer.vocab_size, CONTEXT, n_layer=2, n_head=heads, n_embd=width))


print(
    f"{'model':<6}{'width':>6}{'heads':>6}{'parameters':>12}{'tokens':>11}{'more':>6}{'FLOPs':>10}"
)
sizes, texts = [], []
for name, (width, steps) in LADDER.items():
    rung = make(width)
    n, d = rung.num_params(), steps * BATCH * CONTEXT
    more = f"{d / texts[-1] - 1:.0%}" if texts else ""
    sizes.append(n)
    texts.append(d)
    print(f"{name:<6}{width:>6}{rung.config.n_head:>6}{n:>12,}{d:>11,}{more:>6}{6 * n * d:>10.1e}")
assert all(bigger > n for n, bigger in pairwise(sizes))
assert all(0.095 < more / d - 1 < 0.205 for d, more in pairwise(texts))  # "10 to 20% more"
assert WINDOWS * CONTEXT == 131_072

# %% [markdown]
# One function trains a model of a given width for a given number of steps and scores it. It
# keeps every run it has made, so a later section that needs the same run gets it back instead
# of training it again. It also saves each run's results in the course's cache
# (`scaling.cached_run`, in `$LLMLAB_HOME`), under a hash of every setting and of the data: run
# the lesson again and the runs are read back, not retrained (with the seconds they took then).

# %%
RUNS = {}  # (width, steps, seed) -> the run


def run(width: int, steps: int, seed: int = 0) -> dict:
    if (width, steps, seed) not in RUNS:
        model = make(width, seed)
        config = TrainConfig(
            batch_size=BATCH,
            max_steps=steps,
            learning_rate=LR,
            min_lr=LR / 10,
            warmup_steps=steps // 10,
            eval_interval=steps // 8,
            eval_windows=32,
            seed=1337 + seed,
        )

        def measure() -> dict:
            result = train(model, train_ids, val_ids, config, progress=False)
            return {
                "params": model.num_params(),
                "tokens": result.tokens,
                "seconds": result.seconds,
                "curve": [(h["tokens"], h["val_loss"]) for h in result.history if "val_loss" in h],
                "windows": scaling.window_losses(model, val_ids, WINDOWS),  # one loss per window
            }

        settings = {"model": model.config, "train": config, "seed": seed, "windows": WINDOWS}
        settings["data"] = [train_ids, val_ids]
        RUNS[width, steps, seed] = scaling.cached_run("lesson05_run", settings, measure)
        RUNS[width, steps, seed]["loss"] = stats.mean(RUNS[width, steps, seed]["windows"])
    return RUNS[width, steps, seed]


# %% tags=["nbval-ignore-output"]
runs = {name: run(width, steps) for name, (width, steps) in LADDER.items()}
for name, r in runs.items():
    print(f"{name:<3} held-out loss {r['loss']:.3f}")
steps_down = [stats.difference(a["windows"], b["windows"]) for a, b in pairwise(runs.values())]
print("each rung's gain on the last:", ", ".join(f"{gain:.3f}" for gain in steps_down))
assert all(gain.value > 0 and gain.beyond_noise(3) for gain in steps_down)

# %% [markdown]
# Each rung beats the one below it, by more than three standard errors of the paired difference
# (the assert says so): the gains are 0.06 to 0.12 nats per character, the SE of each
# difference about 0.001. (That SE counts only which held-out windows were scored; section 5
# measures a second source of noise, the training seed, which is larger: about 0.02. The
# smallest gain is still about three times that, as section 5 asserts.)
#
# **A laptop's bill.** The largest rung's `6ND` divided by its training time is the useful work
# per second of the machine that trained it (a cached run keeps the seconds it took then, which
# may have been another machine or a busier moment). Against it, one large matrix product,
# timed now on this machine: a rough ceiling of what PyTorch gets from a CPU. The last line
# prices Llama 2 70B's training at XL's speed. All three are timings, so the numbers below are
# this build's, not a fact about CPUs, and nothing in the lesson rests on them. To see your own
# machine's, run the lesson on a quiet machine with a fresh cache.

# %% tags=["nbval-ignore-output"]
import time

xl_rate = scaling.training_flops(runs["XL"]["params"], runs["XL"]["tokens"]) / runs["XL"]["seconds"]
a = torch.randn(1024, 1024)
a @ a  # warm up
started = time.perf_counter()
for _ in range(10):
    a @ a
matmul_rate = 10 * 2 * 1024**3 / (time.perf_counter() - started)
print(f"training XL: {xl_rate / 1e9:.2f} GFLOP/s of useful work")
print(f"one 1024 x 1024 matrix product: {matmul_rate / 1e9:.0f} GFLOP/s")
print(f"Llama 2 70B at XL's speed: {llama.flops / xl_rate / 3.15e7:.1e} years")

# %% [markdown]
# ## 3. Loss against compute

# %% [markdown]
# Every model's learning curve, drawn against the compute spent so far (`6 × N × tokens seen`),
# on log-log axes. Early on, each curve falls steeply; then it bends and flattens. Each curve
# also **dips at its end**: the learning rate follows a cosine down to a tenth of its peak over
# each run (lesson 04), and the last, smallest steps stop bouncing around the valley and settle
# into it. So a point in the middle of a curve is *not* what a shorter run would reach — a
# shorter run would have decayed sooner and dipped there. Only the end points are fair, and the
# fits below use only them. Through the five end points, a power law `L = a · C^-α`, fitted as
# a straight line through the logs (`scaling.fit_power_law`; you build it in the exercise below).
# Its **R²** says how well the line fits: the share of the spread of the log-losses that the line
# accounts for, 1 for points exactly on it, 0 for a line no better than their mean:

# %% tags=["nbval-ignore-output"]
for r in runs.values():
    r["flops"] = scaling.training_flops(r["params"], r["tokens"])
losses = [r["loss"].value for r in runs.values()]
compute_law = scaling.fit_power_law([r["flops"] for r in runs.values()], losses)
print(f"loss = {compute_law}   (compute in FLOPs; R² = {compute_law.r_squared:.3f})")
assert 0.01 < compute_law.exponent < 0.5 and compute_law.r_squared > 0.95

# %% tags=["nbval-ignore-output"]
from llmlab import viz

curves = {
    name: ([6 * r["params"] * t for t, _ in r["curve"]], [loss for _, loss in r["curve"]])
    for name, r in runs.items()
}
viz.scaling_plot(
    {f"{name} ({r['params']:,} params)": (r["flops"], r["loss"].value) for name, r in runs.items()},
    compute_law,
    curves=curves,
    title="Held-out loss against training compute",
    xlabel="training compute (FLOPs)",
)

# %% [markdown]
# What to see: each thin curve falls as its model trains and ends in a dot; the dots of bigger,
# longer runs sit lower and to the right, and the dashed line (the fit) passes close to all five:
# on log-log axes the trend is a *straight* line (R² about 0.97; the cell asserts above 0.95).

# %% [markdown]
# ### Two laws, or one?
#
# Papers fit loss against parameters and against data separately, by holding one fixed and
# varying the other. Our ladder does not: every rung grows its data *with* its size,
# `D ≈ c · N^k`. Then compute `C = 6ND ∝ N^(1+k)`, and the compute law is the size law in other
# units: its exponent must be the size law's divided by `1 + k`.

# %% tags=["nbval-ignore-output"]
size_law = scaling.fit_power_law(sizes, losses)
data_vs_size = scaling.fit_power_law(sizes, texts)  # D = c N^k: the fit returns -k
k = -data_vs_size.exponent
print(f"the ladder: tokens grow as N^{k:.2f}")
print(f"size law exponent / (1 + k) = {size_law.exponent / (1 + k):.4f}")
print(f"compute law exponent        = {compute_law.exponent:.4f}")
assert abs(size_law.exponent / (1 + k) - compute_law.exponent) < 0.1 * compute_law.exponent

# %% [markdown]
# One law, then: on this ladder we cannot tell how much of the gain came from parameters and how
# much from data. To separate them, hold the compute fixed and trade one against the other
# (section 5).

# %% [markdown]
# ### Try it: a rung of your own
#
# The widget below puts any model width and compute budget (in GFLOP: 10⁹ FLOPs) on the
# compute law fitted above: the ladder's five points (with their SE bars, too small to see at
# this scale), the dashed law, and your choice as a star at the loss the law predicts, with the
# tokens that budget buys that size and the time it would take at the speed the ladder's runs
# measured for a model that size (small models do fewer FLOP/s on a CPU).
# **Train it** trains that model for that budget with this lesson's own `run` (budgets that
# would take more than 20 seconds here are refused) and draws the measured loss beside the
# star. Things to try:
#
# - Slide the budget along the ladder: the star follows the line, and beyond XL's compute the
#   caption says you are extrapolating (section 4 measures how far one step out can miss).
# - Keep the budget and change the width: the prediction does not move, because the law knows
#   compute only; the caption compares the tokens the budget buys with what the ladder's path
#   gives that size. Train widths 4, 8 and 16 at a budget of 10 GFLOP: do they land on the
#   star? (Section 5 runs this comparison with its noise.)

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import ScalingLadder

offered = sorted({4, 32, *(width for width, _ in LADDER.values())})
ScalingLadder(
    runs,
    compute_law,
    widths={width: make(width).num_params() for width in offered},
    train=run,
    tokens_per_step=BATCH * CONTEXT,
    max_seconds=20,
)

# %% [markdown]
# ## 4. Predict, then verify

# %% [markdown]
# A law earns trust by predicting what it was not fitted on. Fit `L = b · N^-β` on the four
# smaller rungs only, predict the largest rung's loss from its size, and compare with the loss
# it really reached, whose SE says how precisely we know it:

# %%
names = list(runs)
fitted = scaling.fit_power_law(
    [runs[n]["params"] for n in names[:-1]], [runs[n]["loss"].value for n in names[:-1]]
)
xl = runs["XL"]
predicted_xl = fitted(xl["params"])
miss = predicted_xl - xl["loss"].value

# %% tags=["nbval-ignore-output"]
print(f"fitted on XS..L: loss = {fitted}   (N in parameters)")
print(f"XL ({xl['params']:,} parameters): predicted {predicted_xl:.3f}, measured {xl['loss']:.3f}")
print(f"miss: {miss:+.3f} = {miss / xl['loss'].value:+.1%} = {miss / xl['loss'].se:+.1f} SE")

# %%
assert miss < 0 and abs(miss) > 3 * xl["loss"].se  # too optimistic, beyond the windows' noise
assert abs(miss / xl["loss"].value) < 0.05  # but by less than 5%

# %% tags=["nbval-ignore-output"]
viz.scaling_plot(
    {name: (r["params"], r["loss"].value) for name, r in runs.items()},
    fitted,
    predict_at=xl["params"],
    title="Fitted on XS..L, the star predicts XL",
    xlabel="parameters",
)

# %% [markdown]
# What to see: the line fitted through the four smaller models, extended to XL's size (the
# star), lands close to XL's measured dot, and a little below it.
#
# Close, but not within the noise: the line predicted about 2.32 where XL measured 2.39 ± 0.004,
# a miss of about 3%, nearly twenty standard errors (and some three times the seed-to-seed change
# of section 5). The prediction was too *optimistic*: the line expected XL to gain about 0.13 on
# L (2.45 → 2.32), and it gained 0.065. The gains shrink faster than a straight line allows:
# the first sign of the floor that a pure power law lacks (see the cautions at the end of
# section 5). A scaling law is a good guide one step ahead, not an exact one.

# %% [markdown]
# ### Exercise: fit a power law
# `scaling.fit_power_law` did the fitting above. Build its core: given points `x` and `y`
# (lists of positive floats, at least three), return the exponent `α` of the power law
# `y = a · x^-α` that fits them best *in log space*, that is, minus the slope of the
# least-squares line through the points `(log x, log y)`. NumPy's `polyfit` and `lstsq` are off
# limits: two means and two sums do it.

# %%
from llmlab import exercises

print(exercises.header("power_law_exponent"))


# %%
def power_law_exponent(x: list[float], y: list[float]) -> float:
    # 1. the logs of x and of y
    # 2. the least-squares slope of log y against log x (means, then two sums)
    # 3. the exponent is minus that slope
    raise NotImplementedError  # your code here


passed = exercises.check("power_law_exponent", power_law_exponent)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("power_law_exponent")` (then
# `exercises.hint("power_law_exponent", 2)`), and only then `exercises.solution("power_law_exponent")`.

# %% [markdown]
# ## 5. Bigger model or more data? An iso-FLOP sweep

# %% [markdown]
# An **iso-FLOP sweep** spends one budget of compute several ways: a small model on many
# tokens, a middle one, a large model on few. Each run's steps are set so that `6ND` is the same
# budget. Its answer is trustworthy only if it **brackets** a minimum: the best size must have a
# smaller *and* a bigger neighbour that both do worse, beyond the noise. A best size at the edge
# of the sweep says only "look further". We sweep two budgets, four times apart, each with sizes
# whose widths double (3 to 3.6 times the parameters per step). Two runs are rungs of the ladder
# already (S and L), and come back from `RUNS` without training again:

# %%
SWEEPS = {1e10: (4, 8, 16), 4e10: (8, 16, 32)}  # budget in FLOPs: widths
for budget, widths in SWEEPS.items():
    for width in widths:
        n = make(width).num_params()
        steps = round(budget / (6 * n * BATCH * CONTEXT))
        tokens = steps * BATCH * CONTEXT
        print(
            f"{budget:.0e}: width {width:>2}, {n:>6,} parameters x {tokens:>9,} tokens "
            f"({tokens / n:6.1f} per parameter){'  (a ladder rung)' if (width, steps, 0) in RUNS else ''}"
        )
        assert abs(6 * n * tokens / budget - 1) < 0.01

# %% tags=["nbval-ignore-output"]
sweeps = {}
for budget, widths in SWEEPS.items():
    sweep = [run(w, round(budget / (6 * make(w).num_params() * BATCH * CONTEXT))) for w in widths]
    sweeps[budget] = sweep
    best = min(range(len(sweep)), key=lambda i: sweep[i]["loss"].value)
    print(f"budget {budget:.0e} FLOPs:")
    for width, r in zip(widths, sweep, strict=True):
        gap = stats.difference(r["windows"], sweep[best]["windows"])
        note = "  <- best" if r is sweep[best] else f"  worse by {gap:.3f}"
        print(f"  width {width:>2}: held-out loss {r['loss']:.3f}{note}")

# %% [markdown]
# Does each sweep bracket its minimum? The check: the lowest loss belongs to the middle size,
# and both neighbours are worse by more than three standard errors of the paired difference.

# %%
best_width = {}
for budget, sweep in sweeps.items():
    best = min(range(len(sweep)), key=lambda i: sweep[i]["loss"].value)
    gaps = [stats.difference(sweep[i]["windows"], sweep[best]["windows"]) for i in (0, 2)]
    assert best == 1 and all(g.value > 0 and g.beyond_noise(3) for g in gaps), (budget, gaps)
    best_width[budget] = SWEEPS[budget][best]
print("best width:", {f"{b:.0e}": w for b, w in best_width.items()})
assert best_width[1e10] < best_width[4e10]

# %% [markdown]
# Both budgets bracket their minimum, and the best size differs between them: width 8 at 1e10
# FLOPs (width 4 worse by about 0.08, width 16 by about 0.14), width 16 at 4e10 (width 8 worse
# by about 0.05, width 32 by about 0.11), each gap forty or more SEs of its difference.
#
# The standard errors above count one source of noise: which held-out windows we scored. A
# second is the training run itself: another seed (another initialisation and another order of
# batches) ends at a slightly different loss. The closest call is the larger budget's, width 8
# against width 16. Train both again with a second seed:

# %% tags=["nbval-ignore-output"]
steps_8, steps_16 = (round(4e10 / (6 * make(w).num_params() * BATCH * CONTEXT)) for w in (8, 16))
for seed in (0, 1):
    gap = stats.difference(run(8, steps_8, seed)["windows"], run(16, steps_16, seed)["windows"])
    print(f"seed {seed}: width 8 worse than width 16 by {gap:.3f}")
    assert gap.value > 0 and gap.beyond_noise(3)
moved = stats.difference(run(16, steps_16, 1)["windows"], run(16, steps_16, 0)["windows"])
print(f"width 16, seed 1 minus seed 0: {moved:.3f}")
assert abs(moved.value) < gap.value
smallest_gain = min(gain.value for gain in steps_down)  # the ladder's, section 2
print(f"the ladder's smallest gain / this seed change: {smallest_gain / abs(moved.value):.1f}")
print(f"section 4's miss / this seed change: {abs(miss) / abs(moved.value):.1f}")
assert smallest_gain > 2.5 * abs(moved.value) and abs(miss) > 2.5 * abs(moved.value)

# %% [markdown]
# The gap survives the second seed: about 0.05 both times, each beyond three SEs. Yet the seed
# alone moved width 16's loss by about 0.02, five or more times its window SE of 0.004: a loss
# from one training run is less precise than its SE says, and a conclusion resting on a
# difference of a few hundredths needs several seeds. This one rests on 0.05 and more, and on
# both seeds. The ladder's smallest gain (0.065, section 2) and section 4's miss (0.066) are each
# about three times this seed change (the last two lines): beyond it, but not by much.
#
# So, at a budget four times larger, the best model is larger: the best width went from 8 to
# 16, about 3.3 times the parameters. How far the true optimum moved we can only bracket: it lies
# between the best size's two neighbours at each budget, a factor of about 10 in parameters, so
# this sweep shows the direction of the move, not its exact size. As compute grows, the best
# model and its data grow together. DeepMind's Chinchilla study (2022) measured this on models of
# up to 16 billion parameters and found the balance near **20 tokens per parameter**. Our best
# models trained on about 300 (at 1e10 FLOPs) and 110 (at 4e10)
# tokens per parameter: models this tiny, on budgets this small,
# are far outside Chinchilla's range, and the ratio is falling as the budget grows.
#
# Two cautions, both visible in real scaling studies:
#
# - A pure power law heads to zero loss. Real curves flatten toward the **entropy of the text**
#   itself, what no model can predict (which of two names comes next, a new idea). Real fits
#   add that floor: `L = E + a · N^-α`. Section 4's too-optimistic prediction may be its first
#   sign; five small models are too few to fit it.
# - The law holds only when size and data grow **together**. A big model on little data
#   memorises or stops short; a small model on lots of data saturates. The sweeps show both
#   ends: at each budget the smallest and the largest model lose to the middle one.

# %% [markdown]
# ### Exercise: does the sweep bracket its minimum?
# Build the verdict the assert above made. Input: `losses`, one list per size (smallest first),
# each holding that model's loss on the *same* held-out windows, and `k`, the number of standard
# errors a difference must exceed. Return the index of the size with the lowest mean loss if
# the sweep brackets it: not the first or the last size, and each neighbour's loss higher by more
# than `k` SEs of the paired per-window difference. Otherwise return `None`. Write the SE
# yourself (no `llmlab.stats`): the sample standard deviation (with `n - 1`) over `√n`.

# %%
print(exercises.header("bracketed_minimum"))


# %%
def bracketed_minimum(losses: list[list[float]], k: float) -> int | None:
    # 1. the mean loss of each size; the index of the lowest
    # 2. at either end of the sweep: no bracket
    # 3. for each neighbour: per-window differences (neighbour - best), their mean and SE;
    #    the bracket needs mean > k * SE on both sides
    raise NotImplementedError  # your code here


passed = exercises.check("bracketed_minimum", bracketed_minimum)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("bracketed_minimum")` (then
# `exercises.hint("bracketed_minimum", 2)`), and only then `exercises.solution("bracketed_minimum")`.

# %% [markdown]
# ## 6. The model is a compressor

# %% [markdown]
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
# is a better compressor — the idea behind the Hutter Prize (for compressing 1 GB of
# Wikipedia: its winners are programs that predict what comes next).
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
UNIFORM = f"uniform guess (log2 {tokenizer.vocab_size})"
bits = {UNIFORM: math.log2(tokenizer.vocab_size)}
bits.update(after_training)
print(f"Macbeth: {len(play):,} characters, {len(play.encode()):,} bytes")
print(f"{'bits per character':<26}{'alone':>8}{'after the training plays':>27}")
for name in alone:
    print(f"{name:<26}{alone[name]:>8.2f}{after_training[name]:>27.2f}")
assert all(after_training[name] < alone[name] for name in alone)  # the plays help each one
assert after_training["lzma"] < alone["lzma"] - 0.3  # lzma's window reaches furthest back
helped = {name: alone[name] - after_training[name] for name in alone}
assert helped["lzma"] > helped["bz2"] > helped["gzip"]  # "lzma most ... gzip barely"

# %% [markdown]
# And the model: the total of `-log₂ p` over the play (`scaling.code_length_bits`: lesson 04's
# loss, summed instead of averaged, in windows of the model's full context):

# %% tags=["nbval-ignore-output"]
model_bits = scaling.code_length_bits(standard, play_ids) / len(play)
bits["standard 'char' model"] = model_bits
print(f"{'standard char model':<26} {model_bits:5.2f} bits per character")
viz.bar_chart(bits, title="Macbeth, compressed", ylabel="bits per character", fmt="{:.2f}")

# %% [markdown]
# What to see: every bar is far below the uniform guess (the first bar: every one of the
# vocabulary's characters equally likely), and the model's bar, the last, is the lowest.
#
# Reading the plays first helps every compressor: lzma most, its window reaching back
# megabytes; bz2 too (Macbeth shares its 900 kB block with the end of the training plays);
# gzip barely, as it looks back only 32 kB. Alone, the compressors lose to the model by nearly half a
# bit per character or more. With the plays to read, the closest of them comes within about a
# tenth of a bit — and the model still wins: gzip by almost a bit per character.

# %%
assert model_bits < min(alone.values()) - 0.4  # "nearly half a bit or more"
assert 0.05 < min(after_training.values()) - model_bits < 0.2  # "about a tenth of a bit"
assert model_bits < after_training["gzip"] - 0.9  # "almost a bit"
assert min(bits, key=bits.get) == "standard 'char' model"  # the lowest bar
assert all(b < bits[UNIFORM] - 2 for name, b in bits.items() if name != UNIFORM)  # "far below"

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

# %% [markdown]
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

# %% [markdown]
# ### Exercise: one step of the arithmetic coder
# Build the step at the heart of the coder: narrowing the interval to one symbol's slice.
# Inputs: the current interval `[low, low + width)` as two `Fraction`s (exact numbers, so no
# rounding gets in the way), the integer frequencies `freqs` of every possible symbol (the
# model's probabilities are `freqs[i] / sum(freqs)`; some may be 0), and the `symbol` that came.
# Cut the interval into one slice per symbol, in symbol order, each as wide as its share of the
# frequencies, and return the `(low, width)` of the symbol's slice, as `Fraction`s. Repeating it
# for every character of a message gives the interval whose width is the product of the
# probabilities.

# %%
print(exercises.header("narrow_interval"))


# %%
from fractions import Fraction


def narrow_interval(
    low: Fraction, width: Fraction, freqs: list[int], symbol: int
) -> tuple[Fraction, Fraction]:
    # 1. the total frequency; the frequency of the symbols before `symbol`
    # 2. the slice starts that share of `width` after `low`
    # 3. its width is the symbol's own share of `width`
    raise NotImplementedError  # your code here


passed = exercises.check("narrow_interval", narrow_interval)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("narrow_interval")` (then
# `exercises.hint("narrow_interval", 2)`), and only then `exercises.solution("narrow_interval")`.

# %% [markdown]
# ## Recap

# %% [markdown]
# - Training compute is `6 × parameters × tokens` FLOPs: for Llama 2 70B about 1.9 million
#   A100-hours at 40% utilisation (13 days on 6,000 GPUs, about $2M; Meta reported 1.72
#   million); training state takes 16 bytes per parameter with AdamW.
# - Held-out loss falls as a power law (a straight line on log-log axes) when model and data
#   grow together: on our ladder each rung beat the last beyond three standard errors, and a
#   law fitted on four rungs predicted the fifth
#   within 3% but beyond the noise, too optimistic: the gains were already shrinking. On such a ladder the size law and
#   the compute law are one law.
# - At a fixed budget, size and data trade against each other. An iso-FLOP sweep is worth
#   reading only when it brackets its minimum; ours did at two budgets, and the best width went
#   from 8 at 1e10 FLOPs to 16 at 4e10, beyond the noise of the windows and of a second seed.
# - Lossy vs lossless: the weights summarise the training text; the model plus an arithmetic
#   coder compresses new text losslessly to `loss / ln 2` bits per character. On Macbeth it beat
#   gzip, bz2 and lzma even when they could read the training plays first (by 0.10 bits per
#   character over the closest, bz2: one play, so this is Macbeth's result, not a law).
#
# **Next:** lesson 06 fine-tunes the pretrained model into an assistant that follows a chat
# template (supervised fine-tuning).

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

xl_se = xl["loss"].se
if abs(miss) <= 2 * xl_se:
    prediction = "right, within the windows' noise"
else:
    prediction = "too optimistic: XL's loss was higher" if miss < 0 else "too pessimistic"
small, large = best_width[1e10], best_width[4e10]
grew = "it grew" if large > small else ("it shrank" if large < small else "it stayed the same")
window_se = run(16, steps_16, 0)["loss"].se
matters = "another seed moves a loss by several times its window SE"
best_coder = min(bits, key=bits.get)
assert abs(miss) > 3 * xl_se and abs(moved.value) > 3 * window_se
Quiz(
    [
        Question(
            "The power law fitted on the four smaller rungs predicted XL's loss. The prediction "
            "was ...",
            [
                "too optimistic: XL's loss was higher",
                "too pessimistic",
                "right, within the windows' noise",
            ],
            prediction,
            f"Predicted {predicted_xl:.3f}, measured {xl['loss'].value:.3f} ± {xl_se:.3f}: off by "
            f"{miss / xl['loss'].value:+.1%}, {miss / xl_se:+.1f} window SEs, and about "
            f"{abs(miss) / abs(moved.value):.0f} times the change a second training seed gave "
            "(section 5): a real miss, though the seed's noise makes it far less sure than the "
            "window SEs alone say. A law is a fit to a few points; beyond them it is a guess to "
            "be checked.",
        ),
        Question(
            "With 4 times the compute (1e10 to 4e10 FLOPs), what happened to the best model width?",
            ["it grew", "it stayed the same", "it shrank"],
            grew,
            f"Width {small} was best at 1e10 FLOPs, width {large} at 4e10, each sweep bracketing "
            "its minimum by more than 3 SE: the best size depends on the budget, so a bigger "
            "budget is best spent partly on a bigger model.",
        ),
        Question(
            "Why train width 8 and width 16 again with a second seed before trusting their gap?",
            [matters, "a seed changes the number of parameters", "it is not needed: SEs cover it"],
            matters,
            f"The seed alone moved width 16's loss by {moved.value:+.3f}, against a window SE of "
            f"{window_se:.3f}: the window SE counts only which text was scored, not how the "
            f"training run went. The gap, {gap.value:.3f}, survived the second seed.",
        ),
        Question(
            "Given the 32 training plays first, which codes Macbeth in the fewest bits?",
            [name for name in bits if name != UNIFORM],
            best_coder,
            "Bits per character: "
            + ", ".join(f"{name} {b:.2f}" for name, b in bits.items() if name != UNIFORM)
            + ". A model's held-out loss in bits is the length of its arithmetic code, so a "
            f"better predictor is a better compressor (though its {weights_bytes / 1e6:.1f} MB "
            "of weights are larger than the play).",
        ),
    ]
)
