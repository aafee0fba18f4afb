"""The end-of-lesson quiz in real JupyterLab: pick options with the mouse, press Check, read the
verdicts and the score.

A lesson's quiz comes after its training, so the test runs a one-cell scratch notebook instead
(put into the lab's folder through Jupyter's contents API): a few seconds, not a lesson."""

import json
import urllib.parse
import urllib.request

import nbformat
import pytest

from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.ui

NOTEBOOK = "quiz_scratch.ipynb"
CELL = """\
from llmlab.widgets import Question, Quiz

train, held_out = 1.52, 1.61  # as a lesson would have measured them
Quiz([
    Question(
        "Which loss is lower, and why?",
        ["the training loss: the model saw those bytes", "the held-out loss: it is harder"],
        "the training loss: the model saw those bytes" if train < held_out else "",
        f"It measured {train} on text it trained on and {held_out} on text it never saw.",
    ),
    Question(
        "What would more training data most likely do to the gap?",
        ["shrink it", "widen it"],
        "shrink it",
        "With more data there is less to memorise and more to generalise from.",
    ),
])
"""


@pytest.fixture
def scratch(lab) -> str:
    """Write the quiz notebook into the running lab (its contents API); return its name."""
    url = urllib.parse.urlsplit(lab)
    token = urllib.parse.parse_qs(url.query)["token"][0]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    body = json.dumps({"type": "notebook", "content": notebook}).encode()
    request = urllib.request.Request(
        f"{url.scheme}://{url.netloc}/api/contents/{NOTEBOOK}?token={token}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).close()
    return NOTEBOOK


def test_the_quiz_checks_clicked_answers(scratch, run_notebook):
    page = run_notebook(scratch, timeout_s=120)
    quiz = page.locator(".llmlab-quiz").first
    quiz.wait_for(timeout=30_000)
    quiz.scroll_into_view_if_needed()
    radios = quiz.get_by_role("radio")
    assert radios.count() == 4 and not any(r.is_checked() for r in radios.all())
    # The widget's view, not the static copy with its folded answers, is what the lab shows.
    assert page.locator(".jp-OutputArea-output details").count() == 0
    assert "held-out" in quiz.inner_text() and "It measured" not in quiz.inner_text()

    quiz.get_by_role("radio", name="the held-out loss: it is harder").click()  # wrong
    quiz.get_by_role("radio", name="shrink it").click()  # right
    quiz.get_by_role("button", name="Check").click()
    score = quiz.get_by_text("Score:")
    score.wait_for(timeout=20_000)
    assert score.inner_text().strip() == "Score: 1 of 2 right"
    text = quiz.inner_text()
    assert "✗ Wrong: the answer is the training loss: the model saw those bytes." in text
    assert "It measured 1.52 on text it trained on and 1.61" in text
    assert "✓ Right. With more data there is less to memorise" in text
    box = quiz.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280  # fits a laptop's window
    save_screenshot(quiz, "Quiz")

    # Changing an answer clears its verdict; Check again counts it.
    quiz.get_by_role("radio", name="the training loss: the model saw those bytes").click()
    quiz.get_by_text("press Check again").wait_for(timeout=20_000)
    assert "✗ Wrong" not in quiz.inner_text()
    quiz.get_by_role("button", name="Check").click()
    quiz.get_by_text("Score: 2 of 2 right").wait_for(timeout=20_000)
