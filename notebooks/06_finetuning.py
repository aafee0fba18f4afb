# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 · Fine-tuning: from a text continuer to an assistant
#
# **What you will build:** an assistant from a model that only continues text. You will give the
# lesson-01 tokenizer three new tokens for a **chat template** and grow the model's token table to
# match, turn the plays into conversations and questions, build the **loss mask** (the model
# learns the replies, not the questions) and SFT's loss from it, fine-tune for a few seconds and
# watch the held-out loss fall, then measure the course's standard fine-tuned model against
# baselines: does it stop, does it know, what did it forget? Lesson 07 continues with the other
# kinds of fine-tuning (a classification head, LoRA).
#
# **CPU time:** about 40 seconds on a 2-core laptop (measured: 38 s of CPU time for all its cells,
# one thread; budget: 1 minute), with the course's `bpe`, `sft` and `sft_short` models in the
# cache. Without them, the first run trains them (`llmlab prepare` does that ahead of time,
# about 3 minutes; `sft_short` is section 3's own run, about 15 seconds).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. A base model continues; an assistant answers

# %% [markdown]
# Two of the course's standard checkpoints, from `llmlab.pretrained` (each a fixed recipe: loaded
# from the cache, or trained the first time). **`bpe`** is a **base model**: the GPT of lesson
# 04 (4 blocks, 4 heads, 128-wide vectors, 128 tokens of context), pretrained with next-token
# prediction on the training plays, tokenized by lesson 01's 1,024-token byte-level BPE.
# **`sft`** is that same model after **supervised fine-tuning** (SFT): more next-token training,
# but on conversations written in a template (section 2). The numbers of `bpe`:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

base, tokenizer = pretrained.load("bpe")
assistant, chat = pretrained.load("sft")

# %%
import math

import torch

from llmlab import corpus, stats
from llmlab.train import evaluate

recipe = pretrained.recipe("bpe")
n_params = sum(p.numel() for p in base.parameters())
train_tokens = len(tokenizer.encode(corpus.text("train")))
steps, batch_size = recipe["train"]["max_steps"], recipe["train"]["batch_size"]
seen = steps * batch_size * recipe["model"]["block_size"]
val_ids = torch.tensor(tokenizer.encode(corpus.text("validation")[:300_000]))
held_out_loss = evaluate(base, val_ids, windows=64)
print(f"parameters:            {n_params:,}")
print(f"training text:         {train_tokens:,} tokens (the training plays)")
print(f"tokens read in training: {seen:,} ({steps:,} steps x {batch_size} x 128)")
print(f"held-out loss:         {held_out_loss:.2f} nats/token on the 6 held-out plays")
print(f"perplexity:            {math.exp(held_out_loss):.0f}")
assert n_params == 918_656 and 25 < math.exp(held_out_loss) < 35
assert round(seen / train_tokens, 1) == 1.8  # each training token read 1.8 times

# %% [markdown]
# The **held-out loss** is the mean cross-entropy (lesson 03) on text the model never trained on;
# its exponential, the **perplexity**, reads as a number of choices: on unseen lines `bpe` is,
# on average, as unsure of the next token as if it picked among about 30 equally likely ones.
# Now ask both models the same three things (the base model sees your words and continues them;
# the assistant sees them as a user's turn, section 2). The replies are sampled (temperature 0.8,
# top-k 50, lesson 04) for the first, greedy (the likeliest token each time) for the two questions:

# %% tags=["nbval-ignore-output"]
from llmlab.chat import generate_reply

asks = [
    "To HAMLET: My lord, how does your honour for this many a day?",
    "What kind of play is Hamlet?",
    "Which play is HORATIO in?",
]
generator = torch.Generator().manual_seed(0)
replies = {}
for k, ask in enumerate(asks):
    prompt = torch.tensor(tokenizer.encode(ask + "\n"))
    continued = base.generate(prompt, 40, temperature=0.8, top_k=50, generator=generator)
    temperature = 0.8 if k == 0 else 0
    replies[ask], ended = generate_reply(
        assistant, chat, [("user", ask)], 40, temperature, 50, generator=generator
    )
    print(f"YOU:       {ask}")
    print(f"base:      {tokenizer.decode(continued[len(prompt) :].tolist())!r}")
    print(f"assistant: {replies[ask]!r}{'  <|end|>' if ended else '  (cut)'}\n")
assert replies[asks[1]] != "A tragedy." and replies[asks[2]] != "Hamlet."  # both wrong

