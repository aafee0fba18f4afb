"""llmlab.train: batches, schedule, checkpoints that round-trip exactly, resume, DDP, divergence."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tiny_gpt import tiny

from llmlab import checkpoint as C
from llmlab import train as T
from llmlab.model import GPT
from llmlab.train_config import DTYPES, TrainConfig

DATA = torch.randint(37, (4000,), generator=torch.Generator().manual_seed(0))
VAL = torch.randint(37, (600,), generator=torch.Generator().manual_seed(1))


pytestmark = pytest.mark.usefixtures("one_thread")


def quick(**overrides) -> TrainConfig:
    values = dict(batch_size=4, max_steps=20, warmup_steps=5, eval_interval=5, eval_windows=4)
    return TrainConfig(**{**values, **overrides})


def assert_same_weights(a: GPT, b: GPT) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), name


# ----------------------------------------------------------------------------- pieces


def test_batches_are_windows_and_their_shifted_targets():
    data = torch.arange(100)
    x, y = T.get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(8, 9, dtype=torch.long))  # contiguous
    assert int(y.max()) <= 99
    again, _ = T.get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    with pytest.raises(ValueError, match="fewer than block_size"):
        T.get_batch(torch.arange(10), 2, 10, torch.Generator())


@given(step=st.integers(0, 3000))
def test_schedule_warms_up_then_decays_to_the_floor(step):
    config = TrainConfig(learning_rate=1e-3, min_lr=1e-4, warmup_steps=100, max_steps=2000)
    lr = T.lr_at(step, config)
    assert 0 < lr <= config.learning_rate
    if step < 100:
        assert lr == pytest.approx(1e-3 * (step + 1) / 100)
    elif step >= 2000:
        assert lr == config.min_lr
    else:
        assert config.min_lr <= T.lr_at(step + 1, config) <= lr
    assert T.lr_at(99, config) == pytest.approx(1e-3)
    assert T.lr_at(1050, config) == pytest.approx(5.5e-4)  # half way down the cosine


def test_optimizer_decays_matrices_only_and_uses_the_fused_kernel():
    model = tiny()
    optimizer = T.make_optimizer(model, quick(weight_decay=0.1))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert decayed["fused"] == T._fused_adamw_available(torch.device("cpu"))
    assert T.make_optimizer(model, quick(fused=False)).param_groups[0]["fused"] is False


def test_evaluate_scores_fixed_windows_and_restores_the_mode():
    model = tiny(dropout=0.5).train()
    loss = T.evaluate(model, VAL, windows=5, batch_size=2)
    assert model.training
    starts = torch.linspace(0, len(VAL) - 17, 5).long()
    windows = torch.stack([VAL[s : s + 17] for s in starts.tolist()])
    model.eval()
    expected = model(windows[:, :-1], windows[:, 1:])[1].item()
    assert loss == pytest.approx(expected, rel=1e-6)


def test_config_round_trips_and_rejects_nonsense():
    config = quick(max_seconds=3.5, dtype="bfloat16")
    assert TrainConfig.from_dict(config.to_dict()) == config
    for bad in [
        dict(batch_size=0),
        dict(learning_rate=-1.0),
        dict(min_lr=1.0),
        dict(beta2=1.0),
        dict(max_seconds=0),
        dict(dtype="float16"),
        dict(decay_steps=0),
    ]:
        with pytest.raises(ValueError, match="TrainConfig"):
            quick(**bad)
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"lr": 1.0})


# ----------------------------------------------------------------------------- checkpoints


def trained_with_state(tmp_path, steps: int = 6):
    model = tiny(dropout=0.1)
    T.train(model, DATA, None, quick(max_steps=steps), checkpoint=tmp_path / "a", progress=False)
    return model, tmp_path / "a"


def test_checkpoint_round_trip_is_exact(tmp_path):
    model = tiny(dropout=0.1)
    optimizer = T.make_optimizer(model, quick())
    model(*T.get_batch(DATA, 4, 16, torch.Generator()))[1].backward()
    optimizer.step()
    batches = torch.Generator().manual_seed(3)
    torch.randint(10, (7,), generator=batches)  # a generator part-way through its stream
    tokenizer = {"kind": "char", "chars": "abc"}
    C.save_checkpoint(
        tmp_path / "c.safetensors",
        model,
        optimizer,
        batches,
        step=17,
        train_config=quick(),
        tokenizer=tokenizer,
        extra={"note": [1, 2]},
    )
    expected_batches = torch.randint(1000, (5,), generator=batches)
    expected_noise = torch.rand(5)

    saved = C.load_checkpoint(tmp_path / "c.safetensors")
    assert (saved.step, saved.tokenizer, saved.extra) == (17, tokenizer, {"note": [1, 2]})
    assert saved.train_config == quick() and saved.model_config == model.config
    clone = saved.build_model()
    assert_same_weights(model, clone)
    assert clone.lm_head.weight is clone.wte.weight  # still tied
    restored, generator = T.make_optimizer(clone, quick()), torch.Generator()
    torch.manual_seed(999)
    saved.load_training_state(restored, generator)
    assert torch.equal(torch.randint(1000, (5,), generator=generator), expected_batches)
    assert torch.equal(torch.rand(5), expected_noise)  # torch's global RNG (dropout) too
    ours, theirs = optimizer.state_dict(), restored.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    for index, state in ours["state"].items():
        for key, value in state.items():
            assert torch.equal(value, theirs["state"][index][key]), (index, key)


def test_weights_only_checkpoints_and_mismatched_models(tmp_path):
    model = tiny()
    C.save_checkpoint(tmp_path / "w", model, tokenizer=None)
    saved = C.load_checkpoint(tmp_path / "w")
    assert_same_weights(model, saved.build_model())
    with pytest.raises(ValueError, match="weights only"):
        saved.load_training_state(T.make_optimizer(model, quick()), torch.Generator())
    with pytest.raises(ValueError, match=r"n_layer=2 \(model has 3\)"):
        saved.load_model(tiny(n_layer=3))


def test_damaged_checkpoints_are_refused(tmp_path):
    _, path = trained_with_state(tmp_path)
    data = path.read_bytes()
    (tmp_path / "truncated").write_bytes(data[: len(data) - 100])
    flipped = bytearray(data)
    flipped[-5] ^= 0x01  # one bit inside a tensor: safetensors alone would not notice
    (tmp_path / "flipped").write_bytes(bytes(flipped))
    (tmp_path / "garbage").write_bytes(b"not a checkpoint at all")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, tmp_path / "foreign")
    for name, reason in [
        ("truncated", "reading it failed"),
        ("flipped", "SHA-256"),
        ("garbage", "reading it failed"),
        ("foreign", "reading it failed"),
    ]:
        with pytest.raises(ValueError, match=f"not a valid llmlab checkpoint.*{reason}"):
            C.load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        C.load_checkpoint(tmp_path / "missing")


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, path = trained_with_state(tmp_path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        C.save_checkpoint(path, tiny(seed=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # no temporary file left over


# ----------------------------------------------------------------------------- the loop


def test_training_lowers_the_loss_and_records_history(tmp_path):
    model, records = tiny(), []
    text = torch.arange(4000) % 7  # a pattern a tiny model learns in a few steps
    result = T.train(
        model,
        text,
        text[:400],
        quick(max_steps=40, learning_rate=1e-2),
        callback=records.append,
        progress=False,
    )
    assert (result.step, result.stop_reason, result.tokens) == (40, "max_steps", 40 * 4 * 16)
    assert [r["step"] for r in result.history] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert records == result.history and all("val_loss" in r for r in records)
    assert result.val_loss == records[-1]["val_loss"] < 0.5 < math.log(37)
    assert result.seconds > 0 and records[-1]["time"] == result.seconds


@pytest.mark.parametrize("dtype", DTYPES)
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, dtype):
    config = quick(max_steps=24, checkpoint_interval=8, log_interval=1, dtype=dtype)
    straight = tiny(dropout=0.1)  # dropout: the global RNG must be restored too
    T.train(straight, DATA, VAL, config, progress=False)

    def crash(record):
        if record["step"] == 13:  # a crash between checkpoints (steps 8 and 16)
            raise RuntimeError("power cut")

    crashed = tiny(dropout=0.1)
    with pytest.raises(RuntimeError, match="power cut"):
        T.train(
            crashed, DATA, VAL, config, checkpoint=tmp_path / "c", callback=crash, progress=False
        )
    assert C.load_checkpoint(tmp_path / "c").step == 8
    resumed = tiny(seed=123, dropout=0.1)  # a fresh process: other initial weights, other RNG
    result = T.train(
        resumed, DATA, VAL, config, checkpoint=tmp_path / "c", resume=True, progress=False
    )
    assert result.step == 24 and C.load_checkpoint(tmp_path / "c").step == 24
    assert_same_weights(straight, resumed)
    assert [r["step"] for r in result.history] == list(range(1, 25))  # history carried over


#: Checkpoints every 8 steps; the script below kills itself at step 13, so 8 is the last saved.
KILLED_RUN = dict(
    batch_size=4,
    max_steps=24,
    warmup_steps=5,
    eval_interval=0,
    checkpoint_interval=8,
    log_interval=1,
)

KILLED_SCRIPT = f"""
import os, signal, sys, torch
sys.path.insert(0, {os.path.dirname(__file__)!r})
from llmlab import train as T
from llmlab.train_config import TrainConfig
from tiny_gpt import tiny

