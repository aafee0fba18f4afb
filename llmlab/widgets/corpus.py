"""Lesson 00's speech browser: the corpus one speech at a time, by genre."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from llmlab.widgets.base import ON_RELEASE, LessonWidget, on_change

if TYPE_CHECKING:
    from llmlab.corpus import Speech


def speech_html(speech: Speech) -> str:
    """A speech rendered as HTML with its play, act and scene (the renderer of SpeechBrowser)."""
    where = f"{speech.play} ({speech.genre}), act {speech.act or '-'}, scene {speech.scene or '-'}"
    body = html.escape(speech.text).replace("\n", "<br>")
    return (
        f"<div style='font-family:serif'><small>{html.escape(where)}</small><br>"
        f"<b>{html.escape(speech.speaker)}:</b><br>{body}</div>"
    )


class SpeechBrowser(LessonWidget):
    """Lesson 00's first widget: pick a genre, slide through its speeches.

    The speeches of each genre are gathered once; moving the slider only picks one of them.
    """

    def __init__(self, split: str = "all") -> None:
        import ipywidgets as w

        from llmlab import corpus

        self.by_genre: dict[str, list[Speech]] = {}
        for speech in corpus.speeches(split):
            self.by_genre.setdefault(speech.genre, []).append(speech)
        genres = sorted(self.by_genre)
        self.genre = w.Dropdown(options=genres, value=genres[0], description="genre")
        self.index = w.IntSlider(
            value=0,
            min=0,
            max=len(self.by_genre[genres[0]]) - 1,
            description="speech",
            **ON_RELEASE,
        )
        self.output = w.HTML()
        on_change(self._on_genre, self.genre)
        on_change(self.render, self.index)
        self.widget = w.VBox([w.HBox([self.genre, self.index]), self.output])
        self.render()

    @property
    def speech(self) -> Speech:
        return self.by_genre[self.genre.value][self.index.value]

    def _on_genre(self) -> None:
        self.index.value = 0
        self.index.max = len(self.by_genre[self.genre.value]) - 1
        self.render()

    def render(self) -> None:
        self.output.value = speech_html(self.speech)
