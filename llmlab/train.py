"""Training: one loop for every objective, and pretraining on top of it.

:func:`fit` is the loop. It takes a model, a *batch source* and a *loss*: a batch source is a
function ``(generator, n) -> Batch`` that draws ``n`` rows using only ``generator`` for its
randomness (so saving that generator's state is enough to resume the very same batches), and a
loss is a function ``(model, batch) -> scalar``. Everything else is shared by pretraining (here),
fine-tuning (lessons 06–07) and preference learning (lessons 08–09): AdamW over the trainable
parameters, the schedule, clipping, evaluation, the progress bar, checkpoints and exact resume.

Pretraining (:func:`train`): show the model windows of text and nudge it to predict each next token.

One step: draw ``batch_size`` random windows of ``block_size + 1`` tokens; the model reads the
first ``block_size`` and is scored (cross-entropy) on predicting the same windows shifted by one;
backpropagate; clip the gradient; let AdamW move the weights. The learning rate warms up linearly
(big early steps from random weights are erratic), then decays along a cosine to a floor.

Checkpoints are one ``safetensors`` file (:mod:`llmlab.checkpoint`): weights, AdamW moments and
RNG states as tensors, everything else as JSON in its header; written atomically, never unpickled.

Resuming restores the weights, the optimizer, the step, and both random streams (the batch
sampler and torch's global one, used by dropout), so an interrupted run that resumes ends with
the very weights of a run never stopped. The same loop runs data-parallel under
``torchrun --nproc_per_node=N`` (DDP): every rank draws the same global batch and trains on its
slice; DDP averages the gradients, so all ranks take identical steps.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from llmlab import checks
from llmlab.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from llmlab.model import GPT
from llmlab.modes import evaluating
from llmlab.train_config import TrainConfig

#: A loss above this multiple of ln(vocab) (the loss of a uniform guess) means training diverged.
DIVERGED_FACTOR = 2.0


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf or exploded; the weights were not updated with that step.

    ``loss`` and ``norm`` (the gradient norm) are the step's, for a caller to say what happened.
    """

    def __init__(self, message: str, loss: float = math.nan, norm: float = math.nan) -> None:
        super().__init__(message)
        self.loss, self.norm = loss, norm


@dataclass
class TrainResult:
    """What :func:`train` did. ``history`` holds one record per ``log_interval`` steps."""

    step: int
    stop_reason: str  # "max_steps", "max_seconds" or "interrupted"
    seconds: float  # training time, evaluation excluded, summed over resumed runs
    tokens: int  # tokens trained on, all processes together
    val_loss: float | None
    history: list[dict[str, float]] = field(default_factory=list)


# ----------------------------------------------------------------------------- data and schedule


def as_tokens(data: Any, name: str = "data") -> Tensor:
    """A 1-D int64 tensor of token ids from a tensor, NumPy array or list."""
    if isinstance(data, (list, tuple)):
        if not all(checks.is_int(i) for i in data):
            raise TypeError(f"{name} must hold integer token ids, got a list with non-ints")
        data = torch.tensor(data, dtype=torch.long)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "iu":  # astype would turn 2.7 into 2 and "a" into an error
            raise TypeError(f"{name} must hold integer token ids, got a {data.dtype} array")
        data = torch.from_numpy(data.astype(np.int64, copy=False))
    if not isinstance(data, Tensor):
        raise TypeError(f"{name} must be a tensor, array or list of token ids, got {type(data)}")
    if data.dtype.is_floating_point or data.dtype == torch.bool or data.ndim != 1:
        raise TypeError(
            f"{name} must be 1-D integer token ids, got {data.dtype} {list(data.shape)}"
        )
    return data.long()


