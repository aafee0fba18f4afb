# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 · Rewards and DPO
#
# **What you will build:** the step after fine-tuning. People find it much easier to say which
# of two answers is better than to write the ideal one, so the last stage of training an
# assistant asks them to **rank** a model's replies and learns from the rankings. This stage is
# called **RLHF**, *reinforcement learning from human feedback*; the rankings are its
# **preference data**. You will rank a few replies yourself, let a scripted labeler with a
# one-screen rubric rank many more, train a **reward model** on the rankings and check it on
# prompts it never saw, then use what was learned two ways: **best-of-n** (no training) and
# **DPO** (training on the pairs directly). Every comparison is judged by the labeler and
# printed with its standard error (`llmlab.stats`). Lesson 09 does the *reinforcement
# learning* part: a model that learns by sampling its own replies and having them scored.
#
# **CPU time:** about 2 minutes of cell time with one thread, with the course's `sft` model in
# the cache (`llmlab prepare` trains it ahead of time; lesson 06 shows how it is made).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. Why rankings

# %% [markdown]
# Lesson 06's `sft` model answers in the chat template, but its replies vary in quality from
# one sample to the next. Four replies of it to one line from *Hamlet* (samples: they differ
# from machine to machine):

# %% tags=["nbval-ignore-output"]
import torch

from llmlab import corpus, labeler, policy, pretrained, rankings, reward_model, stats

sft, chat = pretrained.load("sft")
ask = (("user", "To HAMLET: My lord, how does your honour for this many a day?"),)
four = rankings.sample_responses(sft, chat, [ask], 4, generator=torch.Generator().manual_seed(3))
four = rankings.distinct_replies(four[0])
for i, (text, ended) in enumerate(four):
    print(f"reply {i}: {text!r}{'' if ended else '  (cut off)'}")
size = sum(p.numel() for p in sft.parameters())
print(
    f"the sft model: {size / 1e6:.2f} M parameters, read {len(corpus.text('train')) / 1e6:.1f} M characters"
)
assert size < 1_000_000 and 3e6 < len(corpus.text("train")) < 5e6  # the sizes the text quotes

# %% [markdown]
# The replies read as near-gibberish, and that is expected: the `sft` model has under a million
# parameters and learned English from about four million characters of Shakespeare (the
# assistants you know have some hundred thousand times more parameters and millions of times more
# text). What this lesson needs is only that some replies are better than others.
#
# Writing the perfect reply to that line is hard for anyone; saying which of two replies you
# prefer takes a second. A **ranking** of all four says it for every pair at once: a ranking of
# `k` replies holds `k(k-1)/2` ordered pairs `(chosen, rejected)`, each reply preferred to every
# reply ranked below it. Pairs like these, a prompt with a preferred and a dispreferred reply,
# are the **preference data** everything below learns from. An example ranking, turned into
# pairs by hand and checked against `rankings.ranking_to_pairs`:

# %%
assert len(four) == 4  # four different replies
order = (2, 0, 3, 1)  # best first: an example ranking
ranking = rankings.Ranking(ask, tuple(text for text, _ in four), order, "human")
best_first = [ranking.responses[i] for i in order]
pairs_by_hand = [
    (best_first[i], best_first[j]) for i in range(len(order)) for j in range(i + 1, len(order))
]
print(f"a ranking of {len(order)} gives {len(pairs_by_hand)} pairs")
assert pairs_by_hand == rankings.ranking_to_pairs(ranking)
assert len(pairs_by_hand) == len(order) * (len(order) - 1) // 2

# %% [markdown]
# ## 2. You are the labeler

# %% [markdown]
# Here are three more prompts, four replies each. Rank them: click *pick* under the best reply,
# then under the next best; the last one takes the last place by itself. Each finished ranking
# is saved at once to `my_rankings.json` beside this notebook, marked `source: "human"`. Run the
# notebook again later and the box takes your rankings back from the file: they are never
# overwritten.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import RankingBox

yours = rankings.dialogue_prompts("validation", 3)
your_samples = rankings.sample_responses(
    sft, chat, yours, 4, generator=torch.Generator().manual_seed(4)
)
box = RankingBox(yours, your_samples, "my_rankings.json")
box

# %% [markdown]
# When this notebook runs from top to bottom on its own, nobody clicks, so the next cell ranks
# whatever you left unranked with the scripted labeler of section 3 and marks those rankings
# `source: "labeler"` (the box's status line says so; *start over* there to rank one yourself).
# Then it measures how often you agree with the labeler: over every pair of replies you ranked,
# the share ordered the same way (where the rubric ties two replies, its order is a coin flip).
# Chance is 0.5.

# %% tags=["nbval-ignore-output"]
box.rank_rest(labeler.rank)
mine = rankings.load_rankings("my_rankings.json")
made_by = [r.source for r in mine[: len(yours)]]
print(
    f"{len(mine[: len(yours)])} rankings read back: {made_by.count('human')} by you, "
    f"{made_by.count('labeler')} by the labeler"
)
agree = [
    labeler_order.index(a) < labeler_order.index(b)
    for r in mine[: len(yours)]
    if r.source == "human"
    for labeler_order in [labeler.rank(r.prompt, list(zip(r.responses, r.ended, strict=True)))]
    for a, b in rankings.ranking_to_pairs(r)
    for a, b in [(r.responses.index(a), r.responses.index(b))]
]
if agree:
    together = stats.proportion(sum(agree), len(agree))
    print(
        f"you and the labeler order {together:.2f} of your {len(agree)} pairs alike (chance 0.50)"
    )
