# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 09 · Reinforcement learning
#
# **What you will build:** a model that improves by trying. Fine-tuning (lesson 06) copies
# answers someone wrote; reinforcement learning lets the model answer on its own, scores each
# answer, and makes the better-scored ones likelier. You will take one round of it apart by hand
# (sample, score, compare each answer with its siblings, take PPO's clipped step) and check each
# piece against `llmlab.policy`; then train the `sft` model with **GRPO** on a question whose
# answer a program checks exactly, and measure what it gained (pass@1) and what it did not
# (pass@8), each with its standard error. Two exercises have you build the group-relative
# advantages and the clipped PPO loss.
#
# **CPU time:** about 2 minutes on a 2-core laptop (budget: 3 minutes), with the course's `sft`
# model in the cache (`llmlab prepare` trains it ahead of time).

# %%
import llmlab

llmlab.setup(threads=1)  # one thread: fastest for models this small, and the same numbers anywhere

# %% [markdown]
# ## 1. The words of reinforcement learning

# %% [markdown]
# **Reinforcement learning** (RL) trains by trial and score instead of by example. The model
# being trained is the **policy**: given a prompt, it chooses the next token, again and again.
# One go, a prompt and the reply the policy samples for it, is an **episode** (or **rollout**).
# At the end a **reward**, one number, says how good the reply was; the **return** is everything
# the episode earned (here the reward, minus a charge for drifting, below). The update makes
# replies that did *better than expected* likelier and the others less likely. "Expected" is a
# **baseline**, and the return minus the baseline is the reply's **advantage**: positive, push
# the reply up; negative, push it down; zero, leave it alone.
#
# Left alone, a policy will drift anywhere the reward allows, forgetting how to write. So RL for
# language models keeps a frozen copy of the starting model, the **reference model**, and
# measures the distance to it with the **KL divergence**: the expected `log π(token) − log
# π_ref(token)` over the policy's own tokens, zero when the two agree, in nats. With the reward
# coming from people's rankings through a reward model (lesson 08), the whole recipe is
# **RLHF**, reinforcement learning from human feedback; here the reward is a program.
#
# The task: the `sft` model of lesson 06 was fine-tuned on questions like *"Is Hamlet a comedy,
# a history or a tragedy?"*, and answers them right only sometimes. A program checks an answer
# exactly: the reply must be the right choice (`"A tragedy."`), nothing else.

# %%
import matplotlib.pyplot as plt
import torch

from llmlab import grpo, policy, pretrained, rankings, stats
from llmlab.chat import END, template_ids

sft, chat = pretrained.load("sft")
reference = policy.frozen(sft)  # a copy with no gradients, in eval mode
questions = grpo.play_questions("play_genre")  # (chat turns, the right answer)
answers = [answer for _, answer in questions]
print(f"{len(questions)} questions, e.g. {questions[0][0][0][1]!r} -> {questions[0][1]!r}")
for answer in sorted(set(answers)):
    print(f"  right answer {answer!r}: {answers.count(answer)} questions")
print(grpo.verify("A comedy.", "A comedy"), grpo.verify("A comedy, I think.", "A comedy"))
assert len(questions) == 22 and answers.count("A history") == 10 == max(map(answers.count, answers))

# %% [markdown]
# Two baselines for any accuracy below: guessing one of the three choices at random is right a
# third of the time; always answering the commonest answer, `"A history."`, is right on 10 of the
# 22 questions (0.45).

# %% [markdown]
# ## 2. One round, by hand

# %% [markdown]
# A round samples a **group** of replies per prompt. Four questions, four replies each, up to 6
# tokens (`policy.ppo_rollout` samples them and reads each token's log-probability under the
# policy and under the reference):

# %% tags=["nbval-ignore-output"]
G = 4
few = questions[:4]
tuned = policy.frozen(sft).requires_grad_(True)  # the policy: a trainable copy of sft
rollout = policy.ppo_rollout(
    tuned,
    reference,
    chat,
    [q for q, _ in few],
    G,
    generator=torch.Generator().manual_seed(0),
    max_new_tokens=6,
)
replies = [chat.decode([t for t in r if t != template_ids(chat)[END]]) for r in rollout.replies]
answer_per_reply = [answer for _, answer in few for _ in range(G)]
rewards = torch.tensor([grpo.verify(r, a) for r, a in zip(replies, answer_per_reply, strict=True)])
for i, ((turns, answer), group) in enumerate(zip(few, rewards.view(-1, G), strict=True)):
    print(f"{turns[0][1]}  (right: {answer})")
    for j in range(G):
        print(f"   reward {group[j]:.0f}  {replies[i * G + j]!r}")