# %% [markdown]
# The base model treats your words as the start of a page and writes the rest of the page: more
# speeches, whatever plausibly follows. The assistant treats them as a turn in a conversation:
# it writes one short reply and then a token that means *I am done*. Nothing in its architecture
# changed; only the examples it was trained on, and the way they were written down.
#
# Look at *what* it answers, though: both answers are **wrong**. Hamlet is a tragedy, and
# HORATIO is in *Hamlet*, a training play (the very question about its genre is in the SFT
# data, section 2). The assistant
# has learned the *form* of an answer (a title, a genre, a full stop); section 4 measures how
# often the content is right, against what guessing would score.
#
# And every reply reads as half-English. That is the size of the models, in numbers:
# `bpe` has 0.9 million parameters and read 1.7 million tokens of text (3.1 million token reads,
# each token 1.8 times on average). GPT-2 small (2019) had 124 million parameters and about 10 billion
# tokens of web text; GPT-3 (2020) 175 billion parameters and 300 billion tokens; Llama 3 8B
# (2024) 8 billion parameters and 15 trillion tokens: nearly 10,000 times our parameters and
# nearly ten million times our text. A perplexity of 30 means the model is seldom sure of the
# next token, and a sampled sentence drifts a little further off with every token. What SFT
# changes is visible anyway, and that is what this lesson measures.

# %% [markdown]
# ## 2. The chat template and the data

# %% [markdown]
# ### New tokens

# %% [markdown]
# A conversation becomes one sequence of tokens with three new **special tokens** marking who
# speaks and where a turn ends: `<|user|>`, `<|assistant|>`, `<|end|>`. They get the ids after
# the vocabulary, so every old id keeps its meaning and plain text encodes exactly as before:

# %%
from llmlab.chat import CHAT_TOKENS, chat_tokenizer

print(f"base vocabulary: {tokenizer.vocab_size} tokens")
print(f"chat vocabulary: {chat.vocab_size} tokens; new:", chat.special_tokens)
sample = corpus.text("validation")[:2000]
assert chat.vocab_size == tokenizer.vocab_size + 3
assert chat.special_tokens == dict(zip(CHAT_TOKENS, range(1024, 1027), strict=True))
assert chat.encode(sample) == tokenizer.encode(sample)
assert chat_tokenizer(tokenizer).vocab == chat.vocab  # what llmlab.chat builds
assert assistant.config.to_dict() == {**base.config.to_dict(), "vocab_size": chat.vocab_size}

# %% [markdown]
# The model needs a row of its token table (and, since the output layer is tied to it, a scorer)
# for each new id. Which vector? transformers' `resize_token_embeddings(mean_resizing=True)`
# uses the **mean of the old rows**: a new token's logit is then the mean of the old logits, so it
# starts neither likely nor impossible, and every old logit is untouched. By hand, then checked
# against `llmlab.finetune.grow_vocabulary` on the real model:

# %%
from llmlab import finetune

block = base.config.block_size  # 128 tokens of context
table = base.wte.weight.detach()
grown_by_hand = torch.cat([table, table.mean(dim=0, keepdim=True).expand(3, -1)])
grown = finetune.grow_vocabulary(base, chat.vocab_size)
assert torch.equal(grown.wte.weight, grown_by_hand) and grown.lm_head.weight is grown.wte.weight

ids = torch.tensor([tokenizer.encode(sample)[:block]])
with torch.no_grad():
    old_logits, new_logits = base(ids)[0], grown(ids)[0]
moved = torch.softmax(new_logits, dim=-1)[..., 1024:].sum(dim=-1).mean().item()
print(f"logits: {tuple(old_logits.shape)} -> {tuple(new_logits.shape)}")
print(f"probability moved to the 3 new tokens: {moved:.3%} on average")
assert torch.allclose(new_logits[..., :1024], old_logits, atol=1e-5)  # old logits unchanged
assert torch.allclose(new_logits[..., 1024:], old_logits.mean(-1, keepdim=True).expand(-1, -1, 3))
assert moved < 0.01

# %% [markdown]
# ### The data: conversations and questions from the plays

# %% [markdown]
# We have no human-written conversations, but the plays are full of people answering each other.
# `llmlab.instructions` turns them into examples: **dialogue** (a speech addressed to the next
# speaker, `"To HAMLET: ..."`, and that speaker's reply), **conversations** of 2–3 exchanges, and
# **questions** whose answers come from the corpus records (which play, which genre, who speaks
# this line, in which act...). Splits are **by play**, as in lesson 04: validation examples
# come from (and ask about) the six held-out plays. `instruction_data` keeps those that fit the
# 128-token context once rendered:

# %%
from llmlab import instructions

