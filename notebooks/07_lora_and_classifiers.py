# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 07 · LoRA and classifiers
#
# **What you will build:** the other kinds of fine-tuning. A **classification head** on the
# pretrained trunk that tells the genre of a speech, with its pooling built by you, trained four
# ways (and a fifth with another pooling) and compared with a bag of words and the majority class,
# every accuracy with its standard error; **LoRA** from scratch (its forward pass built by you),
# then LoRA against full fine-tuning for lesson 06's SFT: trainable numbers, optimizer memory,
# held-out loss, whether it learns to stop, what it forgets. Last, a chat widget to talk to the
# fine-tuned model.
#
# **CPU time:** about 2 minutes on a 2-core laptop (measured: 126 s of CPU time for a whole
# nbval run of it, kernel start-up and test harness included, one thread; budget: 2.5 minutes),
# with the course's `bpe`, `sft` and `sft_short` models in the cache (`llmlab prepare` trains them
# ahead of time; otherwise the first run trains what is missing, `sft_short` in about 15 seconds).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# Lesson 06's models, from `llmlab.pretrained`: `bpe`, the base model (a 0.9-million-parameter
# GPT pretrained on the training plays, 1,024-token BPE vocabulary), and `sft`, the same model
# fine-tuned to answer in the chat template (its tokenizer `chat` has the three chat tokens).

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

base, tokenizer = pretrained.load("bpe")
assistant, chat = pretrained.load("sft")

# %% [markdown]
# ## 1. Classification: which genre is this speech from?

# %% [markdown]
# The other kind of fine-tuning keeps the trunk and replaces the output: a **classification
# head** reads the trunk's vector at a text's **last real token** (in a causal model the one
# position that has seen the whole text) and scores the classes, here the six genres of the
# plays. The data: speeches of 2+ lines cut to their first 4 lines, the same number per genre
# in training; the test set is 900 speeches drawn from the six held-out plays (one per genre).
# Every accuracy below carries its **standard error** (SE, `llmlab.stats`): on 900 examples a
# rate near 25% moves by about 1.4 points from one test sample to another, so only differences
# of several SEs say anything. Two classifiers scored on the same test speeches compare through
# the **paired** difference (`stats.difference`): the SE of the speech-by-speech differences,
# which cancels what the items share (a speech hard for one is often hard for the other), so it
# is smaller than the two SEs combined.

# %%
import random

import torch

from llmlab import corpus, finetune, instructions, stats

block = base.config.block_size
genres_train = instructions.genre_examples("train")
genres_val = instructions.genre_examples("validation")
test = [genres_val[k] for k in sorted(random.Random(0).sample(range(len(genres_val)), 900))]
labels = torch.tensor([e.label for e in test])
print(f"train: {len(genres_train):,} speeches, {instructions.label_counts(genres_train)}")
print(f"test:  {len(test)} of {len(genres_val):,} held-out, {instructions.label_counts(test)}")
majority_right = [e.label == 0 for e in test]  # balanced: every genre ties; take the first
majority = stats.mean(majority_right)
print(f"majority class (one genre, always): {majority:.3f}")
assert len(set(instructions.label_counts(genres_train).values())) == 1  # balanced
assert abs(majority.value - finetune.majority_baseline(genres_train, test)) < 1e-9
assert sorted(
    corpus.GENRES.index(p.genre) for p in corpus.plays() if p.slug in corpus.VALIDATION_PLAYS
) == list(range(6))

# %% [markdown]
# The head is `llmlab.model.SequenceHead`: the trunk's vectors (`GPT.hidden`, `[B, T, 128]`),
# one vector per row at its last real token, times a `[6, 128]` matrix. Batches are padded to
# their longest row, and the `attention_mask [B, T]` marks real tokens with 1, pads with 0:

# %%
from llmlab.model import SequenceHead

torch.manual_seed(0)
head = SequenceHead(base, n_outputs=6)
batch = finetune.classifier_batches(genres_train, tokenizer, block)(torch.Generator(), 4)
with torch.no_grad():
    scores = head(batch["input_ids"], batch["attention_mask"])
print(f"{tuple(batch['input_ids'].shape)} padded tokens -> {tuple(scores.shape)} genre scores")
print(f"real tokens per row: {batch['attention_mask'].sum(dim=1).tolist()}")