# %% [markdown]
# Each question's replies form a group; the mean of the group's *other* rewards is a fair
# baseline for each reply (it does not contain the reply itself, so it cannot be nudged by it):
# this is **RLOO**, REINFORCE leave-one-out, the advantage `policy.ppo_scores` uses. By hand:

# %%
by_group = rewards.view(-1, G)
others_mean = (by_group.sum(1, keepdim=True) - by_group) / (G - 1)
rloo_by_hand = by_group - others_mean
answer_of = {tuple(ids): a for ids, (_, a) in zip(rollout.prompt_ids, few, strict=True)}


def program_reward(prompt_ids: list[int], reply_ids: list[int]) -> float:
    """The verifiable reward, as `policy.ppo_scores` calls a reward function."""
    text = chat.decode([t for t in reply_ids if t != template_ids(chat)[END]])
    return grpo.verify(text, answer_of[tuple(prompt_ids)])


scores = policy.ppo_scores(rollout, program_reward, chat, kl_coef=0.0)
print(
    "advantages by hand equal the library's:",
    torch.allclose(rloo_by_hand.view(-1, 1), scores.advantages),
)
all_equal = (by_group == by_group[:, :1]).all(1)
print(
    "a group whose rewards are all equal gets advantage 0:",
    bool((rloo_by_hand[all_equal] == 0).all()),
)
assert torch.allclose(rloo_by_hand.view(-1, 1), scores.advantages)
assert (rloo_by_hand[all_equal] == 0).all()

# %% [markdown]
# ## 3. PPO's clipped step, by hand

# %% [markdown]
# The update pushes each reply token's log-probability by its reply's advantage. PPO (Schulman
# et al., 2017) reuses one batch of rollouts for a few optimizer steps, so it must stop the
# policy from running far from the policy that sampled them (`π_old`). Per token it takes the
# **ratio** `r = π(token) / π_old(token)` (1 before the first step) and the **clipped
# objective** `min(r·A, clip(r, 1−ε, 1+ε)·A)`: once a token's ratio has moved more than `ε`
# (0.2 here) in the direction its advantage pushes, it earns nothing more. The loss is that
# objective negated (so `max` of the negated terms), averaged over the reply tokens only.
#
# Two steps of `policy.ppo_update` on the rollout above move the policy; then the new
# log-probabilities, the ratio and the loss by hand, against `policy.ppo_loss`. The same new
# log-probabilities give the two estimates of the KL to the reference that the course uses,
# per token, with `log ρ = log π_ref − log π`: **k1** `= −log ρ` (its mean is the KL, but a
# single token's value can be negative) and **k3** `= (ρ − 1) − log ρ` (the same mean, never
# negative, since `e^x ≥ 1 + x`):

# %%
optimizer = torch.optim.Adam(tuned.parameters(), lr=1e-3)
update = policy.ppo_update(tuned, rollout, scores, optimizer=optimizer, epochs=2)
tuned.eval()
with torch.no_grad():
    logits = tuned(rollout.input_ids, attention_mask=rollout.attention_mask)[0][:, :-1]
    new_logps = logits.log_softmax(-1).gather(2, rollout.input_ids[:, 1:, None]).squeeze(2)
mask, advantage = rollout.mask.float(), scores.advantages  # [N, T-1] reply tokens, [N, 1]
ratio = torch.exp(new_logps - rollout.old_logps)
per_token = torch.maximum(-advantage * ratio, -advantage * ratio.clamp(0.8, 1.2))
loss_by_hand = (per_token * mask).sum() / mask.sum()
loss, clip_fraction, mean_ratio = policy.ppo_loss(
    new_logps, rollout.old_logps, advantage, mask, 0.2
)
log_rho = rollout.ref_logps - new_logps
k1, k3 = -log_rho, torch.expm1(log_rho) - log_rho
library = policy.kl_estimates(new_logps, rollout.ref_logps)
print("the first epoch started at ratio 1:", update.ratios[0] == 1.0)
print("loss by hand equals the library's:", torch.allclose(loss_by_hand, loss))
print(
    "k1 and k3 by hand equal the library's:",
    torch.allclose(k1, library["k1"]) and torch.allclose(k3, library["k3"]),
)
print(
    "k3 never negative:",
    bool((k3 >= 0).all()),
    "| k1 negative on some reply tokens:",
    bool((k1[mask > 0] < 0).any()),
)
assert update.ratios[0] == 1.0 and torch.allclose(loss_by_hand, loss)
assert torch.allclose(k1, library["k1"]) and torch.allclose(k3, library["k3"]) and (k3 >= 0).all()
assert (k1[mask > 0] < 0).any()  # k1 can be negative on one token; its mean is the KL

