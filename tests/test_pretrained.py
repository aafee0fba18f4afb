"""llmlab.pretrained: a checkpoint is served only to the recipe that made it; training resumes."""

from __future__ import annotations

import shutil

import pytest
import torch

from llmlab import checkpoint as C
from llmlab import pretrained
from llmlab import train as T
from llmlab.tokenization import BPETokenizer, CharTokenizer, tokenizer_from_dict
from llmlab.train_config import TrainConfig

REPO_SHIPPED = pretrained.SHIPPED
TINY_TRAIN = {
    "batch_size": 4,
    "max_steps": 12,
    "warmup_steps": 2,
    "learning_rate": 1e-2,
    "min_lr": 1e-3,
    "eval_interval": 4,
    "eval_windows": 2,
}
TINY = {
    "version": 1,
    "description": "a toy for the tests",
    "tokenizer": {"kind": "char"},
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16},
    "train": TINY_TRAIN,
    "seed": 3,
}


@pytest.fixture(autouse=True)
def sandbox(monkeypatch, tmp_path):
    """An empty cache, no shipped checkpoints, a tiny recipe, one thread."""
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pretrained, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setitem(pretrained.RECIPES, "tiny", TINY)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_load_trains_once_then_serves_the_cache(sandbox, monkeypatch):
    model, tokenizer = pretrained.load("tiny", progress=False)
    assert isinstance(tokenizer, CharTokenizer) and tokenizer.vocab_size == 76
    assert not model.training and model.config.vocab_size == 76
    files = sorted(p.name for p in (sandbox / "home").iterdir() if p.suffix != ".lock")
    assert files == [f"tiny-{pretrained.fingerprint('tiny')}.safetensors"]  # partial removed
    saved = pretrained.checkpoint("tiny")
    assert saved.step == 12 and saved.extra["val_loss"] == saved.extra["history"][-1]["val_loss"]

    monkeypatch.setattr(pretrained, "train_recipe", lambda *a, **k: pytest.fail("retrained"))
    again, _ = pretrained.load("tiny")
    assert_same(weights(model), weights(again))
    text = "ROMEO:\nO"
    ids = torch.tensor(tokenizer.encode(text))
    assert tokenizer.decode(model.generate(ids, 5, temperature=0).tolist()).startswith(text)


def test_a_changed_recipe_is_never_served_the_old_file(monkeypatch):
    old = pretrained.fingerprint("tiny")
    first, _ = pretrained.load("tiny", progress=False)
    monkeypatch.setitem(pretrained.RECIPES, "tiny", {**TINY, "seed": 4})
    assert pretrained.fingerprint("tiny") != old
    with pytest.raises(FileNotFoundError, match="llmlab prepare"):
        pretrained.load("tiny", train=False)
    second, _ = pretrained.load("tiny", progress=False)
    assert not torch.equal(first.wte.weight, second.wte.weight)
    changed = pretrained.fingerprint("tiny")
    monkeypatch.setattr(pretrained, "CODE_VERSION", pretrained.CODE_VERSION + 1)
    assert pretrained.fingerprint("tiny") != changed  # new code, new fingerprint


def test_shipped_checkpoints_are_used_when_they_match(sandbox):
    model, _ = pretrained.load("tiny", progress=False)
    name = f"tiny-{pretrained.fingerprint('tiny')}.safetensors"
    (sandbox / "shipped").mkdir()
    shutil.move(sandbox / "home" / name, sandbox / "shipped" / name)
    shipped, _ = pretrained.load("tiny", train=False)
    assert_same(weights(model), weights(shipped))
    # a file under the right name but made by another recipe is refused, not served
    other = sandbox / "other"
    pretrained.train_recipe({**TINY, "seed": 9}, other, progress=False)
    saved = C.load_checkpoint(other)
    C.save_checkpoint(
        sandbox / "home" / name,
        saved.build_model(),
        tokenizer=saved.tokenizer,
        extra={"fingerprint": "0123456789abcdef"},
    )
    with pytest.raises(ValueError, match="fingerprint '0123456789abcdef'"):
        pretrained.load("tiny")


def test_a_damaged_cached_file_is_refused(sandbox):
    pretrained.load("tiny", progress=False)
    path = sandbox / "home" / f"tiny-{pretrained.fingerprint('tiny')}.safetensors"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        pretrained.load("tiny")


