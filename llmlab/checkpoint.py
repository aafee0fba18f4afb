"""The checkpoint format: one ``safetensors`` file, readable with NumPy alone, never unpickled.

Every tensor (weights, AdamW moments, random-number states) is stored as a tensor; everything
else goes as JSON in the file's header under the key ``"llmlab"``:

- ``model_config``: the :class:`~llmlab.model.GPTConfig` of the trunk;
- ``architecture``: what sits on the trunk, so the model can be rebuilt (``{"kind": "gpt"}``, or
  ``{"kind": "sequence_head", "n_outputs": 2}`` for a classifier or reward model), and under
  ``"lora"`` the adapters added by :func:`llmlab.lora.add_lora` (its arguments, JSON-ready);
- ``step``, ``train_config``, ``param_groups`` (the optimizer's settings, if the training state
  was saved), ``tokenizer`` (its ``to_dict()``), ``extra`` (history, a recipe fingerprint, ...);
- ``sha256``: a digest of the rest of the header and of every tensor's name, dtype, shape and
  bytes, so damage anywhere is refused (files of the first format, ``llmlab-checkpoint/1``, are
  still read: their digest covers the tensors only).

Files are written to a temporary name and renamed (:func:`llmlab.files.write_atomically`), so a
crash mid-write leaves the old file or the new one, never half of one. :func:`read_numpy` reads a
checkpoint without importing torch (lesson 10's NumPy-only runner uses it); :func:`load_checkpoint`
is the same read into torch tensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmlab import checks, files
from llmlab.train_config import TrainConfig

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor, nn

    from llmlab.model import GPTConfig

CHECKPOINT_FORMAT = "llmlab-checkpoint/2"
#: The first format: the same file, but a digest of the tensors alone (the header unprotected).
LEGACY_FORMAT = "llmlab-checkpoint/1"

#: Architectures a checkpoint can rebuild: ``kind`` -> the keys its description must have.
ARCHITECTURES = {"gpt": (), "sequence_head": ("n_outputs",)}


def digest(tensors: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """SHA-256 of ``header`` (as canonical JSON) and of names, dtypes, shapes and bytes of torch
    tensors or NumPy arrays alike.

    The dtype is spelled as torch spells it (``torch.float32``) whichever library holds the
    tensor, so a file verified by torch verifies with NumPy too. The header is hashed as parsed
    JSON with sorted keys, so only a change of what it says changes the digest.
    """
    import numpy as np

    h = hashlib.sha256()
    if header is not None:
        h.update(json.dumps(header, sort_keys=True).encode() + b"\0")
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, np.ndarray):
            dtype, raw = f"torch.{t.dtype}", np.ascontiguousarray(t).tobytes()
        else:  # a torch tensor: its raw bytes, whatever the dtype (bfloat16 has no NumPy twin)
            import torch

            dtype, raw = str(t.dtype), t.reshape(-1).view(torch.uint8).numpy().tobytes()
        h.update(f"{name}:{dtype}:{list(t.shape)}".encode())
        h.update(raw)
    return h.hexdigest()


# ----------------------------------------------------------------------------- reading


def _header(data: bytes) -> Any:
    """The llmlab header of a checkpoint's bytes: JSON inside the safetensors header's metadata."""
    (header_size,) = struct.unpack("<Q", data[:8])
    return json.loads(json.loads(data[8 : 8 + header_size])["__metadata__"]["llmlab"])


def _damaged(path: Path) -> str:
    return f"{path} is not a valid llmlab checkpoint (truncated or corrupted?): delete it"


def _read(path: str | os.PathLike[str], backend: str) -> tuple[Path, dict[str, Any], dict]:
    """``(path, header, tensors)``, tensors from ``safetensors.<backend>``, verified."""
    from safetensors import SafetensorError

    if backend == "numpy":
        from safetensors.numpy import load
    else:
        from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = path.read_bytes()
    try:
        tensors = load(data)
        meta = _header(data)
    except (SafetensorError, KeyError, TypeError, ValueError, struct.error) as error:
        raise ValueError(f"{_damaged(path)}; reading it failed with: {error}") from None
    formats = (CHECKPOINT_FORMAT, LEGACY_FORMAT)
    if not isinstance(meta, dict) or meta.get("format") not in formats:
        raise ValueError(f"{_damaged(path)}; its format is not one of {formats}")
    covered = {k: v for k, v in meta.items() if k != "sha256"}
    expected = digest(tensors, covered if meta["format"] == CHECKPOINT_FORMAT else None)
    if meta.get("sha256") != expected:
        raise ValueError(
            f"{_damaged(path)}; its contents do not match the SHA-256 stored with them"
        )
    return path, meta, tensors


def read_numpy(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(header, arrays)`` of a checkpoint, verified, with NumPy and the standard library only."""
    _, meta, arrays = _read(path, "numpy")
    return meta, arrays


