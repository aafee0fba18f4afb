"""What every lesson widget shares: display, control wiring, and a figure shown as a picture.

A widget's view-model keeps its whole layout in ``self.widget`` (an ipywidgets box); returning
the object from a cell shows that box. Widgets with a picture draw one matplotlib figure per
input and afterwards only update its artists, sending the new PNG to the same ``Image`` widget
(:func:`redraw`): a new figure on every slider move would be slower and leak memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import threading

    import ipywidgets
    from matplotlib.figure import Figure

#: Slider settings for a recomputation that should run once the slider is released, not per pixel.
ON_RELEASE: dict[str, Any] = {"continuous_update": False}


class LessonWidget:
    """Base of the view-models: a notebook shows ``self.widget`` for the object itself.

    Beside the live widget, the output also carries :meth:`still`, a static picture of the
    widget's present state: what a notebook opened without a running kernel (or on a website)
    shows instead of a bare ``VBox(children=...)``. A live JupyterLab prefers the widget.
    """

    widget: ipywidgets.Box

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{type(self).__name__}: run the notebook to use this widget"
        bundle.update(self.still())
        return bundle

    def still(self) -> dict[str, Any]:
        """The present state as static outputs, e.g. ``{"text/html": ...}`` (none by default)."""
        return {}


def on_change(callback: Callable[[], None], *controls: ipywidgets.ValueWidget) -> None:
    """Call ``callback()`` whenever the value of any of ``controls`` changes (as a drag does)."""
    for control in controls:
        control.observe(lambda _change: callback(), names="value")


def picture() -> ipywidgets.Image:
    """An empty PNG ``Image`` widget, for :func:`redraw` to fill."""
    import ipywidgets as w

    return w.Image(format="png")


def redraw(image: ipywidgets.Image, figure: Figure) -> None:
    """Show ``figure`` as it is now in ``image``: the figure is reused, only its picture is sent."""
    from llmlab import viz

    image.value = viz.png_bytes(figure)


def column(children: Sequence[ipywidgets.Widget]) -> ipywidgets.VBox:
    """Controls and pictures stacked, each picture at its own size (a plain VBox stretches it)."""
    import ipywidgets as w

    return w.VBox(list(children), layout={"align_items": "flex-start"})


#: The notebook's own text font for a widget's HTML (JupyterLab's variables; plain sans-serif
#: elsewhere): widget text set in a browser's default small serif looks like a foreign element.
TEXT_STYLE = (
    "font-family:var(--jp-content-font-family, system-ui, sans-serif);"
    "font-size:var(--jp-content-font-size1, 14px);line-height:1.5"
)

#: The line under a widget's sliders that says how to set an exact value.
SLIDER_HELP = (
    f"<span style='{TEXT_STYLE};color:#555'>Drag a slider, or click its handle and press "
    "← → for one step at a time; or type a value into the box beside it and press Enter.</span>"
)


def message_html(text: str) -> str:
    """``text`` (plain language, escaped here) as the red message shown beside a control."""
    import html

    return f"<span role='alert' style='{TEXT_STYLE};color:#b00020'>{html.escape(text)}</span>"


def read_prompt(tokenizer: Any, text: str, empty: str) -> tuple[str, list[int]]:
    """A typed prompt's token ids, or the plain-language reason the model cannot read it (an
    empty box says ``empty``): the prompt boxes answer bad input beside the box, not with a
    traceback. Exactly one of the two is empty."""
    if not text:
        return empty, []
    try:
        ids = tokenizer.encode(text)
    except ValueError as error:
        return f"The model cannot read this prompt: {error}", []
    if not ids:
        return "This prompt gives no tokens: type some text.", []
    return "", ids


def cut_note(tokenizer: Any, ids: list[int], block: int) -> str:
    """Beside a prompt longer than the model's window (``block`` tokens): where it is cut, and
    what the model reads; empty for a prompt that fits."""
    import html

    if len(ids) <= block:
        return ""
    start = tokenizer.decode(ids[-block:])[:24]
    return (
        f"<span style='{TEXT_STYLE};color:#8a5a00'>This prompt is {len(ids):,} tokens; the "
        f"model reads only the last {block}, so it starts at "
        f"<code>…{html.escape(start)}</code> (the first {len(ids) - block:,} are cut)</span>"
    )


def _decimals(step: float) -> int:
    """How many decimals a value on a grid of ``step`` needs (0.05 -> 2, 1 -> 0)."""
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


class TypedSlider:
    """A slider with a number box beside it: drag the slider, or type an exact value.

    A slider's own readout clamps a typed value silently (5 on a 0-2 slider becomes 2); this box
    refuses it with a message in ``note`` and keeps the slider where it was. The track is
    ``track`` wide, enough to land on a value with the mouse. ``box`` shows the slider's value
    rounded to its step (0.30000000000000004 shows as 0.3). ``self.widget`` is the row.
    """

    def __init__(self, slider: ipywidgets.Widget, note: ipywidgets.HTML, track: str = "26em"):
        import ipywidgets as w

        self.slider, self.note = slider, note
        self.name = slider.description
        slider.readout = False
        slider.style.description_width = "9em"
        slider.layout.width = f"calc(9em + {track})"
        self.digits = _decimals(float(slider.step))
        kind = w.IntText if isinstance(slider, w.IntSlider) else w.FloatText
        self.box = kind(value=self._shown(slider.value), layout={"width": "6em"})
        self.box.add_class("llmlab-typed")
        self._syncing = False
        slider.observe(self._on_slider, names="value")
        slider.observe(self._on_disabled, names="disabled")
        self.box.observe(self._on_box, names="value")
        self.widget = w.HBox([slider, self.box], layout={"align_items": "center"})

    def _shown(self, value: float) -> float:
        return round(value, self.digits) if self.digits else value

    def _set_box(self, value: float) -> None:
        self._syncing = True
        try:
            self.box.value = self._shown(value)
        finally:
            self._syncing = False

    def _on_slider(self, change: dict[str, Any]) -> None:
        self._set_box(change["new"])
        if self.note.value and self.name in self.note.value:
            self.note.value = ""

    def _on_disabled(self, change: dict[str, Any]) -> None:
        self.box.disabled = change["new"]

    def _on_box(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        value, low, high = change["new"], self.slider.min, self.slider.max
        if low <= value <= high:
            self.note.value = ""
            self.slider.value = value
            return
        self.note.value = message_html(
            f"{self.name} goes from {low:g} to {high:g}: "
            f"{value:g} is outside, so it stays at {self._shown(self.slider.value):g}."
        )
        self._set_box(self.slider.value)


def slider_panel(
    rows: Sequence[Sequence[tuple[ipywidgets.Widget, str]]],
) -> tuple[list[ipywidgets.Widget], ipywidgets.HTML]:
    """A widget's sliders laid out the one way every widget lays them out.

    ``rows`` lists each row's ``(slider, track width)`` pairs; each slider gets its number box
    (:class:`TypedSlider`). Under the rows come :data:`SLIDER_HELP` (a person must be told that
    arrow keys and typing work) and one note for every slider, where a typed value out of range
    is refused. Returns ``(children, note)``: the widgets to put in the layout, and that note.
    """
    import ipywidgets as w

    note = w.HTML()
    laid: list[ipywidgets.Widget] = []
    for row in rows:
        typed = [TypedSlider(slider, note, track=track).widget for slider, track in row]
        laid.append(
            typed[0] if len(typed) == 1 else w.HBox(typed, layout={"flex_flow": "row wrap"})
        )
    return [*laid, w.HTML(SLIDER_HELP), note], note


def after_pause(pause: float, callback: Callable[[], None]) -> threading.Timer | None:
    """Call ``callback`` once ``pause`` seconds have passed (at once when ``pause`` is 0).

    A text box calls this on every keystroke and cancels the timer it got before: the costly
    redraw then runs once, when the typing stops, not once per letter. Returns the timer.
    """
    if not pause:
        callback()
        return None
    import threading

    timer = threading.Timer(pause, callback)
    timer.daemon = True
    timer.start()
    return timer