torch.set_num_threads(1)
model = tiny(dropout=0.1)
data = torch.randint(37, (4000,), generator=torch.Generator().manual_seed(0))

def kill(record):
    if record["step"] == 13:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no exception handlers: gone

T.train(model, data, None, TrainConfig(**{KILLED_RUN!r}), checkpoint=sys.argv[1],
        callback=kill, progress=False)
"""


def test_a_killed_process_resumes_to_the_uninterrupted_weights(tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SCRIPT)
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "c")], timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert C.load_checkpoint(tmp_path / "c").step == 8
    config = TrainConfig(**KILLED_RUN)
    straight = tiny(dropout=0.1)
    T.train(straight, DATA, None, config, progress=False)
    resumed = tiny(seed=7, dropout=0.1)
    T.train(resumed, DATA, None, config, checkpoint=tmp_path / "c", resume=True, progress=False)
    assert_same_weights(straight, resumed)


def test_ctrl_c_stops_at_a_step_boundary_and_saves(tmp_path):
    config = quick(max_steps=30, checkpoint_interval=100, log_interval=1)
    straight = tiny()
    T.train(straight, DATA, None, config, progress=False)

    def press_ctrl_c(record):
        if record["step"] == 11:
            os.kill(os.getpid(), signal.SIGINT)

    stopped = tiny()
    # Python's own Ctrl-C handler, as a notebook kernel or a terminal has it (a pytest-xdist
    # worker starts with SIGINT ignored instead).
    runner_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = T.train(
            stopped,
            DATA,
            None,
            config,
            checkpoint=tmp_path / "c",
            callback=press_ctrl_c,
            progress=False,
        )
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    finally:
        signal.signal(signal.SIGINT, runner_handler)
    assert (result.stop_reason, result.step) == ("interrupted", 12)
    assert C.load_checkpoint(tmp_path / "c").step == 12
    resumed = tiny(seed=5)
    T.train(resumed, DATA, None, config, checkpoint=tmp_path / "c", resume=True, progress=False)
    assert_same_weights(straight, resumed)


def test_the_wall_clock_budget_stops_training():
    result = T.train(tiny(), DATA, None, quick(max_steps=10**6, max_seconds=0.3), progress=False)
    assert result.stop_reason == "max_seconds" and 0 < result.step < 10**6
    assert 0.3 <= result.seconds < 2.0


def test_divergence_stops_with_a_clear_message_and_keeps_the_good_checkpoint(tmp_path):
    model = tiny()
    config = quick(
        max_steps=60,
        warmup_steps=50,
        learning_rate=3.0,
        min_lr=0.0,
        grad_clip=0.0,
        checkpoint_interval=5,
    )
    with pytest.raises(T.TrainingDivergedError, match=r"diverged at step (\d+).*\(step \d+\)"):
        T.train(model, DATA, None, config, checkpoint=tmp_path / "c", progress=False)
    good = C.load_checkpoint(tmp_path / "c")
    assert good.step > 0 and all(t.isfinite().all() for t in good.tensors.values())
    assert all(p.isfinite().all() for p in model.parameters())  # the bad step was not applied


def test_bad_inputs_get_clear_errors(tmp_path):
    model = tiny()
    with pytest.raises(ValueError, match="more than block_size=16"):
        T.train(model, DATA[:10], None, quick(), progress=False)
    with pytest.raises(ValueError, match="vocab_size=37.*max id 40"):
        T.train(model, torch.tensor([40] * 100), None, quick(), progress=False)
    with pytest.raises(TypeError, match="1-D integer token ids"):
        T.train(model, DATA.float(), None, quick(), progress=False)
    with pytest.raises(ValueError, match="needs a checkpoint path"):
        T.train(model, DATA, None, quick(), resume=True, progress=False)
    with pytest.raises(TypeError, match="TrainConfig"):
        T.train(model, DATA, None, {"max_steps": 3}, progress=False)
    other = tmp_path / "other"
    C.save_checkpoint(
        other, tiny(n_embd=16), T.make_optimizer(tiny(n_embd=16), quick()), torch.Generator()
    )
    with pytest.raises(ValueError, match="different model: n_embd=16"):
        T.train(model, DATA, None, quick(), checkpoint=other, resume=True, progress=False)


# ----------------------------------------------------------------------------- DDP

DDP_SCRIPT = f"""
import sys, torch
sys.path.insert(0, {os.path.dirname(__file__)!r})
from safetensors.torch import save_file
from llmlab import train as T
from llmlab.train_config import TrainConfig
from tiny_gpt import tiny

