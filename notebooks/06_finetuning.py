# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 · Fine-tuning
#
# **What you will build:** an assistant from a model that only continues text. You will give the
# lesson-01 tokenizer three new tokens for a **chat template** and grow the model's token table to
# match, turn the plays into conversations and questions, draw the **loss mask** (the model
# learns the replies, not the questions), fine-tune for a minute and watch the held-out loss
# fall, then measure the course's standard fine-tuned model: does it stop, does it know, what
# did it forget? Then the other kind of fine-tuning: a **classification head** that tells the
# genre of a speech, trained four ways, and **LoRA** from scratch. Last, a chat widget.
#
# **CPU time:** about 2.5 minutes on a 2-core laptop (budget: 3 minutes), with the course's `bpe`
# and `sft` models in the cache. Without them, the first run trains them (`llmlab prepare` does
# that ahead of time).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. A base model continues; an assistant answers
#
# The course's `bpe` model (lessons 04–05) was pretrained on the plays: it has read text and
# predicts more of it. `sft` is the same model after **supervised fine-tuning** (SFT) on
# conversations: the same architecture, three more rows in its token table (section 2), a little
# more training. Ask them the same three things:

# %% tags=["nbval-ignore-output"]
from llmlab import pretrained

base, tokenizer = pretrained.load("bpe")
assistant, chat = pretrained.load("sft")

# %% tags=["nbval-ignore-output"]
import torch

from llmlab.chat import generate_reply

asks = [
    "To HAMLET: My lord, how does your honour for this many a day?",
    "What kind of play is Hamlet?",
    "Which play is HORATIO in?",
]
generator = torch.Generator().manual_seed(0)
for ask in asks:
    prompt = torch.tensor(tokenizer.encode(ask + "\n"))
    continued = base.generate(prompt, 40, temperature=0.8, top_k=50, generator=generator)
    reply, ended = generate_reply(
        assistant, chat, [("user", ask)], 40, temperature=0.8, top_k=50, generator=generator
    )
    print(f"YOU:       {ask}")
    print(f"base:      {tokenizer.decode(continued[len(prompt) :].tolist())!r}")
    print(f"assistant: {reply!r}{'  <|end|>' if ended else '  (cut)'}\n")

# %% [markdown]
# The base model treats your words as the start of a page and writes the rest of the page: more
# speeches, a stage direction, whatever plausibly follows. The assistant treats them as a turn in
# a conversation: it writes one reply and then a token that means *I am done* (section 3 counts
# how often). Nothing in its architecture changed. Only the examples it was trained on, and the
# way they were written down.
#
# ## 2. The chat template and the data
#
# ### New tokens
#
# A conversation becomes one sequence of tokens with three new **special tokens** marking who
# speaks and where a turn ends: `<|user|>`, `<|assistant|>`, `<|end|>`. They get the ids after
# the vocabulary, so every old id keeps its meaning and plain text encodes exactly as before:

# %%
from llmlab import corpus
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
#
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
questions_asked = sum(summary["train"][kind] for kind in instructions.KINDS[2:])
assert 9 < summary["train"]["dialogue"] / questions_asked < 11

# %% [markdown]
# Dialogue outnumbers the questions about the plays ten to one. A few examples, rendered in the template; the part in
# `[brackets]` is what the model will learn to write (`llmlab.chat.show_mask`):

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
#
# SFT scores the model only on the assistant's tokens: each reply **and** the `<|end|>` that
# closes it (that is how it learns to stop). The user's words and the role tokens are context:
# read, never predicted. Otherwise the model would spend its capacity learning to write the
# questions. Rendering by hand, each turn is its role token, its text's tokens, `<|end|>`:

# %%
conversation = next(e for e in examples["train"] if e.kind == "conversation").turns
ids_by_hand, mask_by_hand = [], []
for role, text in conversation:
    body = chat.encode(text) + [chat.special_tokens["<|end|>"]]
    ids_by_hand += [chat.special_tokens[f"<|{role}|>"], *body]
    mask_by_hand += [False] + [role == "assistant"] * len(body)
ids, mask = render_chat(conversation, chat)
print(f"{len(ids)} tokens, {sum(mask)} of them learned")
assert (ids_by_hand, mask_by_hand) == (ids, mask)

