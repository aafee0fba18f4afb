"""Lesson 04's live training view: a small GPT pretrains on the plays while you watch.

Start and Pause; a learning-rate slider read at every step; the loss curve (training loss, and
held-out loss every so often) redrawn about once a second; a sample from a fixed prompt and seed,
refreshed every so often, so that what changes between two samples is the model alone.

Each step is :func:`llmlab.train.train_step`, the step of every training run in llmlab; only the
schedule is the learner's (the slider) instead of warm-up and cosine. The run is an asyncio task
on the kernel's own event loop, one step between ``await asyncio.sleep(0)``, so the kernel keeps
answering the buttons, the slider and other cells while it trains; pausing ends the task, so a
paused view uses no CPU. A kernel interrupt (Kernel → Interrupt) stops it: ipykernel ignores
SIGINT while no cell runs, so the run installs its own handler while it trains and puts the
kernel's back when it stops. The view trains its own model with its own random generators: the
lesson's model and torch's global generator are never touched.
"""

from __future__ import annotations

import asyncio
import html
import math
import signal
import threading
import time
from typing import Any

from llmlab import checks
from llmlab.widgets.base import TEXT_STYLE, LessonWidget, column, message_html, picture, redraw

#: The learning-rate slider's range, as powers of ten (1e-4 .. 1e-1).
LR_EXPONENTS = (-4.0, -1.0)
#: One press of an arrow key on the slider multiplies the learning rate by 10 ** LR_STEP.
LR_STEP = 0.1


def status_text(
    state: str,
    step: int,
    tokens: int,
    seconds: float,
    lr: float,
    loss: float | None = None,
    val_loss: float | None = None,
) -> str:
    """The status line, in plain words: what the run is doing and how far it got."""
    parts = [
        state,
        f"step {step:,}",
        f"{tokens:,} tokens seen",
        f"{seconds:.0f} s",
        f"learning rate {lr:.2e}",
    ]
    if loss is not None:
        parts.append(f"training loss {loss:.2f}")
    if val_loss is not None:
        parts.append(f"held-out loss {val_loss:.2f}")
    return " · ".join(parts)


def check_lr(lr: Any) -> float:
    """``lr`` as a float inside the slider's range, else a ValueError naming the range."""
    low, high = (10.0**e for e in LR_EXPONENTS)
    return checks.number(lr, "lr", low, high)


