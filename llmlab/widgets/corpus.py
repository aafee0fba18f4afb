"""Lesson 00's speech browser: the corpus one speech at a time, by genre."""

from __future__ import annotations

import html
from functools import cache
from typing import TYPE_CHECKING, Any

from llmlab.widgets.base import ON_RELEASE, TEXT_STYLE, LessonWidget, message_html, on_change

if TYPE_CHECKING:
    from llmlab.corpus import Speech


@cache
def _titles() -> dict[str, str]:
    """Each play's title by its slug ("macbeth" -> "Macbeth"): a reader knows plays by title."""
    from llmlab import corpus

    return {play.slug: play.title for play in corpus.plays()}


def speech_html(speech: Speech) -> str:
    """A speech rendered as HTML with its play, act and scene (the renderer of SpeechBrowser)."""
    title = _titles().get(speech.play, speech.play)
    where = f"{title} ({speech.genre}), act {speech.act or '-'}, scene {speech.scene or '-'}"
    body = html.escape(speech.text).replace("\n", "<br>")
    return (
        f"<div style='{TEXT_STYLE}'><span style='color:#555'>{html.escape(where)}</span><br>"
        f"<b>{html.escape(speech.speaker)}:</b><br>{body}</div>"
    )


class SpeechBrowser(LessonWidget):
    """Lesson 00's first widget: pick a genre, then a speech by its number or with the slider.

    A genre holds thousands of speeches, too many to drag a slider to one: the number box
    ("speech i of N", counted from 1) jumps straight to it, and the slider (``index``, counted
    from 0 like a Python list) steps through its neighbours. The two always agree. The speeches
    of each genre are gathered once; a change of either control only picks one of them.
    """

    def __init__(self, split: str = "all") -> None:
        import ipywidgets as w

        from llmlab import corpus

        self.by_genre: dict[str, list[Speech]] = {}
        for speech in corpus.speeches(split):
            self.by_genre.setdefault(speech.genre, []).append(speech)
        genres = sorted(self.by_genre)
        count = len(self.by_genre[genres[0]])
        self.genre = w.Dropdown(options=genres, value=genres[0], description="genre")
        # A number box that takes what is typed as typed: an integer box would read "2.5" as
        # 25 and a bounded one would clamp 9999 silently; both are refused here, with a message.
        self.number = w.FloatText(value=1, description="speech", layout={"width": "12em"})
        self.note = w.HTML()
        self.of = w.Label(f"of {count:,}")
        self.index = w.IntSlider(
            value=0, min=0, max=count - 1, readout=False, description="", **ON_RELEASE
        )
        self.output = w.HTML()
        on_change(self._on_genre, self.genre)
        on_change(self._on_number, self.number)
        on_change(self._on_index, self.index)
        self.widget = w.VBox(
            [w.HBox([self.genre, self.number, self.of, self.index]), self.note, self.output]
        )
        self.render()

    @property
    def speech(self) -> Speech:
        return self.by_genre[self.genre.value][self.index.value]

    def _on_genre(self) -> None:
        count = len(self.by_genre[self.genre.value])
        self.index.value = 0  # the genre's first speech (the number box follows)
        self.index.max = count - 1
        self.of.value = f"of {count:,}"
        self.render()

    def _on_number(self) -> None:
        number, count = self.number.value, len(self.by_genre[self.genre.value])
        if number == self.index.value + 1:  # the box following the slider
            return
        if number != int(number) or not 1 <= number <= count:
            what = "a whole number" if number != int(number) else f"from 1 to {count:,}"
            self.note.value = message_html(
                f"A speech number is {what}: {number:g} is not one, so this is still speech "
                f"{self.index.value + 1:,}."
            )
            self.number.value = self.index.value + 1
            return
        self.note.value = ""
        self.index.value = int(number) - 1  # renders through _on_index

    def _on_index(self) -> None:
        self.note.value = ""
        self.number.value = self.index.value + 1
        self.render()

    def render(self) -> None:
        self.output.value = speech_html(self.speech)

    def still(self) -> dict[str, Any]:
        genre, count = self.genre.value, len(self.by_genre[self.genre.value])
        head = f"<p><i>{genre}: speech {self.index.value + 1:,} of {count:,}</i></p>"
        return {"text/html": head + self.output.value}
