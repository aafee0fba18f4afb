# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 · Sampling and decoding
#
# **What you will build:** text from a model, on purpose. A model gives one score per token for
# what comes next; *decoding* turns those scores into a choice, and it changes the text as much
# as the weights do. You will look at a real next-token distribution, run the generation loop
# with each strategy (greedy, temperature, top-k, top-p, min-p, a repetition penalty, beam
# search) on the same prompt, play with them in a widget, measure what temperature trades
# (diversity against likelihood), time the **KV cache**, run the model from its parameter file
# with NumPy alone, and measure **where hallucination comes from**.
#
# **CPU time:** about 1 minute on a 2-core laptop (budget: 2 minutes), with the course's
# `char`, `bpe` and `sft` models in the cache. Without them, the first run trains them
# (`llmlab prepare` does that ahead of time).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. One step: a distribution over the next token
#
# The course's `bpe` model (lessons 04–05) reads a prompt and gives, at its last position, one
# logit per token of its 1,024-token vocabulary; `softmax` makes them probabilities. Here is
# what it expects after Macbeth's *"Is this a dagger which I see before"*:

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import torch

from llmlab import pretrained, sampling

model, tokenizer = pretrained.load("bpe")
prompt = "MACBETH:\nIs this a dagger which I see before"
prompt_ids = tokenizer.encode(prompt)
with torch.no_grad():
    logits = model(torch.tensor([prompt_ids]))[0][0, -1]  # [1024]: the last position
probs = logits.softmax(dim=-1)
top = probs.topk(15)
labels = [repr(tokenizer.decode([i])) for i in top.indices.tolist()]
fig, ax = plt.subplots(figsize=(9, 3))
ax.bar(labels, top.values.tolist())
ax.set(ylabel="probability", title=f"after {prompt[-24:]!r}: the 15 likeliest of 1,024 tokens")
ax.tick_params(axis="x", rotation=45)
plt.show()

# %%
rank = {token: r for r, token in enumerate(probs.argsort(descending=True).tolist(), start=1)}
me = tokenizer.encode(" me")
print(f"{len(me)} token for ' me', Shakespeare's next word; the model ranks it {rank[me[0]]}")
print(
    f"tokens needed to cover half the probability: {int((probs.sort(descending=True).values.cumsum(0) < 0.5).sum()) + 1}"
)
assert len(me) == 1 and 1 < rank[me[0]] <= 10

# %% [markdown]
# The model does not know the next word; it holds a bet spread over many tokens. Shakespeare's
# own word is among its ten favourites, not first. Every strategy below is a rule for turning
# this one bar chart into one token.
#
# ## 2. The loop, once more, and each strategy on it
#
# Lesson 04 wrote the generation loop by hand: read the text so far (the last `block_size`
# tokens), take the last position's logits, choose a token, append it, repeat. `llmlab.sampling`
# is that loop with the choice made in two parts: **logits processors** reshape the logits
# (each a function `logits [B, V] -> logits [B, V]` that sets removed tokens to `-inf`, with
# Hugging Face transformers' exact semantics), then **greedy** takes the best token or
# **sampling** draws one from `softmax`. One step by hand, against the library's first token:

# %%
settings = dict(temperature=0.8, top_k=50)
generator = torch.Generator().manual_seed(0)
processed = sampling.process(logits[None], prompt_ids, **settings)  # temperature, then top-k
by_hand = torch.multinomial(processed.softmax(dim=-1), 1, generator=generator).item()
first = next(
    sampling.stream(model, prompt_ids, 1, **settings, generator=torch.Generator().manual_seed(0))
)
print(f"kept by top-k 50: {int(processed.isfinite().sum())} tokens")
print("the token drawn by hand is the library's first token")
assert by_hand == first

# %% [markdown]
# What each processor does to this distribution, in the order transformers applies them
# (penalty, temperature, top-k, top-p, min-p):
#
# | strategy | rule | keeps |
# |---|---|---|
# | greedy | the best token, always (`temperature=0`) | 1 |
# | temperature `t` | `softmax(logits / t)`: below 1 sharper, above 1 flatter | all |
# | top-k | the `k` best (all tokens tied with the `k`-th kept) | `k` (more on a tie) |
# | top-p (nucleus) | the smallest set of best tokens reaching probability `p` | depends on the bet |
# | min-p | tokens with at least `p` times the best token's probability | depends on the bet |
# | repetition penalty | logits of tokens already seen: positive ÷ `r`, negative × `r` | all |
#
# How many tokens each one leaves for the draw at this step:

# %%
strategies = {
    "greedy": dict(temperature=0),
    "temperature 0.7": dict(temperature=0.7),
    "temperature 1.0": dict(temperature=1.0),
    "temperature 1.5": dict(temperature=1.5),
    "top-k 10": dict(top_k=10),
    "top-p 0.9": dict(top_p=0.9),
    "min-p 0.1": dict(min_p=0.1),
    "penalty 1.3, greedy": dict(temperature=0, repetition_penalty=1.3),
}
kept = {
    name: int(sampling.process(logits[None], prompt_ids, **s).isfinite().sum())
    for name, s in strategies.items()
}
for name, n in kept.items():
    print(f"{name:<20} keeps {n:>5,} tokens")
assert kept["greedy"] == 1 and kept["top-k 10"] == 10 and kept["temperature 1.0"] == 1024
assert 10 < kept["top-p 0.9"] < 1024 and kept["min-p 0.1"] < kept["top-p 0.9"]

# %% [markdown]
# The same prompt, 120 new tokens with each (sampled ones seeded, so each run shows the same):

# %% tags=["nbval-ignore-output"]
continuations = {}
for name, s in strategies.items():
    new = sampling.generate(model, prompt_ids, 120, **s, generator=torch.Generator().manual_seed(0))
    continuations[name] = tokenizer.decode(new)
    print(f"── {name}\n{prompt}{continuations[name]}\n")

# %% tags=["nbval-ignore-output"]
from llmlab import labeler


def repeated_lines(text: str) -> int:
    """How many lines of ``text`` (of 3+ words) are copies of an earlier one."""
    lines = [line.strip() for line in text.split("\n") if len(line.split()) >= 3]
    return len(lines) - len(set(lines))


pairs = {name: labeler.distinct_n([text], 2) for name, text in continuations.items()}
for name in strategies:
    print(f"{name:<20} distinct-2 {pairs[name]:.2f}")
assert pairs["greedy"] < 0.7 and pairs["penalty 1.3, greedy"] > 0.9
assert all(pairs[name] > pairs["greedy"] + 0.2 for name in strategies if name != "greedy")

# %% [markdown]
# Greedy decoding falls into a loop: once a line is the likeliest thing to say, it stays the
# likeliest thing to say next (distinct-2, the share of word pairs not seen before in the text,
# is the lowest of all). The repetition penalty, still greedy, breaks that loop by making every
# token already written less likely. The samples repeat far less, but the hotter the
# draw, the more often it comes from the long tail of unlikely tokens (section 8 counts the
# words that result); top-k, top-p and min-p cut that tail off before the draw.
#
# ### Streaming and batches
#
# A chat window shows a reply as it is written: `sampling.stream` is a Python generator that
# yields each token the moment it is chosen (`generate` is `list(stream(...))`).
# `generate_batch` continues several prompts of different lengths in one forward pass per step,
# left-padding the shorter ones and masking the padding:

# %% tags=["nbval-ignore-output"]
pieces = []
for token in sampling.stream(
    model, prompt_ids, 20, top_k=50, generator=torch.Generator().manual_seed(1)
):
    pieces.append(token)
    print(tokenizer.decode([token]), end="|")

# %%
again = sampling.generate(
    model, prompt_ids, 20, top_k=50, generator=torch.Generator().manual_seed(1)
)
assert pieces == again  # streamed or collected: the same tokens
prompts = ["ROMEO:\n", "KING LEAR:\nHow now, my", "MACBETH:\nIs this a dagger"]
batch = sampling.generate_batch(model, [tokenizer.encode(p) for p in prompts], 12, temperature=0)
one_by_one = [sampling.generate(model, tokenizer.encode(p), 12, temperature=0) for p in prompts]
print(f"prompt lengths {[len(tokenizer.encode(p)) for p in prompts]} tokens: batched = one by one")
assert batch == one_by_one