else:
    print("you ranked none of them: the lesson goes on with the labeler's rankings alone")
assert all(r.source in {"human", "labeler"} for r in mine)

# %% [markdown]
# Three prompts give at most eighteen pairs, so your agreement carries a standard error of
# about 0.1: enough to see whether you and the rubric share a taste, not to train anything.
# The thousands of pairs a reward model needs come from the labeler.

# %% [markdown]
# ## 3. A labeler with a rubric, for many rankings

# %% [markdown]
# A reward model needs thousands of pairs, more than a class can rank in an hour. The scripted
# labeler of `llmlab.labeler` stands in for the people: it scores a reply by a rubric short
# enough to read in one screen ("a courteous Shakespeare") and ranks by score. It is also the
# lesson's **ground truth**: everything trained below is judged by it, never only by the learned
# reward. The rubric's terms for the four replies of section 1:

# %% tags=["nbval-ignore-output"]
print(f"{'reply':<7}" + "".join(f"{term:>11}" for term in labeler.score_terms(ask, "", True)))
for i, (text, ended) in enumerate(four):
    terms = labeler.score_terms(ask, text, ended)
    print(f"{i:<7}" + "".join(f"{value:>11.2f}" for value in terms.values()))
    assert labeler.score(ask, text, ended) == sum(terms.values())
print("insults it counts:", ", ".join(labeler.INSULTS))

# %% [markdown]
# Replies often get the *same* score (two short lines, both ended, say), and a ranking must
# still order them, so some of a ranking's pairs are coin flips. Now the labeler ranks four
# replies to each of 400 prompts from the training plays, and the same for 128 prompts from the
# six held-out plays (for checking the reward model later). `label_pairs` keeps only the pairs
# that the rubric separates by at least half a point:

# %% tags=["nbval-ignore-output"]
TRAIN_PROMPTS, HELD_PROMPTS = 400, 128
train_prompts = rankings.dialogue_prompts("train", TRAIN_PROMPTS)
held_prompts = rankings.dialogue_prompts("validation", HELD_PROMPTS)
draws = torch.Generator().manual_seed(0)
train_samples = rankings.sample_responses(sft, chat, train_prompts, 4, generator=draws)
held_samples = rankings.sample_responses(sft, chat, held_prompts, 4, generator=draws)

ranked = rankings.label(train_prompts, train_samples)
all_pairs = rankings.to_pairs(ranked)
pairs = rankings.label_pairs(train_prompts, train_samples, min_margin=0.5)
held_pairs = rankings.label_pairs(held_prompts, held_samples, min_margin=0.5)
print(f"{len(ranked)} rankings -> {len(all_pairs)} pairs; {len(pairs)} with a real preference")
print(f"held out: {len(held_pairs)} pairs from {HELD_PROMPTS} prompts of other plays")
assert len(held_pairs) > 200 and len(pairs) < len(all_pairs)

# %% [markdown]
# ## 4. A reward model

# %% [markdown]
# A **reward model** reads a prompt and a reply and returns one number, its score for the
# reply. Here it is the `sft` model's trunk with a one-number head on the last real token
# (`reward_model.reward_model`: a copy, so the `sft` model stays as it was). Training asks that
# `sigmoid(r(chosen) - r(rejected))` be the probability that the chosen reply is preferred: the
# **Bradley–Terry** model of paired comparisons (1952). Its loss is the negative log of that
# probability, averaged over pairs; on a few made-up rewards:

# %%
import torch.nn.functional as F

r_chosen = torch.tensor([2.0, 0.5, -1.0, 3.0])
r_rejected = torch.tensor([1.0, 0.7, -3.0, -2.0])
by_hand = -torch.log(torch.sigmoid(r_chosen - r_rejected)).mean()
print(f"Bradley-Terry loss: {by_hand:.4f}")
assert torch.allclose(by_hand, reward_model.bradley_terry_loss(r_chosen, r_rejected))
assert torch.allclose(by_hand, -F.logsigmoid(r_chosen - r_rejected).mean())
shifted = reward_model.bradley_terry_loss(r_chosen + 7, r_rejected + 7)  # only differences count
assert torch.allclose(shifted, by_hand)

# %% [markdown]
# Since only differences count, a reward model's numbers have no zero point: a reward of 2.3 means
# nothing alone, only that it is more than another reply's. Training, 150 steps of 16 pairs
# (`llmlab.train.fit` with `reward_model.reward_loss`; both sides of a pair share one forward pass;
# bf16 autocast, as the course's standard models were trained):

# %% tags=["nbval-ignore-output"]
from llmlab.train import TrainConfig, fit

