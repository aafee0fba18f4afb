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
# ## 4. Classification: which genre is this speech from?
#
# The other kind of fine-tuning keeps the trunk and replaces the output: a **classification
# head** reads the trunk's vector at a text's **last real token** (in a causal model the one
# position that has seen the whole text) and scores the classes, here the six genres of the
# plays. The data: speeches of 2+ lines cut to their first 4 lines, the same number per genre:

# %%
import random

genres_train = instructions.genre_examples("train")
genres_val = instructions.genre_examples("validation")
test = [genres_val[k] for k in sorted(random.Random(0).sample(range(len(genres_val)), 300))]
print(f"train: {len(genres_train):,} speeches, {instructions.label_counts(genres_train)}")
print(
    f"test:  {len(test)} of {len(genres_val):,} held-out speeches, {instructions.label_counts(test)}"
)
majority = finetune.majority_baseline(genres_train, test)
print(f"always answering the most common genre: {majority:.1%} right")
assert len(set(instructions.label_counts(genres_train).values())) == 1  # balanced
assert abs(majority - 1 / 6) < 0.05
assert sorted(
    corpus.GENRES.index(p.genre) for p in corpus.plays() if p.slug in corpus.VALIDATION_PLAYS
) == list(range(6))

# %% [markdown]
# The head by hand: the trunk's vectors (`GPT.hidden`), the one at each row's last real token
# (rows are right-padded), times the head's `[6, 128]` matrix. Checked against `SequenceHead`:

# %%
from llmlab.model import SequenceHead

torch.manual_seed(0)
head = SequenceHead(base, n_outputs=6)
batch = finetune.classifier_batches(genres_train, tokenizer, block)(torch.Generator(), 4)
real = batch["attention_mask"]
last = real.sum(dim=1) - 1  # the last real position of each row
with torch.no_grad():
    scores = base.hidden(batch["input_ids"])[torch.arange(4), last] @ head.score.weight.T
    assert torch.allclose(scores, head(batch["input_ids"], real), atol=1e-5)
print(f"{tuple(batch['input_ids'].shape)} padded tokens -> {tuple(scores.shape)} genre scores")
print(f"last real positions: {last.tolist()}")

# %% [markdown]
# A baseline that reads the words but not their order: **bag-of-words logistic regression**,
# counts of the 2,000 commonest words of the training speeches into six scores, in a few lines
# of torch:

# %%
import re

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
    predicted = logistic(bag_of_words(test)).argmax(-1)
bow_accuracy = (predicted == torch.tensor([e.label for e in test])).float().mean().item()

# %% [markdown]
# ### LoRA, from scratch
#
# Fine-tuning every weight needs their gradients and two AdamW moments each, and a full copy of
# the model per task. **LoRA** (Hu et al., 2021) bets that the *change* a fine-tune makes to a
# weight `W [out, in]` has low rank: `ΔW = (alpha / r) · B A`, with `A [r, in]` and `B [out, r]`,
# `r` small. `W` is frozen; only `A` and `B` learn. `B` starts at zero, so the wrapped model
# starts *exactly* as the model it wraps. By hand, against `llmlab.lora.LoRALinear`:

# %%
from llmlab import lora

layer = lora.LoRALinear(torch.nn.Linear(128, 384, bias=False), rank=8, alpha=16)
with torch.no_grad():
    layer.lora_B.normal_()  # as if trained, so that the update is not zero
x = torch.randn(2, 5, 128)
W, A, B = layer.base.weight, layer.lora_A, layer.lora_B
by_hand = x @ W.T + (16 / 8) * (x @ A.T) @ B.T  # two thin products, never the [384, 128] B @ A
assert torch.allclose(by_hand, layer(x), atol=1e-5)
full, low_rank = W.numel(), A.numel() + B.numel()
print(
    f"one 384x128 layer: {full:,} weights; its rank-8 adapter: {low_rank:,} ({low_rank / full:.1%})"
)
assert low_rank == 8 * (128 + 384)

# %% [markdown]
# ### Four ways to train the classifier
#
# The same `SequenceHead` on the `bpe` trunk, 100 steps of 16 speeches each, trained in
# four ways: the head only (the trunk is a frozen feature extractor), the head and the last block,
# everything, and LoRA on every block's linear layers with the head trainable in full. The head
# is new, so it always learns.

# %%
import copy

CLS_STEPS = 100


def classifier(setting: str) -> SequenceHead:
    torch.manual_seed(0)
    model = SequenceHead(copy.deepcopy(base), n_outputs=6)
    if setting == "head only":
        model.gpt.requires_grad_(False)
    elif setting == "head + last block":
        model.gpt.requires_grad_(False)
        model.gpt.blocks[-1].requires_grad_(True)
        model.gpt.ln_f.requires_grad_(True)
    elif setting == "LoRA (rank 8)":
        lora.add_lora(model, rank=8, alpha=16, trainable=("score",))
    return model


