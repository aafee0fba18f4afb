"""Lesson 07 in real JupyterLab: talk to a character by typing, pressing Enter and clicking.

The chat box needs only the lesson's shipped models, so the test runs the set-up cell, the cell
that loads them and the chat box's cell, not the fine-tuning in between."""

import pytest

from tests.ui.conftest import save_screenshot, text_fonts

pytestmark = pytest.mark.ui

#: The width of the box's placeholder as drawn in its own font, against the box's inner width.
PLACEHOLDER_FITS = """el => {
    const style = getComputedStyle(el);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontSize} ${style.fontFamily}`;
    const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return context.measureText(el.placeholder).width <= inner;
}"""


def _send(page, chat, line: str, who: str, enter: bool = False) -> str:
    """Type ``line`` into the chat box, press Enter or click Send, wait for the reply; return the
    conversation as shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = chat.locator("input[type='text']").first
    box.click()
    box.fill("")
    page.keyboard.type(line, delay=10)  # key by key, as a learner types
    if enter:
        page.keyboard.press("Enter")
    else:  # straight from the keys to the button: the click may reach the kernel before the line
        chat.get_by_role("button", name="Send").click()
    output = chat.locator(".widget-html-content").last
    try:
        page.wait_for_function(
            "([el, line, who]) => el.innerText.includes(line) && el.innerText.includes(who)",
            arg=[output.element_handle(), line, f"answered by {who}"],
            timeout=60_000,
        )
    except PlaywrightTimeout:  # say what the page showed instead: a timeout alone tells nothing
        notice = chat.locator(".widget-html-content").first.inner_text()
        raise AssertionError(
            f"no reply by {who} to {line!r} in 60 s; the box holds {box.input_value()!r}, "
            f"the notice says {notice!r}, the conversation shows:\n{output.inner_text()}"
        ) from None
    return output.inner_text()


def test_the_chat_box_answers_what_is_typed_and_switches_models(page, run_notebook_cells):
    sent: list[str | bytes] = []  # what the page sends the kernel (text or binary frames)
    page.on("websocket", lambda socket: socket.on("framesent", lambda data: sent.append(data)))
    cells = ["llmlab.setup(", 'pretrained.load("sft")', "chat_box = ChatBox("]
    page = run_notebook_cells("07_lora_and_classifiers.ipynb", cells, timeout_s=300)
    chat = page.locator(".widget-vbox").filter(has=page.get_by_role("button", name="Send")).first
    chat.scroll_into_view_if_needed()
    assert "how fares your grace" in chat.inner_text()  # the lesson's own cell sent one line
    output = chat.locator(".widget-html-content").last
    text = chat.locator("input[type='text']").first
    assert text.evaluate(PLACEHOLDER_FITS)  # the placeholder is not clipped
    fonts = text_fonts(chat)  # every text in the notebook's sans-serif
    assert fonts and all("sans" in font.lower() for font in fonts), fonts
    user = output.locator(".llmlab-user").first
    indent = user.evaluate(
        "el => parseFloat(getComputedStyle(el).marginLeft) / el.parentElement.clientWidth"
    )
    assert indent == pytest.approx(0.2, abs=0.01)  # the user's bubble keeps its 20% indent

    shown = _send(page, chat, "Good night, sweet prince.", "the fine-tuned model", enter=True)
    assert "To HAMLET: Good night, sweet prince." in shown  # Enter sent it, addressed
    assert text.input_value() == ""
    save_screenshot(chat, "ChatBox")

    # A line too long for the context: a plain message right beside the box, the line kept.
    long_line = "Now cracks a noble heart, good night sweet prince " * 8
    text.click()
    text.fill(long_line)
    page.keyboard.press("Enter")
    alert = chat.get_by_role("alert")
    alert.wait_for(timeout=20_000)
    assert "too long" in alert.inner_text() and text.input_value() == long_line
    box, said = text.bounding_box(), alert.bounding_box()
    assert said["y"] < box["y"] + box["height"] + 40 and said["x"] < box["x"] + box["width"] + 400
    size = alert.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 13  # not small print

    # The base model answers the same conversation: kept, and the switch is said.
    chat.get_by_role("button", name="answer with the base model").click()
    page.wait_for_function(
        "el => el.innerText.includes('From now on the base model answers')",
        arg=output.element_handle(),
        timeout=20_000,
    )
    assert "sweet prince" in output.inner_text()
    shown = _send(page, chat, "What news from the court?", "the base model")
    assert "sweet prince" in shown  # switching models kept the conversation
    # It never learned to stop: its reply runs to the limit, and says it was cut.
    assert "cut off: the reply reached its 48-token limit" in shown

    # The conversation outgrows the 128-token context: earlier turns stay, under a marker.
    for k in range(4):
        if output.locator(".llmlab-dropped").count():
            break
        _send(page, chat, f"Speak again, line {k}.", "the base model", enter=True)
    marker = output.locator(".llmlab-dropped")
    assert "earlier turns no longer fit in the model's 128-token context" in marker.inner_text()
    assert "how fares your grace" in output.inner_text()  # still on screen, above the marker

    # The course's JupyterLab (assets/lab-settings.json) keeps widget messages on the kernel's
    # main shell, in the order they were sent: over subshells, the text box's line and the Send
    # button's click are handled on two threads, and the click can overtake the line.
    frames = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in sent]
    assert any('"comm_msg"' in f for f in frames)  # the frames were seen
    assert not any("create_subshell_request" in f for f in frames)
