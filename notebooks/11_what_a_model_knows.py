# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 11 · What a model knows
#
# **What you will build:** measurements of what the course's models know, and of what they only
# seem to know. Four questions, each answered in numbers with its standard error (SE) and a
# baseline: (1) when the `sft` model answers a question about the plays, is it right, and does
# its confidence tell you when? (2) Does a passage found by a small search engine and put in the
# prompt help, and what if the passage is wrong? (3) What does a model keep of its training
# text: made-up secrets planted in it, and whole lines? (4) How do you score a model at all,
# when its test questions may have leaked into its training text? Each idea is built small in
# plain view, checked against `llmlab`, and then used from `llmlab`.
#
# **CPU time:** about 1 minute on a 2-core laptop (budget: 2 minutes), with the course's
# models and this lesson's small ones in the cache. Without them, the first run trains the
# course's models (`llmlab prepare` does that ahead of time) and this lesson's five small ones
# (about a minute more), then serves them from the cache.

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. Hallucination and calibration
#
# Lesson 06 taught the `bpe` model to answer in a chat template; the result is the course's
# `sft` model. Its questions about the plays have a closed set of answers: which play a
# character is in (38 titles), a play's genre, the act a character first speaks in, a play's
# main character. `llmlab.answers` scores every possible answer as the assistant's reply and
# normalises over them (lesson 06 built that by hand), so the model's pick comes with a
# **probability** that it is right. Two baselines: **chance** (one over the number of options)
# and the **stock answer** (the commonest answer of that kind in training, given every time).
# The questions come from the six **held-out** plays, which the model never read, and from a
# sample of the training plays.
#
# Every number below comes with its SE. A difference is **beyond noise** when it is more than two
# SEs from zero (`Estimate.beyond_noise()`, which every assert of this lesson uses); a difference
# inside that band is "within noise" and ranks nothing.

# %%
from collections import Counter

import numpy as np

from llmlab import answers, calibration, instructions, pretrained, stats

