"""LoRA from scratch: fine-tune a frozen model through small low-rank side paths.

Full fine-tuning moves every weight, so it needs gradients and AdamW moments for all of them and
a whole new copy of the model per task. LoRA (Hu et al., 2021) bets that the *change* a
fine-tune makes to a weight matrix ``W [out, in]`` has a low rank: it can be written
``delta_W = B @ A`` with ``A [r, in]`` and ``B [out, r]`` for a small rank ``r``. So ``W`` stays
frozen and only ``A`` and ``B`` learn: ``r * (in + out)`` numbers instead of ``in * out``.

A wrapped layer computes ``base(x) + (alpha / r) * (x @ A.T @ B.T)``, with the conventions of
Hugging Face's PEFT library (the tests check ours against it):

- ``A`` starts Kaiming-uniform (like ``nn.Linear``'s own weights) and ``B`` starts at zero, so
  ``B @ A = 0`` and the wrapped model starts out *exactly* the model it wraps; training begins
  from what pretraining learned, not from a random perturbation of it.
- ``scaling = alpha / r``: the update's size then hardly depends on ``r``, so a learning rate that
  works for one rank works for another.
- An optional dropout on the LoRA path's input (PEFT's ``lora_dropout``) regularises the adapter
  alone; the frozen path sees ``x`` untouched.

Because the update is a plain matrix, it can be folded into the weight once training is done
(:meth:`LoRALinear.merge`: ``W + scaling * B @ A``), and the model runs as fast as it did before:
LoRA costs nothing at inference time. :meth:`LoRALinear.unmerge` takes it out again.

:func:`add_lora` freezes a model and wraps the layers named by ``targets`` (matched the way PEFT
matches ``target_modules``); ``trainable`` keeps whole modules trainable (PEFT's
``modules_to_save``), e.g. the fresh ``score`` layer of a classifier. :func:`lora_config` describes
the adapters for a checkpoint's header, and ``add_lora(fresh_model, **lora_config(model))`` builds
the same parameter names again, so saved weights load back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmlab import checks

#: The layers of a :class:`~llmlab.model.GPT` block LoRA wraps by default: attention's ``qkv``
#: and ``proj``, the MLP's ``fc`` and ``proj`` ("proj" names both, as a PEFT target would).
DEFAULT_TARGETS = ("qkv", "proj", "fc")


class LoRALinear(nn.Module):
    """``base(x) + (alpha / rank) * lora_B(lora_A(dropout(x)))`` around a frozen ``nn.Linear``.

    ``lora_A [rank, in_features]`` and ``lora_B [out_features, rank]`` are the only parameters
    that learn; ``base``'s weight and bias are frozen here, whatever they were before.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if isinstance(base, LoRALinear):
            raise TypeError("base is already a LoRALinear: wrapping it again would stack adapters")
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        _check_settings(rank, alpha, dropout)
        _check_rank_fits(rank, base, "base")
        self.base = base.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        self.in_features, self.out_features = base.in_features, base.out_features
        like = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        # The bound nn.Linear uses: a=sqrt(5) makes it 1 / sqrt(in_features). (PEFT does the same.)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False  # is scaling * B @ A currently folded into base.weight?

    def forward(self, x: Tensor) -> Tensor:
        result = self.base(x)
        if self.merged:  # the update already lives in base.weight: adding it again doubles it
            return result
        # Two thin products, x @ A.T then @ B.T: never the full [out, in] matrix B @ A.
        update = F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B)
        return result + update * self.scaling

    def delta_weight(self) -> Tensor:
        """The update LoRA makes to ``base.weight``: ``scaling * B @ A``, ``[out, in]``."""
        return (self.lora_B @ self.lora_A) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into ``base.weight``: one matmul per call again, as before LoRA.

        Does nothing if already merged. While merged, ``lora_A``/``lora_B`` get no gradient (the
        forward does not use them): merge for inference, :meth:`unmerge` before training more.
        """
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update back out of ``base.weight`` (up to float rounding); no-op if unmerged."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self) -> str:
        merged = self.merged
        return f"rank={self.rank}, alpha={self.alpha}, scaling={self.scaling:g}, {merged=}"


def add_lora(
    model: nn.Module,
    rank: int,
    alpha: float,
    targets: Sequence[str] = DEFAULT_TARGETS,
    dropout: float = 0.0,
    trainable: Sequence[str] = (),
) -> nn.Module:
    """Freeze ``model`` and wrap each ``nn.Linear`` named by ``targets`` in a :class:`LoRALinear`.

    A name matches a target as in PEFT's ``target_modules``: it equals the target or ends with
    ``"." + target`` (so ``"qkv"`` is every block's ``attn.qkv``, ``"mlp.proj"`` only the MLP's
    projection). Every target must match something, and only linear layers. The modules named by
    ``trainable`` (matched the same way) stay fully trainable, like PEFT's ``modules_to_save``: a
    classifier's new ``score`` layer has nothing pretrained to keep, so it learns in full.

    The tied ``lm_head`` is never wrapped. It shares its matrix with the token embedding ``wte``;
    merging an update into that matrix would change the embeddings too, so the merged model would
    no longer compute what the unmerged one did. (Fine-tuning the shared matrix in full is a
    choice you can make with ``trainable=("wte",)``.)

    Changes ``model`` in place and returns it. A model holds one set of adapters: calling this on
    a model that has some already is an error (build a fresh model instead).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    _check_settings(rank, alpha, dropout)
    targets, trainable = _names(targets, "targets"), _names(trainable, "trainable")
    if not targets:
        raise ValueError("targets must name at least one linear layer, got none")
    modules = dict(model.named_modules())
    wrapped = [name for name, m in modules.items() if isinstance(m, LoRALinear)]
    if wrapped:
        raise ValueError(
            f"model already has LoRA adapters on {_few(wrapped)}: wrapping a layer twice would "
            "stack two adapters; call add_lora once, on a model without adapters"
        )
    linears = [name for name, m in modules.items() if isinstance(m, nn.Linear)]
    chosen: list[str] = []
    for target in targets:
        found = [name for name in modules if _matches(name, target)]
        if not found:
            raise ValueError(
                f"targets: {target!r} matches no module of this model; targets were {targets}, "
                f"and its linear layers are {_few(linears, shown=12)}"
            )
        for name in found:
            if not isinstance(modules[name], nn.Linear):
                raise TypeError(
                    f"targets: {target!r} matches {name!r}, a {type(modules[name]).__name__}; "
                    f"LoRA wraps nn.Linear layers only, such as {_few(linears, shown=12)}"
                )
            if name not in chosen:
                chosen.append(name)
    _refuse_tied(model, chosen)
    keep = []
    for target in trainable:
        found = [name for name in modules if name and _matches(name, target)]
        if not found:
            raise ValueError(
                f"trainable: {target!r} matches no module of this model; its modules include "
                f"{_few([n for n in modules if n], shown=12)}"
            )
        keep += found
    for name in keep:
        clash = [w for w in chosen if w == name or w.startswith(name + ".")]
        clash += [w for w in chosen if name.startswith(w + ".")]
        if clash:
            raise ValueError(
                f"trainable: {name!r} would be fully trainable and LoRA-wrapped at once "
                f"({_few(clash)}); leave it out of targets or out of trainable"
            )
    # Build every wrapper before changing anything: a bad rank for one layer leaves model intact.
    for name in chosen:
        _check_rank_fits(rank, modules[name], name)
    wrappers = {name: LoRALinear(modules[name], rank, alpha, dropout) for name in chosen}
    model.requires_grad_(False)
    for name, wrapper in wrappers.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, wrapper)  # (lora_A, lora_B stay trainable)
    for name in keep:
        model.get_submodule(name).requires_grad_(True)
    model._lora_config = {  # what lora_config reports: enough to rebuild the same names
        "rank": rank,
        "alpha": alpha,
        "targets": list(targets),
        "dropout": dropout,
        "trainable": list(trainable),
    }
    return model


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """Every :class:`LoRALinear` in ``model``, by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def lora_config(model: nn.Module) -> dict[str, Any] | None:
    """The adapters' description for a checkpoint header, or ``None`` if ``model`` has none.

    A JSON-ready dict of :func:`add_lora`'s arguments (``rank``, ``alpha``, ``targets``,
    ``dropout``, ``trainable``): ``add_lora(fresh_model, **lora_config(model))`` rebuilds the very
    parameter names, so ``model``'s state dict loads into it. A merged model is refused: its
    ``base.weight`` already holds ``B @ A``, and a fresh (unmerged) model loading those weights
    would add the update a second time.
    """
    layers = lora_layers(model)
    if not layers:
        return None
    merged = [name for name, layer in layers.items() if layer.merged]
    if merged:
        raise ValueError(
            f"the LoRA layers {_few(merged)} are merged: call unmerge_lora(model) before saving, "
            "so the file holds the frozen weights and the adapters apart"
        )
    for module in model.modules():  # add_lora may have been called on a submodule (model.gpt)
        if hasattr(module, "_lora_config"):
            return dict(module._lora_config)
    first = next(iter(layers.values()))  # adapters built by hand: describe what is there
    return {
        "rank": first.rank,
        "alpha": first.alpha,
        "targets": list(layers),
        "dropout": first.dropout.p if isinstance(first.dropout, nn.Dropout) else 0.0,
        "trainable": [],
    }


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer of ``model`` (see :meth:`LoRALinear.merge`); returns ``model``."""
    for layer in lora_layers(model).values():
        layer.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Unmerge every LoRA layer of ``model`` (see :meth:`LoRALinear.unmerge`); returns ``model``."""
    for layer in lora_layers(model).values():
        layer.unmerge()
    return model


def trainable_parameters(model: nn.Module) -> int:
    """How many numbers training will move (AdamW keeps two more per number)."""
    return count_parameters(model)[0]


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameters; a tied matrix (``wte``/``lm_head``) counts once."""
    params = list(model.parameters())  # parameters() lists a shared tensor once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


