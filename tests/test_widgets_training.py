"""Lesson 04's live training view, driven without a browser: steps, the learning rate, the
background run on an event loop, Pause, the interrupt handler, divergence and bad input."""

import asyncio
import math
import os
import signal

import pytest
import torch

from llmlab.model import GPTConfig
from llmlab.tokenization import CharTokenizer
from llmlab.train import TrainConfig, lm_batches, lm_loss, make_optimizer, train_step
from llmlab.widgets import TrainingView, status_text
from llmlab.widgets.training import LR_EXPONENTS, LR_STEP

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n" * 40


@pytest.fixture
def view() -> TrainingView:
    tokenizer = CharTokenizer(TEXT)
    ids = torch.tensor(tokenizer.encode(TEXT))
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16
    )
    return TrainingView(
        tokenizer, ids, ids, config, batch_size=4, log_every=1, eval_every=4, eval_windows=4,
        sample_every=2, sample_length=20,
    )  # fmt: skip


async def _until(condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_nothing_trains_until_start_and_the_global_rng_is_untouched(view):
    assert view.step == 0 and view.history == [] and not view.running
    assert view.button.description == "Start" and "ready · step 0" in view.status.value
    # The default rate lies on the slider's grid: the page would otherwise snap it to another.
    assert (math.log10(view.lr.value) - LR_EXPONENTS[0]) / LR_STEP == pytest.approx(15)
    state = torch.get_rng_state()
    weights = [p.detach().clone() for p in view.model.parameters()]
    assert view.train_steps(6) == 6
    assert torch.equal(torch.get_rng_state(), state)
    assert view.step == 6 and view.tokens == 6 * 4 * 16
    assert [r["step"] for r in view.history] == [1, 2, 3, 4, 5, 6]  # the curve grows
    assert [r["step"] for r in view.history if "val_loss" in r] == [4]
    assert any(not torch.equal(a, b) for a, b in zip(weights, view.model.parameters(), strict=True))
    assert view.sample.startswith("ROMEO:\n") and view.sample_step == 6


def test_the_steps_are_train_step_with_the_sliders_rate(view):
    # The same steps by hand with llmlab.train.train_step give the same weights.
    torch.manual_seed(0)
    from llmlab.model import GPT

    model = GPT(view.config)
    model.load_state_dict(view.model.state_dict())
    optimizer = make_optimizer(model, TrainConfig(batch_size=4))
    batches, generator = lm_batches(view.train_ids, 16), torch.Generator().manual_seed(0)
    for lr in (3e-3, 1e-2):
        view.lr.value = lr
        view.train_steps(1)
        train_step(model, optimizer, lm_loss, batches(generator, 4), lr, view.train_config)
        assert [g["lr"] for g in view.optimizer.param_groups] == [lr, lr]  # in the optimizer
        assert view.history[-1]["lr"] == lr
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), view.model.parameters(), strict=True)
    )
    view.render_status()
    assert "learning rate 1.00e-02" in view.status.value


def test_a_sample_changes_as_the_model_trains(view):
    view.render()
    assert "the first sample appears here at step 2" in view.text.value  # sample_every
    view.train_steps(1)
    view.render()
    assert "the first sample appears here at step 2" in view.text.value  # not yet at step 1
    view.train_steps(1)
    first = view.sample
    view.train_steps(20)
    assert view.sample != first and view.sample_step == 22
    assert view.generate() == view.generate()  # one seed: only the model changes a sample


def test_start_trains_in_the_background_and_pause_stops_it(view):
    async def scenario() -> None:
        task = view.start()
        assert view.button.description == "Pause" and view.state == "training"
        assert view.start() is task  # a second Start does not start a second run
        await _until(lambda: view.step >= 3)
        view.toggle()  # the button again: Pause
        await task
        assert not view.running and view.state == "paused"
        assert view.button.description == "Resume" and "paused" in view.status.value
        paused_at = view.step
        await asyncio.sleep(0.1)
        assert view.step == paused_at  # paused: no more steps, no task left
        view.toggle()  # Resume
        await _until(lambda: view.step > paused_at)
        view.pause()
        await view._task

    asyncio.run(scenario())
    assert view.history[-1]["step"] <= view.step


