"""Real-browser fixtures: JupyterLab on 127.0.0.1 and headless Chromium driven by Playwright.

The tests skip (with the reason) when no Chromium or no Playwright is installed, whichever
fixture asks first; CI installs Debian's ``chromium``, and under ``CI=true`` a skipped browser
test counts as a failure, so CI can never pass without running them. Playwright's own browser
download is never used: we point it at the system binary. The window is 1280x800, a laptop's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LLMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a skipped browser test is a failure (it would hide a missing Chromium)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and item.get_closest_marker("ui"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI=true, so a browser test may not be skipped: {reason}"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, after checking it and Playwright are there (else: skip, with why)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LLMLAB_CHROMIUM)")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


@pytest.fixture(scope="session")
def lab(chromium, tmp_path_factory) -> Iterator[str]:
    """A JupyterLab server on a copy of notebooks/; yields its base URL (token included)."""
    root = tmp_path_factory.mktemp("lab")
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, root)
    # Render every cell (JupyterLab 4 otherwise only renders the cells in view).
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # The course's JupyterLab settings, as `make lab` installs them (as user settings here).
    for plugin, values in json.loads((ROOT / "assets" / "lab-settings.json").read_text()).items():
        package, name = plugin.split(":")
        folder = root / ".settings" / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        # One workspace per notebook: a test never finds the notebooks of earlier tests reopened.
        yield f"{base}/lab/workspaces/{{workspace}}/tree/{{notebook}}?reset&token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def module_page(browser):
    """One page for a test module whose tests share one run of a notebook."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def run_notebook(page, lab):
    """``run_notebook(name)``: open it in JupyterLab, run every cell, return the page."""

    def run(notebook: str, timeout_s: float = 300):
        run_all_cells(page, lab, notebook, timeout_s)
        return page

    return run


@pytest.fixture(scope="module")
def run_notebook_once(module_page, lab):
    """``run_notebook(name)`` run once per test module: a lesson's tests that each drive a
    different part of its widgets share one Run All (and its page) instead of repeating it."""
    done: set[str] = set()

    def run(notebook: str, timeout_s: float = 300):
        if notebook not in done:
            run_all_cells(module_page, lab, notebook, timeout_s)
            done.add(notebook)
        return module_page

    return run


@pytest.fixture
def run_notebook_cells(page, lab):
    """``run_notebook_cells(name, texts)``: open it, then run, in order, the first code cell holding
    each of ``texts`` (a widget that needs only the lesson's first cells, not its training)."""

    def run(notebook: str, texts: list[str], timeout_s: float = 300):
        open_notebook(page, lab, notebook)
        for text in texts:
            cell = page.locator(".jp-CodeCell").filter(has_text=text).first
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-InputPrompt").click()  # select the cell (command mode, not editing)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run Selected Cell", exact=True).click()
            _wait_idle(page, timeout_s)
        return page

    return run


@pytest.fixture
def run_notebook_through(page, lab):
    """``run_notebook_through(name, text)``: open it, run the cells up to and including the first
    code cell holding ``text`` (a lesson whose widget comes early need not run to its end)."""

    def run(notebook: str, text: str, timeout_s: float = 300):
        open_notebook(page, lab, notebook)
        cell = page.locator(".jp-CodeCell").filter(has_text=text).first
        cell.locator(".jp-InputPrompt").click()  # select the cell (command mode, not editing)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Above Selected Cell", exact=True).click()
        _wait_idle(page, timeout_s)
        cell.locator(".jp-InputPrompt").click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run Selected Cell", exact=True).click()
        _wait_idle(page, timeout_s)
        return page

    return run


def _wait_idle(page, timeout_s: float) -> None:
    page.wait_for_timeout(1000)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000
    )


def open_notebook(page, lab_url: str, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab_url.format(notebook=notebook, workspace=Path(notebook).stem))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    from playwright.sync_api import TimeoutError as NoDialog

    select = page.locator(".jp-Dialog").get_by_role("button", name="Select")
    with contextlib.suppress(NoDialog):  # JupyterLab may ask which kernel to start
        select.click(timeout=5_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def run_all_cells(page, lab_url: str, notebook: str, timeout_s: float) -> None:
    """Open ``notebook`` in JupyterLab, run every cell from the Run menu, wait for the kernel."""
    open_notebook(page, lab_url, notebook)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    _wait_idle(page, timeout_s)


SHOTS = os.environ.get("LLMLAB_SCREENSHOTS")  # `make screenshots` points it at assets/screenshots


def save_screenshot(element, name: str) -> None:
    """Save a picture of ``element`` (a widget in use) as ``NAME.png`` in ``$LLMLAB_SCREENSHOTS``.

    Off unless the variable is set, so an ordinary test run writes nothing into the repository;
    ``make screenshots`` sets it and refreshes the pictures the README and the site show."""
    if not SHOTS:
        return
    # A widget taller than the window would be cut by JupyterLab's own scrolling panel, its menu
    # and status bars drawn over it: the window grows to hold it for the picture, then shrinks.
    page, window = element.page, element.page.viewport_size
    height = int(element.bounding_box()["height"]) + 250
    if height > window["height"]:
        page.set_viewport_size({"width": window["width"], "height": height})
        page.wait_for_timeout(500)
    element.scroll_into_view_if_needed()
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(Path(SHOTS) / f"{name}.png"), animations="disabled")
    page.set_viewport_size(window)


def slider_track(slider):
    """The bounding box of an ipywidgets slider's track (``slider``: its ``.widget-slider``)."""
    return slider.locator(".noUi-base, .ui-slider").first.bounding_box()


def drag_slider(page, slider, value: float, low: float, high: float) -> None:
    """Drag ``slider``'s handle with the mouse to where ``value`` lies on its ``[low, high]``
    track, as a person aiming at it would: press on the handle, move, release."""
    handle = slider.locator(".noUi-handle, .ui-slider-handle").first
    handle.scroll_into_view_if_needed()
    start, track = handle.bounding_box(), slider_track(slider)
    x = track["x"] + (value - low) / (high - low) * track["width"]
    y = start["y"] + start["height"] / 2
    page.mouse.move(start["x"] + start["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(x, y, steps=8)
    page.mouse.up()


def type_into(page, box, text: str) -> None:
    """Click ``box``, select what it holds, type ``text`` and press Enter."""
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def text_fonts(widget) -> list[str]:
    """The computed font family of every element of ``widget``'s HTML outputs that holds text."""
    return widget.evaluate(
        """el => [...el.querySelectorAll('.widget-html-content *')]
            .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
            .map(e => getComputedStyle(e).fontFamily)"""
    )