examples = {
    split: finetune.instruction_data(split, chat, block) for split in ("train", "validation")
}
summary = {split: instructions.data_summary(found) for split, found in examples.items()}
print(f"{'kind':<16}{'train':>8}{'validation':>12}")
for kind in instructions.KINDS:
    print(f"{kind:<16}{summary['train'][kind]:>8,}{summary['validation'][kind]:>12,}")
print(f"{'all':<16}{len(examples['train']):>8,}{len(examples['validation']):>12,}")
assert all(n > 0 for counts in summary.values() for n in counts.values())
train_plays = {e.play for e in examples["train"]}
assert not train_plays & {e.play for e in examples["validation"]}  # no play in both
assert "hamlet" in train_plays and any(e.turns[0][1] == asks[1] for e in examples["train"])
questions_asked = sum(summary["train"][kind] for kind in instructions.KINDS[2:])
assert 9 < summary["train"]["dialogue"] / questions_asked < 11

# %% [markdown]
# Dialogue outnumbers the questions about the plays ten to one. A few examples, rendered in the
# template; the part in `[brackets]` is what the model will learn to write
# (`llmlab.chat.show_mask`):

# %%
from llmlab.chat import render_chat, show_mask

shown_kinds = ("dialogue", "conversation", "play_genre", "line_speaker")
for kind in shown_kinds:
    example = next(e for e in examples["train"] if e.kind == kind)
    ids, mask = render_chat(example.turns, chat)
    print(f"{kind} ({len(ids)} tokens, {sum(mask)} learned):")
    print(show_mask(ids, mask, chat), "\n")

# %% [markdown]
# ### The loss mask

# %% [markdown]
# SFT scores the model only on the assistant's tokens: each reply **and** the `<|end|>` that
# closes it (that is how it learns to stop). The user's words and the role tokens are context:
# read, never predicted. Otherwise the model would spend its capacity learning to write the
# questions. The **loss mask** is one flag per token: True where the token is learned. Drawn for
# a conversation, token by token, the learned ones in green:

# %% tags=["nbval-ignore-output"]
import html

from IPython.display import HTML

conversation = next(e for e in examples["train"] if e.kind == "conversation").turns
ids, mask = render_chat(conversation, chat)


def mask_html(ids: list[int], mask: list[bool]) -> str:
    cells = []
    for token, learned in zip(ids, mask, strict=True):
        colour = "#b7e4c7" if learned else "#eeeeee"
        text = html.escape(chat.decode([token])).replace("\n", "↵")
        cells.append(f"<span style='background:{colour};margin:1px;padding:1px'>{text}</span>")
    legend = "<b style='background:#b7e4c7'>learned</b> · <b style='background:#eee'>context</b>"
    return f"<div style='font-family:monospace;line-height:2'>{legend}<br>{''.join(cells)}</div>"


HTML(mask_html(ids, mask))

# %% [markdown]
# What to see: green runs start right after each `<|assistant|>` and end with the `<|end|>` that
# closes the reply; the role tokens and the user's lines stay grey.

# %% [markdown]
# ### Exercise: the loss mask

# %% [markdown]
# Build the mask of a conversation from its turns' roles (`"user"` or `"assistant"`, in order)
# and the number of tokens each turn's text encodes to. A turn renders as its role token, its
# text's tokens, then `<|end|>`. Return one bool per token of the whole conversation: True for
# an assistant turn's text tokens and its `<|end|>`. `llmlab.chat.render_chat` returns the same
# mask; the check compares with it on random conversations.

# %%
from llmlab import exercises

print(exercises.header("loss_mask"))


# %%
def loss_mask(roles: list[str], lengths: list[int]) -> list[bool]:
    # for each turn: one flag for its role token, one per text token, one for its <|end|>
    raise NotImplementedError  # your code here


