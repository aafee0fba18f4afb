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
# ## 7. A PPO-style loop
#
# The classic RLHF recipe samples replies from the policy, scores them with the reward model and
# pushes up the log-probability of replies that did better than expected, while a **KL penalty**
# keeps the policy near the reference. Three pieces, each in `llmlab.policy`.
#
# **Estimating the KL from samples.** The policy's own samples give the KL as an average, with
# Schulman's three estimators per token, with `log r = log π_ref − log π`: `k1 = −log r`,
# `k2 = (log r)²/2`, `k3 = (r − 1) − log r`. On two small distributions, from eight samples:

# %% tags=["nbval-ignore-output"]
p = torch.softmax(torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), dim=0)  # the policy
q = torch.softmax(torch.tensor([1.5, 1.2, 0.3, 0.2, -0.5]), dim=0)  # the reference
true_kl = float((p * (p / q).log()).sum())
found_negative = 0
for seed in range(200):
    tokens = torch.multinomial(p, 8, replacement=True, generator=torch.Generator().manual_seed(seed))
    estimates = policy.kl_estimates(p.log()[tokens], q.log()[tokens])
    assert (estimates["k3"] >= 0).all() and (estimates["k2"] >= 0).all()
    found_negative += int(estimates["k1"].mean() < 0)
big = torch.multinomial(p, 400_000, replacement=True, generator=torch.Generator().manual_seed(0))
means = {name: float(v.mean()) for name, v in policy.kl_estimates(p.log()[big], q.log()[big]).items()}
print(f"true KL {true_kl:.4f}; over 400,000 samples: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
print(f"k1's mean of 8 samples was negative in {found_negative} of 200 tries; k3's never")
assert found_negative > 0
assert abs(means["k1"] - true_kl) < 2e-3 and abs(means["k3"] - true_kl) < 2e-3
spread = {name: float(v.var()) for name, v in policy.kl_estimates(p.log()[big], q.log()[big]).items()}
assert spread["k3"] < spread["k1"]  # and k3 varies less

# %% [markdown]
# k1 and k3 are both unbiased, but a KL below zero is nonsense, and k1's mean over a few samples
# goes there; k3 never does (`e^x ≥ 1 + x`), with less variance. (k2 is biased: the mean above
# shows by how much.)
#
# **Shaping the reward.** Each reply token pays `kl_coef · k1` for how far the policy has moved
# at that token; the reward model's score is added at the last token (`policy.shaped_rewards`).
# **The advantage.** Four replies per prompt: each reply's return minus the mean of its three
# siblings' (RLOO, `policy.rloo_advantages`), no value network needed. **The update.** PPO's
# clipped ratio objective, `ε = 0.2`, for two epochs on each batch (`policy.ppo_loss`).
# `policy.ppo_step` runs one round (bf16 autocast again) in three steps: `policy.ppo_rollout`
# samples, `policy.ppo_scores` scores and takes advantages, `policy.ppo_update` steps. The loop,
# 60 rounds of 8 prompts:

# %% tags=["nbval-ignore-output"]
PPO_STEPS = 60


def ppo(kl_coef: float, steps: int, learning_rate: float, every: int = 0) -> tuple:
    """The sft model tuned by the PPO-style loop; its diagnostics, and reports every ``every``."""
    tuned = policy.frozen(sft).requires_grad_(True).train()
    optimizer = torch.optim.Adam(tuned.parameters(), lr=learning_rate)
    rolls = torch.Generator().manual_seed(3)
    log, reports = [], {}
    for step in range(steps):
        batch_prompts = [train_prompts[(step * 8 + i) % len(train_prompts)] for i in range(8)]
        log.append(
            policy.ppo_step(
                tuned, reference, reward, chat, batch_prompts, 4, kl_coef,
                optimizer=optimizer, generator=rolls, dtype="bfloat16",
            )
        )
        if every and (step + 1) % every == 0:
            reports[step + 1] = measure(tuned.eval(), f"  after {step + 1} steps")
    return tuned.eval(), log, reports


ppo_model, ppo_log, _ = ppo(kl_coef=0.2, steps=PPO_STEPS, learning_rate=3e-4)
results["ppo kl=0.2"] = measure(ppo_model, "ppo kl=0.2")

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 4, figsize=(14, 3))
for ax, key, title in zip(
    axes,
    ("reward", "kl", "clip_fraction", "ratio"),
    ("reward-model score", "KL (k1, nats/reply)", "clip fraction", "mean ratio π/π_old"),
    strict=True,
):
    ax.plot([d[key] for d in ppo_log])
    ax.set(title=title, xlabel="round")
plt.tight_layout()
plt.show()

# %%
assert results["ppo kl=0.2"]["win_rate"] > 0.65 and results["ppo kl=0.2"]["kl"] < KL_BOUND
assert results["ppo kl=0.2"]["score"] > results["sft"]["score"]
gains = {k: results["ppo kl=0.2"][k] - results["sft"][k] for k in ("reward", "score")}
assert gains["reward"] > 0.5 and gains["reward"] > gains["score"]  # what it optimised gains more
assert all(d["first_ratio"] == 1.0 for d in ppo_log)  # the first epoch starts at the old policy
assert sum(d["clip_fraction"] for d in ppo_log) / len(ppo_log) < 0.05  # clipping seldom bites