def test_interrupted_training_resumes_to_the_same_model(sandbox, monkeypatch):
    straight, _ = pretrained.load("tiny", progress=False)
    monkeypatch.setenv("LLMLAB_HOME", str(sandbox / "second"))
    real_train = T.train

    def interrupted(*args, **kwargs):
        def crash(record):
            if record["step"] == 8:  # before step 8 is saved: the last checkpoint is step 4
                raise KeyboardInterrupt

        return real_train(*args, **kwargs, callback=crash)

    monkeypatch.setattr(T, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrained.load("tiny", progress=False)
    partial = [p.name for p in (sandbox / "second").iterdir() if p.suffix != ".lock"]
    assert partial == [f"tiny-{pretrained.fingerprint('tiny')}.partial.safetensors"]
    monkeypatch.setattr(T, "train", real_train)
    resumed, _ = pretrained.load("tiny", progress=False)
    assert_same(weights(straight), weights(resumed))


def test_unknown_names_and_tokenizers_get_clear_errors():
    with pytest.raises(ValueError, match=r"unknown standard model 'gpt5'.*'bpe', .*'char'"):
        pretrained.load("gpt5")
    with pytest.raises(ValueError, match="format"):
        tokenizer_from_dict({"format": "sentencepiece"})


def test_tokenizers_round_trip_through_checkpoints():
    bpe = BPETokenizer.train("to be or not to be, that is the question", 270)
    char = CharTokenizer("to be or not")
    for tokenizer in (bpe, char):
        rebuilt = tokenizer_from_dict(tokenizer.to_dict())
        assert type(rebuilt) is type(tokenizer)
        assert rebuilt.encode("not to be") == tokenizer.encode("not to be")


def test_standard_recipes_are_valid_and_stop_by_steps_not_seconds():
    from llmlab.model import GPTConfig

    for name in pretrained.names():
        r = pretrained.recipe(name)
        TrainConfig(**r["train"])
        if "base" in r:  # fine-tuned from another standard model, whose shape it keeps
            assert r["base"] in pretrained.names() and "model" not in r
        else:
            GPTConfig(vocab_size=100, **r["model"])
        assert r["train"].get("max_seconds") is None, (
            "a time budget would make it machine-dependent"
        )
        assert len(pretrained.fingerprint(name)) == 16
    assert {"char", "bpe", "sft", "reader"} <= set(pretrained.names())


@pytest.mark.parametrize("name", ["char", "bpe", "sft", "reader"])
def test_shipped_standard_checkpoints_match_their_recipes(name, monkeypatch):
    """Fails when a recipe changed but its shipped checkpoint was not retrained."""
    monkeypatch.setattr(pretrained, "SHIPPED", REPO_SHIPPED)
    if not any(pretrained.SHIPPED.glob(f"{name}-*.safetensors")):
        pytest.skip(f"no {name} checkpoint is shipped in {pretrained.SHIPPED}")
    model, tokenizer = pretrained.load(name, train=False)
    saved = pretrained.checkpoint(name, train=False)
    assert saved.extra["val_loss"] < 0.6 * torch.log(torch.tensor(tokenizer.vocab_size)).item()


def test_the_command_line_pretrains_resumes_prepares_and_samples(sandbox, capsys):
    from llmlab.cli import main

    out = str(sandbox / "run.safetensors")
    flags = ["--recipe", "tiny", "--out", out, "--quiet", "--eval-interval", "2"]
    assert main(["pretrain", *flags, "--max-steps", "4"]) == 0
    assert main(["pretrain", *flags, "--max-steps", "6", "--resume"]) == 0
    assert C.load_checkpoint(out).step == 6
    assert "max_steps after 6 steps" in capsys.readouterr().out
    assert main(["sample", "--checkpoint", out, "--tokens", "7", "--prompt", "KING:"]) == 0
    sampled = capsys.readouterr().out
    assert sampled.startswith("KING:") and len(sampled) == len("KING:") + 7 + 1  # + newline
    assert main(["sample", "--checkpoint", out, "--prompt", "Ærø"]) == 2
    assert "never seen" in capsys.readouterr().err
    assert main(["prepare", "tiny"]) == 0
    assert f"tiny-{pretrained.fingerprint('tiny')}.safetensors" in capsys.readouterr().out


TWO_PROCESSES = """
import sys
from pathlib import Path
from llmlab import pretrained
pretrained.RECIPES["tiny"] = {tiny!r}
pretrained.SHIPPED = Path(sys.argv[1]) / "shipped"
trained = pretrained._train

def counted(*args, **kwargs):
    with open(Path(sys.argv[1]) / "trainings", "a") as f:
        f.write("1")
    return trained(*args, **kwargs)

pretrained._train = counted
model, _ = pretrained.load("tiny", progress=False)
print(sum(float(p.sum()) for p in model.parameters()))
"""


@pytest.mark.once  # about 20 s: the cache's lock, with two processes training
def test_two_processes_on_an_empty_cache_train_once_and_get_the_same_model(sandbox):
    import os
    import subprocess
    import sys

    script = sandbox / "two.py"
    script.write_text(TWO_PROCESSES.format(tiny=TINY))
    env = {**os.environ, "LLMLAB_HOME": str(sandbox / "home")}
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), str(sandbox)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert (sandbox / "trainings").read_text() == "1"  # the second one waited, then was served
    assert outputs[0] == outputs[1]


