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
# assistant asks them to **rank** a model's replies and learns from the rankings. You will rank
# a few replies yourself, let a scripted labeler with a one-screen rubric rank many more, train
# a **reward model** on the rankings and check it on prompts it never saw, then use it three
# ways: **best-of-n**, **DPO** and a small **PPO-style loop**. Each is measured against the
# labeler, and a last run shows what happens when a model is tuned for the reward model with
# nothing holding it back: **reward hacking**.
#
# **CPU time:** about 4 minutes on a 2-core laptop (budget: 5 minutes), with the course's `sft`
# model in the cache (lesson 06; `llmlab prepare` trains it ahead of time).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. Why rankings
#
# Lesson 06's `sft` model answers in the chat template, but its replies vary in quality from
# one sample to the next. Four replies of it to one line from *Hamlet*:

# %% tags=["nbval-ignore-output"]
import torch

from llmlab import corpus, labeler, policy, pretrained, rankings, reward_model

sft, chat = pretrained.load("sft")
ask = (("user", "To HAMLET: My lord, how does your honour for this many a day?"),)
four = rankings.sample_responses(sft, chat, [ask], 4, generator=torch.Generator().manual_seed(3))
four = rankings.distinct_replies(four[0])
for i, (text, ended) in enumerate(four):
    print(f"reply {i}: {text!r}{'' if ended else '  (cut off)'}")

# %% [markdown]
# Writing the perfect reply to that line is hard for anyone. Saying that reply 2 is better
# than reply 0 is easy, and a **ranking** of all four says it for every pair at once: a ranking
# of `k` replies holds `k(k-1)/2` ordered pairs `(chosen, rejected)`, each reply preferred to
# every reply ranked below it. By hand, then checked against `rankings.ranking_to_pairs`:

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
#
# Here are three more prompts, four replies each. Rank them: click *pick* under the best reply,
# then under the next best; the last one takes the last place by itself. Each finished ranking
# is saved at once to `my_rankings.json` beside this notebook.

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
# whatever you left unranked with the scripted labeler of section 3 (your own rankings are kept).
# Either way the file reads back as the same `Ranking` type the labeler produces:

# %%
box.rank_rest(labeler.rank)
mine = rankings.load_rankings("my_rankings.json")
by_labeler = rankings.label(yours, your_samples)
print(f"{len(mine)} rankings read back; sources: {sorted({r.source for r in mine})}")
assert len(mine) == len(yours) and all(type(r) is type(by_labeler[0]) for r in mine)
assert all(r.source == "human" for r in mine) and {r.source for r in by_labeler} == {"labeler"}
assert [r.responses for r in mine] == [r.responses for r in by_labeler]  # the same replies

# %% [markdown]
# ## 3. A labeler with a rubric, for many rankings
#
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
# Now the labeler ranks four replies to each of 400 prompts from the training plays, and the
# same for 128 prompts from the six held-out plays (for checking the reward model later). Many
# replies get the *same* score (two short lines, both ended, say), and a ranking must still
# order them, so a ranking's pairs include near coin flips. `label_pairs` keeps only the pairs
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
#
# The reward model reads a prompt and a reply and returns one number. It is the `sft` model's
# trunk with a one-number head on the last real token (`reward_model.reward_model`: a copy, so the
# policy stays as it was). Training asks that `sigmoid(r(chosen) - r(rejected))` be the
# probability that the chosen reply is preferred: the **Bradley–Terry** model. Its loss, by hand
# and from `llmlab`, on a few made-up rewards:

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
        batch_size=16, max_steps=150, learning_rate=3e-4, min_lr=3e-5, warmup_steps=10,
        eval_interval=0, log_interval=5, dtype="bfloat16",
    ),
)
reward.requires_grad_(False)
accuracy = reward_model.pair_accuracy(reward, held_pairs, chat)
print(f"held-out pair accuracy: {accuracy:.3f}")