def train_classifier(model: SequenceHead, learning_rate: float) -> tuple[float, float]:
    config = TrainConfig(
        batch_size=16,
        max_steps=CLS_STEPS,
        learning_rate=learning_rate,
        min_lr=learning_rate / 10,
        warmup_steps=10,
        eval_interval=0,
        dtype="bfloat16",
    )
    started = time.perf_counter()
    fit(
        model,
        finetune.classifier_batches(genres_train, tokenizer, block),
        finetune.classifier_loss,
        config,
        progress=False,
    )
    return finetune.accuracy(model, test, tokenizer), time.perf_counter() - started


rates = {"head only": 3e-3, "head + last block": 1e-3, "everything": 1e-3, "LoRA (rank 8)": 3e-3}
table = {}
for setting, rate in rates.items():
    model = classifier(setting)
    trainable, total = lora.count_parameters(model)
    table[setting] = (trainable, *train_classifier(model, rate))

# %% [markdown]
# **Pooling.** The head reads the last token. Another choice is the mean of every position's
# vector (the last token's vector is tuned to predict the next token, not to sum up the text).
# A subclass that pools by the mean, for the head only:


# %%
class MeanPooled(SequenceHead):
    def forward(self, idx, attention_mask=None):
        hidden = self.gpt.hidden(idx)
        if attention_mask is None:
            attention_mask = torch.ones_like(idx)
        real = attention_mask[..., None].to(hidden.dtype)
        return self.score((hidden * real).sum(1) / real.sum(1))


torch.manual_seed(0)
pooled = MeanPooled(copy.deepcopy(base), n_outputs=6)
pooled.gpt.requires_grad_(False)
table["head only, mean pooling"] = (
    lora.count_parameters(pooled)[0],
    *train_classifier(pooled, 3e-3),
)

# %% tags=["nbval-ignore-output"]
print(f"{'genre of a held-out speech':<28}{'trainable':>11}{'accuracy':>10}{'seconds':>9}")
print(f"{'majority class':<28}{0:>11,}{majority:>10.1%}{'':>9}")
print(
    f"{'bag of words + logistic':<28}{logistic.weight.numel() + 6:>11,}{bow_accuracy:>10.1%}{'':>9}"
)
for setting, (trainable, accuracy, seconds) in table.items():
    print(f"{setting:<28}{trainable:>11,}{accuracy:>10.1%}{seconds:>9.1f}")

# %%
best = max(accuracy for _, accuracy, _ in table.values())
assert best > majority + 0.1 and bow_accuracy > majority + 0.1
assert all(accuracy > majority for _, accuracy, _ in table.values())
assert abs(table["head only, mean pooling"][1] - table["head only"][1]) < 0.05
assert best - min(accuracy for _, accuracy, _ in table.values()) < 0.1
assert bow_accuracy > best - 0.05
trainable = [table[s][0] for s in ("head only", "LoRA (rank 8)", "head + last block", "everything")]
print("trainable:", trainable)
assert trainable == sorted(trainable) and trainable[0] == 128 * 6

# %% [markdown]
# Every way beats the majority class, none by far: 100 steps show the model 1,600 speeches, and
# telling a comedy from a romance by four lines is hard (the held-out plays are one of each
# genre, so knowing the characters does not help). The bag of words, fitted on all 6,942
# speeches, is a strong baseline here. Trainable parameters grow from 768 (head) to
# 66,304 (LoRA), 197,760 (last block) and 919,424 (everything): what each way costs in gradients
# and optimizer state. The head reads the last token by default, like transformers'
# `GPT2ForSequenceClassification`; mean pooling makes little difference here.
#
# ## 5. LoRA against full fine-tuning, for SFT
#
# Back to the assistant. Section 3 fine-tuned every weight; now the same run with LoRA adapters
# (rank 8 on every block's linear layers), everything else frozen, the grown token table
# included. A larger learning rate is usual for LoRA: its updates start from zero.

# %%
adapted = lora.add_lora(finetune.grow_vocabulary(base, chat.vocab_size), rank=8, alpha=16)
lora_config = TrainConfig(**{**sft_config.to_dict(), "learning_rate": 3e-3, "min_lr": 3e-4})
full_trainable, lora_trainable = lora.count_parameters(mine)[0], lora.count_parameters(adapted)[0]
share = lora_trainable / full_trainable
print(f"trainable: full {full_trainable:,}, LoRA {lora_trainable:,} ({share:.1%})")
print(
    f"AdamW state, 2 numbers x 4 bytes each: {8 * full_trainable / 1e6:.2f} MB vs "
    f"{8 * lora_trainable / 1e6:.2f} MB"
)
print(f"for 7 billion parameters: {8 * 7e9 / 1e9:.0f} GB in full, {8 * 7e9 * share / 1e9:.0f} GB")
assert (full_trainable, lora_trainable) == (919_040, 65_536) and round(8 * 7e9 * share / 1e9) == 4