reward = reward_model.reward_model(sft)
reward_run = fit(
    reward,
    rankings.pair_batches(pairs, chat, sft.config.block_size),
    reward_model.reward_loss,
    TrainConfig(
        batch_size=16,
        max_steps=150,
        learning_rate=3e-4,
        min_lr=3e-5,
        warmup_steps=10,
        eval_interval=0,
        log_interval=5,
        dtype="bfloat16",
    ),
)
reward.requires_grad_(False)
chosen_r, rejected_r = reward_model.pair_rewards(reward, held_pairs, chat)
right = (chosen_r > rejected_r).float() + 0.5 * (chosen_r == rejected_r).float()
accuracy = stats.mean(right)
longer = [float(len(p.chosen) > len(p.rejected)) for p in held_pairs]  # a rule, no training
print(f"held-out pair accuracy: {accuracy:.3f}  (n = {accuracy.n} pairs)")
print(f"chance: 0.500; 'the longer reply wins': {stats.mean(longer):.3f}")
over_length = stats.difference(right.tolist(), longer)  # paired: the same held-out pairs
print(f"reward model minus the length rule, paired by pair: {over_length:+.3f}")

# %% [markdown]
# Two baselines sit beside it: a coin (0.5) and the rule "prefer the longer reply", which
# needs no training. Is the reward model also **calibrated**, that is, when it says 70%, is it
# right 70% of the time? Each held-out pair is read both ways (so the bins mirror each other
# around 0.5), and the predictions are put in five bins; each bin's observed share carries its
# binomial standard error:

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

bins = reward_model.calibration(reward, held_pairs, chat, bins=5)
p_chosen = torch.sigmoid(chosen_r - rejected_r)
predicted = torch.cat([p_chosen, 1 - p_chosen])
counts = torch.bincount((predicted * 5).long().clamp(max=4), minlength=5)
counts = [int(c) for c in counts if c > 0]
fig, (ax_loss, ax_cal) = plt.subplots(1, 2, figsize=(10, 3.6))
steps = [h["step"] for h in reward_run.history]
ax_loss.plot(steps, [h["loss"] for h in reward_run.history])
ax_loss.axhline(torch.log(torch.tensor(2.0)).item(), color="grey", ls=":", label="log 2: chance")
ax_loss.set(xlabel="step", ylabel="Bradley-Terry loss", title="training the reward model")
ax_loss.legend()
ax_cal.plot([0, 1], [0, 1], color="grey", ls=":", label="calibrated")
ax_cal.plot(*zip(*bins, strict=True), "o-", label="reward model")
ax_cal.set(xlabel="predicted P(preferred)", ylabel="observed", title="calibration, held out")
ax_cal.legend()
plt.tight_layout()
plt.show()
for (p, o), n_bin in zip(bins, counts, strict=True):
    print(
        f"predicted {p:.2f}  observed {o:.2f} ± {(o * (1 - o) / n_bin) ** 0.5:.2f}  (n = {n_bin})"
    )

# %% [markdown]
# On the left, the training loss falls from `log 2` (a reward model that cannot tell the
# sides apart) to about 0.36. On the right, the three middle bins lie within about one standard
# error of the dotted diagonal; the two outer bins, which hold most pairs, are a little too sure:
# where the model says 0.04 and 0.96, the labeler agrees 0.08 and 0.92 of the time (each ± 0.02,
# so two standard errors off).

# %%
assert accuracy.value - 3 * accuracy.se > 0.5  # beats a coin
assert over_length.value > 0 and over_length.beyond_noise(3)  # and the length rule
assert reward_run.history[-1]["loss"] < 0.6 * reward_run.history[0]["loss"]
assert all(abs(p - o) < 0.2 for p, o in bins)  # every bin within 0.2 of the diagonal

# %% [markdown]
# On 250 pairs from plays it never saw, the reward model prefers the labeler's choice on
# 0.840 ± 0.023 of them: far above chance (0.5) and above the length rule (0.656 ± 0.030), by
# 0.184 ± 0.033 paired on the same pairs, more than three standard errors (asserted above), yet
# wrong on about one pair in six.
# Everything the reward model steers below inherits those errors.

# %% [markdown]
# ## 5. Best-of-n: no training at all

# %% [markdown]
# The simplest use of a reward model: sample `n` replies and keep the one it scores highest.
# The price is `n` samples per answer, and the answers no longer follow the model's own
# distribution. By how much? The **KL divergence** `KL(q || p) = Σ q log(q / p)` measures, in
# nats, how far a distribution `q` has moved from `p`; for a continuous reward, the KL of
# best-of-`n` from the sampling model is exactly `log n - (n-1)/n` nats. Checked on a small
# categorical model (ten outcomes, listed from worst to best reward): the exact best-of-`n`
# distribution, a Monte-Carlo estimate of it, and the formula:

# %%
import math

probs = torch.softmax(torch.randn(10, generator=torch.Generator().manual_seed(0)), dim=0)
n = 4
exact = reward_model.best_of_n_probs(probs, n)
draws_mc = torch.multinomial(
    probs, 200_000 * n, replacement=True, generator=torch.Generator().manual_seed(1)
)
monte_carlo = torch.bincount(draws_mc.view(-1, n).max(dim=1).values, minlength=10) / 200_000
kl_exact = float((exact * (exact / probs.double()).log()).sum())
print(
    f"KL(best-of-{n} || model): exact {kl_exact:.4f} nats, formula {reward_model.best_of_n_kl(n):.4f}"
)
assert torch.allclose(monte_carlo.double(), exact, atol=3e-3)
assert kl_exact <= reward_model.best_of_n_kl(n) + 1e-9  # with ties (a discrete reward): a bound
fine = torch.full((10_000,), 1e-4)  # ten thousand outcomes: close to a continuous reward
fine_best = reward_model.best_of_n_probs(fine, n)
assert math.isclose(
    float((fine_best * (fine_best / fine).log()).sum()), reward_model.best_of_n_kl(n), rel_tol=1e-3
)