@dataclass
class Checkpoint:
    """A checkpoint read back by :func:`load_checkpoint` (already verified against its digest)."""

    path: Path
    model_config: GPTConfig
    step: int
    tensors: dict[str, Tensor]
    train_config: TrainConfig | None = None
    tokenizer: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    param_groups: list[dict[str, Any]] | None = None
    architecture: dict[str, Any] = field(default_factory=lambda: {"kind": "gpt"})

    def build_model(self) -> nn.Module:
        """A new model of the recorded architecture holding the checkpoint's weights."""
        model = build(self.architecture, self.model_config)
        self.load_model(model)
        return model

    def load_model(self, model: nn.Module) -> None:
        """Copy the weights into ``model``, which must have the checkpoint's config and layout."""
        import torch

        if model.config != self.model_config:
            ours, theirs = self.model_config.to_dict(), model.config.to_dict()
            diff = ", ".join(
                f"{k}={ours[k]!r} (model has {theirs[k]!r})" for k in ours if ours[k] != theirs[k]
            )
            raise ValueError(f"checkpoint {self.path} was made for a different model: {diff}")
        params = dict(model.named_parameters())
        problem = _misfit(
            {f"model.{n}": tuple(p.shape) for n, p in params.items()},
            {n: tuple(t.shape) for n, t in self.tensors.items() if n.startswith("model.")},
        )
        if problem:
            raise ValueError(
                f"checkpoint {self.path} does not fit this model: {problem} "
                f"(the file holds a {self.architecture['kind']!r} model)"
            )
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(self.tensors[f"model.{name}"])

    def load_training_state(
        self, optimizer: torch.optim.Optimizer, generator: torch.Generator
    ) -> None:
        """Restore the optimizer, the batch sampler's RNG and torch's global RNG (for dropout)."""
        import torch

        if self.param_groups is None:
            raise ValueError(f"checkpoint {self.path} holds weights only, no training state")
        state: dict[int, dict[str, Tensor]] = {}
        for name, tensor in self.tensors.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = tensor.clone()
        optimizer.load_state_dict({"state": state, "param_groups": self.param_groups})
        generator.set_state(self.tensors["rng.batches"])
        torch.set_rng_state(self.tensors["rng.torch"])