sft, tokenizer = pretrained.load("sft")
held_out = instructions.plays_examples("validation", kinds=answers.KINDS)
trained_on = []  # up to 30 of each kind, spread over the training plays
for kind in answers.KINDS:
    found = instructions.plays_examples("train", kinds=[kind])
    trained_on += found[:: max(1, len(found) // 30)][:30]
stock = answers.stock_answers(instructions.plays_examples("train", kinds=answers.KINDS))


def ask(model, questions):
    """Each question's option probabilities, the right option's index, and the baselines."""
    rows = []
    for q in questions:
        p, label = answers.option_probabilities(model, tokenizer, q)
        rows.append(
            {
                "kind": q.kind,
                "p": p.numpy(),
                "label": label,
                "right": float(int(p.argmax()) == label),
                "confidence": float(p.max()),
                "stock": float(stock[q.kind] == q.turns[1][1]),
                "chance": answers.chance(q),
            }
        )
    return rows


results = {"held-out plays": ask(sft, held_out), "training plays": ask(sft, trained_on)}
print("questions:", {split: len(rows) for split, rows in results.items()})
print("held-out kinds:", dict(Counter(r["kind"] for r in results["held-out plays"])))

# %% [markdown]
# Accuracy per kind beside its baselines. `model − stock` is a **paired** difference (the same
# questions, answered two ways), so its SE is the SE of the per-question differences.


# %%
def column(rows, key, kind=None):
    return np.array([r[key] for r in rows if kind is None or r["kind"] == kind])


def cell(value, spec=".3f", width=15):
    return f"{format(value, spec):>{width}}"


print(f"{'':15}{'kind':16}{'n':>4}{'accuracy':>15}{'chance':>8}{'stock':>8}{'model - stock':>17}")
for split, rows in results.items():
    for kind in answers.KINDS:
        right, base = column(rows, "right", kind), column(rows, "stock", kind)
        print(
            f"{split:15}{kind:16}{len(right):>4}{cell(stats.mean(right))}"
            f"{column(rows, 'chance', kind).mean():>8.3f}{base.mean():>8.3f}"
            f"{cell(stats.difference(right, base), '+.3f', 17)}"
        )
seen = stats.mean(column(results["training plays"], "right"))
unseen = stats.mean(column(results["held-out plays"], "right"))
gap = stats.difference(
    column(results["training plays"], "right"),
    column(results["held-out plays"], "right"),
    paired=False,
)
print(f"all kinds: training plays {seen:.3f}, held-out plays {unseen:.3f}, gap {gap:+.3f}")
assert gap.beyond_noise() and gap.value > 0
# the two splits mix the kinds differently (30 of each in training; 107/78/9/6 held out), so
# also weigh the four kinds equally in both: the mean of the per-kind gaps
per_kind = [
    stats.difference(
        column(results["training plays"], "right", kind),
        column(results["held-out plays"], "right", kind),
        paired=False,
    )
    for kind in answers.KINDS
]
balanced = stats.Estimate(
    float(np.mean([d.value for d in per_kind])),
    float(np.sqrt(sum(d.se**2 for d in per_kind)) / len(per_kind)),
    len(results["held-out plays"]),
)
print(f"gap with the four kinds weighed equally: {balanced:+.3f}")
assert balanced.beyond_noise() and all(d.value >= 0 for d in per_kind)
versus_stock = {
    (split, kind): stats.difference(column(rows, "right", kind), column(rows, "stock", kind))
    for split, rows in results.items()
    for kind in answers.KINDS
}
assert not any(
    d.value > 0 and d.beyond_noise()
    for (split, _), d in versus_stock.items()
    if split == "held-out plays"
)
assert versus_stock[("training plays", "main_character")].beyond_noise()

# %% [markdown]
# On the held-out plays `sft` is right 0.240 ± 0.030 of the time, and on no kind does it beat
# its stock answer: on `character_act` it is right 0.430 ± 0.048, while always saying the stock act
# would be right 0.458 of the time; on `character_play` it never names a held-out play (the right
# title is one it was never taught as an answer). On the training plays it is right 0.525 ±
# 0.046, 0.285 ± 0.055 more, and there it beats the stock answer where it has facts to recall
# (`main_character`: +0.533 ± 0.104). The two splits mix the kinds differently (39% of the
# held-out questions are `character_play`, a quarter of the training ones), so that gap is partly
# the mix; weighing the four kinds equally, the gap is +0.362 ± 0.058, and on no kind is the
# held-out accuracy higher. What it "knows" of the held-out plays is the stock answer; its other
# answers there are inventions, given in the same form as its facts: below, its own greedy
# replies to two held-out questions, and (picked for it) the first training-play
# `main_character` question it answers right.
#
# A note on "0.000 ± 0.000": the SE of a share is 0 when the share is 0 or 1, which does not
# make it exact. With 0 right out of `n`, the true rate can still be up to about `3/n` (a 95%
# upper bound): 0 of 78 allows up to 0.04, but 0 of 6 allows up to 0.5. The held-out
# `play_genre` (9) and `main_character` (6) rows are too small to say anything on their own.

# %%
from llmlab.chat import reply_tokens

END = tokenizer.special_tokens["<|end|>"]


def greedy(q):
    """sft's own reply to the question, token by token, the likeliest each time."""
    said = [t for t in reply_tokens(sft, tokenizer, q.turns[:1], 16, temperature=0) if t != END]
    return tokenizer.decode(said)


shown = [
    next(q for q in held_out if q.kind == "character_play"),
    next(q for q in held_out if q.kind == "character_act"),
]
for q in trained_on:  # the first training-play question whose reply is right
    if q.kind == "main_character" and greedy(q) == q.turns[1][1]:
        shown.append(q)
        break
for q in shown:
    print(f"{q.turns[0][1]}\n  sft says: {greedy(q)!r}   right: {q.turns[1][1]!r}")
assert len(shown) == 3

# %% [markdown]
# ### Is its confidence a probability?
#
# A model is **calibrated** when, of the answers it gives with confidence 0.7, about 70% are
# right. The **reliability diagram** sorts the answers into confidence bins and plots each bin's
# accuracy against its mean confidence; a calibrated model sits on the diagonal. The **expected
# calibration error** (ECE) is the gap, averaged over answers. The **Brier score** scores the
# whole distribution: the squared distance between the probabilities and the one-hot truth
# (0 is perfect; a uniform guess over `m` options scores `1 - 1/m`). Both by hand first:

# %%
rows = results["held-out plays"]
confidence, right = column(rows, "confidence"), column(rows, "right")
edges = np.linspace(0, 1, 11)
which = np.minimum(np.digitize(confidence, edges) - 1, 9)
ece_by_hand = sum(
    (which == b).mean() * abs(right[which == b].mean() - confidence[which == b].mean())
    for b in range(10)
    if (which == b).any()
)
brier_by_hand = np.mean([((r["p"] - np.eye(len(r["p"]))[r["label"]]) ** 2).sum() for r in rows])
ece = calibration.expected_calibration_error(confidence, right, n_bins=10)
brier = calibration.brier_score([r["p"] for r in rows], [r["label"] for r in rows])
uniform = stats.mean(1 - column(rows, "chance"))
assert abs(ece - ece_by_hand) < 1e-9 and abs(brier.value - brier_by_hand) < 1e-9
low, high = stats.bootstrap(
    np.c_[confidence, right],
    lambda a: calibration.expected_calibration_error(a[:, 0], a[:, 1]),
    n_resamples=300,
)
print(f"mean confidence {confidence.mean():.3f}, accuracy {stats.mean(right):.3f}")
print(f"ECE {ece:.3f} (bootstrap 95% interval {low:.3f} to {high:.3f})")
each = np.array([((r["p"] - np.eye(len(r["p"]))[r["label"]]) ** 2).sum() for r in rows])
versus_uniform = stats.difference(each, 1 - column(rows, "chance"))
print(f"Brier {brier:.3f}; a uniform guess over the same options {uniform.value:.3f}")
print(f"Brier minus the uniform guess's {versus_uniform:+.3f}")
overconfidence = stats.difference(confidence, right)
print(f"confidence minus accuracy, per answer: {overconfidence:+.3f}")
assert overconfidence.beyond_noise() and not versus_uniform.beyond_noise()
floor = calibration.calibrated_ece(confidence, n_bins=10, n_simulations=500, seed=0)
above = float((floor >= ece).mean())
print(
    f"ECE of a perfectly calibrated model with these confidences: mean {floor.mean():.3f}, "
    f"95th percentile {np.quantile(floor, 0.95):.3f}; share of simulations at or above {ece:.3f}: {above:.3f}"
)
assert above > 0.05  # the observed ECE is inside what a calibrated model shows by chance

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

bins = [b for b in calibration.reliability_bins(confidence, right, 10) if b.count]
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
ax.plot([b.confidence for b in bins], [b.accuracy for b in bins], "o-", label="sft, held-out")
for b in bins:
    ax.annotate(
        str(b.count),
        (b.confidence, b.accuracy),
        fontsize=8,
        xytext=(3, 3),
        textcoords="offset points",
    )
ax.set(
    xlabel="confidence (mean in bin)",
    ylabel="accuracy in bin",
    title="reliability diagram (answers per bin)",
)
ax.legend()
plt.show()

# %% [markdown]
# Its mean confidence, 0.302, is above its accuracy, 0.240 ± 0.030 (by 0.062 ± 0.027 per answer,
# beyond noise): **overconfident**. Its ECE is 0.084 (interval 0.065 to 0.141), but the ECE is
# biased upward on few answers: a perfectly calibrated model with the same confidences, its right
# answers drawn at random, shows 0.057 on average, and 0.080 of such simulations (500 of them) reach
# 0.084. So the ECE alone does not show miscalibration here; the overconfidence rests on the
# per-answer difference. (The answers also pool kinds with 3 to dozens of options, which sets much of
# the confidence; see below.) The Brier score, 0.879 ± 0.021, is no better than a uniform guess
# over the same options (0.871; the difference, +0.008 ± 0.018, is within noise): as a forecast, its whole
# distribution scores no better than a blind guess.

# %% [markdown]
# ### Selective answering
#
# A model that may say "I don't know" can answer only when its confidence clears a threshold.
# `calibration.selective_curve` gives, for every threshold, the share of questions answered
# (**coverage**) and the accuracy on those:

# %%
thresholds, coverage, accuracy = calibration.selective_curve(confidence, right)
print(f"{'coverage':>9}  {'threshold':>9}  {'accuracy':>14}")
for target in (1.0, 0.5, 0.25, 0.1):
    k = int(np.nonzero(coverage <= target + 1e-9)[0][-1])
    n = int(round(coverage[k] * len(right)))
    print(
        f"{coverage[k]:>9.2f}  {thresholds[k]:>9.3f}  {cell(stats.proportion(round(accuracy[k] * n), n), '.3f', 14)}"
    )
top = int(np.nonzero(coverage <= 0.25 + 1e-9)[0][-1])
kept = confidence >= thresholds[top]
gain = stats.difference(right[kept], right[~kept], paired=False)
print(f"accuracy of the most confident quarter minus the rest: {gain:+.3f}")
assert gain.beyond_noise()
half = confidence >= thresholds[int(np.nonzero(coverage <= 0.5 + 1e-9)[0][-1])]
kinds = column(rows, "kind")
print("kinds in the most confident half:", dict(Counter(kinds[half].tolist())))
print("kinds in the rest:", dict(Counter(kinds[~half].tolist())))
act = kinds == "character_act"
within = stats.difference(right[half & act], right[~half & act], paired=False)
print(f"character_act alone, in the confident half minus the rest: {within:+.3f}")
assert not (half & (kinds == "character_play")).any() and within.beyond_noise()

# %% [markdown]
# Answering only its most confident half raises accuracy from 0.240 to 0.430 ± 0.050, and the
# most confident quarter is right 0.240 ± 0.077 more often than the rest; its top tenth is right
# 0.350 ± 0.107 of the time, no higher than its top half. But look at *which* questions it keeps:
# the confident half holds 86 `character_act` questions and no `character_play` one, while all
# 78 `character_play` questions fall in the rest. A question with 5 options (`character_act`)
# gets a higher top probability than one with 38 (`character_play`, where it is never right), so
# the confidence first of all knows the *kind* of question, and abstaining mostly skips a
# hopeless kind. Within `character_act` alone, the confident half is still right 0.239 ± 0.110
# more often than the rest (just over two SEs): the confidence orders answers a little within a
# kind too. It is not a probability to take at face value. (The reliability diagram and the ECE
# above pool the kinds the same way.)

# %% [markdown]
# ## 2. Answers with context
#
# Search-backed assistants cut invention by first *finding* a passage that may hold the answer
# and putting it in the prompt (retrieval-augmented generation). The question here is "Who
# speaks the line "..."?", asked about the held-out plays: a model that never read them can
# only guess, and the passage that holds the line also names its speaker.
#
# The search is **TF-IDF**: a passage and a question each become a vector with one entry per
# word, its count times its *inverse document frequency* `log((1 + N) / (1 + df)) + 1` (a word
# in few passages weighs more), scaled to length 1; passages are ranked by the dot product
# (cosine). Words here are lower-cased runs of letters, digits and apostrophes
# (`contamination.words`, the same split the retriever uses). By hand on five passages, against
# `llmlab.retrieval`:

# %%
import math

from llmlab import contamination, corpus, retrieval

passages = retrieval.passages("all", speeches_per_passage=1)  # one speech each
small = [p.text for p in passages[1000:1005]]
question = "Who speaks the line " + repr(small[2].split("\n")[1]) + "?"
counts = [Counter(contamination.words(t)) for t in small]
idf = {w: math.log(6 / (1 + sum(w in c for c in counts))) + 1 for c in counts for w in c}


def unit(c):
    v = {w: n * idf[w] for w, n in c.items() if w in idf}
    norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
    return {w: x / norm for w, x in v.items()}


q = unit(Counter(contamination.words(question)))
by_hand = [sum(q[w] * d.get(w, 0.0) for w in q) for d in map(unit, counts)]
library = retrieval.TfidfRetriever(small).scores(question)
print(question)
print("cosine by hand:", [round(s, 3) for s in by_hand])
assert all(abs(by_hand[i] - library.get(i, 0.0)) < 1e-9 for i in range(5))
assert int(np.argmax(by_hand)) == 2

# %% [markdown]
# Now over every speech of the 38 plays. A search is right when a passage among its first `k`
# holds the quoted line in the right play; **recall@k** is the share of questions with one:

# %%
search = retrieval.TfidfRetriever([p.text for p in passages])
line_questions = instructions.plays_examples("validation", kinds=["line_speaker"])[::4]
lines = [retrieval.quoted_line(q.turns[0][1]) for q in line_questions]
ranked = [search.search(q.turns[0][1], k=5) for q in line_questions]


def holds(i, j):
    return passages[j].play == line_questions[i].play and lines[i] in passages[j].text


recall = {k: retrieval.recall_at_k(ranked, holds, k) for k in (1, 5)}
print(f"{len(passages):,} passages, {len(line_questions)} questions")
print(f"recall@1 {recall[1]:.3f}, recall@5 {recall[5]:.3f}")
assert recall[1].value > 0.5

# %% [markdown]
# The search puts the speech that holds the line first for 0.800 ± 0.052 of the questions, and
# among its first five for 0.933 ± 0.032: the quoted line's rare words do the work.
#
# Four prompts per question: **closed book** (the question alone), the **retrieved** passage
# (the search's first speech, quoted with its play and speaker), the **true** passage (the
# speech the line is from), and a **wrong** one (a speech of another play by another speaker,
# the same line's text kept, as a misleading search result would be). A reply counts as right
# when it names the line's speaker. Two models: `sft`, and the course's `reader`, which is
# `sft` fine-tuned for 300 steps on such prompts from the training plays
# (`pretrained.recipe("reader")`). In 70% of its training prompts the quoted speech is credited
# to another speaker of another play, *and the answer it is taught is that other speaker*: it is
# trained to answer with whoever the passage names, right or wrong, so that it cannot answer from
# memory. The "wrong" prompts below are exactly that training situation.

# %%
import random

from llmlab.chat import render_chat

reader, _ = pretrained.load("reader")
speech_of = retrieval.speech_of_line("validation")
others = [s for s in corpus.speeches("validation") if s.speaker not in instructions.CROWDS]
END = tokenizer.special_tokens["<|end|>"]
rng = random.Random(0)


def reply(model, user):
    """The greedy reply's speaker, or None when the prompt does not fit the context."""
    turns = [("user", user)]
    longest_reply = "X" * 40  # room for a speaker's name and a play's title
    if len(render_chat([*turns, ("assistant", longest_reply)], tokenizer)[0]) > 128:
        return None
    ids = [t for t in reply_tokens(model, tokenizer, turns, 12, temperature=0) if t != END]
    return tokenizer.decode(ids).split(",")[0]


prompts = {name: [] for name in ("closed book", "retrieved", "true", "wrong")}
truth, misled_to = [], []
for q, line, found in zip(line_questions, lines, ranked, strict=True):
    text = q.turns[0][1]
    real = speech_of[(q.play, line)]
    top = passages[found[0]]
    speaker, body = top.text.split(":\n", 1)
    other = rng.choice([s for s in others if s.play != q.play and s.speaker != real.speaker])
    prompts["closed book"].append(text)
    prompts["retrieved"].append(
        retrieval.with_passage(text, retrieval.quote(top.play, speaker, body))
    )
    prompts["true"].append(
        retrieval.with_passage(text, retrieval.quote(q.play, real.speaker, real.text))
    )
    prompts["wrong"].append(
        retrieval.with_passage(text, retrieval.quote(other.play, other.speaker, real.text))
    )
    truth.append(real.speaker)
    misled_to.append(other.speaker)

replies = {
    (name, how): [reply(model, u) for u in prompts[how]]
    for name, model in (("sft", sft), ("reader", reader))
    for how in prompts
}
print(
    {how: sum(r is None for r in replies[("reader", how)]) for how in prompts},
    "prompts too long (counted wrong)",
)

# %%
right_speaker = {
    key: np.array([a == t for a, t in zip(r, truth, strict=True)], float)
    for key, r in replies.items()
}
print(f"{'':10}" + "".join(f"{how:>17}" for how in prompts))
for name in ("sft", "reader"):
    print(
        f"{name:10}"
        + "".join(cell(stats.mean(right_speaker[(name, how)]), ".3f", 17) for how in prompts)
    )
followed = {
    name: stats.mean(
        np.array([a == m for a, m in zip(replies[(name, "wrong")], misled_to, strict=True)], float)
    )
    for name in ("sft", "reader")
}
print("follows the wrong passage's speaker:", {k: f"{v:.3f}" for k, v in followed.items()})
unprompted = stats.mean(
    np.array(
        [a == m for a, m in zip(replies[("reader", "closed book")], misled_to, strict=True)], float
    )
)
print(f"reader names that other speaker with no passage: {unprompted:.3f}")
fits = np.array([r is not None for r in replies[("reader", "true")]])
print(
    f"reader with the true passage, on the {int(fits.sum())} prompts that fit: "
    f"{stats.mean(right_speaker[('reader', 'true')][fits]):.3f}"
)
sft_reads = stats.difference(right_speaker[("sft", "true")], right_speaker[("sft", "closed book")])
reader_reads = stats.difference(
    right_speaker[("reader", "true")], right_speaker[("reader", "closed book")]
)
rag = stats.difference(
    right_speaker[("reader", "retrieved")], right_speaker[("sft", "closed book")]
)
print(f"sft: true passage minus closed book {sft_reads:+.3f}")
print(f"reader: true passage minus closed book {reader_reads:+.3f}")
print(f"reader with the retrieved passage minus sft closed book {rag:+.3f}")
assert reader_reads.beyond_noise() and not sft_reads.beyond_noise()
assert followed["reader"].beyond_noise()

# %% [markdown]
# Closed book, neither model names one held-out speaker in 60 questions: it never read those plays.
# `sft` does not use a passage either: with the true one in its prompt it is right no more often
# (+0.000). The `reader` is right 0.183 ± 0.050 of the time with the true passage and 0.150 ± 0.046
# with the retrieved one; the prompts too long for its 128-token window (10 true, 7 retrieved) count
# as wrong; on the 50 true prompts that fit it is right 0.220 ± 0.059 of the time, so even with the
# answer in front of it, it fails about four times in five: a 4-layer model with a 128-token window,
# given 300 steps, learned the task only a little. With a wrong passage it is never right, and it
# names the wrong passage's speaker 0.100 ± 0.039 of the time (6 of 60; 11 of those prompts did not
# fit), against 0.000 with no passage. That is the behaviour it was trained for (the 70% above),
# shown rarely, not a general property of reading: it measures what this reader was taught. A
# passage in the prompt helps only a model taught to read it, and only as far as the passage is
# right.

# %% [markdown]
# Bad input gets a clear error from the library, naming what is wrong: an empty question, a
# passage too long for the model's context, canary counts the text cannot hold.

# %%
from llmlab import memorization

attempts = {
    "empty question": lambda: retrieval.with_passage("  ", prompts["true"][0]),
    "passage too long": lambda: retrieval.with_passage(
        line_questions[0].turns[0][1],
        "Words. " * 80,
        tokenizer=tokenizer,
        max_tokens=100,  # the 128-token context, less the chat template and room for a reply
    ),
    "too many canaries": lambda: memorization.plant(
        "ROMEO:\nO.\n", ["PUCK:\nMy secret number is 1.\n"], [3]
    ),
}
for what, attempt in attempts.items():
    try:
        attempt()
    except ValueError as error:
        print(f"{what}: ValueError: {error}")
    else:
        raise AssertionError(f"{what} was accepted")

# %% [markdown]
# ### Try it: ask with and without the passage
#
# The box below asks the `reader` model one question at a time and shows what the sections
# above measured over many: its answer, its **confidence** (the answer's probability among the
# candidate answers, scored as in section 1, so a blind guess gets one over their number), and
# the likeliest candidates as bars, the right one marked ✓. For "Who speaks the line ...?" the
# candidates are every speaker of the held-out plays, credited as the reader answers ("OLIVIA,
# in Twelfth Night."). Pick a held-out question from the menu, or type your own (it keeps the
# picked question's candidates; with no right answer known, none is marked). Tick **give it
# the retrieved passage**: the model then reads the quote of the retriever's best speech for
# the question (section 2's search and quotes; the best match short enough for the 128-token
# context, with the question and the longest answer) before the question, and the line under
# the answer says what it answered without it. The passage box shows that quote; edit it (put
# another speaker's name, or another play's title, in it) and see whether the model follows.

# %% tags=["nbval-ignore-output"]
from llmlab import instructions, pretrained, retrieval
from llmlab.widgets import KnowledgeBox

reader, reader_tokenizer = pretrained.load("reader")
box_kinds = ("line_speaker", "character_play", "main_character", "character_act", "play_genre")
box_questions = instructions.plays_examples("validation", box_kinds)
by_kind = [[x for x in box_questions if x.kind == kind] for kind in box_kinds]
menu = [e for found in by_kind for e in found[:: max(1, len(found) // 5)][:5]]  # across plays
speeches = retrieval.passages("all", speeches_per_passage=1)
quotes = [retrieval.quote(p.play, *p.text.split(":\n", 1)) for p in speeches]
box = KnowledgeBox(
    reader,
    reader_tokenizer,
    menu,
    [p.text for p in speeches],
    given=quotes,
    ask=retrieval.with_passage,
)
box


# %% [markdown]
# ## 3. Memorisation and privacy
#
# A model trained on private text can give it back. **Canaries** (Carlini et al., "The Secret
# Sharer", 2019) measure how much: made-up secrets, here `"NAME:\nMy secret number is 4821.\n"`
# in the plays' layout, planted a known number of times in a training text. After training,
# score all 10,000 four-digit numbers after the same prefix by the model's loss and find the
# planted one's **rank**. Its **exposure** is `log2(10,000) − log2(rank)`: about 1 to 1.5 bits
# on average for a secret the model knows nothing of (1/ln 2 ≈ 1.44 for a rank drawn at random),
# 13.3 bits when it ranks first.
#
# The model: about 100,000 parameters, 2 layers, characters, trained 300 steps (seconds) on
# about 50,000 characters of the training plays, with 20 canaries: 4 names each at 0 (never
# planted: the baseline), 1, 4, 16 and 64 copies. The same text also holds held-out questions
# planted on purpose (section 4). `memorization.small_model` trains it once and caches it.
# Beside it, a **deduplicated twin**: the same recipe on the same text with every planted item
# kept only once (a canary planted 64 times appears once), the remedy training-data builders use.

# %%
rng = random.Random(0)
chosen, size = [], 0
for s in rng.sample(corpus.speeches("train"), 3000):
    if size > 50_000:
        break
    chosen.append(s)
    size += len(s.render())
clean = "".join(s.render() for s in chosen)

names = ["OLIVER", "SEBASTIAN", "MIRANDA", "PORTIA", "CELIA", "ORSINO", "VIOLA", "DUNCAN", "BANQUO",
         "EDGAR", "GONERIL", "REGAN", "CORDELIA", "TITANIA", "OBERON", "PUCK", "HERMIA", "HELENA",
         "LYSANDER", "EGEUS"]  # fmt: skip
copies = [c for c in (0, 1, 4, 16, 64) for _ in range(4)]
secrets = ["".join(rng.choice("0123456789") for _ in range(4)) for _ in names]
canaries = [f"{n}:\nMy secret number is {s}.\n" for n, s in zip(names, secrets, strict=True)]

test_items = instructions.plays_examples("validation", kinds=["character_play"])[::2]
items = [f"STUDENT:\n{q.turns[0][1]}\nTEACHER:\n{q.turns[1][1]}\n" for q in test_items]
leaked = np.arange(len(items)) % 2 == 0  # every other test question leaks, 4 copies each
planted_text = memorization.plant(
    clean,
    canaries + [it for it, f in zip(items, leaked, strict=True) if f],
    copies + [4] * int(leaked.sum()),
    seed=0,
)
deduplicated = memorization.plant(
    clean,
    canaries + [it for it, f in zip(items, leaked, strict=True) if f],
    [min(c, 1) for c in copies] + [1] * int(leaked.sum()),
    seed=0,
)
small, char_tokenizer = memorization.small_model(planted_text)
twin, _ = memorization.small_model(deduplicated)
print(f"{len(clean):,} characters of plays; planted: {len(planted_text) - len(clean):,} more")
print(f"parameters: {sum(p.numel() for p in small.parameters()):,}")
block_size = 64  # characters per training window of the small model
seen_times = (
    memorization.SMALL_TRAIN["max_steps"]
    * memorization.SMALL_TRAIN["batch_size"]
    * block_size
    / len(planted_text)
)
print(f"training reads {seen_times:.1f} times as many characters as the text holds")
print(canaries[0], end="")

# %% [markdown]
# Exposure by hand for one canary (a rank among all 10,000 candidates), against
# `memorization.exposure`, then every canary in both models:

# %%
digits = char_tokenizer.encode("0123456789")


def exposures(model):
    found = []
    for name, secret in zip(names, secrets, strict=True):
        prefix = char_tokenizer.encode(f"{name}:\nMy secret number is ")
        candidates, losses = memorization.candidate_losses(model, prefix, digits, 4)
        mine = losses[candidates.index(tuple(char_tokenizer.encode(secret)))]
        found.append((memorization.exposure(mine, losses), float(losses.min() == mine)))
    return np.array(found)


prefix = char_tokenizer.encode(f"{names[-1]}:\nMy secret number is ")
candidates, losses = memorization.candidate_losses(small, prefix, digits, 4)
mine = losses[candidates.index(tuple(char_tokenizer.encode(secrets[-1])))]
rank = 1 + int((losses < mine).sum())
print(
    f"{names[-1]}'s secret, planted 64 times: rank {rank} of {len(losses):,}, exposure {math.log2(len(losses)) - math.log2(rank):.2f} bits"
)
assert abs(memorization.exposure(mine, losses) - (math.log2(len(losses)) - math.log2(rank))) < 1e-9

table = {"planted": exposures(small), "deduplicated": exposures(twin)}
print(
    f"{'copies':>6}  {'exposure (bits)':>16}  {'extracted':>9}  {'after dedup':>16}  {'extracted':>9}"
)
for c in (0, 1, 4, 16, 64):
    at = np.array(copies) == c
    e, d = table["planted"][at], table["deduplicated"][at]
    print(
        f"{c:>6}  {cell(stats.mean(e[:, 0]), '.1f', 16)}  {int(e[:, 1].sum()):>7}/4  {cell(stats.mean(d[:, 0]), '.1f', 16)}  {int(d[:, 1].sum()):>7}/4"
    )
many, none = np.array(copies) == 64, np.array(copies) == 0
grew = stats.difference(table["planted"][many, 0], table["planted"][none, 0], paired=False)
dedup = stats.difference(table["planted"][many, 0], table["deduplicated"][many, 0], paired=False)
twin_grew = stats.difference(
    table["deduplicated"][many, 0], table["deduplicated"][none, 0], paired=False
)
print(f"exposure at 64 copies minus never planted: {grew:+.1f} bits")
print(f"64-copy canaries, planted minus deduplicated: {dedup:+.1f} bits")
print(
    f"deduplicated twin, 64-copy canaries (now 1 copy) minus never planted: {twin_grew:+.1f} bits"
)
once = np.array(copies) >= 1  # all 16 planted canaries are at 1 copy in the twin
twin_once = stats.difference(
    table["deduplicated"][once, 0], table["deduplicated"][none, 0], paired=False
)
print(f"deduplicated twin, all 16 one-copy canaries minus never planted: {twin_once:+.1f} bits")
assert grew.beyond_noise() and dedup.beyond_noise() and not twin_grew.beyond_noise()
assert not twin_once.beyond_noise()
assert table["planted"][many, 1].sum() >= 1 and table["deduplicated"][:, 1].sum() == 0

# %% [markdown]
# A secret never planted, or planted once, is exposed no more than chance gives (0.8 bits here, from
# only 4 secrets a row, against about 1.4 for a random rank on average). At 16 copies its
# exposure is 8.8 ± 0.9 bits, at 64 copies 12.4 ± 0.5 of the possible 13.3, and 2 of those 4
# secrets are the model's single likeliest number: anyone who knows the prefix reads them out.
# **Deduplication** (every canary kept once) takes the 64-copy canaries down by 8.2 ± 1.8 bits,
# to 4.2 ± 1.7, within noise of never planted (+2.5 ± 1.8), and none is extracted. Pooling all
# 16 canaries the twin saw once against its 4 never planted: +1.5 ± 0.9 bits, within noise
# (1.7 SEs) but not far from it.
# Memorisation here is mostly repetition: the training read the text 9.1 times over, and what
# was in it once is exposed little if at all (with 4 to 16 canaries per group, only a large
# effect would show).
#
# ### Membership: was this line in the training text?
#
# An attacker without canaries can still ask whether a given line was trained on: training
# lines tend to have lower loss. Score 300 training lines and 300 lines of held-out plays by
# their loss; the **ROC curve** plots, for every threshold, the share of training lines caught
# against the share of held-out lines wrongly caught, and its area (**AUC**) is the chance that
# a random training line scores lower than a random held-out one (0.5: a coin).


# %%
def some_lines(text, n, seed):
    candidates = [line for line in text.split("\n") if len(line) >= 20]
    return random.Random(seed).sample(candidates, n)


members = some_lines(clean, 300, 1)
strangers = some_lines(corpus.text("validation"), 300, 2)
member_loss = memorization.line_losses(small, char_tokenizer, members)
stranger_loss = memorization.line_losses(small, char_tokenizer, strangers)
auc = memorization.auc(-member_loss, -stranger_loss)
auc_low, auc_high = stats.bootstrap(
    np.r_[np.c_[-member_loss, np.ones(300)], np.c_[-stranger_loss, np.zeros(300)]],
    lambda a: memorization.auc(a[a[:, 1] == 1, 0], a[a[:, 1] == 0, 0]),
    n_resamples=300,
)
print(
    f"mean loss: training lines {stats.mean(member_loss):.3f}, held-out lines {stats.mean(stranger_loss):.3f} nats/char"
)
print(
    f"membership AUC {auc:.3f} (bootstrap 95% interval {auc_low:.3f} to {auc_high:.3f}; a coin: 0.5)"
)
loss_gap = stats.difference(member_loss, stranger_loss, paired=False)
print(f"training lines minus held-out lines: {loss_gap:+.3f} nats/char")
assert 0.5 < auc < 0.65 and auc_low < 0.5 and loss_gap.value < 0
# fairer non-members: lines of the *training* plays that were not sampled into the text
in_text = {s.render() for s in chosen}
unsampled = "".join(s.render() for s in corpus.speeches("train") if s.render() not in in_text)
neighbours = [line for line in some_lines(unsampled, 400, 3) if line not in clean][:300]
neighbour_loss = memorization.line_losses(small, char_tokenizer, neighbours)
same_plays = memorization.auc(-member_loss, -neighbour_loss)
same_low, same_high = stats.bootstrap(
    np.r_[np.c_[-member_loss, np.ones(300)], np.c_[-neighbour_loss, np.zeros(len(neighbours))]],
    lambda a: memorization.auc(a[a[:, 1] == 1, 0], a[a[:, 1] == 0, 0]),
    n_resamples=300,
)
print(
    f"non-members from the training plays ({len(neighbours)} lines, loss {stats.mean(neighbour_loss):.3f}): "
    f"AUC {same_plays:.3f} (interval {same_low:.3f} to {same_high:.3f})"
)
assert same_low < 0.5 < same_high

# %% tags=["nbval-ignore-output"]
fpr, tpr = memorization.roc_curve(-member_loss, -stranger_loss)
fig, ax = plt.subplots(figsize=(4, 4))
ax.plot(fpr, tpr, label=f"loss, AUC {auc:.2f}")
ax.plot([0, 1], [0, 1], "k--", lw=1, label="a coin")
ax.set(xlabel="held-out lines flagged", ylabel="training lines flagged", title="membership test")
ax.legend()
plt.show()

# %% [markdown]
# Training lines have a slightly lower loss (2.195 against 2.237 nats per character, a difference of
# −0.043 ± 0.020, about two SEs), and the AUC is 0.548, but its interval (0.497 to 0.594) holds 0.5:
# the test cannot be told from a coin. Lines seen about nine times each are not memorised by a model
# this small and this briefly trained; the canaries above needed 16 copies or more. The held-out
# lines are also from other plays, so a loss gap could be the plays' style rather than membership; a
# fairer test takes its non-members from the same plays, lines of the training plays left out of the
# text: against those the AUC is 0.544 (interval 0.498 to 0.592), the same verdict.
#
# ### Do the shipped models recite the plays?
#
# The course's `char` and `bpe` models read the training plays for thousands of steps. Give
# each 200 windows of the plays (the last 48 tokens before a point as the prompt) and count how
# many of the next 32 characters its greedy continuation gets right before its first mistake;
# the held-out plays are the baseline (text it cannot have memorised).

# %%
import os

import torch


def recited(name, split, n=200, seed=1):
    """For ``n`` windows of ``split``: how many characters of the text the greedy continuation
    reproduces before its first mistake (at most 32)."""
    model, tok = pretrained.load(name)
    text = corpus.text(split)
    starts = random.Random(seed).sample(range(len(text) - 400), n)
    prompts = torch.tensor([tok.encode(text[s : s + 240])[-48:] for s in starts])
    with torch.no_grad():
        out = model.generate(prompts, 32, temperature=0)[:, 48:]
    matched = []
    for o, s in zip(out, starts, strict=True):
        said, truth = tok.decode(o.tolist())[:32], text[s + 240 : s + 272]
        matched.append(len(os.path.commonprefix([said, truth])))
    return np.array(matched, float)


recital = {
    (name, split): recited(name, split)
    for name in ("char", "bpe")
    for split in ("train", "validation")
}
for (name, split), matched in recital.items():
    print(
        f"{name:5} {split:11} characters right before the first mistake {stats.mean(matched):.2f}; all 32: {stats.mean(matched == 32):.3f}"
    )
for name in ("char", "bpe"):
    more = stats.difference(recital[(name, "train")], recital[(name, "validation")], paired=False)
    print(f"{name}: training plays minus held-out plays {more:+.2f} characters")
    assert not more.beyond_noise() and (recital[(name, "train")] == 32).sum() == 0

# %% [markdown]
# Neither shipped model reproduces any of the 32-character continuations, and each gets as many
# characters right on the training plays as on the held-out ones (differences −0.05 ± 0.17 and
# +0.07 ± 0.12 characters): they learned the plays' style, not their text. (The prompt is cut at
# an arbitrary character, so `bpe`'s last prompt token is often a word fragment, lesson 01's
# artefact: compare each model with itself across splits, not `char` with `bpe`.) Models far
# larger, trained on text repeated many times, do recite (Carlini et al., "Extracting Training
# Data from Large Language Models", 2021; "Quantifying Memorization Across Neural Language
# Models", 2023); the canaries show how the count drives it.

# %% [markdown]
# ## 4. Evaluation
#
# ### Three scores, one model, three verdicts?
#
# Which of the course's chat models is best? Score `sft_short` (lesson 06's 120-step run), `sft`
# and `reader` three ways on held-out material: the **loss** per reply token on lesson 06's 64
# held-out conversations; the **exact-match accuracy** on half (100) of section 1's held-out
# closed-set questions; and the **scripted labeler** of lesson 08 on greedy replies to 24 held-out lines
# of dialogue. (`sft_short` is not shipped: on a first run this cell trains it, about 15 seconds.)

# %% tags=["nbval-ignore-output"]
chat_models = {name: pretrained.load(name)[0] for name in ("sft_short", "sft", "reader")}

# %%
from llmlab import finetune, labeler

conversations = finetune.held_out_conversations(tokenizer, 128, 64)
dialogue = instructions.plays_examples("validation", kinds=["dialogue"])[::40][:24]
closed_set = held_out[::2]


def scores(model):
    losses = []
    for c in conversations:
        losses.append(finetune.sft_eval(model, [c], tokenizer))
    right = [
        float(int(p.argmax()) == label)
        for p, label in (answers.option_probabilities(model, tokenizer, q) for q in closed_set)
    ]
    judged = []
    for d in dialogue:
        ids = list(reply_tokens(model, tokenizer, d.turns[:1], 32, temperature=0))
        ended = ids[-1:] == [END]  # did the reply finish by itself within 32 tokens?
        judged.append(
            labeler.score(d.turns[:1], tokenizer.decode([t for t in ids if t != END]), ended=ended)
        )
    return {"loss": np.array(losses), "exact match": np.array(right), "labeler": np.array(judged)}


board = {name: scores(model) for name, model in chat_models.items()}
print(f"{'':10}" + "".join(f"{m:>17}" for m in ("loss", "exact match", "labeler")))
for name, row in board.items():
    print(
        f"{name:10}"
        + "".join(cell(stats.mean(row[m]), ".3f", 17) for m in ("loss", "exact match", "labeler"))
    )
for m in ("loss", "exact match", "labeler"):
    order = sorted(board, key=lambda n: board[n][m].mean(), reverse=m != "loss")
    print(f"ranked by {m}: {' > '.join(order)}")
pairs = {
    (m, a, b): stats.difference(board[a][m], board[b][m])  # paired: the same items
    for m in ("loss", "exact match", "labeler")
    for a, b in (("sft", "sft_short"), ("reader", "sft"), ("reader", "sft_short"))
}
for (m, a, b), d in pairs.items():
    print(f"{m:12} {a} minus {b}: {d:+.3f}")
assert (
    pairs[("loss", "sft", "sft_short")].beyond_noise()
    and pairs[("labeler", "sft", "sft_short")].beyond_noise()
)
assert not any(
    pairs[("exact match", a, b)].beyond_noise()
    for a, b in (("sft", "sft_short"), ("reader", "sft"))
)
assert pairs[("loss", "reader", "sft")].beyond_noise()
# the one pair loss and labeler order oppositely: beyond noise on the loss only
assert (
    pairs[("loss", "reader", "sft_short")].value > 0
    and pairs[("loss", "reader", "sft_short")].beyond_noise()
)
assert pairs[("labeler", "reader", "sft_short")].value > 0
assert not pairs[("labeler", "reader", "sft_short")].beyond_noise()

# %% [markdown]
# The printed orders differ, but only some of their steps are beyond noise. The **loss** ranks `sft`
# first (0.190 ± 0.025 nats below `sft_short`) and the `reader` far last (+1.202 ± 0.048 above
# `sft`, its starting point: 300 steps on one kind of question cost it the rest of the
# conversations). **Exact match** cannot tell them apart: its differences (−0.010 ± 0.022, −0.020 ±
# 0.035, −0.030 ± 0.030) are within noise, so its order is no ranking. The **labeler** puts `sft`
# first (+0.615 ± 0.174 over `sft_short`) and the `reader` below it (−0.351 ± 0.173, two SEs). The
# one pair the loss and the labeler order oppositely is `reader` and `sft_short`: the labeler has
# the `reader` ahead by +0.264 ± 0.159, within noise (1.7 SEs), while the loss has it behind by
# 1.012 ± 0.059 nats. So the scores do not contradict each other beyond noise here; they measure
# different things, and exact match sees nothing. "Better" needs saying at what, and a difference
# inside its SE ranks nothing.
#
# ### Seed noise
#
# One recipe, three seeds: the small model of section 3 trained again on the same text with
# seeds 1 and 2 (cached too). How much does the membership AUC move with nothing but the seed?
# (This is a different model and measure from the three scores above, which were not reseeded:
# it shows how to measure seed noise, not how big it is for them.)

# %%
seeded = [auc]
for seed in (1, 2):
    model, _ = memorization.small_model(planted_text, seed=seed)
    a = memorization.line_losses(model, char_tokenizer, members)
    b = memorization.line_losses(model, char_tokenizer, strangers)
    seeded.append(memorization.auc(-a, -b))
spread = np.std(seeded, ddof=1)
print("membership AUC by seed:", [round(x, 3) for x in seeded], f"spread (SD) {spread:.3f}")
print(f"the AUC's own sampling SE, from its bootstrap interval: {(auc_high - auc_low) / 3.92:.3f}")
assert spread < (auc_high - auc_low) / 3.92

# %% [markdown]
# On this measure the seed moves the AUC by 0.010 (SD of three seeds), less than the sampling SE
# of one measurement on 300 + 300 lines (0.025). Three seeds give only a rough spread (an SD from
# three values is itself uncertain by about half), and every seed's AUC is near a coin's, but
# here the choice of lines seems to matter more than the seed. A comparison needs both noises
# small against the difference it claims.
#
# ### Contamination on purpose
#
# The test is every other `character_play` question of the held-out plays above ("Which play is
# X in?"), 39 of them; 20 of those were planted 4 times each in the small model's training text. Does the model score
# higher on the leaked half? It answers by scoring all 38 titles after `STUDENT:` and the
# question, as section 1 did:

# %%
titles = [f"{instructions.title(p.slug)}." for p in corpus.plays()]


@torch.no_grad()
def continuation_log_prob(model, prefix, text):
    ids = char_tokenizer.encode(prefix + text)[-(block_size + 1) :]  # a window and its next
    n = len(char_tokenizer.encode(text))
    logp = model(torch.tensor([ids[:-1]]))[0][0].float().log_softmax(-1)
    return float(logp[torch.arange(len(ids) - 1 - n, len(ids) - 1), torch.tensor(ids[-n:])].sum())


def answered(model):
    right, picks = [], []
    for q in test_items:
        prefix = f"STUDENT:\n{q.turns[0][1]}\nTEACHER:\n"
        best = max(titles, key=lambda t: continuation_log_prob(model, prefix, t + "\n"))
        right.append(float(best == q.turns[1][1]))
        picks.append(best)
    return np.array(right), picks


never_leaked, _ = memorization.small_model(memorization.plant(clean, canaries, copies, seed=0))
(right, picked), (baseline, picked_clean) = answered(small), answered(never_leaked)
held_out_titles = {q.turns[1][1] for q in test_items}
on_test = {
    name: stats.mean(np.array([p in held_out_titles for p in found], float))
    for name, found in (("contaminated", picked), ("clean", picked_clean))
}
print(
    f"answers that are one of the {len(held_out_titles)} held-out titles:",
    {k: f"{v:.3f}" for k, v in on_test.items()},
)
inflation = stats.difference(right[leaked], right[~leaked], paired=False)
print(f"no test question in training: accuracy {stats.mean(baseline):.3f} (chance {1 / 38:.3f})")
print(
    f"half leaked: leaked questions {stats.mean(right[leaked]):.3f}, the other half {stats.mean(right[~leaked]):.3f}"
)
print(f"leaked minus the other half: {inflation:+.3f}")
spill = stats.difference(right[~leaked], baseline[~leaked])
inflated = stats.difference(right, baseline)
print(f"the other half, against the model that saw no test question: {spill:+.3f}")
print(f"the whole test, contaminated model minus clean model: {inflated:+.3f}")
assert on_test["contaminated"].value > 0.9 and on_test["clean"].value < 0.1
assert inflated.beyond_noise() and spill.value > 0 and not inflation.beyond_noise()
assert spill.beyond_noise(2)  # the half that never leaked rose too, by two SEs

# %% [markdown]
# The model that saw no test question answers none right; chance is 0.026. Leaking half the
# questions lifts the *whole* test: the leaked half is right 0.200 ± 0.092 of the time, the other
# half 0.211 ± 0.096, indistinguishable (−0.011 ± 0.133), and the whole test gains 0.205 ±
# 0.066 over the clean model. The leaked items taught the test's answers: the contaminated model
# names one of the held-out titles for every question (1.000), the clean one never, and those
# titles serve the unleaked questions too. Even the leaked half, seen 4 times each, is right only
# 0.200: a 100,000-parameter model does not simply recall it. So comparing leaked with
# unleaked items would find nothing here: contamination shows only against a model trained
# without it.
#
# A **detector** must find the leaked items without knowing which they are. Two detectors:
# the share of an item's word 4-grams (runs of 4 consecutive words; an **n-gram** is a run of
# `n`) found in the training text (**n-gram overlap**; needs the training text) and **Min-K%
# probability** (the mean log-probability of the item's 20% least likely characters; needs only
# the model: a seen item has fewer surprising tokens). Each scored on the known plants by AUC,
# and at a threshold by **precision** (the share of flagged items that were leaked) and
# **recall** (the share of leaked items flagged; a different use of the word from section 2's
# recall@k).

# %%
reference = contamination.ngrams(planted_text, 4)
overlap = np.array(
    [
        contamination.ngram_overlap(q.turns[0][1] + " " + q.turns[1][1], reference, 4)
        for q in test_items
    ]
)


@torch.no_grad()
def token_log_probs(model, text):
    ids = char_tokenizer.encode(text)[-(block_size + 1) :]  # a window and its next character
    logp = model(torch.tensor([ids[:-1]]))[0][0].float().log_softmax(-1)
    return logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()


min_k = np.array([contamination.min_k_percent(token_log_probs(small, it), 20) for it in items])
min_k_twin = np.array([contamination.min_k_percent(token_log_probs(twin, it), 20) for it in items])
for name, score, cut in (
    ("4-gram overlap", overlap, 0.5),
    ("Min-K%", min_k, float(np.median(min_k))),
):
    precision, recall_ = contamination.precision_recall(score, leaked, cut)
    print(
        f"{name:15} AUC {memorization.auc(score[leaked], score[~leaked]):.3f}  at {cut:.2f}: precision {precision:.3f}, recall {recall_:.3f}"
    )
twin_auc = memorization.auc(min_k_twin[leaked], min_k_twin[~leaked])
print(f"Min-K% AUC on the deduplicated twin (1 copy each): {twin_auc:.3f}")
interval = {}
for name, score in (("planted", min_k), ("twin", min_k_twin)):
    interval[name] = low_, high_ = stats.bootstrap(
        np.c_[score, leaked],
        lambda a: memorization.auc(a[a[:, 1] == 1, 0], a[a[:, 1] == 0, 0]),
        n_resamples=300,
    )
    print(f"Min-K% AUC, {name}: bootstrap 95% interval {low_:.3f} to {high_:.3f}")
assert interval["planted"][0] > 0.5 and interval["twin"][0] < 0.5
assert interval["twin"][1] > interval["planted"][0]  # the two intervals overlap
assert memorization.auc(overlap[leaked], overlap[~leaked]) == 1.0
assert memorization.auc(min_k[leaked], min_k[~leaked]) > twin_auc

# %% [markdown]
# **4-gram overlap**, which reads the training text, separates the leaked items perfectly (AUC
# 1.000; at 0.5, precision 1.000 and recall 0.900 ± 0.067: the leaked items are there verbatim).
# **Min-K%**, which needs only the model, does worse (AUC 0.705; precision and recall 0.650 ± 0.107
# at its median), and on the deduplicated twin, where each leaked item appears once, its AUC is
# 0.534. With 20 leaked and 19 unleaked items these AUCs are rough (bootstrap intervals 0.530 to 0.846, and
# 0.347 to 0.712): the planted model's is above a coin, the twin's cannot be told from one, but the
# two intervals overlap, so the drop itself is not measured beyond noise. Overlap needs the training
# data, which most large models' makers do not publish; the model alone says little about an item it
# saw once.

# %% [markdown]
# ## 5. The course's models, side by side

# %% [markdown]
# Every number measured above, one row per model, each with its SE (closed-set answers: section
# 4's 100 held-out questions; speaker: the 60 line questions with the true passage; recital:
# characters right on the training plays minus on the held-out plays, each model against
# itself, as section 3 compared them); "–" where a measure does not apply (the base models do
# not answer in the chat template; the chat models were not asked to continue the plays). The
# models tuned further in lessons 08 and 09 are not here: of those, only lesson 08's DPO model
# is cached (as `dpo`), and lesson 12's closing report card (`llmlab report`) sets it beside
# these; lesson 09's reinforcement-learning runs live inside that lesson. Calibration was
# measured on `sft` alone and the canaries on the small model of section 3: not on every row.

# %%
columns = ("closed-set right", "speaker w/ passage", "reply loss", "labeler", "recital, train-held")
measured = {
    name: dict.fromkeys(columns, "–") for name in ("char", "bpe", "sft_short", "sft", "reader")
}
for name in ("char", "bpe"):
    more = stats.difference(recital[(name, "train")], recital[(name, "validation")], paired=False)
    measured[name]["recital, train-held"] = format(more, "+.2f")
for name, row in board.items():
    measured[name]["closed-set right"] = format(stats.mean(row["exact match"]), ".3f")
    measured[name]["reply loss"] = format(stats.mean(row["loss"]), ".3f")
    measured[name]["labeler"] = format(stats.mean(row["labeler"]), ".3f")
for name in ("sft", "reader"):
    measured[name]["speaker w/ passage"] = format(stats.mean(right_speaker[(name, "true")]), ".3f")
print(f"{'':10}" + "".join(f"{c:>20}" for c in columns))
for name, row in measured.items():
    print(f"{name:10}" + "".join(f"{row[c]:>20}" for c in columns))

# %% [markdown]
# What to conclude about bigger models. Every measure here has a larger-scale counterpart, and
# this lesson's numbers say which way each one leans, not how far:
#
# 1. A model answers from what its weights hold and invents where they hold nothing.
# 2. Its confidence is a hint: whether it is calibrated must be measured, on held-out questions.
# 3. A passage in the prompt helps a model trained to read it, and a model trained to follow its
#    passage follows a wrong one too.
# 4. What is repeated in training is what comes back out; deduplication is the first defence.
# 5. One score, on one seed, on a test that may have leaked, ranks nothing.
#
# Bigger models know more, which moves the numbers; these measurements are how you find out by
# how much.

# %% [markdown]
# ## What to remember
#
# - A model's answer about something it never read is an invention in the same fluent form as a
#   fact: compare accuracy with chance and with a stock answer, on held-out material.
# - Confidence is calibrated only if measured to be: a reliability diagram, the ECE and the Brier
#   score (against a uniform guess) say how far; abstaining below a threshold trades coverage for
#   accuracy only as far as the confidence orders answers.
# - Retrieval puts the answer in the prompt; the model must be taught to read it, and one taught
#   to follow its passage can follow a wrong one.
# - Repetition drives memorisation: a secret's exposure climbs with its copies, and
#   deduplication takes most of it away; a loss-based membership test on lines seen about nine
#   times cannot be told from a coin.
# - Loss, exact match and a judge measure different things, and their orders differ; a difference
#   inside its SE ranks nothing; contamination inflates a whole test, and is best found with the
#   training text.


# %% [markdown]
# ## Exercises
#
# Each exercise builds a piece this lesson used from the library: write it, and the check runs
# it on random cases against a tested reference (calling the library's own version fails the
# check). The committed notebook shows the unfinished scaffolds.

# %%
from llmlab import exercises

# %% [markdown]
# ### Exercise: expected calibration error
# `confidence` holds one probability per answer, `correct` one 0 or 1 per answer. Cut [0, 1]
# into `n_bins` equal bins (a confidence of exactly 1 goes in the last), and return the expected
# calibration error: for each bin that holds answers, the gap between its accuracy and its mean
# confidence, weighted by its share of the answers, summed. It is what
# `calibration.expected_calibration_error` printed in section 1.

# %%
print(exercises.header("expected_calibration_error"))


# %%
def expected_calibration_error(confidence: list[float], correct: list[int], n_bins: int) -> float:
    # 1. each answer's bin: int(c * n_bins), with c = 1 in the last bin        -> n_bins lists
    # 2. per non-empty bin: its accuracy, its mean confidence, its share of the answers
    # 3. the weighted sum of |accuracy - mean confidence|                     -> a float
    raise NotImplementedError  # your code here


passed = exercises.check("expected_calibration_error", expected_calibration_error)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("expected_calibration_error")` (then
# `exercises.hint("expected_calibration_error", 2)`), and only then
# `exercises.solution("expected_calibration_error")`.

# %% [markdown]
# ### Exercise: a canary's exposure
# `candidate_losses` holds the model's loss of every secret of the canary's form (the planted one
# among them), `secret_loss` the planted one's. Return its exposure in bits: `log2` of the number
# of candidates minus `log2` of the secret's rank, where the rank is 1 plus the number of
# candidates with a strictly lower loss (a tie counts in the secret's favour). It is what
# `memorization.exposure` gave for each number of copies in section 3.

# %%
print(exercises.header("canary_exposure"))


# %%
def canary_exposure(secret_loss: float, candidate_losses) -> float:
    # 1. the secret's rank among the candidates (1 = the likeliest)           -> an int
    # 2. log2(number of candidates) - log2(rank)                              -> bits
    raise NotImplementedError  # your code here


passed = exercises.check("canary_exposure", canary_exposure)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("canary_exposure")` (then
# `exercises.hint("canary_exposure", 2)`), and only then `exercises.solution("canary_exposure")`.

# %% [markdown]
# ### Exercise: the retriever's scores
# Return one score per passage: the cosine similarity of `query` and that passage as TF-IDF
# vectors. Words are lower-cased runs of letters, digits and apostrophes; a word counts
# `count * idf` with `idf = log((1 + N) / (1 + df)) + 1` over the `N` passages (`df`: how many
# hold it); each vector is scaled to length 1; query words no passage holds are left out, and a
# passage that shares no word with the query scores 0. Sorting by these scores is
# `retrieval.TfidfRetriever.search`, the retriever of section 2.

# %%
print(exercises.header("tfidf_scores"))


# %%
def tfidf_scores(query: str, passages: list[str]) -> list[float]:
    # 1. each text's words; each word's df over the passages, then its idf    -> {word: idf}
    # 2. each text's vector {word: count * idf}, scaled to length 1
    # 3. per passage: the dot product of its vector with the query's          -> N floats
    raise NotImplementedError  # your code here


passed = exercises.check("tfidf_scores", tfidf_scores)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("tfidf_scores")` (then
# `exercises.hint("tfidf_scores", 2)`), and only then `exercises.solution("tfidf_scores")`.

# %% [markdown]
# ## Check your understanding
#
# A few questions on what this lesson measured. Their answers are computed from the numbers
# above, so if a run of yours measured something else, the answer key follows your run.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

selective_options = [
    "It rises, beyond noise: its confidence carries information",
    "It stays the same, within noise: its confidence is no guide",
    "It falls, beyond noise: it is surest where it is wrong",
]
if not gain.beyond_noise():
    selective_answer = selective_options[1]
else:
    selective_answer = selective_options[0] if gain.value > 0 else selective_options[2]
dedup_options = [
    "Back to within noise of a secret never planted",
    "Lower, but still above a secret never planted, beyond noise",
    "As exposed as before: one copy is as good as 64",
]
if not (dedup.value > 0 and dedup.beyond_noise()):
    dedup_answer = dedup_options[2]
elif twin_grew.value > 0 and twin_grew.beyond_noise():
    dedup_answer = dedup_options[1]
else:
    dedup_answer = dedup_options[0]
leak_options = [
    "The leaked half scored higher than the other half, beyond noise",
    "The whole test scored higher than on a clean model, beyond noise, the half that never leaked too",
    "Nothing beyond noise: four copies of half the questions changed no score",
]
if inflation.value > 0 and inflation.beyond_noise():
    leak_answer = leak_options[0]
elif inflated.value > 0 and inflated.beyond_noise() and spill.value > 0 and spill.beyond_noise():
    leak_answer = leak_options[1]
else:
    leak_answer = leak_options[2]
loss_gap = pairs[("loss", "reader", "sft_short")]  # > 0: the reader pays more per token
labeler_gap = pairs[("labeler", "reader", "sft_short")]  # > 0: the labeler prefers the reader
assert loss_gap.value > 0 and labeler_gap.value > 0  # the two scores order them oppositely
order_options = [
    "Both: the two scores contradict each other",
    "The loss's only: the labeler's order could be noise",
    "The labeler's only: the loss's order could be noise",
    "Neither: both orders could be noise",
]
order_answer = order_options[
    {(True, True): 0, (True, False): 1, (False, True): 2, (False, False): 3}[
        (loss_gap.beyond_noise(), labeler_gap.beyond_noise())
    ]
]
quiz = Quiz(
    [
        Question(
            "If the sft model answered only the held-out questions it is most confident about "
            "(its top quarter by confidence), what happens to its accuracy?",
            selective_options,
            selective_answer,
            f"Most confident quarter minus the rest: {gain:+.3f}. Part of it is the kinds: the "
            f"most confident half holds no character_play question; within character_act "
            f"alone, that half minus the rest: {within:+.3f}.",
        ),
        Question(
            "A secret planted 64 times is exposed by the small model. The text is deduplicated "
            "(one copy kept) and the model trained again. How exposed is that secret now?",
            dedup_options,
            dedup_answer,
            f"64 copies minus never planted: {grew:+.1f} bits; planted minus deduplicated: "
            f"{dedup:+.1f}; the deduplicated twin minus never planted: {twin_grew:+.1f} (4 "
            "canaries a group: only a large effect would show). Copies, not a single sighting, "
            "are what a small model memorises.",
        ),
        Question(
            "Every other test question leaked into the training text, 4 copies each. Against a "
            "model trained without them, what happened to the scores?",
            leak_options,
            leak_answer,
            f"Leaked half minus the other half: {inflation:+.3f}; the other half against the "
            f"clean model: {spill:+.3f} ({spill.value / spill.se:.1f} SE, on "
            f"{int((~leaked).sum())} questions); the whole test: {inflated:+.3f}. The contaminated "
            f"model's answers are held-out titles {on_test['contaminated'].value:.0%} of the "
            "time: the leak taught it the test's answer set, which helps every question.",
        ),
        Question(
            "On the same held-out items, reply loss puts sft_short ahead of the reader, and the "
            "labeler puts the reader ahead of sft_short. Which of the two differences is beyond "
            "noise?",
            order_options,
            order_answer,
            f"Reader minus sft_short, paired over the same items: loss {loss_gap:+.3f} nats per "
            f"token, labeler {labeler_gap:+.3f} points. An order that rests on a difference "
            "within its noise is no contradiction; each score answers its own question, read "
            "with its SE.",
        ),
    ]
)
quiz