rank, world = T.distributed()
model = tiny(seed=rank)  # different weights per rank at first: DDP must broadcast rank 0's
data = torch.randint(37, (4000,), generator=torch.Generator().manual_seed(0))
config = TrainConfig(batch_size=4, max_steps=15, warmup_steps=5, eval_interval=0)
T.train(model, data, None, config, progress=False)
save_file({{n: p.detach() for n, p in model.named_parameters()}}, f"{{sys.argv[1]}}/rank{{rank}}")
torch.distributed.destroy_process_group()
"""


def test_two_process_torchrun_ends_with_identical_weights(tmp_path):
    from safetensors.torch import load_file

    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rank0, rank1 = load_file(tmp_path / "rank0"), load_file(tmp_path / "rank1")
    assert all(torch.equal(rank0[name], rank1[name]) for name in rank0)
    # Two processes with 4 windows each take the steps of one process with 8 windows.
    single = tiny(seed=0)
    T.train(
        single,
        DATA,
        None,
        TrainConfig(batch_size=8, max_steps=15, warmup_steps=5, eval_interval=0),
        progress=False,
    )
    for name, param in single.named_parameters():
        torch.testing.assert_close(rank0[name], param.detach(), atol=2e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- the shared core


def genre_batches(generator: torch.Generator, n: int) -> T.Batch:
    """A classification task: is the first token's id even? Rows of 3..16 tokens, right-padded."""
    lengths = torch.randint(3, 17, (n,), generator=generator)
    ids = torch.randint(37, (n, 16), generator=generator)
    mask = (torch.arange(16) < lengths[:, None]).long()
    return T.Batch(
        {"input_ids": ids * mask, "attention_mask": mask, "labels": ids[:, 0] % 2},
        tokens=int(mask.sum()),
    )


