"""The browser tests skip with their reason where no Chromium is found, and fail instead in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.once  # the test harness: a pytest run in a subprocess, about 5 s each


def run_ui_tests(tmp_path: Path, ci: bool, order: str) -> subprocess.CompletedProcess:
    """The browser fixtures (tests/ui/conftest.py) asked for in ``order``, with no Chromium."""
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "conftest.py").write_text((ROOT / "tests" / "ui" / "conftest.py").read_text())
    (ui / "test_order.py").write_text(
        f"import pytest\npytestmark = pytest.mark.ui\ndef test_fixture_order({order}):\n    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(LLMLAB_CHROMIUM=str(tmp_path / "no-chromium"), **({"CI": "true"} if ci else {}))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", str(ui)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("order", ["page, lab", "lab, page", "browser", "lab"])
def test_without_chromium_browser_tests_skip_with_the_reason(tmp_path, order):
    result = run_ui_tests(tmp_path, ci=False, order=order)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "no Chromium at" in result.stdout


def test_in_ci_a_skipped_browser_test_is_a_failure(tmp_path):
    result = run_ui_tests(tmp_path, ci=True, order="page, lab")
    assert result.returncode == 1, result.stdout
    assert "CI=true, so a browser test may not be skipped: " in result.stdout
    assert "no Chromium at" in result.stdout
