"""Time every lesson on this machine, cold and warm, and write the README's timing table.

Each lesson runs top to bottom (nbclient, as ``build.py`` does, but its notebook is not written)
twice: **cold**, with a fresh, empty ``$LLMLAB_HOME`` (what a lesson trains or caches for itself
is made during the run; the checkpoints shipped in ``assets/`` are still served), then **warm**,
with that same home again. The wall seconds go into README.md between the ``timings`` marker
comments, with a line naming the machine, so the table is measured, never typed.

    python notebooks/timings.py               # every lesson (about 25 minutes on 2 cores)
    python notebooks/timings.py 03 06         # some lessons: only their rows change
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build import from_source, sources  # noqa: E402  (build.py sits beside this script)

README = HERE.parent / "README.md"
START = "<!-- timings:start (written by `make timings`; do not edit by hand) -->"
END = "<!-- timings:end -->"
HEADER = "| # | lesson | cold cache | warm cache | machine |\n|---|---|---|---|---|"
ROW = re.compile(r"^\| (\d\d) \| `([^`]+)` \| ([^|]+) \| ([^|]+) \| ([^|]*) \|$")
MACHINE = re.compile(r"^- \*\*([A-Z])\*\*: (.+)$")
NOT_MEASURED = "–"


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_seconds(path: Path, home: Path, folder: Path, timeout: int = 1800) -> float:
    """Wall seconds to execute the lesson source ``path`` top to bottom in ``folder``, with
    ``$LLMLAB_HOME`` set to ``home``. Nothing is written beside the source: a lesson that saves
    a file (lesson 08's rankings) saves it in ``folder``. A failing cell raises."""
    notebook = from_source(path)
    with environment(LLMLAB_HOME=str(home)):
        start = time.perf_counter()
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        ).execute()
        return time.perf_counter() - start


def cold_and_warm(path: Path, timeout: int = 1800) -> tuple[float, float]:
    """``(cold, warm)`` wall seconds of one lesson: first with an empty cache, then with the
    cache that first run left. Runs in a temporary folder holding copies of the lesson sources
    (lesson 00 lists the lessons beside it)."""
    with tempfile.TemporaryDirectory(prefix="llmlab-timings-") as scratch:
        home, folder = Path(scratch) / "home", Path(scratch) / "notebooks"
        home.mkdir()
        folder.mkdir()
        for source in sources():
            shutil.copy(source, folder / source.name)
        cold = run_seconds(path, home, folder, timeout)
        warm = run_seconds(path, home, folder, timeout)
    return cold, warm


def machine() -> str:
    """One line naming what the times were measured on: CPU, cores, threads, torch, date."""
    import torch

    import llmlab

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = names[0].strip() if names else cpu
    llmlab.setup()  # the thread count every lesson's first cell picks here
    threads = torch.get_num_threads()
    variable = os.environ.get("LLMLAB_THREADS")
    how = f"LLMLAB_THREADS={variable}" if variable else "setup()'s default"
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {threads} torch threads ({how}), "
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )


def seconds(value: float) -> str:
    return f"{value:.0f} s"


def parse_table(readme: str) -> tuple[dict[str, tuple[str, str, str]], dict[str, str]]:
    """The rows between the markers, ``{slug: (cold, warm, machine label)}``, and the machines,
    ``{label: description}``."""
    block = _between_markers(readme)
    rows, machines = {}, {}
    for line in block.splitlines():
        if match := ROW.match(line.strip()):
            rows[match[2]] = (match[3].strip(), match[4].strip(), match[5].strip())
        elif match := MACHINE.match(line.strip()):
            machines[match[1]] = match[2].strip()
    return rows, machines


def render_table(rows: dict[str, tuple[str, str, str]], machines: dict[str, str]) -> str:
    """The table: one row per lesson of :data:`llmlab.course.LESSONS` (unmeasured ones as
    "–"), then each machine a row names, relabelled A, B, ... in order of first use."""
    from llmlab.course import LESSONS

    labels: dict[str, str] = {}  # description -> new label
    lines = [HEADER]
    for lesson in LESSONS:
        cold, warm, label = rows.get(lesson.slug, (NOT_MEASURED, NOT_MEASURED, ""))
        described = machines.get(label)
        if described is not None and described not in labels:
            labels[described] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(labels)]
        new_label = labels.get(described, "") if described is not None else ""
        lines.append(f"| {lesson.number:02d} | `{lesson.slug}` | {cold} | {warm} | {new_label} |")
    lines.append("")
    lines += [f"- **{label}**: {described}" for described, label in labels.items()]
    return "\n".join(lines)


def update_readme(readme: str, measured: dict[str, tuple[float, float]], on: str) -> str:
    """``readme`` with the rows of the lessons in ``measured`` (slug -> (cold, warm) seconds),
    measured on the machine ``on``, written into its timing table; other rows, and everything
    outside the markers, are kept as they are."""
    rows, machines = parse_table(readme)
    label = next((k for k, v in machines.items() if v == on), None)
    if label is None:
        label = "*"  # a placeholder: render_table relabels
        machines[label] = on
    for slug, (cold, warm) in measured.items():
        rows[slug] = (seconds(cold), seconds(warm), label)
    before, rest = readme.split(START, 1)
    after = rest.split(END, 1)[1]
    return f"{before}{START}\n{render_table(rows, machines)}\n{END}{after}"


def _between_markers(readme: str) -> str:
    if (
        readme.count(START) != 1
        or readme.count(END) != 1
        or readme.index(START) > readme.index(END)
    ):
        raise ValueError(f"readme must hold the markers {START!r} and {END!r} once each, in order")
    return readme.split(START, 1)[1].split(END, 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson prefixes, e.g. 03 06 (default: all)")
    parser.add_argument("--readme", type=Path, default=README, help="the file to write")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell at most")
    args = parser.parse_args(argv)
    paths = sources(args.lessons)
    if not paths:
        parser.error(f"no lesson matches {args.lessons}")
    _between_markers(args.readme.read_text())  # no markers: say so before the long run
    on = machine()
    print(f"timing {len(paths)} lessons on {on}", flush=True)
    measured = {}
    for path in paths:
        measured[path.stem] = cold_and_warm(path, args.timeout)
        print(f"{path.stem}: cold {seconds(measured[path.stem][0])}, "
              f"warm {seconds(measured[path.stem][1])}", flush=True)  # fmt: skip
    args.readme.write_text(update_readme(args.readme.read_text(), measured, on))
    print(f"wrote {len(measured)} rows into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