# %% [markdown]
# From here on the library runs the round: `policy.ppo_rollout` samples, a reward is computed,
# the advantages are taken, `policy.ppo_update` steps. `policy.ppo_step` runs such a round with
# a reward model's score for the reward: RLHF's classic loop.

# %% [markdown]
# ## 4. GRPO: the group is the baseline

# %% [markdown]
# **GRPO** (group relative policy optimisation; Shao et al. 2024, DeepSeekMath) is the recipe
# behind DeepSeek-R1's reasoning and, simplified, nanochat's RL stage. It keeps PPO's clipped step and
# drops the **critic** (a second network PPO trains to predict each return, the baseline of
# classic PPO). Instead, like RLOO, the group is the baseline: a reply's advantage is its reward
# minus its group's mean, divided by the group's standard deviation (`ddof=1`, plus `1e-4` so a
# group whose rewards are all equal gets 0 and not 0/0). The division makes every group's
# advantages about the same size, whatever its spread. `grpo.group_advantages` does it; without
# the division it is RLOO up to the constant factor `G/(G−1)`, which Adam's steps ignore (Adam
# divides each gradient by its own running size):

# %% tags=["nbval-ignore-output"]
centred = grpo.group_advantages(by_group, normalize=False)
print(
    "RLOO = G/(G-1) x (reward - group mean):", torch.allclose(rloo_by_hand, centred * G / (G - 1))
)
print("normalised advantages of the groups:")
print(grpo.group_advantages(by_group).round(decimals=2))
assert torch.allclose(rloo_by_hand, centred * G / (G - 1))

# %% [markdown]
# A group whose replies are all right, or all wrong, has advantage 0 for every reply: it
# produces **no gradient**, and its compute is wasted. The share of such groups says how much of
# a batch teaches anything; it is high when the task is far too hard or far too easy.

# %% [markdown]
# ## 5. Before RL: pass@1 and pass@k

# %% [markdown]
# What the `sft` model can do, measured on all 22 questions with `n = 32` replies each (sampled
# at temperature 1): **pass@k** is the chance that at least one of `k` replies is right. From
# `c` right replies out of `n` its unbiased estimate is `1 − C(n−c, k) / C(n, k)`
# (`grpo.pass_at_k`; Chen et al. 2021). pass@1 is just `c / n`. Each is a mean over questions,
# with its standard error over questions:

# %% tags=["nbval-ignore-output"]
N_SAMPLES, K = 32, 8


def measure(model: torch.nn.Module, name: str, seed: int = 1) -> dict:
    """pass@1, pass@K and the distinct replies per question (n = 32 replies each)."""
    draws = torch.Generator().manual_seed(seed)
    replies = rankings.sample_responses(
        model, chat, [q for q, _ in questions], N_SAMPLES, max_new_tokens=6, generator=draws
    )
    counts = [
        int(sum(grpo.verify(t, a) for t, _ in mine))
        for (_, a), mine in zip(questions, replies, strict=True)
    ]
    found = {
        "pass1": [c / N_SAMPLES for c in counts],
        "passk": [grpo.pass_at_k(N_SAMPLES, c, K) for c in counts],
        "distinct": [len({t.strip() for t, _ in mine}) for mine in replies],
        "replies": replies,
    }
    print(
        f"{name:<22} pass@1 {stats.mean(found['pass1']):.3f}   pass@{K} {stats.mean(found['passk']):.3f}"
        f"   distinct replies of 32 {stats.mean(found['distinct']):.1f}"
    )
    return found


results = {"sft": measure(sft, "sft")}

# %%
sft_pass1 = stats.mean(results["sft"]["pass1"])
assert sft_pass1.value - 3 * sft_pass1.se > 0  # it solves them sometimes ...
assert sft_pass1.value + 2 * sft_pass1.se < 1 / 3  # ... less often than a random choice ...
sft_passk = stats.mean(results["sft"]["passk"])
assert sft_pass1.value + 3 * sft_pass1.se < sft_passk.value  # ... and 8 tries do better:
assert sft_passk.value > 0.5  # right at least once in 8 on most questions