# %% [markdown]
# The PPO-style loop raises the reward model's score by more than half a point and the labeler's
# score less: it wins more than 65% of the comparisons with `sft` within the same KL bound. DPO
# learned from the labeler's pairs directly; PPO learns only through the reward model and
# inherits its mistakes (section 9 pushes that to the end). The clip fraction averages under 5%
# over the rounds: two epochs move few tokens' ratios outside `[0.8, 1.2]`. Clipping is a guard
# rail here, not the engine.
#
# ## 8. The reward-vs-KL frontier
#
# Every method buys labeler score with distance from the reference. On one plot: best-of-n over
# `n` (its KL from the formula), DPO at two β, the PPO-style loop at two KL coefficients (the
# second, zero, is the run of section 9):

# %% tags=["nbval-ignore-output"]
hacked, hack_log, hack_reports = ppo(kl_coef=0.0, steps=40, learning_rate=3e-4, every=20)
results["ppo kl=0"] = hack_reports[40]

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot([b["kl"] for b in best_of.values()], [b["score"] for b in best_of.values()], "o-", label="best-of-n (n = 1…16)")
for name, marker in (("dpo β=0.1", "s"), ("dpo β=0.5", "s"), ("ppo kl=0.2", "^"), ("ppo kl=0", "^")):
    ax.plot(results[name]["kl"], results[name]["score"], marker, ms=9, label=name)
ax.axhline(results["sft"]["score"], color="grey", ls=":", label="sft")
ax.set(xlabel="KL from the reference (nats per reply)", ylabel="labeler score (held out)", title="what each method buys, and at what distance")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Each point also cost something the plot does not show: the loss on plain text of the held-out
# plays (nats per token, the last column of the reports). Lesson 06 found fine-tuning raised it
# once; tuning for preferences raises it again:

# %% tags=["nbval-ignore-output"]
tuned_names = ("dpo β=0.5", "dpo β=0.1", "ppo kl=0.2", "ppo kl=0")
for name in ("sft", *tuned_names):
    print(f"{name:<12} plain-text loss {results[name]['plain_loss']:.3f}")

# %%
assert all(results[n]["plain_loss"] > results["sft"]["plain_loss"] for n in tuned_names)

# %% [markdown]
# Every tuned model is worse at the plain text than `sft`. The preference data holds short replies,
# not the plays' long speeches, and only the KL term holds the model near what it was.
# InstructGPT called this loss the **alignment tax**, and paid it down by mixing pretraining
# batches into the PPO updates ("PPO-ptx").
#
# ## 9. Reward hacking, on purpose
#
# The reward model is a model: right on most pairs, wrong on some, and wrong in ways a policy can
# find. With its KL penalty removed, the PPO-style loop of section 7 (the same learning rate,
# the same prompts in the same order) chased the reward model for 40 rounds. Its reports after
# 20 and 40, and the labeler's change between them with its **standard error**: the spread of
# the 512 per-prompt changes divided by √512, how far the mean change could move by the luck of
# which prompts were drawn. Both reports answer the same held-out prompts, so the change is
# taken prompt by prompt (**paired**), which removes how hard each prompt is:

# %% tags=["nbval-ignore-output"]
first, last = hack_reports[20], hack_reports[40]
print(f"{'':<14}{'reward model':>14}{'labeler':>10}{'KL':>8}")
for name, found in (("sft", results["sft"]), ("20 rounds", first), ("40 rounds", last)):
    print(f"{name:<14}{found['reward']:>14.2f}{found['score']:>10.2f}{found['kl']:>8.1f}")


def labeler_scores(found: dict) -> torch.Tensor:
    """The labeler's score of each held-out reply in a report."""
    pairs = zip(eval_prompts, found["replies"], strict=True)
    return torch.tensor([labeler.score(p, *r) for p, r in pairs], dtype=torch.float64)


change = labeler_scores(last) - labeler_scores(first)
se = (change.std() / len(change) ** 0.5).item()
print(f"labeler, round 20 -> 40: {change.mean():+.3f} ± {se:.3f} (paired standard error)")
assert last["reward"] > first["reward"] > results["sft"]["reward"]  # the reward model: better
assert change.mean() < 3 * se  # the truth: no better beyond its noise
assert last["kl"] > first["kl"]

# %% [markdown]
# The reward model's score keeps rising from round 20 to 40, while the labeler's score does not
# rise with it: on the machine that built this page it fell by about three standard errors. The
# assert checks only that it did not rise by three or more (a rise that noise could not explain),
# since another machine trains a slightly different policy: its arithmetic differs in the last
# digits, forty rounds of training amplify that, and there the labeler's score may even rise a
# little. The KL keeps growing all the same: the policy's extra distance buys what the reward model
# overrates, not what the rubric asks for. That is why every method above keeps a KL term (or a
# small n), and why the lesson judged them by the labeler and not by the learned reward.
#
# ## 10. Before and after
#
# The same four held-out prompts, one reply from each model:

# %% tags=["nbval-ignore-output"]
for i in range(4):
    print(f"PROMPT: {eval_prompts[i][0][1]}")
    print(f"  sft        : {baseline[i][0]!r}")
    for name in ("dpo β=0.5", "ppo kl=0.2", "ppo kl=0"):
        print(f"  {name:<11}: {results[name]['replies'][i][0]!r}")
    print()

# %% [markdown]