def test_a_shipped_model_needs_no_writable_cache_and_training_says_which_folder(
    sandbox, monkeypatch
):
    pretrained.load("tiny", progress=False)  # trained into the cache, then "shipped"
    (sandbox / "shipped").mkdir()
    for made in (sandbox / "home").glob("tiny-*.safetensors"):
        shutil.move(made, sandbox / "shipped" / made.name)
    (sandbox / "a-file").write_text("not a folder")
    monkeypatch.setenv("LLMLAB_HOME", str(sandbox / "a-file" / "cache"))  # cannot be created
    model, _ = pretrained.load("tiny", progress=False)
    assert model.config.vocab_size == 76
    shutil.rmtree(sandbox / "shipped")
    with pytest.raises(OSError, match=r"a-file/cache cannot be created.*\$LLMLAB_HOME"):
        pretrained.load("tiny", progress=False)


def test_a_text_fine_tune_starts_from_its_base_and_differs_only_by_its_text(sandbox):
    run = {**TINY_TRAIN, "max_steps": 4, "eval_interval": 0}
    for name, swaps in (("tiny_cda", [["lord", "lady"], ["he", "she"]]), ("tiny_twice", None)):
        pretrained.RECIPES[name] = {
            "version": 1,
            "description": "a toy fine-tune for the tests",
            "base": "tiny",
            "text": {"swaps": swaps},
            "train": run,
            "seed": 3,
        }
    try:
        base, base_tokenizer = pretrained.load("tiny", progress=False)
        cda, tokenizer = pretrained.load("tiny_cda", progress=False)
        again, _ = pretrained.load("tiny_cda", train=False)  # served from the cache now
        control, _ = pretrained.load("tiny_twice", progress=False)
    finally:
        del pretrained.RECIPES["tiny_cda"], pretrained.RECIPES["tiny_twice"]
    assert tokenizer.to_dict() == base_tokenizer.to_dict()  # plain text: no new tokens
    assert_same(weights(cda), weights(again))
    moved = [
        not torch.equal(a, b)
        for a, b in zip(weights(cda).values(), weights(base).values(), strict=True)
    ]
    assert any(moved)
    # same seed, same steps: the runs differ only because the second half of the text does
    assert any(not torch.equal(weights(cda)[k], weights(control)[k]) for k in weights(cda))


@pytest.mark.parametrize("name", ["cda", "cda_control"])
def test_shipped_text_fine_tunes_match_their_recipes(name, monkeypatch):
    """Lesson 12 loads these; fails when the recipe changed but the file was not retrained."""
    monkeypatch.setattr(pretrained, "SHIPPED", REPO_SHIPPED)
    if not any(pretrained.SHIPPED.glob(f"{name}-*.safetensors")):
        pytest.skip(f"no {name} checkpoint is shipped in {pretrained.SHIPPED}")
    saved = pretrained.checkpoint(name, train=False)
    r = pretrained.recipe(name)
    assert saved.step == r["train"]["max_steps"] and saved.extra["recipe"] == name
    base = pretrained.checkpoint(r["base"], train=False)
    assert saved.tokenizer == base.tokenizer


def test_the_dpo_recipe_is_listed_and_tunes_sft_by_the_lessons_calls():
    r = pretrained.recipe("dpo")
    assert "dpo" in pretrained.names() and r["base"] == "sft"
    assert r["dpo"]["beta"] == 0.5 and r["train"]["max_steps"] == 100  # lesson 08's run
    assert pretrained.fingerprint("dpo") != pretrained.fingerprint("sft")


def test_the_shipped_dpo_model_matches_its_recipe_and_separates_its_pairs(monkeypatch):
    """The report card loads it; fails when the recipe changed but the file was not retrained."""
    import math

    monkeypatch.setattr(pretrained, "SHIPPED", REPO_SHIPPED)
    if not any(pretrained.SHIPPED.glob("dpo-*.safetensors")):
        pytest.skip(f"no dpo checkpoint is shipped in {pretrained.SHIPPED}")
    saved = pretrained.checkpoint("dpo", train=False)
    assert saved.step == 100 and saved.extra["recipe"] == "dpo"
    assert saved.tokenizer == pretrained.checkpoint("sft", train=False).tokenizer
    assert saved.extra["history"][-1]["loss"] < math.log(2) / 3  # as lesson 08 asserts
    model, _ = pretrained.load("dpo", train=False)
    sft, _ = pretrained.load("sft", train=False)
    assert any(
        not torch.equal(a, b) for a, b in zip(model.parameters(), sft.parameters(), strict=True)
    )