def _few(names: list[str], shown: int = 4) -> str:
    """A list of names short enough for an error message."""
    if not names:
        return "none"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{names[:shown]}{more}"


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint written by :func:`save_checkpoint` (no pickle involved).

    Every header field is checked (type, range, and the model's shape against the tensors'), and
    any problem is a ``ValueError`` naming the file and the field.
    """
    path, meta, tensors = _read(path, "torch")
    name = "header"
    try:
        fields = {}
        for name, check in _FIELDS.items():
            if name not in meta and name != "architecture":
                raise ValueError("missing")
            fields[name] = check(meta.get(name, {"kind": "gpt"}))
        name = "model_config"
        _check_fits(tensors, fields["architecture"], fields["model_config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{_damaged(path)}; its header field {name!r} is wrong: {error}") from None
    return Checkpoint(path=path, tensors=tensors, **fields)


def _model_config(values: Any) -> GPTConfig:
    from llmlab.model import GPTConfig

    return GPTConfig.from_dict(values)


def _train_config(values: Any) -> TrainConfig | None:
    if values is None:
        return None
    if not isinstance(values, dict):
        raise TypeError(f"expected a dict or null, got {type(values).__name__}")
    return TrainConfig.from_dict(values)


def _step(value: Any) -> int:
    return checks.integer(value, "step", 0)


def _json_dict(value: Any, allow_none: bool) -> dict[str, Any] | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"expected a dict{' or null' if allow_none else ''}, got {value!r:.80}")
    return value


def _param_groups(groups: Any) -> list[dict[str, Any]] | None:
    if groups is None:
        return None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise TypeError(f"expected a list of dicts or null, got {groups!r:.80}")
    # JSON turned AdamW's betas into a list
    return [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in groups]


#: Each header field and how it is checked and parsed (in this order).
_FIELDS = {
    "model_config": _model_config,
    "step": _step,
    "train_config": _train_config,
    "tokenizer": lambda value: _json_dict(value, allow_none=True),
    "extra": lambda value: _json_dict(value, allow_none=False),
    "param_groups": _param_groups,
    "architecture": lambda value: _checked_architecture(value),
}


def _check_fits(tensors: dict[str, Tensor], description: dict[str, Any], config: GPTConfig) -> None:
    """The model the header describes has exactly the weights of the file, shape for shape.

    The model is built on torch's ``meta`` device: shapes only, no memory, no initialisation.
    """
    import torch

    with torch.device("meta"):
        model = build(description, config)
    expected = {f"model.{n}": tuple(p.shape) for n, p in model.named_parameters()}
    saved = {n: tuple(t.shape) for n, t in tensors.items() if n.startswith("model.")}
    problem = _misfit(expected, saved)
    if problem:
        raise ValueError(f"the file's weights do not fit the model it describes: {problem}")


def _misfit(expected: dict[str, tuple], saved: dict[str, tuple]) -> str | None:
    """What differs between the weights a model has and those a file holds, or None."""
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unexpected:
        strip = lambda names: [n.removeprefix("model.") for n in names]  # noqa: E731
        return (
            f"weights missing from the file {_few(strip(missing))}; "
            f"weights the model does not have {_few(strip(unexpected))}"
        )
    for name, shape in expected.items():
        if saved[name] != shape:
            return (
                f"{name.removeprefix('model.')} has shape {list(saved[name])} in the file "
                f"and {list(shape)} in the model"
            )
    return None


# ----------------------------------------------------------------------------- writing


def architecture(model: nn.Module) -> dict[str, Any]:
    """How to rebuild ``model`` around its GPT trunk (the inverse of :func:`build`)."""
    from llmlab.lora import lora_config
    from llmlab.model import GPT, SequenceHead

    if isinstance(model, SequenceHead):
        description = {"kind": "sequence_head", "n_outputs": model.n_outputs}
    elif isinstance(model, GPT):
        description = {"kind": "gpt"}
    else:
        raise TypeError(
            f"cannot checkpoint a {type(model).__name__}: expected a GPT or a SequenceHead"
        )
    adapters = lora_config(model)
    return description if adapters is None else {**description, "lora": adapters}


def build(description: dict[str, Any], config: GPTConfig) -> nn.Module:
    """A fresh model of the architecture ``description`` (see :func:`architecture`)."""
    from llmlab.lora import add_lora
    from llmlab.model import GPT, SequenceHead

    description = _checked_architecture(description)
    model = GPT(config)
    if description["kind"] == "sequence_head":
        model = SequenceHead(model, description["n_outputs"])
    if "lora" in description:
        add_lora(model, **description["lora"])
    return model


def _checked_architecture(description: Any) -> dict[str, Any]:
    kind = description.get("kind") if isinstance(description, dict) else None
    if kind not in ARCHITECTURES or any(key not in description for key in ARCHITECTURES[kind]):
        raise ValueError(
            f"unknown model architecture {description!r}: expected a dict with 'kind' in "
            f"{sorted(ARCHITECTURES)} and its fields {ARCHITECTURES}"
        )
    if not isinstance(description.get("lora", {}), dict):
        raise ValueError(
            f"the architecture's 'lora' must be add_lora's arguments, got {description}"
        )
    return description


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
    *,
    step: int = 0,
    train_config: TrainConfig | None = None,
    tokenizer: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically; without ``optimizer`` it holds weights only (1/3 the size).

    ``model`` is a :class:`~llmlab.model.GPT` or a model built on one (see :func:`architecture`).
    ``tokenizer`` and ``extra`` must be JSON-serialisable (a tokenizer's ``to_dict()``, history,
    a recipe fingerprint, ...).
    """
    from safetensors.torch import save
    from torch import Tensor

    kind = architecture(model)  # (first: it refuses what is not a GPT, with a clear message)
    # named_parameters lists a tied matrix once (safetensors refuses two names for one storage).
    tensors = {f"model.{n}": p.detach().cpu().contiguous() for n, p in model.named_parameters()}
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "model_config": model.config.to_dict(),
        "step": step,
        "train_config": train_config.to_dict() if train_config else None,
        "tokenizer": tokenizer,
        "extra": extra or {},
        "param_groups": None,
    }
    if kind != {"kind": "gpt"}:  # (a plain GPT's header stays as it always was)
        meta["architecture"] = kind
    if optimizer is not None:
        if generator is None:
            raise ValueError("save_checkpoint needs the batch generator along with the optimizer")
        saved = optimizer.state_dict()
        for index, state in saved["state"].items():
            for key, value in state.items():
                if not isinstance(value, Tensor):
                    raise TypeError(
                        f"optimizer state {key!r} is {type(value).__name__}, not a tensor"
                    )
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
        meta["param_groups"] = [
            {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
            for group in saved["param_groups"]
        ]
        import torch

        tensors["rng.batches"] = generator.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
    meta["sha256"] = digest(tensors, meta)  # (meta has no "sha256" yet: it is all covered)
    return files.write_atomically(path, save(tensors, metadata={"llmlab": json.dumps(meta)}))
