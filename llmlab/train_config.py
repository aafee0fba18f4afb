"""The training configuration: how to train, as one validated, serialisable record.

Its own module because two others need it and neither should import the other for it:
``train.py`` runs what it describes, and ``checkpoint.py`` stores it beside the weights so a
resumed run can check it continues the same run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

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
            value = getattr(self, name)
            low = 1 if name in positive else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"TrainConfig.{name} must be an int >= {low}, got {value!r}")
        for name in ("decay_steps", "checkpoint_interval"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"TrainConfig.{name} must be None or an int >= 1, got {value!r}")
        for name in ("learning_rate", "min_lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.min_lr > self.learning_rate:
            raise ValueError(
                f"TrainConfig.min_lr={self.min_lr} must not exceed learning_rate="
                f"{self.learning_rate}"
            )
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"TrainConfig.max_seconds must be None or > 0, got {self.max_seconds}")
        if self.dtype not in DTYPES:
            raise ValueError(f"TrainConfig.dtype must be one of {DTYPES}, got {self.dtype!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**values)