def test_a_click_handled_in_another_thread_trains_on_the_views_loop(view):
    # ipykernel may handle a click outside the main thread; the run must stay on the main
    # thread's loop, where a kernel interrupt's handler runs.
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        view._loop = loop  # as when a cell builds the view
        handed = await loop.run_in_executor(None, view.start)
        assert view.running and view.state == "training"
        await _until(lambda: view.step >= 2)
        await loop.run_in_executor(None, view.pause)
        await asyncio.wrap_future(handed)
        assert not view.running and view.state == "paused"

    asyncio.run(scenario())
    with pytest.raises(RuntimeError, match="train_steps"):
        view.start()  # no loop left to run in


def test_an_interrupt_stops_the_run_and_restores_the_kernels_handler(view):
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as ipykernel has it while no cell runs

    async def scenario() -> None:
        task = view.start()
        await _until(lambda: view.step >= 2)
        assert signal.getsignal(signal.SIGINT) == view._on_sigint  # installed while it trains
        os.kill(os.getpid(), signal.SIGINT)  # Kernel -> Interrupt
        await task

    try:
        asyncio.run(scenario())
        assert view.state == "stopped" and "interrupted" in view.status.value
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the kernel's, put back
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_diverging_step_is_not_applied_and_pauses(view):
    view.train_steps(2)
    weights = [p.detach().clone() for p in view.model.parameters()]
    view.diverged_above = 0.0  # any loss counts as diverged
    assert view.train_steps(5) == 0
    assert view.state == "diverged" and view.step == 2
    assert all(torch.equal(a, b) for a, b in zip(weights, view.model.parameters(), strict=True))
    view.render_status()
    assert "not applied" in view.status.value and "Lower the learning rate" in view.status.value


def test_train_step_refuses_a_diverged_loss_before_the_update():
    from llmlab.train import TrainingDivergedError

    tokenizer = CharTokenizer(TEXT)
    ids = torch.tensor(tokenizer.encode(TEXT))
    torch.manual_seed(0)
    from llmlab.model import GPT

    model = GPT(
        GPTConfig(vocab_size=tokenizer.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)
    )
    config = TrainConfig(batch_size=2)
    optimizer = make_optimizer(model, config)
    batch = lm_batches(ids, 8)(torch.Generator().manual_seed(0), 2)
    weights = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(TrainingDivergedError, match="not applied") as caught:
        train_step(model, optimizer, lm_loss, batch, 1e-3, config, diverged_above=0.0)
    assert math.isclose(caught.value.loss, math.log(tokenizer.vocab_size), rel_tol=0.1)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="lr"):
        train_step(model, optimizer, lm_loss, batch, -1.0, config)


@pytest.mark.parametrize("lr", [1.0, 1e-5, 0, -3e-3, math.nan, "3e-3"])
def test_a_learning_rate_outside_the_slider_is_refused(lr):
    tokenizer = CharTokenizer(TEXT)
    ids = torch.tensor(tokenizer.encode(TEXT))
    with pytest.raises(ValueError, match=r"lr must be .*\[0\.0001, 0\.1\]"):
        TrainingView(tokenizer, ids, ids, lr=lr)


def test_other_bad_settings_are_refused():
    tokenizer = CharTokenizer(TEXT)
    ids = torch.tensor(tokenizer.encode(TEXT))
    with pytest.raises(ValueError, match="batch_size"):
        TrainingView(tokenizer, ids, ids, batch_size=0)
    with pytest.raises(ValueError, match="dropout"):
        config = GPTConfig(
            vocab_size=tokenizer.vocab_size,
            block_size=16,
            n_layer=1,
            n_head=1,
            n_embd=8,
            dropout=0.1,
        )
        TrainingView(tokenizer, ids, ids, config)
    with pytest.raises(ValueError, match="val_ids must hold more than block_size=64"):
        TrainingView(tokenizer, ids, ids[:10])


def test_status_text_says_what_the_run_did():
    line = status_text("training", 1234, 56789, 12.4, 3e-3, 2.345, 2.5)
    assert line == (
        "training · step 1,234 · 56,789 tokens seen · 12 s · learning rate 3.00e-03 · "
        "training loss 2.35 · held-out loss 2.50"
    )
    assert status_text("ready", 0, 0, 0.0, 1e-3).endswith("learning rate 1.00e-03")