# %% [markdown]
# On the model: eight replies to each of the 128 held-out prompts, scored by the reward model;
# the best of the first `n` is judged by the labeler, against one more `sft` reply to the same
# prompt (the **win rate**: the share of prompts where the labeler scores it higher, a tie
# counting half; `labeler.wins` gives the outcome per prompt). Best of 1 is the `sft` model
# against itself, the 0.5 baseline:

# %% tags=["nbval-ignore-output"]
candidates = rankings.sample_responses(
    sft, chat, held_prompts, 9, generator=torch.Generator().manual_seed(5)
)
other = [replies[8] for replies in candidates]  # the sft reply each pick is compared with
scores = [
    reward_model.score_replies(reward, chat, prompt, replies[:8]).tolist()
    for prompt, replies in zip(held_prompts, candidates, strict=True)
]

best_of, rubric = {}, {}
for n in (1, 2, 4, 8):
    picks = [
        replies[max(range(n), key=lambda i: s[i])]
        for replies, s in zip(candidates, scores, strict=True)
    ]
    rubric[n] = [labeler.score(p, *r) for p, r in zip(held_prompts, picks, strict=True)]
    best_of[n] = {
        "win": stats.mean(labeler.wins(labeler, held_prompts, picks, other)),
        "score": stats.mean(rubric[n]),
    }
    print(
        f"best of {n:>2}: win rate {best_of[n]['win']:.2f}  labeler score {best_of[n]['score']:.2f}"
        f"  KL {reward_model.best_of_n_kl(n):.2f} nats"
    )
gain = stats.difference(rubric[8], rubric[1], paired=True)  # the same prompts: paired
print(f"best of 8 minus best of 1, labeler score: {gain:.2f} (paired over {gain.n} prompts)")

# %%
assert abs(best_of[1]["win"].value - 0.5) < 3 * best_of[1]["win"].se  # sft vs sft: even
assert gain.beyond_noise(3)  # best-of-8 scores higher, by more than three standard errors
assert reward_model.best_of_n_kl(8) < 1.5  # best-of-8 moves the distribution by under 1.5 nats

# %% [markdown]
# Best of 1 is the `sft` model against itself: 0.41 ± 0.04 here, about two standard errors from
# the 0.5 it averages in the long run (128 prompts are few: this is what the ± means). Picking
# by the reward model lifts the labeler's score from 1.51 ± 0.04 at `n = 1` to 1.80 ± 0.03 at
# `n = 8`; paired on the same prompts, best of 8 beats best of 1 by 0.28 ± 0.05 labeler points
# (asserted: beyond three standard errors) and wins 0.64 ± 0.04 of its comparisons with another
# `sft` reply, for a KL of at most 1.20 nats. `reward_model.best_of_n` does the same for one
# prompt. Best of 8 costs eight samples per answer; the next method changes the model itself
# so that one sample is enough.

# %% [markdown]
# ## 6. DPO: learning from the pairs directly

# %% [markdown]
# A few words first. The model being tuned is called the **policy** (`π`: it decides what to
# say), and the model it starts from, kept frozen, is the **reference model** (`π_ref`, here
# `sft`). RLHF's objective is "maximise the reward, minus β times the KL from the reference":
# **β** sets how far the policy may move away from what it was to chase the reward. That
# objective's best policy has a closed form, and turned around, the form says the reward is
# `β · log(π(y) / π_ref(y))` plus a term that cancels in a pair. So the Bradley–Terry loss can be
# written on the policy itself: **DPO** (*direct preference optimisation*, Rafailov et al.,
# 2023) needs no reward model and no sampling, only the pairs and the frozen reference. With
# TRL's conventions (log-probabilities **summed** over the reply's tokens), by hand and from
# `llmlab.policy`, on one batch:

# %%
reference = policy.frozen(sft)  # a copy with no gradients, in eval mode
batch = rankings.dpo_batches(pairs, chat, sft.config.block_size)(
    torch.Generator().manual_seed(0), 8
)
with torch.no_grad():
    logps = {
        side: {
            name: policy.sequence_logps(
                model,
                batch[f"{side}_input_ids"],
                batch[f"{side}_loss_mask"],
                batch[f"{side}_attention_mask"],
            )
            for name, model in (("policy", sft), ("reference", reference))
        }
        for side in ("chosen", "rejected")
    }