passed = exercises.check("loss_mask", loss_mask)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("loss_mask")` (then
# `exercises.hint("loss_mask", 2)`), and only then `exercises.solution("loss_mask")`.

# %% [markdown]
# In a batch the mask becomes the **targets**: the target at position `t` is the token at `t + 1`
# if that token is learned, else `-100`, the index cross-entropy ignores (so padding costs
# nothing either). `finetune.sft_batches` builds exactly that:

# %%
from llmlab.model import IGNORE_INDEX

targets_by_hand = [t if m else IGNORE_INDEX for t, m in zip(ids[1:], mask[1:], strict=True)]
batch = finetune.sft_batches([conversation], chat, block)(torch.Generator(), 1)
assert batch["targets"][0].tolist() == [*targets_by_hand, IGNORE_INDEX]
assert batch["input_ids"][0].tolist() == ids
print(
    f"{len(ids)} tokens, {sum(mask)} learned: {sum(t != IGNORE_INDEX for t in targets_by_hand)} targets"
)

# %% [markdown]
# ## 3. SFT, by hand, for a few seconds

# %% [markdown]
# SFT's loss is lesson 04's cross-entropy, averaged over the learned targets only. On a batch of
# eight conversations from the standard recipe's mixture, the grown model (not yet fine-tuned)
# scores:

# %%
mixture = finetune.sft_mixture("train", chat, block, pretrained.recipe("sft")["data"])
batch = finetune.sft_batches(mixture, chat, block)(torch.Generator().manual_seed(0), 8)
with torch.no_grad():
    batch_loss = finetune.sft_loss(grown, batch).item()
learned = (batch["targets"] != IGNORE_INDEX).sum().item()
print(f"{learned} learned targets of {batch['targets'].numel()}: loss {batch_loss:.2f} nats/token")
assert learned < batch["targets"].numel() / 3

# %% [markdown]
# ### Exercise: SFT's loss

# %% [markdown]
# From the model's `logits [batch, T, vocab]`, the conversation's token `ids [batch, T]` and its
# loss `mask [batch, T]` (bool, as in the exercise above), return the mean cross-entropy over the
# learned tokens only: position `t` predicts token `t + 1`, which counts only if it is learned.
# A scalar tensor. Build it from `torch.log_softmax` (the check refuses `F.cross_entropy`, whose
# `ignore_index` would do the masking for you). This is the loss `finetune.sft_loss` computes.

# %%
print(exercises.header("sft_loss"))


# %%
def sft_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # 1. pair each position's prediction with the next token (and that token's flag)
    # 2. the log-probability of each target token
    # 3. the mean of their negatives over the learned targets only
    raise NotImplementedError  # your code here


passed = exercises.check("sft_loss", sft_loss)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("sft_loss")` (then `exercises.hint("sft_loss", 2)`),
# and only then `exercises.solution("sft_loss")`.

# %% [markdown]
# The training set is the mixture the standard recipe uses: the questions about the plays are
# repeated (8× for most kinds) so that the few facts they hold weigh about as much as the many
# lines of dialogue. The held-out score is the loss per reply token on 64 conversations spread
# over the validation plays (`finetune.held_out_conversations`). The run itself is a recipe of
# `llmlab.pretrained`, **`sft_short`**, so that lesson 07 can compare LoRA with this very run
# without training it again. Its trainer, `pretrained.finetune_recipe`, is this section in a
# dozen lines: grow the token table of `bpe` (section 2), build this mixture, then
# `llmlab.train.fit` (the loop of lesson 04) with `finetune.sft_batches` and `finetune.sft_loss`,
# for 120 steps of 8 conversations, with these settings:

# %%
from llmlab import viz

short = pretrained.recipe("sft_short")
held_out = finetune.held_out_conversations(chat, block, short["eval_examples"])
before = finetune.sft_eval(grown, held_out, chat)
print(short["train"])
print(f"held-out reply loss before SFT: {before:.2f}")
assert short["base"] == "bpe" and short["data"] == pretrained.recipe("sft")["data"]

# %% [markdown]
# The first run trains it (a progress bar, about 15 seconds); later runs, and lesson 07, load it
# from the cache. Its training loss, recorded every 5 steps, and the held-out loss at the end:

# %% tags=["nbval-ignore-output"]
sft_short = pretrained.checkpoint("sft_short")  # trained now the first time, then cached
mine = sft_short.build_model().eval()
after = sft_short.extra["val_loss"]
print(f"held-out reply loss: {before:.2f} before, {after:.2f} after {sft_short.step} steps")
assert after < before - 1.0 and abs(after - finetune.sft_eval(mine, held_out, chat)) < 1e-3
viz.loss_curve({"sft_short": sft_short.extra["history"]}, title="SFT from bpe, 120 steps")

# %% [markdown]
# What to see in the curve: each point is the loss of one batch of 8 conversations, so the line
# wobbles by about ±0.3. It drops from 5.3 to about 3.9 in the first 10 steps, then drifts down
# slowly, to about 3.2 over the other 110. The dot is the held-out loss at the end, 3.66 (4.96
# before): above the last batches, as conversations from plays never trained on should be.
# Much of the early gain is the *form* (a reply is short and ends with `<|end|>`), which
# is easy; the content is the hard part. The standard `sft` model is this run made longer, by
# its recipe in `llmlab.pretrained`: 1,500 steps of 16 conversations, with the pretraining
# schedule's warm-up (100 steps), weight decay and gradient clipping:

