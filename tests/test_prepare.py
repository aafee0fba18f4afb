"""`llmlab prepare`: it warms every cache the lessons fill, says what it did, and its list cannot
fall behind the lessons (a model or cache a lesson loads that prepare does not know fails here)."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from llmlab import caches, cli, memorization, pretrained

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
TINY = {
    "version": 1,
    "description": "a toy for the tests",
    "tokenizer": {"kind": "char"},
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16},
    "train": {
        "batch_size": 4,
        "max_steps": 6,
        "warmup_steps": 2,
        "learning_rate": 1e-2,
        "min_lr": 1e-3,
        "eval_interval": 3,
        "eval_windows": 2,
    },
    "seed": 3,
}


@pytest.fixture
def home(monkeypatch, tmp_path, one_thread):
    """An empty cache in a temporary folder."""
    folder = tmp_path / "home"
    monkeypatch.setenv("LLMLAB_HOME", str(folder))
    return folder


def shipped(name: str) -> Path:
    return pretrained.SHIPPED / f"{name}-{pretrained.fingerprint(name)}.safetensors"


def test_a_shipped_model_is_served_from_assets_and_a_cached_one_from_the_cache(home):
    line = caches.prepare("char", progress=False)
    assert line.startswith("char: shipped in assets/checkpoints, ") and str(shipped("char")) in line
    assert re.search(r"validation loss \d\.\d{4}\) \(\d+\.\d s\)$", line)
    home.mkdir()
    shutil.copy(shipped("char"), home)  # as if an earlier run had trained it here
    line = caches.prepare("char", progress=False)
    assert line.startswith("char: already in the cache, ")
    assert str(home / shipped("char").name) in line


def test_a_missing_model_is_trained_once(home, monkeypatch, tmp_path):
    monkeypatch.setitem(pretrained.RECIPES, "tiny", TINY)
    monkeypatch.setattr(pretrained, "SHIPPED", tmp_path / "none")
    assert caches.prepare("tiny", progress=False).startswith("tiny: trained into the cache, ")
    assert caches.prepare("tiny", progress=False).startswith("tiny: already in the cache, ")


def test_the_command_refuses_an_unknown_name_before_doing_anything(home, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["prepare", "char", "nonsense"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "nonsense" in error and "small_models" in error and "sft_short" in error
    assert not home.exists()  # nothing was looked up, let alone trained


def test_the_command_reports_each_name_it_is_given(home, capsys):
    assert cli.main(["prepare", "bpe", "matplotlib"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"cache: {home}"
    assert lines[1].startswith("bpe: shipped in assets/checkpoints")
    assert re.fullmatch(r"matplotlib: font cache ready \(\d+ fonts\) \(\d+\.\d s\)", lines[2])


def test_the_small_models_are_lesson_11s_own(home, monkeypatch):
    """prepare builds the texts with lesson 11's statements and trains one model per call of the
    lesson (here a stand-in records the calls instead of training)."""
    calls = []

    def record(text: str, seed: int = 0, progress: bool = False):
        calls.append((text, seed))
        (home / f"small-{len(calls)}.safetensors").write_bytes(b"")

    monkeypatch.setattr(memorization, "small_model", record)
    line = caches.prepare("small_models", progress=False)
    assert line.startswith("small_models: 0 of 5 already in the cache, 5 trained (")
    assert len(set(calls)) == len(calls) == len(caches.SMALL_MODEL_CALLS)
    assert [seed for _, seed in calls] == [0, 0, 1, 2, 0]
    # the planted text is the lesson's: as many characters planted as its committed output says
    namespace = caches._lesson_texts()
    notebook = json.loads((ROOT / "notebooks" / "11_what_a_model_knows.ipynb").read_text())
    printed = "".join(
        "".join(out.get("text", "")) for c in notebook["cells"] for out in c.get("outputs", [])
    )
    planted = int(re.search(r"planted: ([\d,]+) more", printed)[1].replace(",", ""))
    assert len(calls[0][0]) - len(namespace["clean"]) == planted
    assert calls[0][0] == calls[2][0] == calls[3][0] == namespace["planted_text"]


def test_the_lessons_runs_are_warmed_by_running_the_lesson(home, monkeypatch, tmp_path):
    """prepare runs each lesson of LESSON_RUNS headless (a stand-in lesson here, one cached run),
    counts what it added, and adds nothing the second time."""
    import nbformat

    lesson = nbformat.v4.new_notebook()
    lesson.cells = [
        nbformat.v4.new_code_cell(
            "from llmlab import scaling\n"
            "scaling.cached_run('stand_in', {'width': 8}, lambda: {'loss': 2.5})"
        )
    ]
    nbformat.write(lesson, tmp_path / "99_stand_in.ipynb")
    monkeypatch.setattr(caches, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(caches, "LESSON_RUNS", ("99_stand_in",))
    first = caches.prepare("lesson_runs", progress=False)
    assert first.startswith("lesson_runs: ran lessons 99_stand_in: 0 runs already cached, 1 new (")
    assert [p.name.split("-")[0] for p in home.glob("*.json")] == ["stand_in"]
    second = caches.prepare("lesson_runs", progress=False)
    assert "1 runs already cached, 0 new" in second


def _calls(tree: ast.AST, method: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
    ]


def test_prepare_covers_every_cache_the_lessons_fill():
    """Every standard model a lesson names, and every small model lesson 11 trains (the same
    calls, the same loop values), is among what `llmlab prepare` warms by default."""
    named, small = set(), {}
    for lesson in LESSONS:
        tree = ast.parse(lesson.read_text(encoding="utf-8"))
        for method in ("load", "checkpoint"):
            for call in _calls(tree, method):
                if (
                    ast.unparse(call.func).startswith("pretrained.")
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                ):
                    named.add(call.args[0].value)
        for loop in (n for n in ast.walk(tree) if isinstance(n, ast.For)):
            variable = ast.unparse(loop.target)
            for call in _calls(loop, "small_model"):
                values = ast.literal_eval(loop.iter)  # a loop the test cannot read: say so here
                small.setdefault(ast.unparse(call), []).append([{variable: v} for v in values])
        for call in _calls(tree, "small_model"):
            small.setdefault(ast.unparse(call), [])
    assert {"char", "bpe", "sft", "sft_short", "reader", "cda", "cda_control"} <= named
    assert named <= set(caches.cache_names())
    declared = {}
    for call, bound in caches.SMALL_MODEL_CALLS:
        declared.setdefault(call, []).append(bound)
    assert set(declared) == set(small)
    for call, loops in small.items():
        expected = [bound for loop in loops for bound in loop] or [{}]
        assert declared[call] == expected, call
    assert set(pretrained.names()) | {"small_models", "lesson_runs", "matplotlib"} == set(
        caches.cache_names()
    )
    # every lesson that keeps its runs in the cache is one prepare runs
    keeping = {path.stem for path in LESSONS if "cached_run(" in path.read_text(encoding="utf-8")}
    assert keeping == set(caches.LESSON_RUNS)


def test_no_other_module_writes_into_the_cache():
    """A new cache (a module calling `cache_dir()` to write) must be added to prepare, then here."""
    writers = {
        module.stem
        for module in (ROOT / "llmlab").rglob("*.py")
        if re.search(r"(?<![.\w])cache_dir\((?!create=False)", module.read_text(encoding="utf-8"))
    }
    # (doctor checks the folder is writable; cli names it and caches fills it in `llmlab prepare`)
    # (scaling.cached_run keeps lesson 05's runs: prepare runs the lesson, see LESSON_RUNS)
    assert writers - {"__init__"} == {
        "pretrained",
        "memorization",
        "scaling",
        "doctor",
        "cli",
        "caches",
    }