beta = 0.1
margin = (logps["chosen"]["policy"] - logps["chosen"]["reference"]) - (
    logps["rejected"]["policy"] - logps["rejected"]["reference"]
)
by_hand = -F.logsigmoid(beta * margin).mean()
loss, chosen_rewards, rejected_rewards = policy.dpo_loss(
    logps["chosen"]["policy"],
    logps["rejected"]["policy"],
    logps["chosen"]["reference"],
    logps["rejected"]["reference"],
    beta,
)
print(f"DPO loss before training: {loss:.4f} (log 2 = {math.log(2):.4f})")
assert torch.allclose(loss, by_hand) and math.isclose(loss.item(), math.log(2), rel_tol=1e-6)
assert torch.equal(chosen_rewards, torch.zeros(8))  # the implicit rewards start at zero

# %% [markdown]
# At the start the policy *is* the reference, every margin is zero and the loss is `log 2`
# exactly. The quantities `β · (log π − log π_ref)` are DPO's **implicit rewards**. Some courses
# average the log-probabilities over tokens instead of summing them (`policy.mean_logps`). That
# divides each log-ratio by the reply's length, so the same β pulls about as many times more
# weakly as the reply has tokens:

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    summed = policy.sequence_logps(
        sft, batch["chosen_input_ids"], batch["chosen_loss_mask"], batch["chosen_attention_mask"]
    )
    averaged = policy.mean_logps(
        sft, batch["chosen_input_ids"], batch["chosen_loss_mask"], batch["chosen_attention_mask"]
    )
reply_tokens = batch["chosen_loss_mask"][:, 1:].sum(dim=1)
typical = reply_tokens.float().mean().item()
print("reply lengths (tokens):", reply_tokens.tolist())
print(f"β = 0.1 on means pulls like β = 0.1 / {typical:.0f} = {0.1 / typical:.4f} on sums")
assert torch.allclose(summed, averaged * reply_tokens)

# %% [markdown]
# A mean-over-tokens run with β = 0.1 behaves like a summed run with β = 0.1 / (reply length):
# its β is not the same β. Now DPO for real, at β = 0.5: 100 steps of 16 of the labeler's pairs
# (each step checks that the reference is frozen and shares the vocabulary):

# %% tags=["nbval-ignore-output"]
DPO_STEPS, BETA = 100, 0.5
dpo_model = policy.frozen(sft).requires_grad_(True).train()
dpo_run = fit(
    dpo_model,
    rankings.dpo_batches(pairs, chat, sft.config.block_size),
    policy.dpo_loss_fn(reference, BETA),
    TrainConfig(
        batch_size=16,
        max_steps=DPO_STEPS,
        learning_rate=3e-4,
        min_lr=3e-5,
        warmup_steps=5,
        eval_interval=0,
        log_interval=20,
        dtype="bfloat16",
    ),
)
dpo_model.eval().requires_grad_(False)
print(
    f"DPO training loss at the end: {dpo_run.history[-1]['loss']:.3f} (log 2 = 0.693 at the start)"
)
assert dpo_run.history[-1]["loss"] < math.log(2) / 3  # it separates its training pairs

# %% [markdown]
# A training loss of 0.10, down from 0.69, says only that the policy now separates the pairs
# it was trained on. The test is the **held-out pairs** of section 3, from plays DPO never saw, read the way
# TRL logs them: `rewards/chosen` and `rewards/rejected` (the mean implicit reward of each
# side), `rewards/margins` (their mean difference) and `rewards/accuracies` (the share of pairs
# whose chosen reply gets the higher implicit reward). Before training every implicit reward is
# exactly 0, every pair a tie: accuracy 0.5 at best. After, on as many training pairs as there
# are held-out ones, then on the held-out pairs:


# %% tags=["nbval-ignore-output"]
def dpo_rewards(pair_set: list) -> dict:
    chosen, rejected = reward_model.implicit_rewards(dpo_model, reference, pair_set, chat, BETA)
    right = (chosen > rejected).float() + 0.5 * (chosen == rejected).float()
    found = {"chosen": stats.mean(chosen), "rejected": stats.mean(rejected)}
    found |= {"margins": stats.mean(chosen - rejected), "accuracies": stats.mean(right)}
    print("  ".join(f"rewards/{k} {v:.2f}" for k, v in found.items()))
    return found | {"right": right}


print("train pairs:   ", end="")
on_train = dpo_rewards(pairs[: len(held_pairs)])
print("held-out pairs:", end="")
on_held = dpo_rewards(held_pairs)
gap = stats.difference(on_train["right"], on_held["right"], paired=False)
print(f"accuracy, train minus held out: {gap:.2f}")
versus = stats.difference(on_held["right"], right, paired=True)  # the same held-out pairs
print(f"held-out accuracy, DPO minus the reward model of section 4: {versus:.2f}")

# %%
assert on_held["accuracies"].value - 3 * on_held["accuracies"].se > 0.5  # beyond a tie
assert on_held["margins"].beyond_noise(3) and on_held["margins"].value > 0
assert gap.beyond_noise(3) and gap.value > 0  # better on its own pairs: some memorised
assert not versus.beyond_noise(3)  # DPO's implicit reward and the reward model: level