def classifier_loss(model, batch: T.Batch) -> torch.Tensor:
    logits = model(batch["input_ids"], batch["attention_mask"])
    return torch.nn.functional.cross_entropy(logits.float(), batch["labels"])


def test_resume_is_exact_for_a_classifier_loss(tmp_path):
    from llmlab.model import SequenceHead

    config = quick(max_steps=20, checkpoint_interval=7, log_interval=1)

    def classifier(seed: int) -> SequenceHead:
        head = SequenceHead(tiny(seed=seed, dropout=0.1), n_outputs=2)
        head.gpt.wte.weight.requires_grad_(False)  # a frozen part: only trainable ones train
        return head

    straight = classifier(0)
    frozen = straight.gpt.wte.weight.clone()
    done = T.fit(straight, genre_batches, classifier_loss, config, progress=False)
    assert torch.equal(straight.gpt.wte.weight, frozen)
    assert done.history[-1]["tokens"] == done.tokens < 20 * config.batch_size * 16  # no padding

    def crash(record):
        if record["step"] == 10:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        T.fit(
            classifier(0),
            genre_batches,
            classifier_loss,
            config,
            checkpoint=tmp_path / "c",
            callback=crash,
            progress=False,
        )
    assert C.load_checkpoint(tmp_path / "c").step == 7
    resumed = classifier(5)
    again = T.fit(
        resumed,
        genre_batches,
        classifier_loss,
        config,
        checkpoint=tmp_path / "c",
        resume=True,
        progress=False,
    )
    assert_same_weights(straight, resumed)
    assert again.tokens == done.tokens
    for key in ("step", "tokens", "loss", "val_loss"):
        assert [r.get(key) for r in again.history] == [r.get(key) for r in done.history], key
    assert C.load_checkpoint(tmp_path / "c").architecture["kind"] == "sequence_head"