# %% [markdown]
# ## 3. The sampling playground
#
# Type a prompt (the bars follow when you pause) and move the sliders. The bars are the 20
# likeliest next tokens after the penalty and temperature: blue if every cut keeps them, grey if
# one removes them. A slider at its neutral value switches its processor off (top-k 0, top-p 1,
# min-p 0, penalty 1). *sample* streams a continuation drawn with exactly these settings. Try:
# temperature 0.3, then 1.8; top-p 0.5 at temperature 1.5; min-p 0.2 on a prompt where the
# model is sure (`"KING LEAR:\nHow now, my"`) and on one where it is not.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import SamplingPlayground

playground = SamplingPlayground(model, tokenizer, prompt, temperature=0.8, top_p=0.9)
playground

# %% [markdown]
# ## 4. Diversity against quality
#
# Temperature trades two things we want. Measure both over many samples: 32 continuations of
# 96 tokens at each temperature, each from the opening of a speech of a held-out play.
#
# - **diversity**: distinct-2 (lesson 07), the share of word pairs that are new across all 32
#   samples (1 = no pair ever repeated);
# - **quality**, one way to put a number on it: how likely *another* model finds the text. The
#   `char` model (lesson 04, same plays, its own tokenizer) scores each sample in bits per
#   character; fewer bits = text more like the plays.

# %%
from llmlab import corpus