# %% [markdown]
# Drawn token by token, the learned ones in green:

# %% tags=["nbval-ignore-output"]
import html

from IPython.display import HTML


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
# In a batch the mask becomes the **targets**: the target at position `t` is the token at `t + 1`
# if that token is learned, else `-100`, the index cross-entropy ignores (so padding costs
# nothing either). `finetune.sft_batches` builds exactly that:

# %%
from llmlab.model import IGNORE_INDEX

targets_by_hand = [t if m else IGNORE_INDEX for t, m in zip(ids[1:], mask[1:], strict=True)]
batch = finetune.sft_batches([conversation], chat, block)(torch.Generator(), 1)
assert batch["targets"][0].tolist() == [*targets_by_hand, IGNORE_INDEX]
assert batch["input_ids"][0].tolist() == ids

# %% [markdown]
# ## 3. SFT, by hand, for a minute
#
# The loss is plain cross-entropy over the learned targets only. By hand on a batch of eight,
# checked against `finetune.sft_loss`:

# %%
import torch.nn.functional as F

mixture = finetune.sft_mixture("train", chat, block, pretrained.recipe("sft")["data"])
batch = finetune.sft_batches(mixture, chat, block)(torch.Generator().manual_seed(0), 8)
with torch.no_grad():
    logits = grown(batch["input_ids"])[0]
    by_hand = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=-100)
    learned = (batch["targets"] != IGNORE_INDEX).sum().item()
    print(f"{learned} learned targets of {batch['targets'].numel()}: loss {by_hand.item():.2f}")
    assert torch.allclose(by_hand, finetune.sft_loss(grown, batch))

# %% [markdown]
# The training set is the mixture the standard recipe uses: the questions about the plays are
# repeated (8× for most kinds) so that the few facts they hold weigh about as much as the many
# lines of dialogue. The held-out score is the loss per reply token on 64 conversations spread
# over the validation plays. Now `llmlab.train.fit` (the loop of lesson 04, with SFT's batches
# and loss) for 120 steps of 8 conversations:

# %%
from llmlab import viz
from llmlab.train import TrainConfig, evaluate, fit

