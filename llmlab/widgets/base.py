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