speeches = [s for s in corpus.speeches("validation") if len(s.text) > 60]
openings = [tokenizer.encode(s.render()[:60]) for s in speeches[:: len(speeches) // 32][:32]]
char_model, char_tokenizer = pretrained.load("char")
TEMPERATURES = (0.4, 0.7, 1.0, 1.3, 1.6)


def bits_per_char(texts: list[str]) -> float:
    """The char model's mean bits per character over the first 128 characters of each text (a
    character it has no id for, such as a half-written byte sequence, is left out)."""
    known = [[c for c in t if c in char_tokenizer.chars][:128] for t in texts]
    ids = torch.tensor([char_tokenizer.encode("".join(chars)) for chars in known])
    with torch.no_grad():
        nats = torch.nn.functional.cross_entropy(
            char_model(ids[:, :-1])[0].transpose(1, 2), ids[:, 1:]
        )
    return nats.item() / torch.log(torch.tensor(2.0)).item()


samples = {}
for t in TEMPERATURES:
    rows = sampling.generate_batch(
        model, openings, 96, temperature=t, generator=torch.Generator().manual_seed(0)
    )
    samples[t] = [tokenizer.decode(row) for row in rows]

# %% tags=["nbval-ignore-output"]
assert all(len(text) >= 128 for texts in samples.values() for text in texts)
diversity = {t: labeler.distinct_n(texts, 2) for t, texts in samples.items()}
quality = {t: bits_per_char(texts) for t, texts in samples.items()}
print(f"{'temperature':>11}{'distinct-2':>12}{'char model, bits/char':>23}")
for t in TEMPERATURES:
    print(f"{t:>11}{diversity[t]:>12.2f}{quality[t]:>23.2f}")
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot([quality[t] for t in TEMPERATURES], [diversity[t] for t in TEMPERATURES], "o-")
for t in TEMPERATURES:
    ax.annotate(f"T={t}", (quality[t], diversity[t]), textcoords="offset points", xytext=(5, -10))
ax.set(xlabel="bits per character (char model): worse →", ylabel="distinct-2: more diverse →")
plt.show()

# %% tags=["nbval-ignore-output"]
d, q = [diversity[t] for t in TEMPERATURES], [quality[t] for t in TEMPERATURES]
print(
    f"from T={TEMPERATURES[0]} to T={TEMPERATURES[-1]}: distinct-2 {d[0]:.1f} -> {d[-1]:.1f}, bits/char {q[0]:.1f} -> {q[-1]:.1f}"
)
assert q == sorted(q) and q[-1] > q[0] + 1  # every step hotter: less like the plays
assert d[2] > d[0] + 0.1 and d[-1] > 0.9  # and more diverse, up to (almost) never repeating

# %% [markdown]
# Every step up in temperature makes the text less like the plays by the char model's measure,
# and more diverse. Neither number alone is quality: at the coldest setting the text is likely
# because it says the same safe things again and again (the judge rewards that), and at the
# hottest it is diverse because it is noise. Useful settings sit on the bend in between; that is
# what top-p and min-p try to get at once: the hot part of the distribution without its tail.
#
# ## 5. Beam search
#
# Greedy commits to one token at a time; a continuation that starts with a less likely token
# but continues with very likely ones is never seen. **Beam search** keeps the `num_beams` best
# partial continuations by total log-probability, extends each by every token and keeps the
# best again (transformers' semantics, with its length penalty). With one beam it is greedy:

# %%
beams = {1: sampling.beam_search(model, prompt_ids, 1, 48)}
assert beams[1] == sampling.generate(model, prompt_ids, 48, temperature=0)
print("beam width 1 = greedy: the same 48 tokens")


# %% tags=["nbval-ignore-output"]
def log_prob_per_token(new: list[int]) -> float:
    """The model's own mean log-probability of the tokens ``new`` after the prompt."""
    ids = torch.tensor([prompt_ids + new])
    with torch.no_grad():
        log_probs = model(ids)[0][0, :-1].log_softmax(dim=-1)
    return (
        log_probs[torch.arange(len(prompt_ids) - 1, ids.shape[1] - 1), ids[0, len(prompt_ids) :]]
        .mean()
        .item()
    )


for width in (2, 4, 8):
    beams[width] = sampling.beam_search(model, prompt_ids, width, 48)
sampled = sampling.generate(model, prompt_ids, 48, generator=torch.Generator().manual_seed(0))
rows = {f"beam {w}": new for w, new in beams.items()} | {"sampled, T=1": sampled}
print(f"{'48 tokens':<14}{'log-prob/token':>15}{'repeated lines':>16}{'distinct-2':>12}")
measured = {}
for name, new in rows.items():
    text = tokenizer.decode(new)
    measured[name] = (log_prob_per_token(new), repeated_lines(text), labeler.distinct_n([text], 2))
    print(f"{name:<14}{measured[name][0]:>15.2f}{measured[name][1]:>16}{measured[name][2]:>12.2f}")
for width in (1, 8):
    print(f"\n── beam {width}\n{prompt}{tokenizer.decode(beams[width])}")

# %%
greedy, sample = measured["beam 1"], measured["sampled, T=1"]
wider = [measured[f"beam {w}"] for w in (2, 4, 8)]
assert all(measured[f"beam {w}"][0] > sample[0] for w in beams)  # every beam: likelier text
assert all(m[0] > greedy[0] for m in wider)  # wider beams find likelier text than greedy
assert all(m[2] < greedy[2] for m in wider)  # and it repeats more word pairs
assert all(measured[f"beam {w}"][2] < sample[2] for w in beams)  # all more than the sample
print("log-prob per token: every beam above the sample, every wider beam above greedy")

# %% [markdown]
# Beam search does what it promises: every beam's text is likelier, token for token, than a
# sample, and every wider beam's is likelier than greedy's. And the likelier the text, the more
# it repeats: each wider beam repeats more word pairs than greedy in these 48 tokens (a speaker
# and his line come back), and every beam more than the sample. The likeliest text of a
# language model is repetitive, which is why open-ended generation samples, and beam search is
# kept for tasks with one right output (translation, a short answer).
#
# ## 6. The KV cache
#
# Each step of the loop reads the whole text again, although only its last token is new. In a
# causal model the keys and values of earlier positions never change (they see only the past),
# so the **KV cache** keeps them: the prompt is read once, then each step feeds one token,
# attends to the cached keys and values, and appends its own. Positions computed to generate
# `n` tokens from a 1-token prompt:

# %%
for n in (32, 64, 127):
    print(f"{n:>4} new tokens: {n * (n + 1) // 2:>6,} positions without the cache, {n:>4} with it")
assert 127 * 128 // 2 / 127 == 64

# %% [markdown]
# Past the 128-token window the positions shift every step and the cache must be refilled, so
# there it cannot help; the tokens are the same either way. Measured on this machine:

# %% tags=["nbval-ignore-output"]
import time


def tokens_per_second(prompt: list[int], n: int, use_cache: bool) -> tuple[float, list[int]]:
    best, new = float("inf"), []
    for _ in range(2):  # the better of two runs: less noise from whatever else the machine does
        started = time.perf_counter()
        new = sampling.generate(model, prompt, n, temperature=0, use_cache=use_cache)
        best = min(best, time.perf_counter() - started)
    return n / best, new


print(f"{'prompt -> new':>14}{'cached tok/s':>14}{'uncached tok/s':>16}{'speed-up':>10}")
same, speed_up = [], {}
for length, n in ((1, 32), (1, 64), (1, 127), (64, 64), (128, 16)):
    start = (tokenizer.encode(corpus.text("validation")[:2000]))[:length]
    (fast, cached), (slow, uncached) = (tokens_per_second(start, n, c) for c in (True, False))
    same.append(cached == uncached)
    speed_up[(length, n)] = fast / slow
    print(f"{length:>6} -> {n:<6}{fast:>14.0f}{slow:>16.0f}{fast / slow:>9.1f}x")
assert speed_up[(1, 127)] < 64 / 4  # far below the ratio of positions computed

# %%
print(f"cached and uncached generation: identical tokens in all {len(same)} runs")
assert all(same)

# %% [markdown]
# The measured speed-up is far below the ratio of positions computed (64 for 127 tokens; the
# timing cell checks it stays under a quarter of that): for a model this small, much of a step's
# cost is fixed overhead (Python, launching each layer's small operations) that the cache does
# not remove. `benchmarks/generate.py` measures that overhead.
#
# ## 7. A parameter file and a few hundred lines
#
# Running a model needs its parameters and the forward pass, nothing else. `llmlab.numpy_gpt`
# is the whole model in NumPy (no torch), with its own KV cache and sampling, read top to bottom
# in one sitting (its tokenizers are `llmlab.tokenization`'s, which need no torch either). Export the `bpe` model's parameters to one `.npz` file and run
# it in a fresh Python process that never imports torch (the file's length changes with every
# edit of the library, so this cell's printout is not compared; its asserts are):

# %% tags=["nbval-ignore-output"]
import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

from llmlab import numpy_gpt

folder = Path(tempfile.mkdtemp())
npz = numpy_gpt.export_npz(pretrained.checkpoint("bpe").path, folder / "bpe.npz")
lines = len(inspect.getsource(numpy_gpt).splitlines())
print(f"numpy_gpt.py: {lines} lines; bpe.npz: {npz.stat().st_size / 1e6:.1f} MB")
assert lines < 600
runner = f"""
import sys
from llmlab import numpy_gpt
gpt = numpy_gpt.load({str(npz)!r})
print(repr(gpt.complete({prompt!r}, 24, temperature=0)))
print("torch imported:", "torch" in sys.modules)
"""
shown = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True, check=True)
printed, torch_line = shown.stdout.strip().splitlines()
print(torch_line)
assert torch_line == "torch imported: False"

# %%
gpt = numpy_gpt.load(npz)
with torch.no_grad():
    torch_logits = model(torch.tensor([prompt_ids]))[0][0].numpy()
gap = abs(gpt.logits(prompt_ids) - torch_logits).max()
print("largest logit difference NumPy vs torch: below 1e-4")
assert gap < 1e-4
greedy_torch = tokenizer.decode(sampling.generate(model, prompt_ids, 24, temperature=0))
assert printed == repr(greedy_torch)
print("greedy text, NumPy process = torch:", printed)

# %% [markdown]
# ## 8. Where hallucination comes from
#
# A model samples what is *plausible*, not what is *true*. Sampling from the long tail turns
# plausible pieces into things that do not exist. Count two kinds in the samples of section 4:
# **speaker names** (lines such as `HAMLET:`) that belong to no character of the 38 plays, and
# **words** found nowhere in the plays:

# %%
import re

SPEAKER_LINE = re.compile(r"^([A-Z][A-Z' \-]*[A-Z]):$", re.MULTILINE)
WORD = re.compile(r"[a-z']+")
real_names = {s.speaker for s in corpus.speeches("all")}
real_words = set(WORD.findall(corpus.text("all").lower()))
print(f"the plays: {len(real_names):,} speaker names, {len(real_words):,} distinct words")


def invented(texts: list[str]) -> tuple[float, float, int]:
    """Shares of speaker names and of words in ``texts`` not in the plays; how many names."""
    names = [n for t in texts for n in SPEAKER_LINE.findall(t)]
    words = [w for t in texts for w in WORD.findall(t.lower())]
    new_names = sum(n not in real_names for n in names) / max(len(names), 1)
    return new_names, sum(w not in real_words for w in words) / len(words), len(names)


# %% tags=["nbval-ignore-output"]
made_up = {t: invented(samples[t]) for t in TEMPERATURES}
print(f"{'temperature':>11}{'names':>7}{'invented names':>16}{'invented words':>16}")
for t, (names, words, n) in made_up.items():
    print(f"{t:>11}{n:>7}{names:>16.0%}{words:>16.1%}")
example_names = sorted(
    {n for n in SPEAKER_LINE.findall("".join(samples[1.3])) if n not in real_names}
)
print("invented at T=1.3:", example_names[:8])

# %%
names_share = [made_up[t][0] for t in TEMPERATURES[:4]]  # (at 1.6 almost no speech ends)
words_share = [made_up[t][1] for t in TEMPERATURES]
assert words_share == sorted(words_share) and words_share[0] < 0.05 and words_share[-1] > 0.2
assert names_share[0] < 0.05 and names_share[3] > 0.3
print(f"at T={TEMPERATURES[0]}: under 5% of names and of words invented")
print(f"at T={TEMPERATURES[3]}: over 30% of names invented; invented words rise at every step")

# %% [markdown]
# Does cutting the tail help? The same 32 openings at temperature 1.3, with min-p 0.1 on top
# (tokens under a tenth of the best one's probability are removed):

# %% tags=["nbval-ignore-output"]
rows = sampling.generate_batch(
    model, openings, 96, temperature=1.3, min_p=0.1, generator=torch.Generator().manual_seed(0)
)
cut = invented([tokenizer.decode(row) for row in rows])
print(
    f"T=1.3 alone:      {made_up[1.3][0]:.0%} invented names, {made_up[1.3][1]:.1%} invented words"
)
print(f"T=1.3, min-p 0.1: {cut[0]:.0%} invented names, {cut[1]:.1%} invented words")
assert cut[0] < made_up[1.3][0] / 3 and cut[1] < made_up[1.3][1] / 2

# %% [markdown]
# At low temperature almost every name and word is real (under 5% of each invented): their
# pieces follow each other with high probability. Each step hotter, more draws come from the tail, and
# the tail of a name is a *plausible-sounding* piece: the model invents characters (and, hotter
# still, words) in the same form as the real ones. Nothing in sampling checks a fact. Cutting
# the tail with min-p divided the invented names by more than three and the invented words by
# more than two at the same temperature, but no setting can make the model know.
#
# ### Confident wrong answers
#
# Lesson 06's `sft` model answers questions about the plays. Ask it, greedily, about characters
# and genres of the six **held-out** plays (it never read them) and of training plays, and score
# the probability it gives its own answer and the right one (one forward pass each, `<|end|>`
# included):

# %%
from llmlab import instructions
from llmlab.chat import render_chat, reply_tokens

assistant, chat = pretrained.load("sft")
END = chat.special_tokens["<|end|>"]
KINDS = ("character_play", "play_genre", "main_character")


def answer(turns) -> str:
    tokens = reply_tokens(assistant, chat, turns, 24, temperature=0)
    return chat.decode([t for t in tokens if t != END])


def probability(turns, reply: str) -> float:
    """The model's probability of ``reply`` (and its ``<|end|>``) after ``turns``."""
    ids, mask = render_chat([*turns, ("assistant", reply)], chat)
    with torch.no_grad():
        log_probs = assistant(torch.tensor([ids]))[0][0].float().log_softmax(dim=-1)
    learned = torch.tensor([t for t in range(1, len(ids)) if mask[t]])
    return log_probs[learned - 1, torch.tensor(ids)[learned]].sum().exp().item()


asked = {}
for split in ("train", "validation"):
    found = instructions.plays_examples(split, kinds=KINDS)
    asked[split] = []
    for e in found[:: len(found) // 24][:24]:
        question, truth = e.turns[:1], e.turns[1][1]
        said = answer(question)
        asked[split].append((e, said, probability(question, said), probability(question, truth)))

# %% tags=["nbval-ignore-output"]
for split, rows in asked.items():
    right = sum(said == e.turns[1][1] for e, said, _, _ in rows)
    print(f"{split:<11}: {right} of {len(rows)} right")
wrong = [row for rows in asked.values() for row in rows if row[1] != row[0].turns[1][1]]
print("\nthe surest wrong answers:")
for e, said, p_said, p_truth in sorted(wrong, key=lambda row: -row[2])[:6]:
    print(
        f"Q: {e.turns[0][1]}\n   model: {said!r} ({p_said:.0%})   right: {e.turns[1][1]!r} ({p_truth:.0%})"
    )

# %% tags=["nbval-ignore-output"]
held_out, seen = asked["validation"], asked["train"]
right = {
    split: sum(said == e.turns[1][1] for e, said, _, _ in rows) for split, rows in asked.items()
}
surest = max(p for _, _, p, _ in wrong)
above_chance = sum(p > 1 / 38 for _, _, p, _ in wrong) / len(wrong)  # 38 plays to pick from
print(
    f"right: {right['validation']} of {len(held_out)} on held-out plays, {right['train']} of {len(seen)} on training plays"
)
print(
    f"the surest wrong answer: {surest:.0%}; wrong answers above a 1-in-38 guess: {above_chance:.0%}"
)
assert right["validation"] == 0 and 0 < right["train"] < 6
assert all(said.endswith(".") for rows in asked.values() for _, said, _, _ in rows)
assert surest > 0.25 and above_chance > 0.5
rated_above = sum(p_said > p_truth for _, _, p_said, p_truth in wrong) / len(wrong)
print(f"wrong answers the model rates above the right one: {rated_above:.0%}")
assert rated_above > 0.8

# %% [markdown]
# On plays it never read, the model cannot know, and it never says so: every answer has the
# form it was trained on (a name or a genre, then a full stop), none of the 24 about held-out
# plays is right, and on the training plays it gets only a few. Its surest wrong answer gets
# a third of its probability, and most wrong answers get more than a blind guess among the 38
# plays would. Almost every wrong answer (over 80%) is one the model rates above the right one:
# greedy decoding reads out what the model believes, and the belief is wrong. Hallucination is not a bug in
# decoding; it is the model's distribution, read faithfully. Decoding can only choose how much
# of the tail to trust.
#
# ## Recap
#
# - A model gives a distribution over the next token; decoding is the rule that picks one.
#   Logits processors (temperature, top-k, top-p, min-p, repetition penalty) reshape it, with
#   transformers' semantics and order; greedy or a seeded draw picks.
# - Greedy loops; a repetition penalty breaks the loop; sampling is varied but its long tail
#   degrades text as temperature rises; truncation cuts the tail.
# - Temperature trades diversity (distinct-2) against likelihood (bits per character under
#   another model): neither number alone is quality.
# - Beam search finds likelier text than greedy and than sampling, and that text repeats.
# - The KV cache reads each token once and gives identical tokens; for a model this small the
#   gain is bounded by per-step overhead, not arithmetic.
# - A model is a parameter file and a few hundred lines: NumPy alone ran ours, to the same text.
# - Hallucination, measured: invented names and words grow with temperature, and the
#   fine-tuned model answers questions it cannot know, confidently and wrongly.
#
# ## Exercises
#
# **Exercise 1.** Top-p (nucleus) filtering of `logits [B, V]`: keep the smallest set of most
# likely tokens whose probability reaches `p` (the token that crosses `p` included), set the
# others to `-inf`.


# %%
from llmlab import exercises


def top_p(logits, p: float):
    raise NotImplementedError  # your code here


exercises.check("top_p", top_p)

# %% [markdown]
# **Exercise 2.** The repetition penalty on `logits [B, V]`: every token in `previous_ids`
# (counted once, however often it occurs) has its logit divided by `penalty` if positive and
# multiplied by it if negative.


# %%
def repetition_penalty(logits, previous_ids: list[int], penalty: float):
    raise NotImplementedError  # your code here


exercises.check("repetition_penalty", repetition_penalty)

# %% [markdown]
# **Exercise 3.** One cached step of attention. `q, k, v [H, 1, d]` are the newest token's
# query, key and value, `keys, values [H, T, d]` the cache. Append the new key and value to the
# cache and let the query attend to all `T + 1` positions (scaled dot product; no mask is
# needed: why?). Return `(output [H, 1, d], keys [H, T + 1, d], values [H, T + 1, d])`.


# %%
def cached_attention_step(q, k, v, keys, values):
    raise NotImplementedError  # your code here


exercises.check("cached_attention_step", cached_attention_step)

# %% [markdown]
# Stuck? Run `exercises.solution("top_p")` (or the name of another exercise) in a new cell to
# see a worked solution, the very function the checker compares against.
