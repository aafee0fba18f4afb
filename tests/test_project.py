"""The project holds together: package lists agree, imports stay light, notebooks match."""

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from llmlab import course

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda package name -> PyPI name


def _name_and_spec(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return CONDA_NAMES.get(name.lower(), name.lower()), spec.replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = []
    for item in env["dependencies"]:
        listed += item["pip"] if isinstance(item, dict) else [item]
    listed = [r for r in listed if not r.startswith(("python", "pip"))]
    assert sorted(map(_name_and_spec, listed)) == sorted(map(_name_and_spec, wanted))


def test_import_llmlab_is_light():
    """`import llmlab` must not drag in torch, matplotlib, tokenizers, ipywidgets or jupyter."""
    code = (
        "import sys, time; t = time.perf_counter(); import llmlab; "
        "print(time.perf_counter() - t); "
        "print(','.join(m for m in ('torch', 'matplotlib', 'tokenizers', 'ipywidgets', "
        "'jupyter_client', 'numpy') if m in sys.modules))"
    )
    seconds, heavy = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert heavy == ""
    assert float(seconds) < 2.0


def _notebook_build():
    spec = importlib.util.spec_from_file_location("build", ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "source", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem
)
def test_committed_notebook_matches_its_source(source):
    problem = _notebook_build().out_of_sync(source)
    assert problem is None, f"{problem}: run `make notebooks LESSONS={source.name[:2]}`"


def test_out_of_sync_notebook_is_detected(tmp_path):
    build = _notebook_build()
    source = tmp_path / "00_demo.py"
    source.write_text("# %%\nprint(1)\n")
    assert "missing" in build.out_of_sync(source)
    notebook = build.from_source(source)
    notebook.cells[0].execution_count = 1
    import nbformat

    nbformat.write(notebook, source.with_suffix(".ipynb"))
    assert build.out_of_sync(source) is None
    notebook.metadata["widgets"] = {"state": {"value": 1.0}}  # JupyterLab would save `1`
    nbformat.write(notebook, source.with_suffix(".ipynb"))
    assert "autosave" in build.out_of_sync(source)
    nbformat.write(build.as_jupyterlab_writes(notebook), source.with_suffix(".ipynb"))
    assert build.out_of_sync(source) is None
    source.write_text("# %%\nprint(2)\n")
    assert "differs" in build.out_of_sync(source)


def test_make_lab_opens_jupyterlab_with_the_course_settings():
    """`make lab` installs assets/lab-settings.json as .venv's JupyterLab defaults before it opens
    the lab (the browser tests read the same file), and every setting in it is one this
    JupyterLab knows, with an allowed value: a renamed setting would otherwise be ignored without
    a word, and widget messages would travel over subshells again (see assets/README.md)."""
    commands = subprocess.run(
        ["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    installed = ".venv/share/jupyter/lab/settings/overrides.json"
    copy = commands.index(f"cp assets/lab-settings.json {installed}")
    assert copy < commands.index("jupyter lab")
    settings = json.loads((ROOT / "assets" / "lab-settings.json").read_text())
    assert settings["@jupyterlab/apputils-extension:kernels-settings"] == {
        "commsOverSubshells": "disabled"
    }
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    for plugin, values in settings.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        for key, value in values.items():
            allowed = schema["properties"][key]
            if "oneOf" in allowed:
                assert value in [choice["const"] for choice in allowed["oneOf"]], (plugin, key)


def test_course_map_matches_the_notebooks_and_readme():
    sources = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    slugs = [lesson.slug for lesson in course.LESSONS]
    assert sources == slugs[: len(sources)], "lessons must be numbered contiguously from 00"
    readme = (ROOT / "README.md").read_text()
    for slug in sources:
        assert slug in readme, f"README's course map does not mention {slug}"


def test_lesson_lookup_rejects_unknown_numbers():
    assert course.lesson(0).slug == "00_start_here"
    with pytest.raises(ValueError, match="lesson number must be one of"):
        course.lesson(42)


def _compared_outputs(notebook) -> list[str]:
    """The text nbval compares: outputs of cells not tagged ``nbval-ignore-output``."""
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", ()):
            continue
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                continue
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            texts.append("".join(text))
    return texts


@pytest.mark.parametrize(
    "notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem
)
def test_compared_outputs_hold_no_versions_or_machine_facts(notebook):
    """A learner has another torch, NumPy, Python or core count: nbval must still pass."""
    import platform

    import nbformat
    import numpy
    import torch

    versions = {torch.__version__, torch.__version__.split("+")[0], numpy.__version__}
    versions.add(platform.python_version())
    compared = "\n".join(_compared_outputs(nbformat.read(notebook, as_version=4)))
    for version in versions:
        assert version not in compared, f"{notebook.name} compares the version string {version}"
    assert "'threads'" not in compared and "+cpu" not in compared and "+cu" not in compared


def _nbval_settings():
    spec = importlib.util.spec_from_file_location("lesson_nbval", ROOT / "notebooks/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("committed", "got", "passes"),
    [
        # a CPU's kernels move a value across a rounding edge: one unit in the last digit
        (
            "tensor([[ 0.0100, -0.0753],\n [ 0.0000]])",
            "tensor([[ 0.0100, -0.0752],\n [-0.0000]])",
            True,
        ),
        ("loss 1.48, 2.46e+07", "loss 1.47, 2.47e+07", True),
        ("0.001% moved", "0.002% moved", True),
        # a lesson that computes something else
        ("loss 1.48", "loss 1.46", False),
        ("loss 1.48", "loss 1.5", False),
        ("2.46e+07", "2.46e+08", False),
        ("114 of 128 found", "113 of 128 found", False),
        ("7e-07", "8e-07", False),
        ("a 0.5 b", "a 0.5 c", False),
    ],
)
def test_nbval_forgives_one_unit_in_a_decimals_last_digit_and_nothing_else(committed, got, passes):
    assert _nbval_settings().same_up_to_last_digit(committed, got) is passes


def _llmlab_imports() -> dict[str, set[str]]:
    """Which of llmlab's modules each module imports, anywhere in it (functions included);
    a subpackage (widgets, exercises) counts as one module."""
    import ast

    package = ROOT / "llmlab"
    names = {p.stem for p in package.glob("*.py")} | {p.parent.name for p in package.glob("*/*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        name = path.stem if path.parent == package else path.parent.name
        imported = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("llmlab"):
                parts = node.module.split(".")
                imported |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names} & names
            elif isinstance(node, ast.Import):
                imported |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith("llmlab.")
                }
        imported.discard(name)
    return graph


def test_llmlab_modules_import_one_another_without_a_circle():
    graph, done, path = _llmlab_imports(), set(), []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError(
                f"import circle: {' -> '.join([*path[path.index(module) :], module])}"
            )
        if module in done:
            return
        path.append(module)
        for other in sorted(graph.get(module, ())):
            visit(other)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert {"checkpoint", "train", "train_config", "files"} <= set(graph)


def test_the_chat_template_does_not_need_fine_tuning():
    """llmlab.chat is how preference, policy and the chat box read a conversation: it must not
    drag in the training code that builds on it (llmlab.finetune imports llmlab.chat)."""
    graph = _llmlab_imports()
    reached, todo = set(), ["chat"]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in reached:
                reached.add(other)
                todo.append(other)
    assert "chat" in graph["finetune"]
    assert "finetune" not in reached, sorted(reached)


def test_the_readme_names_every_module_of_the_library():
    """The repository table is the map a learner reads: a module missing from it is lost."""
    row = next(
        line for line in (ROOT / "README.md").read_text().splitlines() if "`llmlab/`" in line
    )
    package = ROOT / "llmlab"
    modules = {p.stem for p in package.glob("[!_]*.py")} | {
        f"{p.parent.name}/" for p in package.glob("*/__init__.py")
    }
    assert not {m for m in modules if f"`{m}`" not in row}


@pytest.mark.parametrize("lesson", course.LESSONS, ids=lambda lesson: lesson.slug)
def test_every_lesson_ends_with_a_quiz_answered_from_its_own_measurements(lesson):
    """The last two cells: the heading, then one Quiz cell whose output nbval does not compare
    (a widget); its answers are computed in the cell, so it names the lesson's variables."""
    import jupytext

    cells = jupytext.read(ROOT / "notebooks" / f"{lesson.slug}.py", fmt="py:percent").cells
    heading, quiz = cells[-2], cells[-1]
    assert heading.cell_type == "markdown"
    assert heading.source.startswith("## Check your understanding")
    assert quiz.cell_type == "code" and "Quiz(" in quiz.source
    assert "nbval-ignore-output" in quiz.metadata.get("tags", [])
    assert quiz.source.count("Question(") >= 3