# %% [markdown]
# ### Exercise: the head's pooling

# %% [markdown]
# From the trunk's `hidden [B, T, C]` and the `attention_mask [B, T]`, return `[B, C]`: each
# row's vector at its last real token. Rows may be padded on the right (text, then pads, as
# here) or on the left (pads, then text, as some libraries batch for generation): handle both.
# This is what `SequenceHead` reads before its matrix.

# %%
from llmlab import exercises

print(exercises.header("last_token_pool"))


# %%
def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    # 1. each row's last real position: the largest t where attention_mask[row, t] == 1
    # 2. one vector per row: hidden[row, that position]
    raise NotImplementedError  # your code here


passed = exercises.check("last_token_pool", last_token_pool)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("last_token_pool")` (then
# `exercises.hint("last_token_pool", 2)`), and only then `exercises.solution("last_token_pool")`.

# %% [markdown]
# A baseline that reads the words but not their order: **bag-of-words logistic regression**,
# counts of the 2,000 commonest words of the training speeches into six scores, in a few lines
# of torch:

# %%
import re
from collections import Counter

import torch.nn.functional as F

words = Counter(w for e in genres_train for w in re.findall(r"[a-z']+", e.text.lower()))
column = {w: k for k, (w, _) in enumerate(words.most_common(2000))}


def bag_of_words(texts: list) -> torch.Tensor:
    counts = torch.zeros(len(texts), len(column))
    for row, e in enumerate(texts):
        for w in re.findall(r"[a-z']+", e.text.lower()):
            if w in column:
                counts[row, column[w]] += 1
    return counts


X, y = bag_of_words(genres_train), torch.tensor([e.label for e in genres_train])
torch.manual_seed(0)
logistic = torch.nn.Linear(len(column), 6)
optimizer = torch.optim.AdamW(logistic.parameters(), lr=0.05, weight_decay=0.01)
for _ in range(150):
    optimizer.zero_grad()
    F.cross_entropy(logistic(X), y).backward()
    optimizer.step()
with torch.no_grad():
    bow_right = (logistic(bag_of_words(test)).argmax(-1) == labels).tolist()

# %% [markdown]
# ## 2. LoRA, from scratch

# %% [markdown]
# Fine-tuning every weight needs their gradients and two AdamW moments each, and a full copy of
# the model per task. **LoRA** (low-rank adaptation, Hu et al., 2021) bets that the *change* a
# fine-tune makes to a weight `W [out, in]` has low **rank** (few independent directions):
# `ΔW = (alpha / r) · B A`, with `A [r, in]` and `B [out, r]`, `r` small. `W` is frozen; only
# `A` and `B` learn. `B` starts at zero, so the wrapped model starts *exactly* as the model it
# wraps. `llmlab.lora.LoRALinear` wraps one linear layer; its sizes, for a layer of the model:

# %%
from llmlab import lora

layer = lora.LoRALinear(torch.nn.Linear(128, 384, bias=False), rank=8, alpha=16)
full, low_rank = layer.base.weight.numel(), layer.lora_A.numel() + layer.lora_B.numel()
print(
    f"W {tuple(layer.base.weight.shape)}, A {tuple(layer.lora_A.shape)}, B {tuple(layer.lora_B.shape)}"
)
print(
    f"one 384x128 layer: {full:,} weights; its rank-8 adapter: {low_rank:,} ({low_rank / full:.1%})"
)
assert low_rank == 8 * (128 + 384) and not layer.lora_B.any()

# %% [markdown]
# ### Exercise: a LoRA layer's forward pass

# %% [markdown]
# `x [..., in]` through the frozen `W [out, in]` (no bias), plus the low-rank path: `x` through
# `A [rank, in]`, then through `B [out, rank]`, scaled by `alpha / rank`. Use two thin products:
# never form the `[out, in]` matrix `B @ A` (for a 4096-wide layer it is 16 million numbers; the
# thin path costs `rank` per row). The check's `A` and `B` raise an error if you form it.

# %%
print(exercises.header("lora_forward"))


# %%
def lora_forward(x, W, A, B, alpha: float, rank: int):
    # the frozen path: x through W
    # the adapter path: x through A ([..., rank]), then through B ([..., out]), scaled
    raise NotImplementedError  # your code here


passed = exercises.check("lora_forward", lora_forward)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("lora_forward")` (then
# `exercises.hint("lora_forward", 2)`), and only then `exercises.solution("lora_forward")`.
#
# `lora.add_lora` wraps every block's linear layers of a model this way and freezes everything
# else (except what `trainable=` names); `lora.merge_lora` folds each `(alpha / r) · B A` into
# its `W` when training is done (section 4).

# %% [markdown]
# ## 3. Four ways to train the classifier

# %% [markdown]
# The same `SequenceHead` on the `bpe` trunk, 100 steps of 16 speeches each, trained in
# four ways: the head only (the trunk is a frozen feature extractor), the head and the last block,
# everything, and LoRA on every block's linear layers with the head trainable in full. The head
# is new, so it always learns. A fifth: the head only, but reading the **mean** of every real
# position's vector instead of the last one (**mean pooling**).

# %%
import copy

from llmlab.train import TrainConfig, fit

CLS_STEPS = 100


class MeanPooled(SequenceHead):
    def forward(self, idx, attention_mask=None):
        hidden = self.gpt.hidden(idx)
        if attention_mask is None:
            attention_mask = torch.ones_like(idx)
        real = attention_mask[..., None].to(hidden.dtype)
        return self.score((hidden * real).sum(1) / real.sum(1))


def classifier(setting: str) -> SequenceHead:
    torch.manual_seed(0)
    kind = MeanPooled if setting == "head only, mean pooling" else SequenceHead
    model = kind(copy.deepcopy(base), n_outputs=6)
    if setting.startswith("head only"):
        model.gpt.requires_grad_(False)
    elif setting == "head + last block":
        model.gpt.requires_grad_(False)
        model.gpt.blocks[-1].requires_grad_(True)
        model.gpt.ln_f.requires_grad_(True)
    elif setting == "LoRA (rank 8)":
        lora.add_lora(model, rank=8, alpha=16, trainable=("score",))
    return model


def train_classifier(model: SequenceHead, learning_rate: float) -> list[bool]:
    config = TrainConfig(
        batch_size=16,
        max_steps=CLS_STEPS,
        learning_rate=learning_rate,
        min_lr=learning_rate / 10,
        warmup_steps=10,
        eval_interval=0,
        dtype="bfloat16",
    )
    batches = finetune.classifier_batches(genres_train, tokenizer, block)
    fit(model, batches, finetune.classifier_loss, config, progress=False)
    return [
        p == e.label for p, e in zip(finetune.predict(model, test, tokenizer), test, strict=True)
    ]


rates = {
    "head only": 3e-3,
    "head + last block": 1e-3,
    "everything": 1e-3,
    "LoRA (rank 8)": 3e-3,
    "head only, mean pooling": 3e-3,
}
right, trainable = {"bag of words + logistic": bow_right}, {}
trainable["bag of words + logistic"] = logistic.weight.numel() + 6
for setting, rate in rates.items():  # about 3 seconds each on one thread
    model = classifier(setting)
    trainable[setting] = lora.count_parameters(model)[0]
    print(f"training {setting!r}: {trainable[setting]:,} trainable, {CLS_STEPS} steps", flush=True)
    right[setting] = train_classifier(model, rate)
print(f"done: {len(rates)} classifiers scored on the {len(test)} test speeches")

# %% tags=["nbval-ignore-output"]
accuracy = {name: stats.mean(found) for name, found in right.items()}
over_majority = {name: stats.difference(found, majority_right) for name, found in right.items()}
print(f"{'genre of a held-out speech':<26}{'trainable':>10}{'accuracy':>15}{'- majority':>15}")
print(f"{'majority class':<26}{0:>10,}{format(majority, '.3f'):>15}")
for name in right:
    shown = f"{format(accuracy[name], '.3f'):>15}{format(over_majority[name], '.3f'):>15}"
    print(f"{name:<26}{trainable[name]:>10,}{shown}")
best = max(rates, key=lambda name: accuracy[name].value)
worst = min(rates, key=lambda name: accuracy[name].value)
spread = stats.difference(right[best], right[worst])
bow_gap = stats.difference(right[best], bow_right)
print(f"\nbest - worst of the five ({best} - {worst}): {spread:.3f}")
print(f"best - bag of words: {bow_gap:.3f}")
assert all(gain.beyond_noise(4) and gain.value > 0 for gain in over_majority.values())
assert not spread.beyond_noise(3) and not bow_gap.beyond_noise(2)

# %% [markdown]
# What the table shows, with its SEs: every way of training the head beats the majority class
# (0.169 ± 0.012) by 0.08 to 0.11, at least four SEs of the paired difference. Among the five,
# the largest gap, LoRA over mean pooling, is 0.032 ± 0.013: two and a half SEs, under the three
# we ask of a ranking, on one seed. So on this budget we cannot rank them: more trainable weights
# (768 for the head, 66,304 for LoRA, 197,760 with the last block, 919,424 for everything) bought
# no accuracy we can tell apart from noise, and the bag of words, fitted on all 6,942 speeches,
# does as well as the best (0.287 ± 0.015; the best minus it, −0.006 ± 0.020). Telling a comedy
# from a romance by four lines is hard (the held-out plays are one of each genre, so knowing the
# characters does not help), and 100 steps show the model only 1,600 speeches. The head reads the
# last token by default, like transformers' `GPT2ForSequenceClassification`; mean pooling is no
# different here either. What the trainable counts do buy is memory: gradients and optimizer
# state for each.

# %% [markdown]
# ## 4. LoRA against full fine-tuning, for SFT

# %% [markdown]
# Back to the assistant. Lesson 06 fine-tuned every weight of the grown `bpe` model for 120 steps of
# 8 conversations (its section 3, the recipe `sft_short` of `llmlab.pretrained`); here is that run,
# loaded from the cache (trained now if lesson 06 has not run on this machine), then the same run
# with LoRA adapters (rank 8 on every block's linear layers), everything else frozen, the grown
# token table included. A larger learning rate is usual for LoRA: its updates start from zero. The
# held-out reply loss is scored on 64 validation conversations, one number per conversation (its
# loss per reply token), so that two models' losses pair up; their plain mean weighs short replies
# like long ones, so it differs from lesson 06's mean over all reply tokens.

# %%
short = pretrained.recipe("sft_short")  # lesson 06's run: data, held-out set, settings
mixture = finetune.sft_mixture("train", chat, block, short["data"])
held_out = finetune.held_out_conversations(chat, block, short["eval_examples"])
prompts = [e.turns[:1] for e in held_out[:50]]
val_ids = torch.tensor(tokenizer.encode(corpus.text("validation")[:300_000]))
sft_config = TrainConfig(**short["train"])
lora_config = TrainConfig(**{**short["train"], "learning_rate": 3e-3, "min_lr": 3e-4})


def reply_losses(model) -> list[float]:
    """The held-out loss per reply token, one number per conversation."""
    return [finetune.sft_eval(model, [e], chat) for e in held_out]


grown = finetune.grow_vocabulary(base, chat.vocab_size)
adapted = lora.add_lora(finetune.grow_vocabulary(base, chat.vocab_size), rank=8, alpha=16)
full_trainable, lora_trainable = lora.count_parameters(grown)[0], lora.count_parameters(adapted)[0]
share = lora_trainable / full_trainable
print(f"trainable: full {full_trainable:,}, LoRA {lora_trainable:,} ({share:.1%})")
print(
    f"AdamW state, 2 numbers x 4 bytes each: {8 * full_trainable / 1e6:.2f} MB vs {8 * lora_trainable / 1e6:.2f} MB"
)
print(f"for 7 billion parameters: {8 * 7e9 / 1e9:.0f} GB in full, {8 * 7e9 * share / 1e9:.0f} GB")
assert (full_trainable, lora_trainable) == (919_040, 65_536) and round(8 * 7e9 * share / 1e9) == 4


# %% tags=["nbval-ignore-output"]
def scored(model, history: list) -> dict:
    """A model's row of the table: held-out reply losses, plain-text losses, stops (lesson 06)."""
    return {
        "model": model,
        "trainable": lora.count_parameters(model)[0] if history else 0,
        "history": history,
        "reply": reply_losses(model),
        "plain": finetune.window_losses(model, val_ids),
        "stops": finetune.stops(model, chat, prompts, max_new_tokens=48),
    }


def train_sft(model, config: TrainConfig) -> dict:
    batches = finetune.sft_batches(mixture, chat, block)
    result = fit(model, batches, finetune.sft_loss, config, progress=False)
    return scored(model, result.history)


def show(runs: dict) -> None:
    print(
        f"{'SFT, 120 steps':<15}{'trainable':>10}{'reply loss':>14}{'plain text':>15}{'stops':>13}"
    )
    for name, r in runs.items():
        print(
            f"{name:<15}{r['trainable']:>10,}{format(stats.mean(r['reply']), '.2f'):>14}"
            f"{format(stats.mean(r['plain']), '.3f'):>15}"
            f"{format(stats.proportion(sum(r['stops']), 50), '.2f'):>13}"
        )


full = pretrained.checkpoint("sft_short")  # lesson 06's run, from the cache
runs = {
    "before (bpe)": scored(grown, []),
    "full": scored(full.build_model().eval(), full.extra["history"]),
    "LoRA (rank 8)": train_sft(adapted, lora_config),
}
show(runs)

# %% [markdown]
# The table's SEs are those of each mean alone; two models scored on the same conversations and
# windows compare better through the **paired** difference (`stats.difference`), which cancels
# what the items share (a hard conversation is hard for both):


# %% tags=["nbval-ignore-output"]
def compare(a: str, b: str) -> dict:
    found = {
        "reply": stats.difference(runs[a]["reply"], runs[b]["reply"]),
        "plain": stats.difference(runs[a]["plain"], runs[b]["plain"]),
        "stops": stats.difference(runs[a]["stops"], runs[b]["stops"]),
    }
    print(f"{a} - {b}: " + ", ".join(f"{k} {v:.3f}" for k, v in found.items()))
    return found


lora_vs_full = compare("LoRA (rank 8)", "full")
assert lora_vs_full["reply"].value > 0 and lora_vs_full["reply"].beyond_noise(3)
assert lora_vs_full["plain"].value < 0 and lora_vs_full["plain"].beyond_noise(3)
assert sum(runs["LoRA (rank 8)"]["stops"]) == 0 and sum(runs["full"]["stops"]) >= 40

# %% [markdown]
# LoRA trains 65,536 numbers instead of 919,040 (7.1%), and AdamW's two moments per trainable
# number shrink with them: for a 7-billion-parameter model, 56 GB of optimizer state in full,
# 4 GB at this share. Compute per step shrinks far less than that: the frozen model still runs
# forward and backward (the gradients must flow through every frozen layer to reach the adapters
# below it; only the frozen weights' own gradient products are skipped, about a third of a
# step's arithmetic), and the adapters add products of their own. LoRA's gain is memory. (Time per step
# is not in the table: a timing varies with the machine and its load.)
#
# After the same 120 steps, LoRA's reply loss is higher than full fine-tuning's, by
# 0.450 ± 0.054, and its plain-text loss lower (it forgot less), by 0.124 ± 0.008: both many SEs
# of the paired difference.
# And look at the last column: LoRA's model **never stops**. Its token table is frozen, so the
# three new tokens keep the mean rows they were born with, and `<|end|>` stays as unlikely as
# before. Is the higher reply loss the price of fewer parameters, or of that frozen table? Train
# the whole (tied) table with the adapters, `trainable=("wte",)` (Hugging Face's LoRA library,
# PEFT, can train just the new rows, `trainable_token_indices`), and see:

# %% tags=["nbval-ignore-output"]
with_table = lora.add_lora(
    finetune.grow_vocabulary(base, chat.vocab_size), rank=8, alpha=16, trainable=("wte",)
)
runs["LoRA + table"] = train_sft(with_table, lora_config)
show(runs)
table_vs_full = compare("LoRA + table", "full")
table_vs_lora = compare("LoRA + table", "LoRA (rank 8)")
assert table_vs_lora["reply"].value < 0 and table_vs_lora["reply"].beyond_noise(3)
assert sum(runs["LoRA + table"]["stops"]) >= 40
assert not table_vs_full["reply"].beyond_noise(2)
assert table_vs_full["plain"].value > 0 and table_vs_full["plain"].beyond_noise(3)

# %% [markdown]
# The three runs' training losses, recorded every 5 steps (each point the loss of one batch of 8
# conversations, so the lines wobble):

# %% tags=["nbval-ignore-output"]
from llmlab import viz

trained = ("full", "LoRA (rank 8)", "LoRA + table")
curves = {
    name: [{k: r[k] for k in ("step", "loss")} for r in runs[name]["history"]] for name in trained
}
for name in trained[1:]:
    gap = stats.difference([r["loss"] for r in curves[name]], [r["loss"] for r in curves["full"]])
    print(f"{name} - full, training loss at the {gap.n} logged steps: {gap:.2f}")
viz.loss_curve(curves, title="SFT from bpe, 120 steps: full fine-tuning and LoRA")

# %% [markdown]
# What to see: the three lines rise and fall together, because all three runs read the same
# batches in the same order (`fit` draws them from its seed), so a hard batch is hard for all.
# Full fine-tuning and LoRA with its table trainable lie on top of each other, 0.02 ± 0.02 apart
# on average (the paired SE over the 24 logged batches); plain LoRA's line runs above both from
# the first steps, by 0.37 ± 0.03: the frozen table holds it back on the training batches too,
# not only on the held-out conversations.

# %% [markdown]
# With its table trainable, LoRA learns to stop (50 of 50), and its reply loss is the same as
# full fine-tuning's: 0.002 ± 0.018 apart, well within noise, with 196,992 trainable numbers
# against 919,040. So what held plain LoRA back in this run was the frozen table, not its
# small number of parameters as such. The price is elsewhere: its plain-text loss is now the
# worst of the three, 0.064 ± 0.009 above full fine-tuning's. The tied table is also the output
# layer that scores plain text, but full fine-tuning moved that table too, and every other
# weight besides; why the table with adapters forgot more, one run on one seed does not say.

# %% [markdown]
# And LoRA costs nothing when the model is used: fold `(alpha / r) · B A` into each `W` and the
# model is the same shape as before, computing the same thing (up to float rounding, whose size
# differs from one machine to the next):

# %% tags=["nbval-ignore-output"]
from llmlab.chat import render_prompt

probe = torch.tensor([render_prompt([("user", "Which play is HORATIO in?")], chat)])
with torch.no_grad():
    unmerged = adapted(probe)[0]
    lora.merge_lora(adapted)
    merged = adapted(probe)[0]
print(f"largest difference merged vs unmerged: {(merged - unmerged).abs().max().item():.0e}")
assert torch.allclose(merged, unmerged, atol=1e-4)

# %% [markdown]
# ## 5. Talk to a character

# %% [markdown]
# The chat box sends your line to the fine-tuned model as `"To HAMLET: ..."` (choose whom you
# address, or no one for a question), shows the reply as it is generated, token by token, and
# keeps the conversation as the next prompt. Toggle *answer with the base model* to compare.
# Expect half-English from both (lesson 06 says why, in numbers): what differs is that the
# fine-tuned model answers in one turn and stops.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import ChatBox

chat_box = ChatBox(assistant, chat, base_model=base, play="hamlet", character="HAMLET")
chat_box.text.value = "My lord, how fares your grace?"
chat_box.send.click()
chat_box

# %% [markdown]
# ## Recap

# %% [markdown]
# - A **classification head** reads the trunk's vector at each row's last real token (you built
#   that pooling) and scores the classes; every way of training it beat the majority class by
#   at least four SEs, and none beat another (or the bag of words) by three: on 900 test
#   speeches and one seed, a ranking needs differences this table does not show.
# - **LoRA** trains a low-rank update `(alpha / r) B A` beside frozen weights, applied as two thin
#   products (you built the forward pass): a small fraction of the parameters and of the
#   optimizer memory, and it merges into `W` for free afterwards.
# - For SFT, what held plain LoRA back was the frozen token table: new tokens need trainable
#   rows.
#
# **Next:** lesson 08 teaches the model *which* of its answers people prefer: rankings, a reward
# model, and DPO.

# %% [markdown]
# ## Check your understanding
#
# A few questions on what this lesson measured. Their answers are computed from the numbers
# above, so if a run of yours measured something else, the answer key follows your run.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

few, most = min(trainable[n] for n in rates), max(trainable[n] for n in rates)
ranked = spread.beyond_noise(3)
trained_plain = {name: stats.mean(runs[name]["plain"]).value for name in trained}
forgot_most, runner_up = sorted(trained, key=trained_plain.get, reverse=True)[:2]
forgot_gap = stats.difference(runs[forgot_most]["plain"], runs[runner_up]["plain"])
assert forgot_gap.value > 0 and forgot_gap.beyond_noise(3)  # the question's premise: a clear top
caught_up = (
    table_vs_lora["reply"].value < 0
    and table_vs_lora["reply"].beyond_noise(3)
    and sum(runs["LoRA + table"]["stops"]) >= 40
    and not table_vs_full["reply"].beyond_noise(2)
)
helped = table_vs_lora["reply"].value < 0 and table_vs_lora["reply"].beyond_noise(3)
table_options = [
    "It caught up with full fine-tuning's reply loss (within noise) and learned to stop",
    "It improved on plain LoRA, but stayed behind full fine-tuning",
    "Nothing measurable: the token table was not what held it back",
]
assert share < 0.1  # LoRA trains under a tenth of the numbers
quiz = Quiz(
    [
        Question(
            f"The genre head was trained five ways, with {few:,} to {most:,} trainable numbers. "
            "Can this run rank the five ways by accuracy on the 900 held-out speeches?",
            [
                "Yes: the best beats the worst by more than three SEs of their paired difference",
                "No: the best minus the worst is under three SEs, on one seed",
            ],
            "Yes: the best beats the worst by more than three SEs of their paired difference"
            if ranked
            else "No: the best minus the worst is under three SEs, on one seed",
            f"Best minus worst ({best} minus {worst}): {spread:.3f}, z = {spread.z:.1f}. Every "
            "way beat the majority class; telling them apart needs a difference several times "
            "its SE, and more trainable numbers are no guarantee of one.",
        ),
        Question(
            f"LoRA trains {share:.1%} of the numbers full fine-tuning trains. What shrinks in "
            "proportion?",
            [
                "The optimizer's memory: AdamW keeps two numbers per trainable number",
                "The compute per training step: the frozen layers are skipped going backward",
                "The model a user runs: it has fewer weights after merging",
            ],
            "The optimizer's memory: AdamW keeps two numbers per trainable number",
            f"AdamW's state: {8 * full_trainable / 1e6:.2f} MB in full, "
            f"{8 * lora_trainable / 1e6:.2f} MB for LoRA. Compute shrinks far less: the "
            "gradient still flows back through every frozen layer to reach the adapters below "
            "it (only the frozen weights' own gradients are skipped). And a merged model has "
            "exactly the shape of the one it came from.",
        ),
        Question(
            "Plain LoRA's reply loss stayed above full fine-tuning's, and it never stopped. "
            "What happened when its token table was made trainable too?",
            table_options,
            table_options[0] if caught_up else table_options[1] if helped else table_options[2],
            f"LoRA + table minus plain LoRA, reply loss: {table_vs_lora['reply']:.3f}; minus full "
            f"fine-tuning: {table_vs_full['reply']:.3f}; stops: "
            f"{sum(runs['LoRA + table']['stops'])} of {len(prompts)}. The new chat tokens are rows "
            "of that table: while it is frozen, <|end|> keeps the mean row it was born with and "
            "stays as unlikely as before, so the model never learns to stop.",
        ),
        Question(
            "Of the three SFT runs, which forgot the most of its first job (the highest "
            "plain-text loss on the held-out plays)?",
            list(trained),
            forgot_most,
            "Plain-text loss: "
            + ", ".join(f"{name} {trained_plain[name]:.3f}" for name in trained)
            + f"; {forgot_most} minus {runner_up}, paired over the same windows: {forgot_gap:.3f}. "
            "LoRA + table trains the tied table that also scores plain text; full fine-tuning "
            "moved that table too, and every other weight: why one forgot more than the other, "
            "one run on one seed does not say.",
        ),
    ]
)
quiz