held_out = examples["validation"][:: len(examples["validation"]) // 64][:64]
SFT_STEPS = 120
sft_config = TrainConfig(
    batch_size=8,
    max_steps=SFT_STEPS,
    learning_rate=1e-3,
    min_lr=1e-4,
    warmup_steps=10,
    eval_interval=0,
    log_interval=5,
    dtype="bfloat16",
)
mine = finetune.grow_vocabulary(base, chat.vocab_size)
before = finetune.sft_eval(mine, held_out, chat)
print(f"held-out reply loss before SFT: {before:.2f}")

# %% tags=["nbval-ignore-output"]
import time

curve = viz.LiveLossCurve(every=4, title="SFT from bpe")
started = time.perf_counter()
sft_run = fit(
    mine,
    finetune.sft_batches(mixture, chat, block),
    finetune.sft_loss,
    sft_config,
    evaluate=lambda m: finetune.sft_eval(m, held_out, chat),
    callback=curve,
)
full_seconds = time.perf_counter() - started
after = sft_run.val_loss
print(f"held-out reply loss: {before:.2f} before, {after:.2f} after {SFT_STEPS} steps")
assert after < before - 1.0

# %% [markdown]
# The loss falls fast at first: much of the early gain is the *form* (a reply is short and ends
# with `<|end|>`), which is easy; the content is the hard part. The standard `sft` model is this
# run made longer, by the recipe in `llmlab.pretrained` (1,500 steps of 16 conversations):

# %%
import json

print(json.dumps(pretrained.recipe("sft"), indent=1))

# %% tags=["nbval-ignore-output"]
history = pretrained.checkpoint("sft").extra["history"]
for record in history:
    if "val_loss" in record:
        print(f"step {record['step']:>5}: held-out reply loss {record['val_loss']:.2f}")

# %% [markdown]
# ### Does it stop?
#
# The first habit SFT teaches is to stop. Sample a reply (up to 48 tokens) to 50 held-out
# prompts and count those that end with `<|end|>`. For the base model we use its grown copy, which
# reads the template too but was never trained on it. `llmlab.chat.reply_tokens` yields
# a reply token by token through the KV cache and stops at `<|end|>`:

# %%
from llmlab.chat import reply_tokens

END = chat.special_tokens["<|end|>"]
prompts = [e.turns[:1] for e in held_out[:50]]


def stop_rate(model, prompts, seed: int = 0) -> float:
    generator = torch.Generator().manual_seed(seed)
    ended = [list(reply_tokens(model, chat, p, 48, 0.8, 50, generator))[-1] == END for p in prompts]
    return sum(ended) / len(ended)


# %% tags=["nbval-ignore-output"]
stops = {"bpe (grown)": stop_rate(grown, prompts), "sft": stop_rate(assistant, prompts)}
for name, rate in stops.items():
    print(f"{name:<12} stops within 48 tokens on {rate:.0%} of {len(prompts)} held-out prompts")
assert stops["sft"] >= 0.8 and stops["bpe (grown)"] < 0.2

# %% [markdown]
# ### Does it know?
#
# Now the questions. Answer greedily (the most likely token each time) and compare with the
# answer from the records, on questions about the **training** plays (seen during SFT) and about
# the **held-out** plays (never seen: not their text, not a question about them):

# %%
QUESTIONS = ("play_genre", "character_play", "line_speaker", "character_act", "main_character")


def answer(model, turns) -> str:
    tokens = list(reply_tokens(model, chat, turns, 32, temperature=0))
    return chat.decode([t for t in tokens if t != END])


def questions(split: str, per_kind: int = 12) -> list:
    """Up to ``per_kind`` questions of each kind, spread over the split's plays."""
    chosen = []
    for kind in QUESTIONS:
        found = [e for e in examples[split] if e.kind == kind]
        chosen += found[:: max(1, len(found) // per_kind)][:per_kind]
    return chosen


# %% tags=["nbval-ignore-output"]
from collections import Counter

qa = {split: questions(split) for split in ("train", "validation")}
answers = {split: [answer(assistant, e.turns[:1]) for e in qa[split]] for split in qa}
right = {
    split: [a == e.turns[1][1] for a, e in zip(answers[split], qa[split], strict=True)]
    for split in qa
}
for split in qa:
    stock = Counter(answers[split]).most_common(3)
    print(
        f"{split:<11} {len(qa[split])} questions, {sum(right[split]) / len(qa[split]):.0%} right;"
    )
    print(f"{'':<11} its commonest answers: {stock}")
assert sum(right["train"]) / len(qa["train"]) > sum(right["validation"]) / len(qa["validation"])
assert len(set(answers["validation"])) < len(answers["validation"]) / 2  # a few stock answers
assert sum(a.endswith(".") for a in answers["validation"]) >= 0.8 * len(qa["validation"])

# %% [markdown]
# A small model after 1,500 steps of SFT knows little: on the training plays it recalls some of
# the facts it was drilled on, and falls back on a few **stock answers** (one play, one
# character it names again and again). On the held-out plays it cannot know the answers at all:
# it has never read them. But it answers anyway, in the right *form*, and often with confidence.
# Score the probability the model gives to its own wrong answer, token by token (`<|end|>`
# included), with one forward pass, and show the surest wrong answer of each kind:


# %%
def probability(model, turns, reply: str) -> float:
    ids, mask = render_chat([*turns, ("assistant", reply)], chat)
    with torch.no_grad():
        log_probs = torch.log_softmax(model(torch.tensor([ids]))[0][0].float(), dim=-1)
    learned = torch.tensor([t for t in range(1, len(ids)) if mask[t]])
    return log_probs[learned - 1, torch.tensor(ids)[learned]].sum().exp().item()


# %% tags=["nbval-ignore-output"]
wrong = [
    (probability(assistant, e.turns[:1], a), e, a)
    for e, a, ok in zip(qa["validation"], answers["validation"], right["validation"], strict=True)
    if not ok and a.strip()
]
most_confident = {}
for p, e, a in sorted(wrong, key=lambda item: -item[0]):
    most_confident.setdefault(e.kind, (p, e, a))  # the surest wrong answer of each kind
for p, e, a in most_confident.values():
    print(f"Q: {e.turns[0][1]}\n   model: {a!r} (probability {p:.0%})   records: {e.turns[1][1]!r}")

# %% [markdown]
# This is **hallucination**, seen for the first time: fine-tuning taught the model to answer a
# question with a name and a full stop, and it does so whether or not it knows the name. Nothing
# in the training signal rewards saying *I don't know* (lesson 08 measures this further).
#
# ### What did it forget?
#
# Fine-tuning moves the weights away from what pretraining found. Measure the plain-text loss on
# windows of the held-out plays (lesson 04's `evaluate`): the base model, its grown copy (the
# three new tokens take a sliver of probability), and the fine-tuned model (plain text never
# contains the new ids, so it reads the same tokens):

# %%
val_ids = torch.tensor(tokenizer.encode(corpus.text("validation")[:300_000]))
plain = {"bpe": evaluate(base, val_ids, windows=64), "bpe (grown)": evaluate(grown, val_ids, 64)}
print(f"bpe:          {plain['bpe']:.4f} nats/token")
print(f"bpe (grown):  {plain['bpe (grown)']:.4f}, higher by less than 0.001")
assert 0 < plain["bpe (grown)"] - plain["bpe"] < 0.001

# %% tags=["nbval-ignore-output"]
plain["sft"] = evaluate(assistant, val_ids, 64)
plain["ours"] = evaluate(mine, val_ids, 64)
print(f"sft:          {plain['sft']:.4f}")
print(f"ours ({SFT_STEPS} steps): {plain['ours']:.4f}")
assert plain["sft"] > plain["bpe"]

# %% [markdown]
# The fine-tuned model is worse at its old job: **catastrophic forgetting**, in miniature. The
# replies it learned are short, the plays' speeches long; the loss on them is what SFT did not
# train. Section 5 asks whether LoRA forgets less.
#
#
# ## Recap
#
# - A chat template turns a conversation into one sequence with new special tokens; the token
#   table grows by their rows (the mean of the old ones), and old logits stay exactly as they were.
# - SFT is next-token training with a **loss mask**: only the assistant's tokens (and the
#   `<|end|>` that closes each reply) are learned. A hundred steps teach the form; the standard
#   model learned to stop on almost every prompt.
# - Fine-tuning teaches how to answer, not what is true: on plays it never read, the model
#   answers in the right form, confidently and wrongly (hallucination). It also forgets a little
#   of its pretraining.
# - A classification head on the trunk's last-token vector turns the model into a classifier;
#   every way of training it beat the majority class, and on this budget more trainable weights
#   bought little accuracy: a bag of words did as well.
# - LoRA trains a low-rank update `(alpha / r) B A` beside frozen weights: a small fraction of the
#   parameters and optimizer memory, and it merges into `W` for free afterwards.
#
# **Next:** lesson 07 teaches the model *which* of its answers people prefer.
#
# ## Exercises
#
# **Exercise 1.** Write the loss mask of a conversation from its roles and the number of tokens
# each turn's text encodes to: a turn is its role token, its tokens, `<|end|>`; learned are an
# assistant turn's tokens and its `<|end|>`.


# %%
from llmlab import exercises


def loss_mask(roles: list[str], lengths: list[int]) -> list[bool]:
    raise NotImplementedError  # your code here


passed = exercises.check("loss_mask", loss_mask)

# %% [markdown]
# **Exercise 2.** A LoRA layer's forward pass: `x [..., in]` through the frozen `W [out, in]`
# (no bias), plus the low-rank path `A [rank, in]` then `B [out, rank]`, scaled by
# `alpha / rank`. Use two thin products, not `B @ A`.


# %%
def lora_forward(x, W, A, B, alpha: float, rank: int):
    raise NotImplementedError  # your code here


passed = exercises.check("lora_forward", lora_forward)

# %% [markdown]
# **Exercise 3.** Merge the adapter into the weight: the `W'` for which `x @ W'.T` equals the
# LoRA layer's output.


# %%
def merged_weight(W, A, B, alpha: float, rank: int):
    raise NotImplementedError  # your code here


passed = exercises.check("merged_weight", merged_weight)

# %% [markdown]
# Stuck? `exercises.solution("name")`, run in a cell of your own, prints a worked solution: the
# tested reference itself.
