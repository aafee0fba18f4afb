"""notebooks/timings.py: the README's timing table is written from a measured run, and only
between its markers; the runner times a notebook without writing it."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from llmlab.course import LESSONS

ROOT = Path(__file__).resolve().parent.parent


def _timings():
    sys.path.insert(0, str(ROOT / "notebooks"))
    spec = importlib.util.spec_from_file_location("timings", ROOT / "notebooks" / "timings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


timings = _timings()

README = f"""# a readme

intro text | with a pipe
| 03 | `03_backpropagation` | 1 s | 1 s | A |  (a row outside the markers)

{timings.START}
{timings.END}

tail text
"""


def rows_of(text: str) -> dict[str, tuple[str, str, str]]:
    return timings.parse_table(text)[0]


def test_update_writes_a_row_per_lesson_and_keeps_everything_outside():
    text = timings.update_readme(README, {"03_backpropagation": (41.6, 39.2)}, "cpu X")
    rows, machines = timings.parse_table(text)
    assert list(rows) == [lesson.slug for lesson in LESSONS]
    assert rows["03_backpropagation"] == ("42 s", "39 s", "A")
    assert machines == {"A": "cpu X"}
    others = [r for slug, r in rows.items() if slug != "03_backpropagation"]
    assert all(r == ("–", "–", "") for r in others)
    before, after = README.split(timings.START)[0], README.split(timings.END)[1]
    assert text.startswith(before) and text.endswith(after)


def test_update_is_idempotent_and_keeps_other_rows():
    once = timings.update_readme(README, {"03_backpropagation": (41.6, 39.2)}, "cpu X")
    assert timings.update_readme(once, {"03_backpropagation": (41.6, 39.2)}, "cpu X") == once
    assert timings.update_readme(once, {}, "cpu X") == once
    # a second machine times another lesson: the first row and its machine stay
    twice = timings.update_readme(once, {"06_finetuning": (80.2, 44.9)}, "cpu Y")
    rows, machines = timings.parse_table(twice)
    assert rows["03_backpropagation"] == ("42 s", "39 s", "A")
    assert rows["06_finetuning"] == ("80 s", "45 s", "B")
    assert machines == {"A": "cpu X", "B": "cpu Y"}
    # re-timed on the second machine: the first machine is named by no row, so it goes
    again = timings.update_readme(twice, {"03_backpropagation": (40.0, 38.0)}, "cpu Y")
    rows, machines = timings.parse_table(again)
    assert rows["03_backpropagation"] == ("40 s", "38 s", "A")
    assert machines == {"A": "cpu Y"}


@pytest.mark.parametrize(
    "broken",
    [
        "no markers",
        f"{timings.END}\n{timings.START}",
        f"{timings.START}\n{timings.START}\n{timings.END}",
    ],
)
def test_update_refuses_a_readme_without_its_markers(broken):
    with pytest.raises(ValueError, match="markers"):
        timings.update_readme(broken, {}, "cpu X")


def test_the_readme_table_lists_every_lesson():
    readme = (ROOT / "README.md").read_text()
    rows, machines = timings.parse_table(readme)
    assert list(rows) == [lesson.slug for lesson in LESSONS]
    for slug, (cold, warm, label) in rows.items():
        measured = cold != timings.NOT_MEASURED
        assert (warm != timings.NOT_MEASURED) == measured, slug
        assert (label in machines) == measured, f"{slug}: machine {label!r} of {machines}"
    # the committed table is what the writer would write: nothing in it was edited by hand
    assert timings.update_readme(readme, {}, "any") == readme


def test_the_course_tables_cpu_time_is_within_each_lessons_budget():
    """The README's "CPU time" column (each lesson's own estimate) against llmlab.course."""
    readme = (ROOT / "README.md").read_text()
    for lesson in LESSONS:
        line = next(x for x in readme.splitlines() if x.startswith(f"| {lesson.number:02d} | [`"))
        found = re.search(r"\| ~([\d.]+) (min|s) \|$", line)
        assert found, f"lesson {lesson.number:02d}: no '~N min' or '~N s' at the end of its row"
        minutes = float(found[1]) / (60 if found[2] == "s" else 1)
        assert minutes <= lesson.cpu_minutes, (lesson.slug, minutes, lesson.cpu_minutes)


def test_the_runner_times_a_notebook_without_writing_it(tmp_path):
    source = tmp_path / "99_tiny.py"
    source.write_text(
        "# %%\nimport os, pathlib\n"
        "pathlib.Path('made_here.txt').write_text(os.environ['LLMLAB_HOME'])\n"
    )
    home, folder = tmp_path / "home", tmp_path / "run"
    folder.mkdir()
    seconds = timings.run_seconds(source, home, folder, timeout=120)
    assert 0 < seconds < 120
    assert (folder / "made_here.txt").read_text() == str(home)  # the kernel saw the home
    assert sorted(p.name for p in tmp_path.iterdir()) == ["99_tiny.py", "run"]  # no .ipynb


def test_the_runner_fails_on_a_failing_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    source = tmp_path / "99_broken.py"
    source.write_text("# %%\nraise RuntimeError('this lesson is broken')\n")
    with pytest.raises(CellExecutionError, match="this lesson is broken"):
        timings.run_seconds(source, tmp_path / "home", tmp_path, timeout=120)