# %% [markdown]
# The `sft` model is right on about a quarter of its replies (0.23 ± 0.03), below both
# baselines (a random choice, 0.33; always "A history", 0.45): many of its replies are not one
# of the three choices at all (section 2 showed some).
# Yet in 8 tries it is right at least once on most questions: the knowledge is in there, spread
# thin. That is the situation RL is for.

# %% [markdown]
# ## 6. GRPO with a verifiable reward

# %% [markdown]
# Each round: all 22 questions, a group of `G = 8` replies each, the program's reward,
# group-relative advantages, one clipped step (Adam, learning rate 3e-4); 10 rounds
# (`grpo.grpo_step`). Three runs from the same `sft` model: GRPO as above; without the std
# division; and with a KL charge of 0.1 per nat (each reply's return is its reward minus 0.1
# times its summed k1 to the reference, as in `policy.ppo_scores`). Each run prints a line per
# round as it trains. The seed of the runs is `SEED`: change it and rerun to see which
# conclusions hold.

# %% tags=["nbval-ignore-output"]
import time

SEED, STEPS, G = 0, 10, 8


def train(
    name: str, normalize: bool = True, kl_coef: float = 0.0
) -> tuple[torch.nn.Module, list[dict]]:
    """The sft model after STEPS rounds of GRPO on the questions; the rounds' diagnostics,
    printed as each round ends."""
    model = policy.frozen(sft).requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    draws = torch.Generator().manual_seed(SEED)
    log, start = [], time.perf_counter()
    for step in range(1, STEPS + 1):
        found = grpo.grpo_step(
            model,
            reference,
            chat,
            questions,
            G,
            optimizer=optimizer,
            generator=draws,
            normalize=normalize,
            kl_coef=kl_coef,
            max_new_tokens=6,
        )
        log.append(found)
        print(
            f"{name:<16} round {step:>2}/{STEPS}  reward {found['reward']:.2f}  "
            f"no gradient {found['no_gradient']:.2f}  KL {found['kl']:.2f}  "
            f"({time.perf_counter() - start:.0f} s)"
        )
    return model.eval(), log


runs = {
    "grpo": train("grpo"),
    "no std division": train("no std division", normalize=False),
    "KL charge 0.1": train("KL charge 0.1", kl_coef=0.1),
}
for name, (model, _) in runs.items():
    results[name] = measure(model, name)

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3))
for name, (_, log) in runs.items():
    for ax, key in zip(axes, ("reward", "no_gradient", "kl"), strict=True):
        ax.plot(range(1, STEPS + 1), [d[key] for d in log], "o-", label=name)
for ax, title in zip(
    axes,
    (
        "mean reward of the round's replies",
        "share of groups with no gradient",
        "KL to the reference (k1, nats/reply)",
    ),
    strict=True,
):
    ax.set(title=title, xlabel="round")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What to see, in the figure and in the lines the runs printed as they trained: round 1 is the
# same in all three runs (the same `sft` model, the same seed: reward 0.27 each, asserted
# below), and its step was too big: in round 2 the reward fell to 0.07, 0.68 of the groups had
# no gradient and the KL jumped to about 2.5 nats, in all three runs alike (Adam's first step
# moves each weight by about the learning rate, whatever the scale of the advantages). From
# round 3 the reward climbs back and past where it started (0.49, 0.55 and 0.41 in round 10),
# the run with the KL charge lowest; the share of groups with no gradient stays between about a
# fifth and a half (0.23 to 0.45).
#
# Before and after, on fresh replies (32 per question), paired question by question (each
# line: the run minus `sft`, with the paired SE over the 22 questions):

# %% tags=["nbval-ignore-output"]

for name, (_, log) in runs.items():
    lift1 = stats.difference(results[name]["pass1"], results["sft"]["pass1"], paired=True)
    liftk = stats.difference(results[name]["passk"], results["sft"]["passk"], paired=True)
    late_kl = sum(d["kl"] for d in log[-3:]) / 3
    print(
        f"{name:<16} pass@1 {lift1:+.2f}   pass@{K} {liftk:+.2f}   KL, last 3 rounds {late_kl:.2f}"
    )