# %% [markdown]
# On pairs from plays it never saw, the reward model prefers the reply the labeler preferred
# more than 80% of the time (asserted below). Is it **calibrated**, that is, when it says 70%,
# is it right 70% of the time? Each held-out pair is read both ways, and the predictions are
# put in five bins:

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

bins = reward_model.calibration(reward, held_pairs, chat, bins=5)
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
for predicted, observed in bins:
    print(f"predicted {predicted:.2f}  observed {observed:.2f}")

# %%
assert 0.80 <= accuracy < 0.95, accuracy  # right on most held-out pairs, wrong on some
assert reward_run.history[-1]["loss"] < 0.6 * reward_run.history[0]["loss"]
assert all(abs(p - o) < 0.2 for p, o in bins)  # every bin within 0.2 of the diagonal

# %% [markdown]
# ## 5. Best-of-n: no training at all
#
# The simplest use of a reward model: sample `n` replies and keep the one it scores highest.
# The price is `n` samples per answer, and the answers no longer follow the policy's
# distribution. By how much? For a continuous reward, the KL divergence of best-of-`n` from the
# policy is exactly `log n - (n-1)/n` nats. Checked on a small categorical policy (ten outcomes,
# listed from worst to best reward): the exact best-of-`n` distribution, a Monte-Carlo estimate
# of it, and the formula:

# %%
import math

probs = torch.softmax(torch.randn(10, generator=torch.Generator().manual_seed(0)), dim=0)
n = 4
exact = reward_model.best_of_n_probs(probs, n)
draws_mc = torch.multinomial(probs, 200_000 * n, replacement=True, generator=torch.Generator().manual_seed(1))
monte_carlo = torch.bincount(draws_mc.view(-1, n).max(dim=1).values, minlength=10) / 200_000
kl_exact = float((exact * (exact / probs.double()).log()).sum())
print(f"KL(best-of-{n} || policy): exact {kl_exact:.4f} nats, formula {reward_model.best_of_n_kl(n):.4f}")
assert torch.allclose(monte_carlo.double(), exact, atol=3e-3)
assert kl_exact <= reward_model.best_of_n_kl(n) + 1e-9  # with ties (a discrete reward): a bound
fine = torch.full((10_000,), 1e-4)  # ten thousand outcomes: close to a continuous reward
fine_best = reward_model.best_of_n_probs(fine, n)
assert math.isclose(float((fine_best * (fine_best / fine).log()).sum()), reward_model.best_of_n_kl(n), rel_tol=1e-3)

# %% [markdown]
# On the model: sixteen replies to each of 128 held-out prompts, scored by the reward model; the
# best of the first `n`, judged by the labeler:

# %% tags=["nbval-ignore-output"]
candidates = rankings.sample_responses(
    sft, chat, held_prompts, 16, generator=torch.Generator().manual_seed(5)
)
scores = [
    reward_model.score_replies(reward, chat, prompt, replies).tolist()
    for prompt, replies in zip(held_prompts, candidates, strict=True)
]
best_of = {}
for n in (1, 2, 4, 8, 16):
    picks = [
        replies[max(range(n), key=lambda i: s[i])]
        for replies, s in zip(candidates, scores, strict=True)
    ]
    rubric = sum(labeler.score(p, *r) for p, r in zip(held_prompts, picks, strict=True))
    best_of[n] = {"score": rubric / len(picks), "kl": reward_model.best_of_n_kl(n)}
    print(f"best of {n:>2}: labeler score {best_of[n]['score']:.2f}  KL {best_of[n]['kl']:.2f} nats")

# %%
assert min(best_of[n]["score"] for n in (8, 16)) > best_of[1]["score"]
assert best_of[16]["kl"] < 2.0  # best-of-16 moves the distribution by under 2 nats

