"""Lesson 07 in real JupyterLab: talk to a character by typing and clicking.

The chat box needs only the lesson's shipped models, so the test runs the set-up cell, the cell
that loads them and the chat box's cell, not the fine-tuning in between."""

import pytest

pytestmark = pytest.mark.ui


def _send(page, chat, line: str, who: str) -> str:
    """Type ``line`` into the chat box, press Send, wait for the reply; return the conversation."""
    box = chat.locator("input[type='text']").first
    box.click()
    box.fill("")
    page.keyboard.type(line, delay=20)  # key by key, as a learner types
    chat.get_by_role("button", name="Send").click()
    output = chat.locator(".widget-html-content").last
    page.wait_for_function(
        "([el, line, who]) => el.innerText.includes(line) && el.innerText.includes(who)",
        arg=[output.element_handle(), line, f"answered by {who}"],
        timeout=60_000,
    )
    return output.inner_text()


def test_the_chat_box_answers_what_is_typed_and_switches_models(run_notebook_cells):
    cells = ["llmlab.setup(", 'pretrained.load("sft")', "chat_box = ChatBox("]
    page = run_notebook_cells("07_lora_and_classifiers.ipynb", cells, timeout_s=300)
    chat = page.locator(".widget-vbox").filter(has=page.get_by_role("button", name="Send")).first
    chat.scroll_into_view_if_needed()
    assert "how fares your grace" in chat.inner_text()  # the lesson's own cell sent one line

    shown = _send(page, chat, "Good night, sweet prince.", "the fine-tuned model")
    assert "To HAMLET: Good night, sweet prince." in shown  # addressed to the chosen character

    chat.get_by_role("button", name="answer with the base model").click()
    shown = _send(page, chat, "What news from the court?", "the base model")
    assert "sweet prince" not in shown  # switching models started a new conversation
