"""Lesson 08's exercises: a reward-model training step and a DPO step.

Both are *steps*, not formulas: the learner wires the Bradley-Terry loss to a model and an
optimizer (``zero_grad``, ``backward``, ``step``), and DPO's loss to per-token log-probabilities
(summed over the reply's tokens only, the reference held fixed). The checker compares what the
step leaves behind: the weights after the update, and the gradients that reach each input.
"""

from __future__ import annotations

import random
from typing import Any

from llmlab.exercises.registry import exercise, wrong_answer

# ----------------------------------------------------------------------------- reward model


def _random_reward_step(rng: random.Random) -> tuple[Any, Any, Any, Any]:
    """A tiny reward model (one linear layer reading a feature vector per reply), its SGD
    optimizer, and a batch of chosen and rejected replies' features. The weights carry a stale
    gradient from an earlier step, as they do in a training loop."""
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    d, b = rng.randint(2, 6), rng.randint(1, 8)
    model = torch.nn.Linear(d, 1).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
            p.grad = torch.randn(p.shape, generator=generator, dtype=torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=rng.choice([0.1, 0.5, 1.0]))
    chosen = torch.randn(b, d, generator=generator, dtype=torch.float64)
    rejected = torch.randn(b, d, generator=generator, dtype=torch.float64)
    return model, optimizer, chosen, rejected


def _weights_after(args: tuple[Any, ...]) -> Any:
    """The model's weights after the step, as one vector."""
    import torch

    return torch.cat([p.detach().reshape(-1) for p in args[0].parameters()])


@exercise(
    "reward_model_step",
    _random_reward_step,
    after=_weights_after,
    builds="one training step of a reward model: the Bradley-Terry loss, backward, the update",
    difficulty=2,
    minutes=15,
    hints=(
        "The model returns a [B, 1] column of rewards: .squeeze(-1) gives one number per reply. "
        "Score the chosen batch and the rejected batch with the same model.",
        "The loss is the mean over pairs of -log sigmoid(r_chosen - r_rejected); "
        "torch.nn.functional.logsigmoid is the stable way to write log(sigmoid(...)).",
        "Order: optimizer.zero_grad() (the weights hold a gradient from the last step), "
        "loss.backward(), optimizer.step(); return loss.item().",
    ),
)
def reward_model_step(model: Any, optimizer: Any, chosen: Any, rejected: Any) -> float:
    """One Bradley-Terry step: ``chosen`` and ``rejected`` hold ``[B, d]`` features of each
    pair's replies; ``model`` maps them to ``[B, 1]`` rewards. Returns the loss before the step."""
    import torch.nn.functional as F

    optimizer.zero_grad()  # the last step's gradient must not add to this one's
    r_chosen = model(chosen).squeeze(-1)
    r_rejected = model(rejected).squeeze(-1)
    loss = -F.logsigmoid(r_chosen - r_rejected).mean()  # P(chosen preferred) = sigmoid(diff)
    loss.backward()
    optimizer.step()
    return loss.item()