# %% tags=["nbval-ignore-output"]
def train_sft(model, config: TrainConfig):
    started = time.perf_counter()
    run = fit(
        model,
        finetune.sft_batches(mixture, chat, block),
        finetune.sft_loss,
        config,
        evaluate=lambda m: finetune.sft_eval(m, held_out, chat),
    )
    return model, run, time.perf_counter() - started


runs = {"full": (mine, sft_run, full_seconds), "LoRA (rank 8)": train_sft(adapted, lora_config)}


# %% tags=["nbval-ignore-output"]
def sft_table(runs: dict) -> dict:
    results = {"before (bpe)": (0, before, plain["bpe (grown)"], stops["bpe (grown)"])}
    for name, (model, run, _) in runs.items():
        trainable = lora.count_parameters(model)[0]
        stopped = stop_rate(model, prompts)
        results[name] = (trainable, run.val_loss, evaluate(model, val_ids, 64), stopped)
    print(
        f"{'SFT, 120 steps':<17}{'trainable':>10}{'AdamW state':>13}{'s/step':>8}"
        f"{'reply loss':>12}{'plain text':>12}{'stops':>7}"
    )
    for name, (trainable, reply_loss, plain_loss, stopped) in results.items():
        seconds = f"{runs[name][2] / SFT_STEPS:.2f}" if name in runs else ""
        print(
            f"{name:<17}{trainable:>10,}{8 * trainable / 1e6:>11.2f}MB{seconds:>8}"
            f"{reply_loss:>12.2f}{plain_loss:>12.3f}{stopped:>7.0%}"
        )
    return results


results = sft_table(runs)
full_run, lora_result = results["full"], results["LoRA (rank 8)"]
assert lora_result[1] < before - 0.5 and lora_result[1] > full_run[1]
assert lora_result[2] < full_run[2] and full_run[3] >= 0.8 and lora_result[3] < 0.2

# %% [markdown]
# LoRA trains 65,536 numbers instead of 919,040 (7.1%), and AdamW's two moments per trainable
# number shrink with them: for a 7-billion-parameter model, 56 GB of optimizer state in full,
# 4 GB at this share. Time per step does not shrink with them (the table's `s/step`, a timing
# that varies with the machine): the frozen model still runs forward and backward, and the
# adapters add products of their own. LoRA's gain is memory. After the same 120 steps LoRA's reply loss
# is higher (fewer parameters learn more slowly) and it forgets less: its plain-text loss stays
# closer to the base model's.
#
# But look at the last column: LoRA's model **never stops**. Its token table is frozen, so the
# three new tokens keep the mean rows they were born with, and `<|end|>` stays as unlikely as
# before. New tokens need trainable rows. The simplest fix trains the whole (tied) table with
# the adapters, `trainable=("wte",)`; PEFT can train just the new rows
# (`trainable_token_indices`):

# %% tags=["nbval-ignore-output"]
with_table = lora.add_lora(
    finetune.grow_vocabulary(base, chat.vocab_size), rank=8, alpha=16, trainable=("wte",)
)
runs["LoRA + table"] = train_sft(with_table, lora_config)
results = sft_table(runs)
table_result = results["LoRA + table"]
assert table_result[3] > lora_result[3] + 0.5 and abs(table_result[1] - full_run[1]) < 0.15
assert table_result[2] > lora_result[2] and table_result[2] > full_run[2]

# %% [markdown]
# With its table trainable, LoRA learns to stop, and its reply loss catches up with full
# fine-tuning, for 196,992 trainable numbers. But the tied table is also the output layer that
# scores plain text, and every row of it moved: now the plain-text loss is the worst of the
# three. Where the weights you train sit matters as much as how many there are.

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
# ## 6. Talk to a character
#
# The chat box sends your line to the fine-tuned model as `"To HAMLET: ..."` (choose whom you
# address, or no one for a question), shows the reply as it is generated, token by token, and
# keeps the conversation as the next prompt. Toggle *answer with the base model* to compare.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import ChatBox

chat_box = ChatBox(assistant, chat, base_model=base, play="hamlet", character="HAMLET")
chat_box.text.value = "My lord, how fares your grace?"
chat_box.send.click()
chat_box

# %% [markdown]
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
