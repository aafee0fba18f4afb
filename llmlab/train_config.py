"""The training configuration: how to train, as one validated, serialisable record.

Its own module because two others need it and neither should import the other for it:
``train.py`` runs what it describes, and ``checkpoint.py`` stores it beside the weights so a
resumed run can check it continues the same run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from llmlab import checks

DTYPES = ("float32", "bfloat16")


@dataclass
class TrainConfig:
    """How to train: batch, budget, optimizer, schedule, evaluation and checkpoint cadence."""

    batch_size: int = 32  # windows per step (per process under DDP: the global batch is N x)
    max_steps: int = 2000
    max_seconds: float | None = None  # training-time budget (evaluation and checkpoints excluded)
    learning_rate: float = 1e-3
    min_lr: float = 1e-4  # the floor the cosine decays to
    warmup_steps: int = 100
    decay_steps: int | None = None  # where the cosine reaches min_lr; None = max_steps
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global gradient norm; 0 = no clipping
    eval_interval: int = 250  # evaluate every this many steps (and at the end); 0 = end only
    eval_windows: int = 64  # held-out windows per evaluation (fixed, evenly spread)
    checkpoint_interval: int | None = None  # None = eval_interval
    log_interval: int = 10  # steps between history records
    seed: int = 1337
    fused: bool | None = None  # fused AdamW kernel; None = use it where this torch build has it
    dtype: str = "float32"  # "bfloat16" runs forward/backward under bf16 autocast

    def __post_init__(self) -> None:
        positive = ("batch_size", "max_steps", "log_interval", "eval_windows")
        at_least_zero = ("warmup_steps", "eval_interval", "seed")
        for name in positive + at_least_zero:
            low = 1 if name in positive else 0
            self._keep(name, checks.integer(getattr(self, name), f"TrainConfig.{name}", low))
        for name in ("decay_steps", "checkpoint_interval"):
            value = getattr(self, name)
            self._keep(name, checks.integer(value, f"TrainConfig.{name}", 1, optional=True))
        for name in ("learning_rate", "min_lr", "weight_decay", "grad_clip", "beta1", "beta2"):
            high = 1 if name.startswith("beta") else None  # a beta of 1 never forgets
            value = getattr(self, name)
            self._keep(name, checks.number(value, f"TrainConfig.{name}", 0, high, high_open=True))
        if self.min_lr > self.learning_rate:
            raise ValueError(
                f"TrainConfig.min_lr={self.min_lr} must not exceed learning_rate="
                f"{self.learning_rate}"
            )
        value = self.max_seconds
        self._keep(
            "max_seconds",
            checks.number(value, "TrainConfig.max_seconds", 0, low_open=True, optional=True),
        )
        checks.one_of(self.dtype, "TrainConfig.dtype", DTYPES)

    def _keep(self, name: str, checked: Any) -> None:
        """Store a checked NumPy number as the Python number it equals (the config goes into a
        checkpoint's JSON header); a Python number stays as given (``1`` is not made ``1.0``)."""
        if not isinstance(getattr(self, name), int | float | None):
            setattr(self, name, checked)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**values)