@wrong_answer("reward_model_step")
def _sign_flipped(model, optimizer, chosen, rejected):
    """Prefers the rejected reply: the rewards are pushed the wrong way."""
    import torch.nn.functional as F

    optimizer.zero_grad()
    loss = -F.logsigmoid(model(rejected).squeeze(-1) - model(chosen).squeeze(-1)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


@wrong_answer("reward_model_step")
def _sigmoid_not_log(model, optimizer, chosen, rejected):
    """-sigmoid(diff) instead of -log sigmoid(diff): its gradient vanishes on the pairs the
    model gets most wrong, where it should be largest."""
    import torch

    optimizer.zero_grad()
    loss = -torch.sigmoid(model(chosen).squeeze(-1) - model(rejected).squeeze(-1)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


@wrong_answer("reward_model_step")
def _no_zero_grad(model, optimizer, chosen, rejected):
    """Forgets zero_grad: the stale gradient of the last step is added to this one's."""
    import torch.nn.functional as F

    loss = -F.logsigmoid(model(chosen).squeeze(-1) - model(rejected).squeeze(-1)).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


# ----------------------------------------------------------------------------- DPO


def _random_dpo_step(rng: random.Random) -> tuple[Any, ...]:
    """Per-token log-probabilities ``[B, T]`` of the chosen and rejected rows under the policy
    and the reference (all with gradients, as if the reference were not frozen), each row's
    reply mask (1 on reply tokens, 0 on the prompt and padding), and β."""
    import torch

    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    b, t = rng.randint(1, 5), rng.randint(3, 10)

    def logps() -> Any:
        values = -5 * torch.rand(b, t, generator=generator, dtype=torch.float64)
        return values.requires_grad_(True)

    def reply_mask() -> Any:
        start = torch.randint(1, t - 1, (b, 1), generator=generator)
        end = torch.randint(t - 1, t + 1, (b, 1), generator=generator)  # some rows padded
        position = torch.arange(t)[None]
        return ((position >= start) & (position < end)).double()

    chosen_mask, rejected_mask = reply_mask(), reply_mask()
    return (
        logps(), logps(), logps(), logps(), chosen_mask, rejected_mask,
        rng.choice([0.05, 0.1, 0.5, 1.0]),
    )  # fmt: skip


def _gradients_after(args: tuple[Any, ...]) -> Any:
    """The gradient that reached each of the four log-probability inputs (zero where none did),
    as one vector: the policy's two must be right, the reference's two must be zero."""
    import torch

    return torch.cat(
        [(x.grad if x.grad is not None else torch.zeros_like(x)).reshape(-1) for x in args[:4]]
    )


@exercise(
    "dpo_step",
    _random_dpo_step,
    after=_gradients_after,
    builds="DPO's loss from per-token log-probabilities, and its backward pass",
    difficulty=2,
    minutes=20,
    hints=(
        "A reply's log-probability is the SUM of its tokens' log-probabilities: multiply by the "
        "mask (1 on reply tokens) and .sum(-1). Four sums: policy and reference, chosen and "
        "rejected, each [B].",
        "The reference is a fixed target: .detach() its sums, so no gradient reaches it. The "
        "implicit rewards are beta * (policy sum - reference sum) for each side.",
        "loss = -logsigmoid(chosen reward - rejected reward).mean(); call loss.backward() and "
        "return the loss.",
    ),
)
def dpo_step(
    policy_chosen: Any,
    policy_rejected: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    chosen_mask: Any,
    rejected_mask: Any,
    beta: float,
) -> Any:
    """DPO's loss (TRL's ``"sigmoid"``) from per-token log-probabilities ``[B, T]`` and reply
    masks ``[B, T]``, then ``backward()``: the gradient reaches the policy, never the reference."""
    import torch.nn.functional as F

    pc, pr = (policy_chosen * chosen_mask).sum(-1), (policy_rejected * rejected_mask).sum(-1)
    rc = (ref_chosen * chosen_mask).sum(-1).detach()  # the reference is held fixed
    rr = (ref_rejected * rejected_mask).sum(-1).detach()
    chosen_rewards, rejected_rewards = beta * (pc - rc), beta * (pr - rr)
    loss = -F.logsigmoid(chosen_rewards - rejected_rewards).mean()
    loss.backward()
    return loss


@wrong_answer("dpo_step")
def _mean_over_tokens(pc, pr, rc, rr, cm, rm, beta):
    """Averages the log-probabilities over the reply's tokens: another β per reply length."""
    import torch.nn.functional as F

    def mean(x, m):
        return (x * m).sum(-1) / m.sum(-1).clamp(min=1)

    margin = (mean(pc, cm) - mean(rc, cm).detach()) - (mean(pr, rm) - mean(rr, rm).detach())
    loss = -F.logsigmoid(beta * margin).mean()
    loss.backward()
    return loss


@wrong_answer("dpo_step")
def _reference_not_detached(pc, pr, rc, rr, cm, rm, beta):
    """The reference's sums keep their gradient: the step would move the reference too."""
    import torch.nn.functional as F

    margin = ((pc - rc) * cm).sum(-1) - ((pr - rr) * rm).sum(-1)
    loss = -F.logsigmoid(beta * margin).mean()
    loss.backward()
    return loss


@wrong_answer("dpo_step")
def _reference_left_out(pc, pr, rc, rr, cm, rm, beta):
    """No reference at all: the rewards are beta * log pi, not beta * log(pi / pi_ref)."""
    import torch.nn.functional as F

    loss = -F.logsigmoid(beta * ((pc * cm).sum(-1) - (pr * rm).sum(-1))).mean()
    loss.backward()
    return loss


@wrong_answer("dpo_step")
def _beta_outside(pc, pr, rc, rr, cm, rm, beta):
    """β multiplies the loss instead of the margin inside the sigmoid."""
    import torch.nn.functional as F

    margin = ((pc * cm).sum(-1) - (rc * cm).sum(-1).detach()) - (
        (pr * rm).sum(-1) - (rr * rm).sum(-1).detach()
    )
    loss = -beta * F.logsigmoid(margin).mean()
    loss.backward()
    return loss


@wrong_answer("dpo_step")
def _every_token(pc, pr, rc, rr, cm, rm, beta):
    """Sums over every position, the prompt and the padding too."""
    import torch.nn.functional as F

    margin = (pc.sum(-1) - rc.sum(-1).detach()) - (pr.sum(-1) - rr.sum(-1).detach())
    loss = -F.logsigmoid(beta * margin).mean()
    loss.backward()
    return loss