def get_batch(
    data: Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``batch_size`` random windows: inputs ``x [B, T]``, targets ``y`` = ``x`` shifted by one."""
    if len(data) < block_size + 1:
        raise ValueError(
            f"data has {len(data)} tokens, fewer than block_size + 1 = {block_size + 1}"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    windows = data[starts[:, None] + torch.arange(block_size + 1)]  # [B, T + 1]
    return windows[:, :-1], windows[:, 1:]


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to ``min_lr`` at ``decay_steps``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    decay_steps = config.decay_steps or config.max_steps
    if step >= decay_steps:
        return config.min_lr
    progress = (step - config.warmup_steps) / max(1, decay_steps - config.warmup_steps)
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (
        config.learning_rate - config.min_lr
    )


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only: decaying biases and norm gains only hurts."""
    matrices = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    device = matrices[0].device if matrices else torch.device("cpu")
    fused = _fused_adamw_available(device) if config.fused is None else config.fused
    return torch.optim.AdamW(
        [
            {"params": matrices, "weight_decay": config.weight_decay},
            {"params": vectors, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        betas=(config.beta1, config.beta2),
        fused=fused,
    )


def _fused_adamw_available(device: torch.device) -> bool:
    """Does this torch build have the fused (one kernel for all parameters) AdamW for ``device``?"""
    try:
        probe = torch.zeros(1, device=device, requires_grad=True)
        torch.optim.AdamW([probe], fused=True)
    except (RuntimeError, ValueError):
        return False
    return True


@torch.no_grad()
def evaluate(model: GPT, data: Tensor, windows: int = 64, batch_size: int = 32) -> float:
    """Mean next-token loss (nats/token) on ``windows`` fixed windows spread evenly over ``data``.

    Fixed windows make every evaluation of every run score the same text, so curves compare
    without sampling noise. It runs in float32 and eval mode (no dropout), and restores the mode.
    """
    data = as_tokens(data, "data")
    T = model.config.block_size
    if len(data) < T + 1:
        raise ValueError(f"data has {len(data)} tokens, fewer than block_size + 1 = {T + 1}")
    starts = torch.linspace(0, len(data) - T - 1, windows).long()
    device = next(model.parameters()).device
    total = 0.0
    with evaluating(model):
        for chunk in starts.split(batch_size):
            w = data[chunk[:, None] + torch.arange(T + 1)].to(device)
            total += model(w[:, :-1], w[:, 1:])[1].item() * len(chunk)
    return total / windows


# ----------------------------------------------------------------------------- the loop


def distributed() -> tuple[int, int]:
    """``(rank, world_size)``; joins the process group when launched by ``torchrun``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


@dataclass
class Batch:
    """One step's data: the tensors a loss reads, and how many real tokens they hold.

    ``tokens`` leaves padding out, so tokens per second and token budgets mean text processed.
    """

    tensors: dict[str, Tensor]
    tokens: int

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def rows(self, share: slice) -> Batch:
        """The rows ``share`` of every tensor (one process's part of a DDP batch)."""
        return Batch({k: t[share] for k, t in self.tensors.items()}, self.tokens)

    def to(self, device: torch.device) -> Batch:
        return Batch({k: t.to(device) for k, t in self.tensors.items()}, self.tokens)


Row = TypeVar("Row")
#: ``(generator, n) -> Batch``: ``n`` rows drawn with ``generator`` as the only randomness.
BatchSource = Callable[[torch.Generator, int], Batch]
#: ``(model, batch) -> loss``: a scalar tensor to minimise.
LossFunction = Callable[[torch.nn.Module, Batch], Tensor]


def lm_batches(data: Tensor, block_size: int) -> BatchSource:
    """Pretraining's batch source: random windows of ``data`` and their shifted targets."""

    def draw(generator: torch.Generator, n: int) -> Batch:
        x, y = get_batch(data, n, block_size, generator)
        return Batch({"input_ids": x, "targets": y}, x.numel())

    return draw


def sampled_batches(rows: Sequence[Row], collate: Callable[[list[Row]], Batch]) -> BatchSource:
    """A batch source over prepared ``rows``: ``n`` drawn with replacement, then ``collate``d.

    Fine-tuning, classification and preference data are lists of examples of different lengths;
    drawing ``n`` of them with ``generator`` as the only randomness and padding them into one
    :class:`Batch` (``collate``) is the same for all of them.
    """

    def draw(generator: torch.Generator, n: int) -> Batch:
        picks = torch.randint(len(rows), (n,), generator=generator).tolist()
        return collate([rows[i] for i in picks])

    return draw


def lm_loss(model: torch.nn.Module, batch: Batch) -> Tensor:
    """Pretraining's loss: the mean next-token cross-entropy."""
    return model(batch["input_ids"], batch["targets"])[1]


def train(
    model: GPT,
    train_data: Any,
    val_data: Any = None,
    config: TrainConfig | None = None,
    **options: Any,
) -> TrainResult:
    """Pretrain ``model`` in place on the token array ``train_data``; see the module docstring.

    :func:`fit` with pretraining's batches (:func:`lm_batches`) and loss (:func:`lm_loss`),
    evaluated on fixed windows of ``val_data``; a loss above ``DIVERGED_FACTOR * ln(vocab)``
    (twice a uniform guess) counts as diverged. ``options`` are :func:`fit`'s.
    """
    config = config or TrainConfig()
    train_data, val_data = _checked_inputs(model, config, train_data, val_data)
    return fit(
        model,
        lm_batches(train_data, model.config.block_size),
        lm_loss,
        config,
        evaluate=None
        if val_data is None
        else (lambda m: evaluate(m, val_data, config.eval_windows)),
        diverged_above=DIVERGED_FACTOR * math.log(model.config.vocab_size),
        **options,
    )


def fit(
    model: torch.nn.Module,
    batches: BatchSource,
    loss_fn: LossFunction,
    config: TrainConfig | None = None,
    *,
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    diverged_above: float | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    tokenizer: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the trainable parameters of ``model`` in place: the loop behind every objective.

    Each step draws ``config.batch_size`` rows from ``batches``, minimises ``loss_fn`` with AdamW
    (learning rate from :func:`lr_at`, gradients clipped), and every ``eval_interval`` steps
    records ``evaluate(model)`` as ``val_loss``. A non-finite loss or gradient, or a loss above
    ``diverged_above``, raises :class:`TrainingDivergedError` before the step is applied.
    ``checkpoint`` is a file path: written every ``checkpoint_interval`` steps and at the end;
    with ``resume=True`` an existing file there is loaded first and training continues from it,
    exactly as if never stopped. ``callback(record)`` gets every history record (e.g. to draw a
    live loss curve). Ctrl-C (or a notebook's interrupt) finishes the current step, saves, and
    returns; a second one aborts.
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    _check_outputs(checkpoint, resume, tokenizer, extra)
    rank, world = distributed()
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout draws from torch's global generator
    step, seconds, tokens, history, last_saved = 0, 0.0, 0, [], None
    if resume and Path(checkpoint).exists():
        saved = load_checkpoint(checkpoint)
        _check_same_run(saved, config)
        saved.load_model(model)
        saved.load_training_state(optimizer, generator)
        step, seconds, last_saved = saved.step, saved.extra.get("seconds", 0.0), saved.step
        history, tokens = saved.extra.get("history", []), saved.extra.get("tokens", 0)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    checkpoint_every = config.checkpoint_interval or config.eval_interval
    mine = slice(rank * config.batch_size, (rank + 1) * config.batch_size)  # this rank's share
    val_loss, loss, evaluated_at = None, math.nan, None

    def save() -> None:
        nonlocal last_saved
        if checkpoint is not None and rank == 0:
            extra_now = {**(extra or {}), "seconds": seconds, "tokens": tokens, "history": history}
            save_checkpoint(
                checkpoint,
                model,
                optimizer,
                generator,
                step=step,
                train_config=config,
                tokenizer=tokenizer,
                extra=extra_now,
            )
            last_saved = step

    def record(lr: float, evaluate_now: bool) -> None:
        nonlocal val_loss, evaluated_at
        entry = {"step": step, "time": seconds, "tokens": tokens, "lr": lr, "loss": loss}
        if history and history[-1]["step"] == step:  # the final evaluation joins its step's record
            entry = history.pop()
        if evaluate_now and evaluate is not None and rank == 0:
            val_loss = entry["val_loss"] = evaluate(model)
            evaluated_at = step
        history.append(entry)
        if callback is not None and rank == 0:
            callback(entry)

    # The bar starts after this run's first step, whose one-off costs (memory, kernels chosen)
    # would otherwise make its first time estimate several times too long.
    bar = _ProgressBar(config.max_steps, disable=not progress or rank)
    stop_reason = "max_steps"
    model.train()
    with _interrupt_requests() as interrupted:
        started, stop_now, out_of_time = time.perf_counter(), False, False

        def agree(local_loss: Tensor) -> float:
            """All ranks' mean loss, and (before the update) whether to stop after this step."""
            nonlocal stop_now, out_of_time
            spent = seconds + time.perf_counter() - started
            over_time = config.max_seconds is not None and spent >= config.max_seconds
            agreed, stop_now, out_of_time = _agree(local_loss, interrupted(), over_time, world)
            return agreed

        while step < config.max_steps:
            started = time.perf_counter()
            lr = lr_at(step, config)
            batch = batches(generator, config.batch_size * world)
            try:
                loss, _ = train_step(
                    model,
                    optimizer,
                    loss_fn,
                    batch.rows(mine),
                    lr,
                    config,
                    diverged_above=diverged_above,
                    net=net,
                    agree=agree,
                )
            except TrainingDivergedError as error:
                bar.close()
                raise _diverged(step, error.loss, error.norm, lr, checkpoint, last_saved) from None
            step += 1
            tokens += batch.tokens
            seconds += time.perf_counter() - started
            bar.update(step)
            evaluate_now = config.eval_interval > 0 and step % config.eval_interval == 0
            if step % config.log_interval == 0 or evaluate_now:
                record(lr, evaluate_now)
                bar.set_postfix(
                    loss=f"{loss:.3f}",
                    tok_s=f"{tokens / seconds:,.0f}",
                    refresh=False,  # shown at the bar's next redraw
                )
            if checkpoint_every and step % checkpoint_every == 0:
                save()
            if stop_now or out_of_time:
                stop_reason = "interrupted" if stop_now else "max_seconds"
                break
        if evaluate is not None and evaluated_at != step:
            record(lr_at(max(step - 1, 0), config), True)
        if last_saved != step:
            save()
    bar.close()
    return TrainResult(step, stop_reason, seconds, tokens, val_loss, history)


class _ProgressBar:
    """tqdm's bar, started at the first ``update`` so its rate leaves out the slow first step.

    In a notebook its text goes to one output updated in place (:class:`_DisplayLine`) rather
    than into a widget: a saved notebook then shows the bar's final state (a widget is saved as
    its first, 0%, text), and a redraw is one small message, at most one a second.
    """

    def __init__(self, total: int, disable: bool) -> None:
        self.total, self.disable, self._bar = total, disable, None

    def update(self, step: int) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm
            from tqdm.notebook import tqdm as notebook_tqdm
            from tqdm.std import tqdm as text_tqdm

            in_notebook = issubclass(tqdm, notebook_tqdm)
            self._bar = (text_tqdm if in_notebook else tqdm)(
                total=self.total,
                initial=step,
                unit="step",
                mininterval=1.0,
                disable=self.disable,
                file=_DisplayLine() if in_notebook else None,
            )
        else:
            self._bar.update()

    def set_postfix(self, **values: Any) -> None:
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _DisplayLine:
    """A file for tqdm that shows the latest line it writes in one notebook output."""

    def __init__(self) -> None:
        self._handle: Any = None

    def write(self, text: str) -> None:
        from IPython.display import display

        line = text.strip("\r\n ")
        if not line:
            return
        if self._handle is None:
            self._handle = display({"text/plain": line}, raw=True, display_id=True)
        else:
            self._handle.update({"text/plain": line}, raw=True)

    def flush(self) -> None:
        pass


def _check_outputs(checkpoint: Any, resume: bool, tokenizer: Any, extra: Any) -> None:
    """What the checkpoints will need, checked before any training time is spent."""
    import json

    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path to resume from")
    for name, value in (("tokenizer", tokenizer), ("extra", extra)):
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must be JSON-serialisable (it goes in the header): {error}"
            ) from None
    if checkpoint is not None:
        folder = Path(checkpoint).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"checkpoint {checkpoint}: its folder {folder} cannot be made ({error.strerror})"
            ) from None
        if not os.access(folder, os.W_OK):
            raise ValueError(f"checkpoint {checkpoint}: its folder {folder} is not writable")


#: What a resumed run may change: its budget. Anything else would make it another run.
RESUMABLE_CHANGES = ("max_steps", "max_seconds")


def _check_same_run(saved: Checkpoint, config: TrainConfig) -> None:
    """Refuse to resume a checkpoint with other settings than the run that wrote it."""
    if saved.train_config is None:
        return
    ours, theirs = config.to_dict(), saved.train_config.to_dict()
    changed = [k for k in ours if ours[k] != theirs[k] and k not in RESUMABLE_CHANGES]
    if changed:
        diff = ", ".join(f"{k}={theirs[k]!r} (now {ours[k]!r})" for k in changed)
        raise ValueError(
            f"checkpoint {saved.path} was written by a run with other settings: {diff}. "
            f"Resume with the same TrainConfig (only {', '.join(RESUMABLE_CHANGES)} may change), "
            "or pass resume=False to start afresh"
        )


def _checked_inputs(
    model: GPT, config: TrainConfig, train_data: Any, val_data: Any
) -> tuple[Tensor, Tensor | None]:
    """Refuse what :func:`train` cannot use, with a message that says what was expected."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an llmlab.model.GPT, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    train_data = as_tokens(train_data, "train_data")
    val_data = None if val_data is None else as_tokens(val_data, "val_data")
    block_size, vocab_size = model.config.block_size, model.config.vocab_size
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data is None:
            continue
        if len(data) <= block_size:
            raise ValueError(
                f"{name} must hold more than block_size={block_size} tokens, got {len(data)}"
            )
        if int(data.min()) < 0 or int(data.max()) >= vocab_size:
            raise ValueError(
                f"{name} must hold token ids in 0..{vocab_size - 1} (vocab_size={vocab_size}), "
                f"got min id {int(data.min())}, max id {int(data.max())}"
            )
    return train_data, val_data


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFunction,
    batch: Batch,
    lr: float,
    config: TrainConfig,
    *,
    diverged_above: float | None = None,
    net: torch.nn.Module | None = None,
    agree: Callable[[Tensor], float] | None = None,
) -> tuple[float, float]:
    """One step of the loop, the only one in llmlab: ``(loss, gradient norm before clipping)``.

    Forward and backward at learning rate ``lr``, clipping to ``config.grad_clip``, then AdamW's
    update. :func:`fit` calls it for every step; a caller that owns its own schedule (a live
    view where the learning rate is a control) calls it one step at a time. A non-finite loss or
    gradient, or a loss above ``diverged_above``, raises :class:`TrainingDivergedError` *before*
    the update, so the weights stay as they were. ``net`` is ``model``'s DDP wrapper if any;
    ``agree(loss)`` turns this process's loss into the one every rank acts on (:func:`fit`).
    """
    checks.number(lr, "lr", 0)
    local_loss, norm = _forward_backward(
        model if net is None else net, model, optimizer, loss_fn, batch, lr, config
    )
    loss = local_loss.item() if agree is None else agree(local_loss)
    too_high = diverged_above is not None and loss > diverged_above
    if not (math.isfinite(loss) and math.isfinite(norm)) or too_high:
        raise TrainingDivergedError(
            f"loss {loss:.4g}, gradient norm {norm:.4g} (learning rate {lr:.3g}): this step was "
            "not applied",
            loss,
            norm,
        )
    optimizer.step()
    return loss, norm


def _forward_backward(
    net: torch.nn.Module,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFunction,
    batch: Batch,
    lr: float,
    config: TrainConfig,
) -> tuple[Tensor, float]:
    """One step up to (not including) the update: ``(loss, gradient norm before clipping)``.

    ``net`` is ``model``, or its DDP wrapper, whose backward averages the gradients of all ranks.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    device = next(model.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.dtype == "bfloat16"):
        loss = loss_fn(net, batch.to(device))
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    norm = torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip or math.inf)
    return loss.detach(), norm.item()


def _agree(
    loss: Tensor, interrupted: bool, over_time: bool, world: int
) -> tuple[float, bool, bool]:
    """Average the loss over ranks and OR their stop requests: all ranks must stop together."""
    flags = torch.tensor([loss.item(), float(interrupted), float(over_time)])
    if world > 1:
        torch.distributed.all_reduce(flags)
        flags[0] /= world
    return flags[0].item(), bool(flags[1]), bool(flags[2])


def _diverged(
    step: int, loss: float, norm: float, lr: float, checkpoint: Any, last_saved: int | None
) -> TrainingDivergedError:
    kept = (
        f"The last good checkpoint is {checkpoint} (step {last_saved}). "
        if last_saved is not None
        else "No checkpoint was saved. "
    )
    return TrainingDivergedError(
        f"training diverged at step {step}: loss {loss:.4g}, gradient norm {norm:.4g} "
        f"(learning rate {lr:.3g}); this step was not applied. {kept}Lower the learning rate, "
        "lengthen the warm-up, or clip gradients harder."
    )


@contextmanager
def _interrupt_requests() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C into a request to stop after the current step.

    A KeyboardInterrupt raised mid-step could leave the weights half updated; deferring it to the
    step boundary means the checkpoint saved on the way out is a consistent one.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