# %% [markdown]
# More samples help, a little and not steadily: the reward model, right on most pairs, is a
# weak judge of which of sixteen replies is best. `reward_model.best_of_n` does the same for one
# prompt. Best-of-16 costs sixteen samples per answer; the next two methods change the model itself so that one sample is enough.
#
# ## 6. DPO: learning from the pairs directly
#
# RLHF's objective is "maximise the reward, minus β times the KL to the reference model". Its
# best policy has a closed form, and turned around, that form says the reward is
# `β · log(π(y) / π_ref(y))` plus a term that cancels in a pair. So the Bradley–Terry loss can be
# written on the policy itself: **DPO** needs no reward model and no sampling, only the pairs
# and a frozen copy of the starting model. With TRL's conventions (log-probabilities **summed**
# over the reply's tokens), by hand and from `llmlab.policy`, on one batch:

# %%
reference = policy.frozen(sft)  # a copy with no gradients, in eval mode
batch = rankings.dpo_batches(pairs, chat, sft.config.block_size)(torch.Generator().manual_seed(0), 8)
with torch.no_grad():
    logps = {
        side: {
            name: policy.sequence_logps(
                model, batch[f"{side}_input_ids"], batch[f"{side}_loss_mask"],
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
    logps["chosen"]["policy"], logps["rejected"]["policy"],
    logps["chosen"]["reference"], logps["rejected"]["reference"], beta,
)
print(f"DPO loss before training: {loss:.4f} (log 2 = {math.log(2):.4f})")
assert torch.allclose(loss, by_hand) and math.isclose(loss.item(), math.log(2), rel_tol=1e-6)
assert torch.equal(chosen_rewards, torch.zeros(8))  # the implicit rewards start at zero

# %% [markdown]
# At the start the policy *is* the reference, every margin is zero and the loss is `log 2`
# exactly. Some courses average the log-probabilities over tokens instead of summing them
# (`policy.mean_logps`). That divides each log-ratio by the reply's length, so the same β pulls
# about as many times more weakly as the reply has tokens:

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    summed = policy.sequence_logps(sft, batch["chosen_input_ids"], batch["chosen_loss_mask"], batch["chosen_attention_mask"])
    averaged = policy.mean_logps(sft, batch["chosen_input_ids"], batch["chosen_loss_mask"], batch["chosen_attention_mask"])
reply_tokens = batch["chosen_loss_mask"][:, 1:].sum(dim=1)
typical = reply_tokens.float().mean().item()
print("reply lengths (tokens):", reply_tokens.tolist())
print(f"β = 0.1 on means pulls like β = 0.1 / {typical:.0f} = {0.1 / typical:.4f} on sums")
assert torch.allclose(summed, averaged * reply_tokens)

# %% [markdown]
# A mean-over-tokens run with β = 0.1 behaves like a summed run with β = 0.1 / (reply length):
# its β is not the same β. Now DPO for real, 160 steps on
# the labeler's pairs; each step checks that the reference is frozen and shares the vocabulary:

# %% tags=["nbval-ignore-output"]
DPO_STEPS = 160


def dpo(beta: float) -> torch.nn.Module:
    """The sft model tuned by DPO at ``beta`` on the labeler's pairs."""
    tuned = policy.frozen(sft).requires_grad_(True).train()
    fit(
        tuned,
        rankings.dpo_batches(pairs, chat, sft.config.block_size),
        policy.dpo_loss_fn(reference, beta),
        TrainConfig(
            batch_size=16, max_steps=DPO_STEPS, learning_rate=3e-4, min_lr=3e-5,
            warmup_steps=5, eval_interval=0, dtype="bfloat16",
        ),
    )
    return tuned.eval()


dpo_model = dpo(beta=0.5)

# %% [markdown]
# Measured on 512 prompts from the held-out plays, one reply each, against the `sft` model's
# replies to the same prompts (`policy.report`): the labeler's **win rate** (a tie counts half), its mean
# score, the reward model's score, the **KL** from the reference in nats per reply (the mean
# of the summed log-ratios over the policy's own replies), distinct-2 (the share of word pairs
# that are new: diversity), and the loss on plain text of the held-out plays in nats per token
# (lesson 04's `evaluate`: what the tuning cost the model at its first job):

# %% tags=["nbval-ignore-output"]
eval_prompts = rankings.dialogue_prompts("validation", 512)
plain_text = torch.tensor(chat.encode(corpus.text("validation")[:300_000]))
baseline = [
    r[0] for r in rankings.sample_responses(
        sft, chat, eval_prompts, 1, generator=torch.Generator().manual_seed(99)
    )
]


def measure(model: torch.nn.Module, name: str) -> dict:
    found = policy.report(
        model, reference, reward, chat, eval_prompts, baseline, plain_text,
        generator=torch.Generator().manual_seed(7),
    )
    print(
        f"{name:<18} win rate {found['win_rate']:.2f}  labeler {found['score']:.2f}  "
        f"reward {found['reward']:5.2f}  KL {found['kl']:5.2f}  distinct-2 {found['distinct_2']:.2f}  "
        f"plain {found['plain_loss']:.3f}"
    )
    return found


results = {"sft": measure(sft, "sft"), "dpo β=0.5": measure(dpo_model, "dpo β=0.5")}

# %%
KL_BOUND = 8.0  # nats per reply: the bound this lesson holds its tuned policies to
assert 0.4 < results["sft"]["win_rate"] < 0.6  # the sft model against itself: about even
assert results["dpo β=0.5"]["win_rate"] > 0.65 and results["dpo β=0.5"]["kl"] < KL_BOUND
assert results["dpo β=0.5"]["score"] > results["sft"]["score"]

# %% [markdown]
# DPO wins more than 65% of the comparisons with the `sft` model while staying within 8 nats per
# reply of it. A smaller β lets the policy move further from the reference; the frontier of
# section 8 uses one more run, at β = 0.1:

# %% tags=["nbval-ignore-output"]
results["dpo β=0.1"] = measure(dpo(beta=0.1), "dpo β=0.1")

# %%
assert results["dpo β=0.5"]["kl"] < results["dpo β=0.1"]["kl"]
# ## Recap
#
# - People **rank**; a ranking of `k` is `k(k-1)/2` pairs. A scripted labeler with a short
#   rubric ranked the thousands a reward model needs, and stayed the ground truth.
# - The **reward model**, trained with the Bradley–Terry loss, agreed with the labeler on more
#   than 80% of held-out pairs, and its probabilities were roughly calibrated.
# - **Best-of-n** improves answers with no training, at a known KL of `log n − (n−1)/n`.
# - **DPO** trains on the pairs directly and beat `sft` in more than 65% of comparisons; the
#   **PPO-style loop** samples, scores and takes clipped steps with a KL penalty, and beat `sft`
#   in more than 65% too, learning through a reward model that is wrong on some pairs.
# - Every tuned model lost some of its plain-text skill: the **alignment tax**.
# - With no KL penalty the reward model's score kept rising while the labeler's stopped (here it
#   fell): **reward hacking**.
#
# ## Exercises
#
# Write each function and check it. Stuck? `exercises.solution("name")` prints a worked solution
# (the tested reference) when you ask for it.

# %%
from llmlab import exercises


def ranking_to_pairs(responses: list[str], ranking: list[int]) -> list[tuple[str, str]]:
    """Every (chosen, rejected) pair of a ranking (indices of ``responses``, best first)."""
    raise NotImplementedError  # your code here


passed = exercises.check("ranking_to_pairs", ranking_to_pairs)


# %%
def bradley_terry_loss(chosen_rewards, rejected_rewards):
    """mean(-log sigmoid(r_chosen - r_rejected))."""
    raise NotImplementedError


passed = exercises.check("bradley_terry_loss", bradley_terry_loss)


# %%
def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    """DPO's loss from summed log-probabilities (TRL's conventions)."""
    raise NotImplementedError


passed = exercises.check("dpo_loss", dpo_loss)


# %%
def k3(logp, ref_logp):
    """Schulman's k3 per token: (r - 1) - log r, with log r = ref_logp - logp."""
    raise NotImplementedError


passed = exercises.check("k3", k3)