between = stats.difference(
    results["grpo"]["pass1"], results["no std division"]["pass1"], paired=True
)
with_kl = stats.difference(results["grpo"]["pass1"], results["KL charge 0.1"]["pass1"], paired=True)
print(f"pass@1, grpo - no std division: {between:+.2f};  grpo - KL charge: {with_kl:+.2f}")
fewer = stats.difference(results["grpo"]["distinct"], results["sft"]["distinct"], paired=True)
print(f"distinct replies of 32, grpo - sft: {fewer:+.1f}")
grpo_lift = stats.difference(results["grpo"]["pass1"], results["sft"]["pass1"], paired=True)
grpo_k = stats.difference(results["grpo"]["passk"], results["sft"]["passk"], paired=True)
grpo_pass1, grpo_passk = stats.mean(results["grpo"]["pass1"]), stats.mean(results["grpo"]["passk"])
assert grpo_lift.value > 0 and grpo_lift.beyond_noise(3)  # RL lifted pass@1
assert not (grpo_k.value > 0 and grpo_k.beyond_noise(3))  # but not pass@8 beyond noise
assert grpo_pass1.value < grpo_passk.value  # still below what 8 tries of it reach
assert fewer.value < 0 and fewer.beyond_noise(3)  # and it answers with fewer different replies
first = [(log[0]["reward"], log[0]["no_gradient"]) for _, log in runs.values()]
assert len(set(first)) == 1  # round 1 sampled the same replies in all three runs
assert all(log[1]["reward"] < log[0]["reward"] < log[-1]["reward"] for _, log in runs.values())

# %% [markdown]
# **Does RL lift pass@1 toward pass@k, or beyond?** Toward. Ten rounds of GRPO raised pass@1
# from 0.23 ± 0.03 to 0.56 ± 0.07 (+0.32 ± 0.06 paired: five standard errors), while pass@8
# moved from 0.75 to 0.77 (+0.02 ± 0.04: noise), and pass@1 stays below pass@8. RL made the
# model give, more often, an answer it could already give in a few tries; pass@8 shows no sign
# that it learned answers eight tries of `sft` could not find (a rise of up to about 0.1 is
# still inside its noise). And it answers with fewer
# different replies than `sft` (17.2 → 5.7 distinct replies of 32, −11.5 ± 0.5): RL sharpens the
# distribution, which is also why it can lose answers that only the tail held. Reports on large
# models (Yue et al. 2025, "Does reinforcement learning really incentivize reasoning capacity
# in LLMs beyond the base model?") find the same: RL lifts pass@1, and at large k the base model
# catches up.
#
# The two variants, on this page's seed (`SEED = 0`): without the std division pass@1 ended a
# little higher (grpo minus it: −0.08 ± 0.02), and with the KL charge lower (+0.17 ± 0.06,
# about three SEs), its policy nearer the reference (0.38 nats per reply over the last three
# rounds, against 0.60). Mind what these SEs cover: the luck of the questions and of the
# replies sampled to measure, not the luck of the training run itself (which replies it
# happened to learn from). Ranking variants needs several training seeds each; this lesson has
# the time for one, so neither difference is a conclusion here. Some replies of the main run
# next to `sft`'s, for the first questions (the first six of 32 each):

# %% tags=["nbval-ignore-output"]
for i in range(3):
    (turns, answer) = questions[i]
    print(f"{turns[0][1]}  (right: {answer})")
    for name in ("sft", "grpo"):
        print(f"   {name:<5}", [t for t, _ in results[name]["replies"][i][:6]])

# %% [markdown]
# ## 7. What a verifiable reward cannot show: reward hacking

# %% [markdown]
# The reward here is the truth: a program that checks the answer exactly. A policy can only get
# more of it by answering right, so it cannot **hack** it. Reward hacking needs a reward that can
# be wrong, like lesson 08's reward model: a model of the labeler, right on most pairs, wrong on
# some, and a policy tuned against it with no KL charge is free to find the replies it overrates.
# That is the reason for the reference model and the KL charge of section 1, and for judging a
# tuned model by the labeler (or people), never by the reward it was trained on.
#
# What this course has measured, honestly: no reward hacking. In lesson 08, DPO (which never
# asked the reward model anything) raised the labeler's score and the reward model's together,
# by +0.19 ± 0.03 and +1.17 ± 0.14 (paired over 256 held-out prompts), mostly through verse;
# best-of-8, which did pick by the reward model, raised the labeler's score too (+0.28 ± 0.05).
# The previous edition of this course did train a policy against the reward model (PPO,
# one seed, one reply per prompt) and called the result reward hacking, but its own numbers did
# not show it: the labeler's score went from 1.75 to 1.70 and the win rate over `sft` from 0.64
# to 0.61, while the `sft` model measured twice gave 1.58 and 1.62 and a win rate on 512 prompts
# carries a standard error of about 0.022; the "hacked" policy still beat `sft`. Showing hacking
# for real would take several seeds, more replies per prompt and a longer run than a lesson's
# few CPU minutes, so this edition does not claim it. A verifiable reward is the cure the field
# reached for: where the answer can be checked, check it.