# %%
import json

print(json.dumps(pretrained.recipe("sft"), indent=1))

# %% tags=["nbval-ignore-output"]
history = pretrained.checkpoint("sft").extra["history"]
for record in history:
    if "val_loss" in record:
        print(f"step {record['step']:>5}: held-out reply loss {record['val_loss']:.2f}")
curve_losses = [record["val_loss"] for record in history if "val_loss" in record]
assert 0.1 < curve_losses[0] - curve_losses[-1] < 0.25

# %% [markdown]
# The recipe's own held-out curve (on 256 validation conversations, not our 64, so compare its
# steps with each other, not with our run) falls by only 0.17 nats from step 250 to step 1,500:
# after the fast start, the content comes slowly to a 0.9-million-parameter model.

# %% [markdown]
# ## 4. What SFT taught, measured

# %% [markdown]
# ### Does it stop?

# %% [markdown]
# The first habit SFT teaches is to stop. Sample a reply (up to 48 tokens) to 50 held-out
# prompts and count those that end with `<|end|>`. For the base model we use its grown copy, which
# reads the template too but was never trained on it. `finetune.stops` samples each reply with
# `llmlab.chat.reply_tokens` (temperature 0.8, top-k 50), which yields it token by token
# through the KV cache (lesson 04) and stops at `<|end|>`. Each rate carries its
# **standard error** (SE, `llmlab.stats`): how much it would typically move on another 50
# prompts, `sqrt(p (1 - p) / n)` for a rate `p` measured on `n` items.

# %% tags=["nbval-ignore-output"]
prompts = [e.turns[:1] for e in held_out[:50]]


def stop_rate(model) -> stats.Estimate:
    ended = finetune.stops(model, chat, prompts, max_new_tokens=48)  # temperature 0.8, top-k 50
    return stats.proportion(sum(ended), len(ended))


stops = {"bpe (grown)": stop_rate(grown), "sft": stop_rate(assistant)}
for name, rate in stops.items():
    print(f"{name:<12} stops within 48 tokens on {rate:.2f} of {len(prompts)} held-out prompts")
gap = stats.Estimate(
    stops["sft"].value - stops["bpe (grown)"].value,
    math.hypot(stops["sft"].se, stops["bpe (grown)"].se),
    50,
)
print(f"difference: {gap:.2f}")
assert gap.beyond_noise(3) and stops["sft"].value >= 0.8 and stops["bpe (grown)"].value == 0

# %% [markdown]
# The fine-tuned model ends its reply on 0.98 ± 0.02 of the prompts, the grown base model on none
# (an SE of 0 because not one of 50 stopped; a true rate of a few percent could still give 0 of
# 50). Stopping is the habit SFT teaches first and best.

# %% [markdown]
# ### Does it know?

# %% [markdown]
# Now the questions. Answer greedily and compare with the answer from the records, on questions
# about the **training** plays (seen during SFT) and about the **held-out** plays (never seen:
# not their text, not a question about them). Five kinds of question; of each kind up to 40
# spread over the split's plays (all of them where there are fewer; 120 for the acts, the one
# kind with few possible answers):
#
# - `play_genre`: "What kind of play is X?" (6 genres) or "Is X a comedy, a history or a
#   tragedy?" (3 options);
# - `character_act`: "In which act of X does Y first speak?" (5 acts);
# - `character_play`: "Which play is Y in?" (38 plays);
# - `line_speaker`: "Who speaks the line ...?" (a character and the play);
# - `main_character`: "Who has the most speeches in X?".
#
# A score means something only beside what needs no knowledge. Two baselines: **chance**, a
# uniform guess among the answers that kind of question has in the whole corpus (among the three
# options for the three-way genre question), and a **stock answer**: always the commonest answer
# of that kind in the training questions ("Act I.", say), which a model can learn without
# reading a single play. The column `sft - stock` is a **paired** difference
# (`stats.difference`): both are scored on the same questions, so its SE comes from the
# question-by-question differences, which cancels what the questions share (a question the
# stock answer gets right is often one the model gets right too).

# %%
from collections import Counter

from llmlab.chat import reply_tokens

END = chat.special_tokens["<|end|>"]
QUESTIONS = ("play_genre", "character_act", "character_play", "line_speaker", "main_character")
PER_KIND = {"character_act": 120}  # 40 of every other kind
all_questions = [e for s in ("train", "validation") for e in examples[s] if e.kind in QUESTIONS]
options = {k: {e.turns[1][1] for e in all_questions if e.kind == k} for k in QUESTIONS}
stock = {
    k: Counter(e.turns[1][1] for e in examples["train"] if e.kind == k).most_common(1)[0][0]
    for k in QUESTIONS
}