# %% [markdown]
# On the pairs it trained on, DPO's implicit reward orders 0.96 ± 0.01 correctly with a margin
# of 6.80 ± 0.22; on the held-out pairs, 0.82 ± 0.02 with a margin of 2.56 ± 0.17. The gap,
# 0.14 ± 0.03 in accuracy, mixes two things: pairs DPO memorised rather than the rubric behind
# them, and plays it never read. Either way a low training loss proves nothing. What does
# carry over puts DPO level with the reward model of section 4 on the same held-out pairs (the
# difference printed is within noise). Both held-out implicit rewards are negative (−1.90 chosen,
# −4.45 rejected): DPO lowered the probability of the chosen replies too, only less than that
# of the rejected ones. The loss asks for a margin, nothing more.

# %% [markdown]
# The last test is the one that matters: replies. On 256 prompts from the held-out plays, one
# reply each, against the `sft` model's replies to the same prompts (`policy.report`): the
# labeler's win rate, its mean score, the reward model's mean score (each with its standard
# error over the prompts), the **KL** from the reference
# in nats per reply (the mean of the summed log-ratios over the policy's own replies),
# distinct-2 (the share of word pairs that are new: diversity), and the loss on plain text of
# the held-out plays in nats per token (lesson 04's `evaluate`: what the tuning cost the model
# at its first job). The `sft` model is measured the same way, against a second set of its
# own replies: the baseline.

# %% tags=["nbval-ignore-output"]
eval_prompts = rankings.dialogue_prompts("validation", 256)
plain_text = torch.tensor(chat.encode(corpus.text("validation")[:300_000]))
baseline = [
    r[0]
    for r in rankings.sample_responses(
        sft, chat, eval_prompts, 1, generator=torch.Generator().manual_seed(99)
    )
]


def measure(model: torch.nn.Module, name: str) -> dict:
    found = policy.report(
        model,
        reference,
        reward,
        chat,
        eval_prompts,
        baseline,
        plain_text,
        generator=torch.Generator().manual_seed(7),
    )
    print(
        f"{name:<10} win rate {found['win_rate']:.2f}  labeler {found['score']:.2f}  "
        f"reward {found['reward']:.2f}  KL {found['kl']:.2f}  distinct-2 {found['distinct_2']:.2f}  "
        f"plain {found['plain_loss']:.3f}"
    )
    return found


results = {"sft": measure(sft, "sft"), "dpo": measure(dpo_model, f"dpo β={BETA}")}

# %% tags=["nbval-ignore-output"]
sft_win, dpo_win = results["sft"]["win_rate"], results["dpo"]["win_rate"]
lift, score_gain, reward_gain = (
    stats.difference(results["dpo"][key], results["sft"][key], paired=True)
    for key in ("wins", "scores", "rewards")
)
print(f"dpo minus sft, paired over {lift.n} prompts: win rate {lift:+.2f}")
print(f"  labeler score {score_gain:+.2f}   reward model's score {reward_gain:+.2f}")
sft_replies, dpo_replies = ([t for t, _ in results[k]["replies"]] for k in ("sft", "dpo"))
low, high = stats.bootstrap(  # resample the prompts, both models' replies together
    range(len(eval_prompts)),
    lambda rows: (
        labeler.distinct_n([dpo_replies[int(i)] for i in rows], 2)
        - labeler.distinct_n([sft_replies[int(i)] for i in rows], 2)
    ),
    n_resamples=200,
)
print(f"  distinct-2 {results['dpo']['distinct_2'] - results['sft']['distinct_2']:+.3f}"
      f"  (95% bootstrap interval {low:+.3f} to {high:+.3f})")  # fmt: skip
assert abs(sft_win.value - 0.5) < 3 * sft_win.se  # the sft model against itself: even
assert dpo_win.value - 3 * dpo_win.se > 0.5 and results["dpo"]["kl"] < 8.0
assert lift.beyond_noise(3) and lift.value > 0
assert score_gain.beyond_noise(3) and score_gain.value > 0  # the labeler: better
assert reward_gain.beyond_noise(3) and reward_gain.value > 0  # the reward model agrees
assert low < 0 < high  # diversity: no change it can see

# %% [markdown]
# DPO's replies beat an `sft` reply on 0.68 ± 0.03 of the 256 prompts, where the `sft` model
# against itself scores 0.52 ± 0.03: paired on the same prompts, a lift of 0.16 ± 0.03, beyond
# three standard errors (asserted above). The labeler's mean score rises from 1.57 ± 0.03 to
# 1.77 ± 0.02 (paired: +0.19 ± 0.03), and the reward model, which DPO never used, scores its
# replies 2.61 ± 0.07 against 1.45 ± 0.13 (paired: +1.17 ± 0.14; its numbers have no unit, only
# their order counts): the two judges moved the same way. Diversity did not measurably move:
# distinct-2 went from 0.91 to 0.90, a change of −0.008 whose 95% bootstrap interval over the
# prompts, −0.039 to +0.022, holds zero. Which of the rubric's terms moved, each paired over
# the same prompts (they add up to the labeler's change):

# %% tags=["nbval-ignore-output"]
terms = {
    name: [
        labeler.score_terms(p, *r)
        for p, r in zip(eval_prompts, results[name]["replies"], strict=True)
    ]
    for name in ("sft", "dpo")
}
moved = {}
for term in terms["sft"][0]:
    before, after = ([t[term] for t in terms[name]] for name in ("sft", "dpo"))
    moved[term] = stats.difference(after, before, paired=True)
    print(f"{term:<10} sft {sum(before) / len(before):5.2f}  dpo {sum(after) / len(after):5.2f}"
          f"  paired change {moved[term]:+.2f}")  # fmt: skip