# %% [markdown]
# ## Recap

# %% [markdown]
# - **RL** trains a **policy** by **rollouts**: sample, score with a **reward**, push up the
#   replies whose **advantage** (return minus a **baseline**) is positive. A frozen **reference
#   model** and a **KL** charge (k1, or the never-negative k3) keep the policy near where it
#   started.
# - One round by hand matched `llmlab.policy`: RLOO advantages (each reward minus its siblings'
#   mean) and PPO's clipped loss (ratio `π/π_old`, clipped to `[0.8, 1.2]`, the pessimistic
#   side, averaged over reply tokens).
# - **GRPO** uses the group as the baseline (reward minus group mean, over group std): no
#   critic. Groups whose replies all score the same give no gradient.
# - With a reward a program checks, ten rounds on 22 questions lifted pass@1 from 0.23 to 0.56
#   (+0.32 ± 0.06), toward pass@8 (0.75 → 0.77, +0.02 ± 0.04: noise) and not beyond it, and left
#   the model with fewer different answers (17.2 → 5.7 of 32).
#
# **Next: lesson 10 (sampling)**: how the text is drawn from the model at all, and what each
# decoding rule trades.

# %% [markdown]
# ## Exercises

# %% [markdown]
# Each exercise builds a piece this lesson used from the library: write it, and the check runs
# it on random cases against a tested reference (calling the library's own version fails the
# check). The committed notebook shows the unfinished scaffolds.

# %%
from llmlab import exercises

# %% [markdown]
# ### Exercise: group-relative advantages
# Given `rewards [groups, G]` (one row per prompt, one column per reply) and a flag `normalize`,
# return the advantages `[groups, G]`: each reward minus the mean of its own row; if `normalize`,
# divided by its row's standard deviation (`ddof=1`) plus `1e-4`. A row whose rewards are all
# equal must give zeros, not `nan`. This is the heart of GRPO (section 4).

# %%
print(exercises.header("group_advantages"))


# %%
def group_advantages(rewards: torch.Tensor, normalize: bool) -> torch.Tensor:
    # 1. each row's mean, shaped to broadcast over the row          -> [groups, 1]
    # 2. centred rewards                                             -> [groups, G]
    # 3. if normalize: each row's spread, guarded, divides them      -> [groups, G]
    raise NotImplementedError  # your code here


passed = exercises.check("group_advantages", group_advantages)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("group_advantages")` (then
# `exercises.hint("group_advantages", 2)`), and only then `exercises.solution("group_advantages")`.

# %% [markdown]
# ### Exercise: the clipped PPO loss
# Given the policy's new log-probabilities `logps [N, T]`, the sampling policy's `old_logps
# [N, T]`, one advantage per reply `advantages [N, 1]`, a `mask [N, T]` (1 on reply tokens)
# and `clip` (ε), return PPO's clipped surrogate loss (a scalar tensor): per token, the negated
# clipped objective of section 3, averaged over the tokens the mask marks. This is what
# `policy.ppo_update` minimises, which you may not call.

# %%
print(exercises.header("clipped_ppo_loss"))


# %%
def clipped_ppo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float,
) -> torch.Tensor:
    # 1. the per-token ratio pi / pi_old                                    -> [N, T]
    # 2. the two candidate (negated) objectives: plain and clipped ratio    -> [N, T]
    # 3. the pessimistic one per token, then the mean over reply tokens     -> []
    raise NotImplementedError  # your code here


passed = exercises.check("clipped_ppo_loss", clipped_ppo_loss)

# %% [markdown]
# Stuck? In a cell of your own: `exercises.hint("clipped_ppo_loss")` (then
# `exercises.hint("clipped_ppo_loss", 2)`), and only then `exercises.solution("clipped_ppo_loss")`.

