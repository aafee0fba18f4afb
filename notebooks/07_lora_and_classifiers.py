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