assert abs(sum(m.value for m in moved.values()) - score_gain.value) < 1e-9
assert moved["verse"].beyond_noise(3) and moved["verse"].value > score_gain.value / 2

# %% [markdown]
# Most of the gain is verse: lines nearer the eight words of a pentameter line (+0.16 ± 0.02),
# then fewer insults (+0.04 ± 0.01). Staying on topic (+0.02 ± 0.02) and ending the reply
# (−0.01 ± 0.01) did not move beyond their noise, and loops stayed as rare as they were (0.00
# in both).
#
# **Reward hacking** is what this table would show if a policy learned to please the reward
# model rather than the labeler: the reward model's score up, the labeler's flat or down, one
# rubric term sliding. This run shows none of it, and it cannot: DPO never asked the reward
# model anything. A policy trained *against* the reward model with no KL charge would be free to
# look for the pairs it gets wrong (about one held-out pair in six, section 4); this course does
# not run that experiment, and lesson 09 says why.
#
# The price of what DPO did gain is a KL of 4.01 nats per reply from the reference, and some of
# the model's first skill, predicting plain text; the **alignment tax**, measured on the same
# 64 windows of the held-out plays:

# %% tags=["nbval-ignore-output"]
windows = torch.linspace(0, len(plain_text) - 129, 64).long()[:, None] + torch.arange(
    129
)  # evaluate's
text_windows = plain_text[windows]


@torch.no_grad()
def window_losses(model: torch.nn.Module) -> torch.Tensor:
    """Next-token loss per window (nats per token): one number per window, for pairing."""
    logits, _ = model.eval()(text_windows[:, :-1])
    nll = F.cross_entropy(logits.float().transpose(1, 2), text_windows[:, 1:], reduction="none")
    return nll.mean(dim=1)


tax = stats.difference(window_losses(dpo_model), window_losses(sft), paired=True)
print(f"plain-text loss, dpo minus sft: {tax:.3f} nats per token (paired over {tax.n} windows)")
assert tax.beyond_noise(3) and tax.value > 0
assert abs(window_losses(sft).mean() - results["sft"]["plain_loss"]) < 1e-3  # the same windows

# %% [markdown]
# Tuning on preferences raised the loss on plain text of the held-out plays by 0.102 ± 0.008
# nats per token (3.849 → 3.951 in the table above), paired over the same 64 windows: what a
# model is pulled toward, it pays for elsewhere.

# %% [markdown]
# ## Recap

# %% [markdown]
# - **RLHF** learns from **preference data**: people **rank** replies, and a ranking of `k`
#   is `k(k-1)/2` pairs `(chosen, rejected)`. Your rankings are saved as `human`, the script's
#   as `labeler`, and a new run never overwrites yours.
# - A scripted labeler with a short rubric ranked the thousands of pairs a reward model needs,
#   and stayed the ground truth.
# - The **reward model**, trained with the **Bradley–Terry** loss, agreed with the labeler on
#   0.840 ± 0.023 of held-out pairs (chance 0.5; "the longer reply wins" 0.656 ± 0.030), and
#   its probabilities were roughly calibrated, a little too sure at the extremes.
# - **Best-of-n** needs no training and costs `n` samples, at a KL of at most
#   `log n − (n−1)/n` nats. Best of 8 beat best of 1 by 0.28 ± 0.05 labeler points.
# - **DPO** trains the policy on the pairs directly, against a frozen **reference model**, with
#   **β** setting how far it may move. It won 0.68 ± 0.03 of its comparisons with `sft`
#   (`sft` against itself: 0.52 ± 0.03). On held-out pairs its implicit reward was right on
#   0.82 ± 0.02 against 0.96 ± 0.01 on its own pairs: judge DPO on held-out pairs, never by its
#   training loss. It paid an alignment tax on plain text: +0.102 ± 0.008 nats per token.
#
# **Next:** lesson 09 trains the policy by *reinforcement learning*: it samples replies, a
# reward scores them, and a PPO-style step makes what scored well likelier. There the reward is
# a program that checks the answer exactly (GRPO, as behind today's reasoning models), not a
# reward model that can be fooled.

# %% [markdown]
# ## Exercises

# %% [markdown]
# ### Exercise: a reward model's training step
# Section 4 trained the reward model with `fit`, which hides the step. Write one. Inputs: a
# tiny reward `model` (one `torch.nn.Linear(d, 1)` reading a feature vector per reply: it
# returns a `[B, 1]` column of rewards), its `optimizer`, and the features `chosen [B, d]` and
# `rejected [B, d]` of a batch of pairs. Score both sides, compute the Bradley–Terry loss, and
# take one optimizer step; return the loss (a float). The model's weights already hold a
# gradient from an earlier step, as they do in a training loop. The checker compares the
# weights after your step with the reference's.

# %%
from llmlab import exercises

print(exercises.header("reward_model_step"))