# %% [markdown]
# ## Check your understanding
#
# A few questions on what this lesson measured. Their answers are computed from the numbers
# above, so if a run of yours measured something else, the answer key follows your run.

# %% tags=["nbval-ignore-output"]
from llmlab.widgets import Question, Quiz

lift_options = [
    "Beyond: pass@8 rose too, beyond noise: it found answers 8 tries of sft did not",
    "Toward: pass@1 rose beyond noise, pass@8 did not",
    "Neither: pass@1 did not rise beyond noise",
]
if not (grpo_lift.value > 0 and grpo_lift.beyond_noise(3)):
    lift_answer = lift_options[2]
elif grpo_k.value > 0 and grpo_k.beyond_noise(3):
    lift_answer = lift_options[0]
else:
    lift_answer = lift_options[1]
all_right = grpo.group_advantages(torch.ones(1, G))  # a group of G replies, every one right
silent = bool((all_right == 0).all())
silent_share = runs["grpo"][1][-1]["no_gradient"]
spread_options = [
    "It sharpened the distribution: fewer different replies, beyond noise",
    "It widened the model's repertoire: more different replies, beyond noise",
    "No change in the number of different replies we can tell from noise",
]
if not fewer.beyond_noise(3):
    spread_answer = spread_options[2]
else:
    spread_answer = spread_options[0] if fewer.value < 0 else spread_options[1]
silent_options = [
    "Nothing: every advantage is 0, so the reward gives that group no gradient",
    "The most: it is the best group, so its replies get the largest push",
    "A little: its right replies are pushed up, less than in a group with wrong ones",
]
no_seed = "No: each variant was trained once, and these SEs leave out the luck of training"
quiz = Quiz(
    [
        Question(
            "Ten rounds of GRPO with a reward a program checks: did RL lift pass@1 toward "
            "pass@8, or beyond it?",
            lift_options,
            lift_answer,
            f"pass@1 {sft_pass1:.2f} → {grpo_pass1:.2f} (paired {grpo_lift:+.2f}); pass@8 "
            f"{sft_passk:.2f} → {grpo_passk:.2f} (paired {grpo_k:+.2f}). "
            + (
                "RL made the model give, more often, an answer it could already give in a few "
                "tries; pass@8 shows no sign that it learned answers 8 tries of sft could not "
                "find (within noise is not zero: a small rise could hide in it)."
                if lift_answer == lift_options[1]
                else "pass@k of the model before RL is the ceiling to compare pass@1 with."
            ),
        ),
        Question(
            f"In a round, all {G} replies to one question were right. What does that group's "
            "reward teach the policy?",
            silent_options,
            silent_options[0] if silent else silent_options[1],
            f"Advantages are rewards minus the group's mean (over its spread): here "
            f"{all_right.flatten().tolist()}. In the last round of the main run, a share of "
            f"{silent_share:.2f} of the groups gave no gradient: compute spent on a question "
            "too easy or too hard for the policy. (A KL charge, where there is one, still "
            "pulls on every reply: it does not come from the reward.)",
        ),
        Question(
            "Out of 32 replies per question, how did the number of different replies change "
            "from sft to the GRPO-tuned model, and what does it say about RL?",
            spread_options,
            spread_answer,
            f"Distinct replies of 32: sft {stats.mean(results['sft']['distinct']):.1f}, grpo "
            f"{stats.mean(results['grpo']['distinct']):.1f}; paired {fewer:+.1f}. "
            + (
                "A sharper distribution answers right more often, and can lose answers only "
                "its tail held."
                if spread_answer == spread_options[0]
                else "Compare it with pass@1 and pass@8: what did RL trade for what?"
            ),
        ),
        Question(
            f"The run with a KL charge of 0.1 ended with pass@1 "
            f"{'below' if with_kl.value > 0 else 'above'} plain GRPO's. Does this lesson show "
            "that a KL charge changes what RL reaches?",
            [
                "Yes: the paired difference over the 22 questions settles it",
                no_seed,
            ],
            no_seed,
            f"grpo minus KL charge, pass@1: {with_kl:+.2f} "
            f"({abs(with_kl.value) / with_kl.se:.1f} SEs). That SE covers "
            "the questions and the replies sampled to measure, not which replies each run "
            "happened to learn from: ranking variants needs several training seeds each.",
        ),
    ]
)
quiz