def test_train_on_an_empty_or_fractional_token_array_is_a_clear_error():
    model = tiny()
    with pytest.raises(ValueError, match="more than block_size=16 tokens, got 0"):
        T.train(model, torch.zeros(0, dtype=torch.long), None, quick(), progress=False)
    with pytest.raises(TypeError, match="integer token ids, got a float64 array"):
        T.train(model, DATA.numpy().astype(float), None, quick(), progress=False)
    with pytest.raises(ValueError, match="min id -1"):
        T.train(model, torch.cat([DATA, torch.tensor([-1])]), None, quick(), progress=False)


def test_evaluate_restores_the_mode_even_when_it_fails():
    model = tiny().train()
    with pytest.raises(ValueError, match="token ids"):
        T.evaluate(model, torch.full((100,), 99))
    assert model.training


def test_resuming_with_other_settings_is_refused_but_a_longer_budget_is_not(tmp_path):
    T.train(tiny(), DATA, None, quick(max_steps=6), checkpoint=tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match=r"other settings: learning_rate=0.001 \(now 0.01\)"):
        T.train(
            tiny(),
            DATA,
            None,
            quick(max_steps=6, learning_rate=1e-2),
            checkpoint=tmp_path / "c",
            resume=True,
            progress=False,
        )
    longer = T.train(
        tiny(),
        DATA,
        None,
        quick(max_steps=9),
        checkpoint=tmp_path / "c",
        resume=True,
        progress=False,
    )
    assert longer.step == 9


def test_the_progress_bar_starts_after_the_first_step_and_ends_full(capsys):
    """Its clock starts once the slow first step is done, so the first estimate is not inflated;
    it ends at the total."""
    bar = T._ProgressBar(5, disable=False)
    bar.close()  # nothing drawn before a step
    assert capsys.readouterr().err == ""
    bar = T._ProgressBar(5, disable=False)
    for step in range(1, 6):
        bar.update(step)
    assert bar._bar.initial == 1 and bar._bar.n == 5
    bar.close()
    assert "5/5" in capsys.readouterr().err


def test_the_notebook_display_line_shows_only_the_latest_text(monkeypatch):
    shown = []

    class Handle:
        def update(self, bundle, raw):
            shown[-1] = bundle["text/plain"]

    def display(bundle, raw, display_id):
        shown.append(bundle["text/plain"])
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    line = T._DisplayLine()
    for text in ["\r  0%| 0/3", "\r 33%| 1/3", "\n", "\r100%| 3/3"]:
        line.write(text)
    assert shown == ["100%| 3/3"]