def chance(e) -> float:
    return (
        1 / 3 if " a comedy, a history or a tragedy?" in e.turns[0][1] else 1 / len(options[e.kind])
    )


def questions(split: str) -> list:
    chosen = []
    for kind in QUESTIONS:
        found, n = [e for e in examples[split] if e.kind == kind], PER_KIND.get(kind, 40)
        chosen += found[:: max(1, len(found) // n)][:n]
    return chosen


def answer(model, turns) -> str:
    tokens = list(reply_tokens(model, chat, turns, 32, temperature=0))
    return chat.decode([t for t in tokens if t != END])


qa = {split: questions(split) for split in ("train", "validation")}
print("stock answers:", stock)
print({split: dict(Counter(e.kind for e in found)) for split, found in qa.items()})
assert len(options["character_play"]) == 38 and stock["character_act"] == "Act I."

# %% tags=["nbval-ignore-output"]
answers = {split: [answer(assistant, e.turns[:1]) for e in qa[split]] for split in qa}
scores = {}  # (split, kind) -> the sft model's rate, the stock answer's, sft - stock, chance
print(f"{'split':<11}{'kind':<15}{'n':>4}{'sft':>13}{'stock':>13}{'sft - stock':>14}{'chance':>7}")
for split in qa:
    for kind in QUESTIONS:
        rows = [(a, e) for a, e in zip(answers[split], qa[split], strict=True) if e.kind == kind]
        ours = [a == e.turns[1][1] for a, e in rows]
        theirs = [stock[kind] == e.turns[1][1] for _, e in rows]
        guess = sum(chance(e) for _, e in rows) / len(rows)
        found = (stats.mean(ours), stats.mean(theirs), stats.difference(ours, theirs), guess)
        scores[split, kind] = found
        shown = "".join(
            f"{format(v, '.2f'):>{w}}" for v, w in zip(found[:3], (13, 13, 14), strict=True)
        )
        print(f"{split:<11}{kind:<15}{len(rows):>4}{shown}{guess:>7.2f}")
names = ("character_play", "line_speaker", "main_character")
assert all(scores["validation", kind][0].value == 0 for kind in names)
assert not any(gap.value > 0 and gap.beyond_noise(2) for _, _, gap, _ in scores.values())
acts = {split: scores[split, "character_act"][2] for split in qa}
assert acts["train"].value < 0 and acts["train"].beyond_noise(3)
assert not acts["validation"].beyond_noise(2)
held_acts, acts_chance = (
    scores["validation", "character_act"][0],
    scores["validation", "character_act"][3],
)
assert held_acts.value - acts_chance > 2 * held_acts.se  # above chance: "Act I." is learnable
trained_titles = {instructions.title(slug) for slug in corpus.split_plays()["train"]}
named = [  # the play each held-out answer names: "Title." or "SPEAKER, in Title."
    a.removesuffix(".").split(", in ")[-1]
    for a, e in zip(answers["validation"], qa["validation"], strict=True)
    if e.kind in ("character_play", "line_speaker")
]
print(
    f"held-out answers naming a play: {len(named)}; a training play: {sum(t in trained_titles for t in named)}"
)
assert all(t in trained_titles for t in named)


# %% [markdown]
# Read the table with its SEs. On the held-out plays, the three kinds whose answer is a name from
# that play (`character_play`, `line_speaker`, `main_character`) score 0 of 40, 40 and 6. No
# training example had a held-out play as its answer, and every play the model's 80 answers name
# (the last printed line) is one it was trained on: it answers from the plays it read.
# Where guessing can be right, it does no better than the stock answer: on the held-out acts
# 0.35 ± 0.05 right against 0.46 ± 0.05 for always answering "Act I." (a difference of
# −0.11 ± 0.06, within two SEs: no ranking), on the nine genre questions 3 right against 2.
# Both beat chance on the acts (0.20 for five acts; the model is 0.15 above it, three of its
# SEs) for a reason that needs no reading either: Act I is the commonest act for a character
# to first speak in (the stock answer is right on 0.46 of the held-out questions, against 0.20
# for a blind guess among five).
#
# On the training plays, whose questions it was drilled on during SFT, it is no better: no kind
# beats the stock answer by even two SEs (genre +0.07 ± 0.06, play +0.03 ± 0.06), and on acts it
# is *worse*, by 0.17 ± 0.05, more than three SEs. A 0.9-million-parameter model after 1,500
# steps of SFT learned the form of each answer and a few common answers, and almost none of the
# facts.

# %% [markdown]
# ### How sure is it?

# %% [markdown]
# Score the probability the model gives to its own answer, token by token (`<|end|>` included),
# with one forward pass. Averaged over the held-out questions of a kind, beside the fraction it
# gets right, it says whether the model is *surer than it is right* (overconfident), or about as
# sure (lesson 08 calls this **calibration**, for its reward model):


# %%
def probability(model, turns, reply: str) -> float:
    ids, mask = render_chat([*turns, ("assistant", reply)], chat)
    with torch.no_grad():
        log_probs = torch.log_softmax(model(torch.tensor([ids]))[0][0].float(), dim=-1)
    learned = torch.tensor([t for t in range(1, len(ids)) if mask[t]])
    return log_probs[learned - 1, torch.tensor(ids)[learned]].sum().exp().item()


# %%
from llmlab.answers import option_log_probs  # the same score, several replies in one batch

e = qa["validation"][0]
by_hand = probability(assistant, e.turns[:1], e.turns[1][1])
library = option_log_probs(assistant, chat, e.turns[:1], [e.turns[1][1]])[0].exp().item()
assert abs(by_hand - library) <= 1e-3 * library

# %% tags=["nbval-ignore-output"]
sureness = {}
print(f"{'held-out':<15}{'n':>4}{'right':>13}{'its probability':>17}   surest wrong answer")
for kind in QUESTIONS:
    rows = [
        (a, e)
        for a, e in zip(answers["validation"], qa["validation"], strict=True)
        if e.kind == kind
    ]
    sure = [probability(assistant, e.turns[:1], a) for a, e in rows]
    sureness[kind] = stats.mean(sure)
    wrong = [(p, a) for p, (a, e) in zip(sure, rows, strict=True) if a != e.turns[1][1]]
    p, a = max(wrong, key=lambda item: item[0])
    rate = format(scores["validation", kind][0], ".2f")
    print(
        f"{kind:<15}{len(rows):>4}{rate:>13}{format(sureness[kind], '.2f'):>17}   {a!r} ({p:.0%})"
    )
assert all(a.strip() and a.endswith(".") for a in answers["validation"])  # it always answers
assert all(sureness[kind].value < 0.1 for kind in names)
acts_right = scores["validation", "character_act"][0]
assert abs(sureness["character_act"].value - acts_right.value) < 2 * acts_right.se

# %% [markdown]
# It is not *confidently* wrong. Where it cannot know (the names), it gives its own answer little
# probability: 0.06 on average for a play, 0.01 or less for a speaker or a main character. On
# the acts its mean probability, 0.34 ± 0.01, is close to the fraction it gets right,
# 0.35 ± 0.05; on the genres 0.26 ± 0.04 against 3 right of 9. What SFT did teach is to answer
# every question, in the right form (a name, a genre, an act, a full stop), whether it knows or
# not: it never says *I don't know*, because no training example did. That is
# **hallucination**: a fluent, specific answer with no knowledge behind it. Lesson 10 measures
# where it comes from; lesson 11 scores every possible answer, and asks when its confidence can
# be trusted.

# %% [markdown]
# ### What did it forget?

# %% [markdown]
# Fine-tuning moves the weights away from what pretraining found. Measure the plain-text loss on 64
# windows of the held-out plays (`finetune.window_losses`: lesson 04's `evaluate`, window by window,
# so that the models' losses pair up on the same text): the base model, its grown copy (the three
# new tokens take a sliver of probability), and the fine-tuned models (plain text never contains the
# new ids, so they read the same tokens):


# %%
plain = {
    "bpe": finetune.window_losses(base, val_ids),
    "bpe (grown)": finetune.window_losses(grown, val_ids),
}
assert abs(plain["bpe"].mean().item() - held_out_loss) < 1e-3
grown_cost = stats.difference(plain["bpe (grown)"], plain["bpe"])
print(f"bpe:          {stats.mean(plain['bpe']):.2f} nats/token")
print("bpe (grown):  higher, by less than 0.001")
assert 0 < grown_cost.value < 0.001

# %% tags=["nbval-ignore-output"]
plain["sft"], plain["ours"] = (finetune.window_losses(m, val_ids) for m in (assistant, mine))
for name in ("sft", "ours"):
    worse = stats.difference(plain[name], plain["bpe"])
    print(f"{name:<5} {stats.mean(plain[name]):.3f}: worse than bpe by {worse:.3f} (paired SE)")
    assert worse.value > 0 and worse.beyond_noise(20)
assert 45 < math.exp(stats.mean(plain["sft"]).value) < 49  # the recap's perplexity, from ~30

# %% [markdown]
# Both fine-tuned models are worse at their old job: the standard `sft` by 0.443 ± 0.018 nats per
# token, our 120-step run by 0.304 ± 0.009, each more than twenty SEs of the paired difference:
# **catastrophic forgetting**, in miniature. The replies SFT trains on are short,
# the plays' speeches long; the loss on them is what SFT did not train. Lesson 07 asks whether
# LoRA forgets less.

# %% [markdown]
# ## Recap

# %% [markdown]
# - A **base model** continues text; an assistant is the same model after **SFT** on
#   conversations in a **chat template**. `bpe` is small (0.9 million parameters, 1.7 million
#   tokens of text, held-out perplexity about 30): that is why every reply reads as
#   half-English.
# - The template adds special tokens; the token table grows by their rows (the mean of the old
#   ones), and old logits stay exactly as they were.
# - SFT is next-token training with a **loss mask**: only the assistant's tokens (and the
#   `<|end|>` that closes each reply) are learned. You built the mask and the loss.
# - Measured against baselines: SFT taught the model to stop; on the plays it never read it
#   answers in the right form, naming the plays it was trained on, and is never right about
#   which play a character is in; it also forgot part of its pretraining (held-out perplexity
#   from about 30 to about 47).
#
# **Next:** lesson 07 trains the other kinds of fine-tuning: a classification head on the same
# trunk, and LoRA, which trains a small fraction of the weights.

# %% [markdown]
# ## Check your understanding
#
# Pick an answer to each question and press **Check**. The answers come from what this lesson
# measured above: run it again on another machine and the key follows its numbers.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

stopping = "far more often: stopping is a habit SFT teaches"
unseen_names = "no training example's answer was a held-out play: it names a play it read"
modest = "no: it gives its own answer little probability"
forgot = stats.difference(plain["sft"], plain["bpe"])
forgetting = "its loss on plain text of the held-out plays rose"
play_right = scores["validation", "character_play"][0]
assert gap.beyond_noise(3) and play_right.value == 0 and forgot.beyond_noise(3)
assert sureness["character_play"].value > 1 / 38  # surer than a blind guess, right on none
Quiz(
    [
        Question(
            "After SFT, how often does the model end its reply with <|end|> within 48 tokens, "
            "compared with the base model grown to read the template?",
            [stopping, "about as often", "less often"],
            stopping if gap.value > 0 and gap.beyond_noise(3) else "about as often",
            f"On 50 held-out prompts: sft {stops['sft'].value:.2f}, grown base "
            f"{stops['bpe (grown)'].value:.2f} ({gap.value:.2f} ± {gap.se:.2f} apart). Every "
            "reply SFT trains on ends with <|end|>, and the loss mask keeps that token among "
            "the ones learned.",
        ),
        Question(
            "Asked which play a character of a held-out play is in, the SFT model is always "
            "wrong. Why?",
            [
                unseen_names,
                "it picks one of the 38 titles at random, and luck has not hit yet",
                "it knows the play but writes its title in a form the check rejects",
            ],
            unseen_names
            if play_right.value == 0 and all(t in trained_titles for t in named)
            else "it picks one of the 38 titles at random, and luck has not hit yet",
            f"It got {play_right.value:.0%} of these right. Its answers have the right form (a "
            f"title and a full stop), and all {len(named)} plays its held-out answers name "
            "(these and the line-speaker questions) are training plays: SFT taught the form of "
            "the answer and the answers it saw, not the facts.",
        ),
        Question(
            "Is the SFT model confidently wrong about the names it cannot know?",
            [
                modest,
                "yes: it is as sure as when it is right",
                "yes: it gives its wrong name most of its probability",
            ],
            modest
            if all(sureness[kind].value < 0.1 for kind in names)
            else "yes: it is as sure as when it is right",
            "Mean probability of its own answer: "
            + ", ".join(f"{kind} {sureness[kind].value:.2f}" for kind in names)
            + ". Little, though not nothing: for the plays, more than the 1/38 = 0.026 of a "
            "blind guess and more than its accuracy of 0, so it is still surer than it is "
            "right. And it answers every question: no training example said 'I don't know'.",
        ),
        Question(
            "What did fine-tuning cost the model at its old job, predicting the plays?",
            [forgetting, "nothing measurable", "its loss on plain text fell"],
            forgetting if forgot.value > 0 else "its loss on plain text fell",
            f"sft minus bpe on 64 held-out windows: {forgot.value:+.3f} ± {forgot.se:.3f} nats "
            "per token, paired: catastrophic forgetting. SFT trained on short replies, not on "
            "long speeches.",
        ),
    ]
)
