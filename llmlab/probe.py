"""Linear probes: can a straight line read a property out of the model's vectors?

A *probe* is a logistic regression trained on a model's hidden vectors to predict a property the
model was never told about (is this line verse or prose? is this token the first of its line?).
High accuracy says the property is *linearly readable* from the vectors, nothing more: it does not
say the model uses it.

And a probe can be too clever. Given enough vectors, a linear map learns even labels that mean
nothing. Hewitt and Liang (2019) therefore train the same probe on a **control task**: each word
type gets a random label, fixed for every occurrence, so only memorising word identities can
solve it. **Selectivity** is the task accuracy minus the control accuracy on held-out vectors; a
probe is worth a sentence only when its selectivity is well above zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from llmlab import checks, stats


def _check(features: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(features, Tensor) or features.ndim != 2:
        raise ValueError(
            f"features must be a [N, dim] tensor, got {getattr(features, 'shape', features)}"
        )
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (features.shape[0],):
        raise ValueError(
            f"labels must hold one class per row of features ({features.shape[0]}), "
            f"got shape {list(labels.shape)}"
        )
    if len(labels) < 2 or labels.min() < 0:
        raise ValueError("labels must be at least 2 non-negative class numbers")
    return features.detach().float(), labels


def fit(
    features: Tensor, labels: Tensor, *, weight_decay: float = 1e-3, steps: int = 100
) -> torch.nn.Linear:
    """A multinomial logistic regression ``features -> labels``, fitted by L-BFGS (full batch).

    The features are standardised inside the probe (its first step), so ``weight_decay`` means the
    same on any model's scale. Deterministic: the weights start at zero.
    """
    x, y = _check(features, labels)
    weight_decay = checks.number(weight_decay, "weight_decay", 0)
    steps = checks.integer(steps, "steps", 1)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    linear = torch.nn.Linear(x.shape[1], int(y.max()) + 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    z = (x - mean) / std
    optimizer = torch.optim.LBFGS(
        linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(z), y) + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():  # fold the standardisation into the weights: one plain linear map
        linear.weight /= std
        linear.bias -= linear.weight @ mean
    return linear


@torch.no_grad()
def correct(probe: torch.nn.Linear, features: Tensor, labels: Tensor) -> Tensor:
    """``[N]`` of 1.0 where the probe's most likely class is the label, else 0.0."""
    x, y = _check(features, labels)
    return (probe(x).argmax(-1) == y).float()


def control_labels(word_ids: Sequence[int] | Tensor, n_classes: int, seed: int = 0) -> Tensor:
    """One random class per word *type*, the same at every occurrence (Hewitt & Liang's control).

    Only a probe that memorises which vector belongs to which word can learn these labels.
    """
    ids = torch.as_tensor(word_ids, dtype=torch.long)
    n_classes = checks.integer(n_classes, "n_classes", 2)
    if ids.ndim != 1 or len(ids) == 0 or ids.min() < 0:
        raise ValueError("word_ids must be a non-empty 1-D sequence of non-negative ids")
    generator = torch.Generator().manual_seed(checks.integer(seed, "seed", 0))
    per_type = torch.randint(n_classes, (int(ids.max()) + 1,), generator=generator)
    return per_type[ids]


def selectivity(
    train: tuple[Tensor, Tensor, Tensor],
    test: tuple[Tensor, Tensor, Tensor],
    *,
    groups: Sequence[int] | Tensor | None = None,
    **fit_args: float,
) -> dict[str, stats.Estimate]:
    """Task accuracy, control accuracy and their difference, on held-out vectors, with SEs.

    ``train`` and ``test`` are ``(features, task_labels, control_labels)``. The difference is
    paired: both probes are scored on the same test vectors.

    ``groups`` (one label per test vector, e.g. the window each token came from) makes the SEs
    count groups, not vectors: each group's mean is one draw. Neighbouring tokens of one text
    are not independent, so an SE over tokens is too small; with equal-sized groups the values
    are unchanged.
    """
    probes = [fit(train[0], train[k], **fit_args) for k in (1, 2)]
    task, control = (correct(p, test[0], test[k]) for p, k in zip(probes, (1, 2), strict=True))
    if groups is not None:
        labels = torch.as_tensor(groups)
        if labels.shape != task.shape:
            raise ValueError(
                f"groups must have one label per test vector ({len(task)}), got shape "
                f"{tuple(labels.shape)}"
            )
        members = [labels == g for g in labels.unique()]
        if len(members) < 2:
            raise ValueError(f"groups must hold at least 2 distinct labels, got {len(members)}")
        task, control = (
            torch.stack([v[m].float().mean() for m in members]) for v in (task, control)
        )
    return {
        "task": stats.mean(task),
        "control": stats.mean(control),
        "selectivity": stats.difference(task, control),
    }