# ----------------------------------------------------------------------------- checks


def _check_settings(rank: Any, alpha: Any, dropout: Any) -> None:
    """Refuse a rank, alpha or dropout that cannot make a working adapter."""
    # A value of the wrong type is a TypeError, one out of range a ValueError (checks' message).
    if not isinstance(rank, int) or isinstance(rank, bool):
        raise TypeError(f"rank must be an int >= 1, got {rank!r}")
    checks.integer(rank, "rank", 1)
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
        raise TypeError(f"alpha must be a finite number > 0, got {alpha!r}")
    checks.number(alpha, "alpha", 0, low_open=True)
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool):
        raise TypeError(f"dropout must be a number in [0, 1), got {dropout!r}")
    checks.number(dropout, "dropout", 0, 1, high_open=True)


def _check_rank_fits(rank: int, layer: nn.Linear, name: str) -> None:
    """A rank above min(in, out) is no longer low rank: B @ A could not even use it."""
    most = min(layer.in_features, layer.out_features)
    if rank > most:
        raise ValueError(
            f"rank must be in 1..{most} for {name!r} (min(in_features={layer.in_features}, "
            f"out_features={layer.out_features})), got {rank}"
        )


def _refuse_tied(model: nn.Module, chosen: list[str]) -> None:
    """Refuse to wrap a layer whose weight another module shares (the tied ``lm_head``)."""
    owners: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(param), []).append(name)
    for name in chosen:
        sharing = owners[id(model.get_submodule(name).weight)]
        if len(sharing) > 1:
            others = [n for n in sharing if n != name + ".weight"]
            raise ValueError(
                f"targets: {name!r} shares its weight with {others} (weight tying): merging an "
                "update into the shared matrix would change the other module too; leave it out "
                "of targets"
            )


def _names(names: Any, argument: str) -> tuple[str, ...]:
    """``names`` as a tuple of non-empty strings; a bare string is refused (it is not a list)."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(
            f"{argument} must be a list or tuple of module names such as ('qkv', 'fc'), "
            f"got {names!r}"
        )
    if any(not isinstance(n, str) or not n for n in names):
        raise TypeError(f"{argument} must hold non-empty strings, got {list(names)!r}")
    return tuple(dict.fromkeys(names))  # (duplicates dropped, order kept)


def _matches(name: str, target: str) -> bool:
    """PEFT's rule for a list of ``target_modules``: the whole name, or its dotted tail."""
    return name == target or name.endswith("." + target)


def _few(names: list[str], shown: int = 4) -> str:
    """A list of names short enough for an error message."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{names[:shown]}{more}"