class TrainingView(LessonWidget):
    """Lesson 04's widget: a live pretraining run with a Start/Pause button and a learning rate.

    ``tokenizer``, ``train_ids`` and ``val_ids`` are the lesson's characters and token arrays.
    ``config`` is the model (by default 2 blocks, 64 wide, 64 characters of context: a step
    takes tens of milliseconds on one core); ``lr`` the starting learning rate (the page snaps
    the slider to its grid, powers of ten ``LR_STEP`` apart, so the default is on it: 10^-2.5,
    about 3.2e-3); ``batch_size`` windows per step; every ``log_every`` steps a point of
    training loss joins the curve, every ``eval_every`` a held-out loss on ``eval_windows``
    fixed windows, and every ``sample_every`` a new ``sample_length``-character sample of
    ``prompt``, always drawn with ``seed``.
    Code (and the tests) can drive it without a browser: :meth:`train_steps` runs steps in
    place, :meth:`start` and :meth:`pause` do what the button does.
    """

    def __init__(
        self,
        tokenizer: Any,
        train_ids: Any,
        val_ids: Any,
        config: Any = None,
        lr: float = 10**-2.5,
        batch_size: int = 16,
        log_every: int = 10,
        eval_every: int = 100,
        eval_windows: int = 16,
        sample_every: int = 100,
        sample_length: int = 160,
        prompt: str = "ROMEO:\n",
        seed: int = 0,
    ) -> None:
        import ipywidgets as w
        import torch

        from llmlab.model import GPT, GPTConfig
        from llmlab.train import TrainConfig, as_tokens, lm_batches, make_optimizer

        lr = check_lr(lr)
        for name, value in (
            ("batch_size", batch_size),
            ("log_every", log_every),
            ("eval_every", eval_every),
            ("eval_windows", eval_windows),
            ("sample_every", sample_every),
            ("sample_length", sample_length),
        ):
            checks.integer(value, name, 1)
        checks.integer(seed, "seed", 0)
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        self.config = config or GPTConfig(
            vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64
        )
        if not isinstance(self.config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(self.config).__name__}")
        if self.config.dropout:  # dropout would draw from torch's global generator
            raise ValueError(f"config.dropout must be 0 here, got {self.config.dropout}")
        self.train_ids = as_tokens(train_ids, "train_ids")
        self.val_ids = as_tokens(val_ids, "val_ids")
        for name, ids in (("train_ids", self.train_ids), ("val_ids", self.val_ids)):
            if len(ids) <= self.config.block_size:
                raise ValueError(
                    f"{name} must hold more than block_size={self.config.block_size} tokens, "
                    f"got {len(ids)}"
                )
        self.tokenizer, self.prompt_ids = tokenizer, torch.tensor(tokenizer.encode(prompt))
        self.log_every, self.eval_every, self.eval_windows = log_every, eval_every, eval_windows
        self.sample_every, self.sample_length, self.seed = sample_every, sample_length, seed
        with torch.random.fork_rng(devices=[]):  # the initial weights, without moving torch's RNG
            torch.manual_seed(seed)
            self.model = GPT(self.config)
        self.train_config = TrainConfig(
            batch_size=batch_size, learning_rate=lr, min_lr=0.0, warmup_steps=0
        )
        self.optimizer = make_optimizer(self.model, self.train_config)
        self.generator = torch.Generator().manual_seed(seed)  # the batches' only randomness
        self.batches = lm_batches(self.train_ids, self.config.block_size)
        self.diverged_above = 2 * math.log(self.config.vocab_size)  # train()'s rule
        self.step, self.tokens, self.seconds = 0, 0, 0.0
        self.history: list[dict[str, float]] = []
        self.sample, self.sample_step = "", 0
        self.state = "ready"  # training, paused, stopped (interrupted) or diverged
        self.message = ""
        self._stop, self._task, self._restore = False, None, None
        self._handler = self._on_sigint  # one bound method, to recognise it when installed
        self._loop = _running_loop()  # the kernel's main loop, when built by a cell

        self.button = w.Button(description="Start", icon="play", button_style="success")
        self.button.on_click(lambda _button: self.toggle())
        self.lr = w.FloatLogSlider(
            value=lr,
            base=10,
            min=LR_EXPONENTS[0],
            max=LR_EXPONENTS[1],
            step=LR_STEP,
            description="learning rate",
            readout_format=".1e",
            style={"description_width": "initial"},
            layout={"width": "30em"},
        )
        self.lr.observe(lambda _change: self.render_status(), names="value")
        self.status = w.HTML()
        self.image = picture()
        self.text = w.HTML()
        self._draw_figure()
        self.widget = column(
            [
                w.HBox([self.button, self.lr], layout={"align_items": "center"}),
                w.HTML(
                    f"<span style='{TEXT_STYLE};color:#555'>Drag the slider, or click its handle "
                    "and press ← → (each press multiplies the rate by 1.26; ten presses, by "
                    "10). A new rate is used from the next step.</span>"
                ),
                self.status,
                self.image,
                self.text,
            ]
        )
        self.render()

    # ------------------------------------------------------------------ training

    def train_steps(self, n: int) -> int:
        """Run up to ``n`` steps in place (fewer if a step diverges); returns how many ran."""
        from llmlab.train import TrainingDivergedError, lm_loss, train_step

        checks.integer(n, "n", 0)
        for done in range(n):
            lr = float(self.lr.value)
            started = time.perf_counter()
            batch = self.batches(self.generator, self.train_config.batch_size)
            try:
                loss, _ = train_step(
                    self.model,
                    self.optimizer,
                    lm_loss,
                    batch,
                    lr,
                    self.train_config,
                    diverged_above=self.diverged_above,
                )
            except TrainingDivergedError as error:
                self.state, self._stop = "diverged", True
                self.message = (
                    f"At step {self.step + 1} the loss reached {error.loss:.3g} with learning "
                    f"rate {lr:.2e}, so that step was not applied and training paused. Lower "
                    "the learning rate and press Start to go on."
                )
                return done
            self.step += 1
            self.tokens += batch.tokens
            self.seconds += time.perf_counter() - started
            self._record(lr, loss)
        return n

    def _record(self, lr: float, loss: float) -> None:
        """Every ``log_every`` steps a point on the curve; held-out loss and a sample when due."""
        from llmlab.train import evaluate

        if self.step % self.log_every == 0 or self.step % self.eval_every == 0:
            entry = {
                "step": self.step,
                "tokens": self.tokens,
                "time": self.seconds,
                "lr": lr,
                "loss": loss,
            }
            if self.step % self.eval_every == 0:
                entry["val_loss"] = evaluate(self.model, self.val_ids, self.eval_windows)
            self.history.append(entry)
        if self.step % self.sample_every == 0:
            self.sample, self.sample_step = self.generate(), self.step

    def generate(self) -> str:
        """The model's continuation of the prompt, always drawn with the same seed."""
        import torch

        out = self.model.generate(
            self.prompt_ids,
            self.sample_length,
            temperature=0.8,
            generator=torch.Generator().manual_seed(self.seed),
        )
        return self.tokenizer.decode(out.tolist())

    # ------------------------------------------------------------------ the live run

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def toggle(self) -> None:
        """The button: Start (or Resume) when not running, Pause when running."""
        if self.running:
            self.pause()
        else:
            self.start()

    def start(self) -> Any:
        """Train in the background on the kernel's main event loop until paused.

        The loop is the one the cell that built the view ran in (the main thread's, where a
        kernel interrupt arrives), or else the running one; a click that ipykernel handles in
        another thread hands the run over to it. Without any loop (plain Python) there is
        nothing to run in the background: use :meth:`train_steps`. Returns the task (a future
        when handed over from another thread).
        """
        if self.running:
            return self._task
        here = _running_loop()
        loop = self._loop if self._loop is not None and not self._loop.is_closed() else here
        if loop is None:
            raise RuntimeError("start() needs a running event loop; use train_steps() instead")
        self._stop, self.state, self.message = False, "training", ""
        if loop is here:
            self._task = loop.create_task(self._run())
        else:
            self._task = asyncio.run_coroutine_threadsafe(self._run(), loop)
        self.render_button()
        self.render_status()
        return self._task

    def pause(self) -> None:
        """Stop after the current step; the task then ends, so a paused view uses no CPU."""
        self._stop = True
        self.render_button()

    async def _run(self, redraw_every: float = 1.0) -> None:
        drawn = time.monotonic()
        try:
            while not self._stop:
                self._catch_interrupts()
                self.train_steps(1)
                if time.monotonic() - drawn >= redraw_every:
                    self.render()
                    drawn = time.monotonic()
                await asyncio.sleep(0)  # the kernel answers buttons, sliders and cells here
        except KeyboardInterrupt:  # an interrupt while a cell ran: the cell's handler raised it
            self._interrupted()
        finally:
            self._release_interrupts()
            if self.state == "training":
                self.state = "paused"
            self.render()

    def _catch_interrupts(self) -> None:
        """Install the stop handler in place of the kernel's idle one (which ignores SIGINT).

        Checked at every step: ipykernel swaps SIGINT's handler around each message it handles
        and puts back what it found, so ours survives a click; while a cell runs, the kernel's
        own handler (which raises KeyboardInterrupt) is left alone.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(signal.SIGINT)
        if current != self._handler and current is not signal.default_int_handler:
            self._restore = current
            signal.signal(signal.SIGINT, self._handler)

    def _release_interrupts(self) -> None:
        """Put back the handler the run replaced (the kernel's), if ours is still installed."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) == self._handler and self._restore is not None:
            signal.signal(signal.SIGINT, self._restore)
        self._restore = None

    def _on_sigint(self, _signum: int, _frame: Any) -> None:
        """Kernel → Interrupt: stop after the current step."""
        self._interrupted()

    def _interrupted(self) -> None:
        self._stop, self.state = True, "stopped"
        self.message = "Stopped: the kernel was interrupted. Press Start to go on training."

    # ------------------------------------------------------------------ rendering

    def _draw_figure(self) -> None:
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6.5, 2.8), layout="constrained")
        self.axes = self.figure.subplots()
        (self.train_line,) = self.axes.plot([], [], color="tab:blue", alpha=0.7, label="training")
        (self.val_dots,) = self.axes.plot([], [], "o", color="tab:blue", label="held-out")
        self.axes.set(xlabel="step", ylabel="loss (nats per token)", title="Pretraining, live")
        self.axes.legend(fontsize=8, loc="upper right")

    def render_curve(self) -> None:
        records = self.history
        self.train_line.set_data([r["step"] for r in records], [r["loss"] for r in records])
        held = [r for r in records if "val_loss" in r]
        self.val_dots.set_data([r["step"] for r in held], [r["val_loss"] for r in held])
        losses = [r["loss"] for r in records] + [r["val_loss"] for r in held]
        self.axes.set_xlim(0, max(100, self.step) * 1.03)  # room for the last dot
        if losses:
            self.axes.set_ylim(min(losses) - 0.1, max(losses) + 0.1)
        else:
            self.axes.set_ylim(0, math.log(self.config.vocab_size) + 0.5)
        redraw(self.image, self.figure)

    def render_button(self) -> None:
        if self.running and not self._stop:
            self.button.description, self.button.icon = "Pause", "pause"
            self.button.button_style = "warning"
        else:
            self.button.description = "Resume" if self.step else "Start"
            self.button.icon, self.button.button_style = "play", "success"

    def status_line(self) -> str:
        last = self.history[-1] if self.history else {}
        held = [r["val_loss"] for r in self.history if "val_loss" in r]
        return status_text(
            self.state,
            self.step,
            self.tokens,
            self.seconds,
            float(self.lr.value),
            last.get("loss"),
            held[-1] if held else None,
        )

    def render_status(self) -> None:
        line = f"<span style='{TEXT_STYLE}'><b>{html.escape(self.status_line())}</b></span>"
        self.status.value = line + (f"<br>{message_html(self.message)}" if self.message else "")

    def render(self) -> None:
        self.render_button()
        self.render_status()
        self.render_curve()
        shown = self.sample or f"(the first sample appears here at step {self.sample_every:,})"
        when = f"at step {self.sample_step:,} " if self.sample else ""
        self.text.value = (
            f"<div style='{TEXT_STYLE}'>Sample {when}(same prompt and seed each time):</div>"
            f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(shown)}</pre>"
        )

    def still(self) -> dict[str, Any]:
        return {"text/html": self.status.value + self.text.value}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