# %%
def reward_model_step(model, optimizer, chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    # 1. clear what the last step left
    # 2. one reward per reply for each side: [B]
    # 3. the Bradley-Terry loss over the batch, then backward and the update
    raise NotImplementedError  # your code here


passed = exercises.check("reward_model_step", reward_model_step)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("reward_model_step")` (then
# `exercises.hint("reward_model_step", 2)`), and only then `exercises.solution("reward_model_step")`.

# %% [markdown]
# ### Exercise: a DPO step
# Section 6 used `policy.sequence_logps` and `policy.dpo_loss`. Build the step from one level
# down. Inputs: per-token log-probabilities `[B, T]` of the chosen and the rejected rows under
# the policy (`policy_chosen`, `policy_rejected`) and under the reference (`ref_chosen`,
# `ref_rejected`); the reply masks `chosen_mask` and `rejected_mask` `[B, T]` (1 on the reply's
# tokens, 0 on the prompt and padding); and `beta`. Sum each row's log-probabilities over its
# reply tokens, form the implicit rewards, compute DPO's loss (mean over pairs), call
# `backward()` on it and return it. The reference's tensors here carry gradients, as if it were
# not frozen: none of the gradient may reach them. The checker compares the gradients that
# reach each of the four inputs.

# %%
print(exercises.header("dpo_step"))


# %%
def dpo_step(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    chosen_mask: torch.Tensor,
    rejected_mask: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    # 1. four [B] sums over reply tokens (the reference's held fixed)
    # 2. the implicit rewards of each side, and the loss over the batch
    # 3. backward, then return the loss
    raise NotImplementedError  # your code here


passed = exercises.check("dpo_step", dpo_step)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("dpo_step")` (then `exercises.hint("dpo_step", 2)`),
# and only then `exercises.solution("dpo_step")`.

# %% [markdown]
# ## Check your understanding
#
# A few questions on what this lesson measured. Their answers are computed from the numbers
# above, so if a run of yours measured something else, the answer key follows your run.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

length_rule = stats.mean(longer)
beats_length = over_length.value > 0 and over_length.beyond_noise(3)
held_options = [
    "It orders them as well as its training pairs: the low loss carried over",
    "Better than a tie, but worse than its own training pairs, beyond noise",
    "No better than a tie: it learned nothing that carries over",
]
if on_held["accuracies"].value - 3 * on_held["accuracies"].se <= 0.5:
    held_answer = held_options[2]
elif gap.value > 0 and gap.beyond_noise(3):
    held_answer = held_options[1]
else:
    held_answer = held_options[0]
assert on_held["chosen"].value < 0 and on_held["margins"].value > 0  # the premise of question 3
tax_options = ["It rose, beyond noise", "It fell, beyond noise", "No change we can tell from noise"]
tax_answer = tax_options[2] if not tax.beyond_noise(3) else tax_options[tax.value < 0]
margin_options = [
    "Both became less likely than under the reference, the rejected more: the loss asks only "
    "for the margin",
    "DPO now prefers the rejected replies: its training pushed the margin the wrong way",
    "Nothing: implicit rewards are centred, so about half of any set of them is below zero",
]
quiz = Quiz(
    [
        Question(
            "The reward model picks the labeler's choice on most held-out pairs. Did it learn "
            "more than the rule 'prefer the longer reply'?",
            [
                "Yes: it beats the length rule by more than three SEs",
                "No: it is within three SEs of the length rule",
            ],
            "Yes: it beats the length rule by more than three SEs"
            if beats_length
            else "No: it is within three SEs of the length rule",
            f"Reward model {accuracy:.3f}, length rule {length_rule:.3f}, chance 0.5, on "
            f"{accuracy.n} pairs from plays it never saw; reward model minus length rule, "
            f"paired by pair: {over_length:+.3f}. Even so it is wrong on about one pair "
            f"in {1 / (1 - accuracy.value):.0f}, and whatever it steers inherits those errors.",
        ),
        Question(
            f"DPO's training loss fell from 0.693 to {dpo_run.history[-1]['loss']:.3f}. How well "
            "does its implicit reward order the held-out pairs, from plays it never saw?",
            held_options,
            held_answer,
            f"Accuracy on training pairs {on_train['accuracies']:.2f}, on held-out pairs "
            f"{on_held['accuracies']:.2f}; the gap {gap:.2f}. A training loss measures the "
            "pairs it was fitted on: judge DPO on held-out pairs.",
        ),
        Question(
            f"On held-out pairs, DPO's mean implicit reward of the chosen replies is "
            f"{on_held['chosen'].value:+.2f} and of the rejected ones "
            f"{on_held['rejected'].value:+.2f}. What does the negative reward of the chosen "
            "replies mean?",
            margin_options,
            margin_options[0],
            f"An implicit reward is β·(log π − log π_ref): below zero, the policy gives the reply "
            f"less probability than the reference. The margin, {on_held['margins']:.2f}, is what "
            "DPO's loss rewards, and it is positive.",
        ),
        Question(
            "DPO was tuned on preferences over replies only. What happened to its loss on the "
            "plain text of the held-out plays (lesson 04's first job)?",
            tax_options,
            tax_answer,
            f"DPO minus sft, paired over the same {tax.n} windows: {tax:.3f} nats per token. A "
            "rise is the alignment tax: what a model is pulled toward, it pays for elsewhere.",
        ),
    ]
)
quiz
