"""Lesson 08's ranking box: you are the labeler. Order a model's replies, best first.

Three layers, as every widget here:

1. :func:`ranking_html`, a pure function: one prompt and its replies as HTML, each reply with the
   place you gave it (or none yet);
2. :class:`RankingBox`, the view-model: a *pick* button per reply (click the best one first,
   then the next best ...; the last one left takes the last place by itself), *start over*,
   *previous* / *next* prompt, and a line saying what has been saved;
3. the file: every finished ranking is written at once with
   :func:`llmlab.rankings.save_rankings`, labelled by who made it: ``source="human"`` for your
   clicks, ``"labeler"`` for what :meth:`RankingBox.rank_rest` filled in. What you ranked loads
   with :func:`llmlab.rankings.load_rankings` exactly like the scripted labeler's rankings.

Your rankings outlive the kernel: a new box on the same file takes back every ranking you made
of its prompts (same prompt id, same replies), and keeps in the file, untouched, any of yours it
cannot show (replies sampled differently, another set of prompts). Running the notebook again
never overwrites what you ranked by hand.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmlab import checks
from llmlab.widgets.base import TEXT_STYLE, LessonWidget

if TYPE_CHECKING:
    from llmlab.chat import Turn
    from llmlab.rankings import Ranking

Reply = tuple[str, bool]  # (text, ended with <|end|>)


def ranking_html(prompt: Sequence[Turn], replies: Sequence[Reply], picked: Sequence[int]) -> str:
    """The prompt, then each reply with its place: ``picked`` lists reply indices best first."""
    turns = "".join(
        f"<div><b>{'YOU' if role == 'user' else 'MODEL'}:</b> {html.escape(text)}</div>"
        for role, text in prompt
    )
    cards = []
    for i, (text, ended) in enumerate(replies):
        place = picked.index(i) + 1 if i in picked else None
        badge = (
            f"<span style='background:#2e7d32;color:white;border-radius:4px;padding:0 6px'>"
            f"#{place}</span>"
            if place
            else "<span style='color:#999'>not ranked</span>"
        )
        body = html.escape(text).replace("\n", "<br>") or "<i>(empty)</i>"
        cut = "" if ended else " <span style='color:#b71c1c'>[cut off: no &lt;|end|&gt;]</span>"
        cards.append(
            f"<div style='border:1px solid #ccc;border-radius:6px;padding:4px 8px;margin:4px 0'>"
            f"<b>reply {i + 1}</b> {badge}<br><span>{body}</span>{cut}"
            "</div>"
        )
    return f"<div style='{TEXT_STYLE};max-width:46em'>{turns}{''.join(cards)}</div>"


class RankingBox(LessonWidget):
    """Rank ``samples[n]`` (``(text, ended)`` replies) to ``prompts[n]``, one prompt at a time.

    Click *pick* under the best reply, then under the next best, and so on; the last reply left
    takes the last place by itself and the ranking is saved to ``path`` at once (every finished
    ranking, in the order of the prompts). A reply that appears twice is shown once: a ranking
    cannot place one text both above and below another.
    """

    def __init__(
        self,
        prompts: Sequence[Sequence[Turn]],
        samples: Sequence[Sequence[Reply]],
        path: str | Path,
        prompt_ids: Sequence[str] | None = None,
    ) -> None:
        import ipywidgets as w

        from llmlab.chat import check_turns
        from llmlab.rankings import distinct_replies

        if len(prompts) != len(samples) or not prompts:
            raise ValueError(
                f"prompts and samples must be non-empty and of one length, got {len(prompts)} "
                f"and {len(samples)}"
            )
        if prompt_ids is not None and len(prompt_ids) != len(prompts):
            raise ValueError(f"prompt_ids has {len(prompt_ids)} ids for {len(prompts)} prompts")
        self.prompts = [tuple(check_turns(p, last="user")) for p in prompts]
        self.replies = [distinct_replies(s) for s in samples]
        for n, replies in enumerate(self.replies):
            if len(replies) < 2:
                raise ValueError(f"samples[{n}] has fewer than 2 distinct replies to rank")
        self.prompt_ids = list(prompt_ids or [f"prompt-{n}" for n in range(len(prompts))])
        self.path = Path(path)
        self.picked: list[list[int]] = [[] for _ in prompts]
        self.sources = ["human"] * len(prompts)  # who made each prompt's ranking
        self.kept: list[Ranking] = []  # your rankings in the file that this box cannot show
        self._restore()
        self.current = 0
        k = max(len(r) for r in self.replies)
        self.buttons = [w.Button(description=f"pick reply {i + 1}") for i in range(k)]
        for i, button in enumerate(self.buttons):
            button.on_click(lambda _button, i=i: self.pick(i))
        self.restart = w.Button(description="start over")
        self.previous = w.Button(description="◀ previous prompt")
        self.next = w.Button(description="next prompt ▶")
        self.restart.on_click(lambda _button: self.start_over())
        self.previous.on_click(lambda _button: self.show(self.current - 1))
        self.next.on_click(lambda _button: self.show(self.current + 1))
        self.header = w.HTML()
        self.cards = w.HTML()
        self.status = w.HTML()
        self.widget = w.VBox(
            [
                self.header,
                self.cards,
                w.HBox(self.buttons, layout={"flex_flow": "row wrap"}),
                w.HBox([self.restart, self.previous, self.next]),
                self.status,
            ]
        )
        self.render()

    @property
    def rankings(self) -> list[Ranking]:
        """The finished rankings, in prompt order, as :class:`~llmlab.rankings.Ranking`."""
        from llmlab.rankings import Ranking

        return [
            Ranking(
                self.prompts[n],
                tuple(t for t, _ in self.replies[n]),
                tuple(picked),
                self.sources[n],
                tuple(e for _, e in self.replies[n]),
                self.prompt_ids[n],
            )
            for n, picked in enumerate(self.picked)
            if len(picked) == len(self.replies[n])
        ]

    def _restore(self) -> None:
        """Take back the hand-made rankings already in the file (a new kernel, the same file)."""
        from llmlab.rankings import load_rankings

        if not self.path.exists():
            return
        for saved in load_rankings(self.path):
            if saved.source != "human":
                continue  # the labeler's: made again by rank_rest when needed
            n = next(
                (
                    n
                    for n, pid in enumerate(self.prompt_ids)
                    if pid == saved.prompt_id
                    and saved.prompt == self.prompts[n]
                    and saved.responses == tuple(t for t, _ in self.replies[n])
                ),
                None,
            )
            if n is None:
                self.kept.append(saved)
            else:
                self.picked[n] = list(saved.ranking)

    @property
    def by_you(self) -> int:
        """How many of this box's prompts you ranked by hand."""
        return sum(s == "human" for s in (r.source for r in self.rankings))

    def still(self) -> dict[str, str]:
        """The shown prompt, its replies and the status, as HTML (for a notebook opened unrun)."""
        parts = (self.header.value, self.cards.value, self.status.value)
        return {"text/html": "".join(f"<div>{part}</div>" for part in parts)}

    def show(self, n: int) -> None:
        """Show prompt ``n`` (the buttons at either end do nothing past the first or last)."""
        self.current = min(max(n, 0), len(self.prompts) - 1)
        self.render()

    def pick(self, i: int) -> None:
        """Give reply ``i`` of the shown prompt the next place (as its *pick* button does)."""
        replies, picked = self.replies[self.current], self.picked[self.current]
        i = checks.integer(i, "i", 0, len(replies) - 1, hint="a reply index")
        if i not in picked and len(picked) < len(replies):
            self.sources[self.current] = "human"
            picked.append(i)
            left = [j for j in range(len(replies)) if j not in picked]
            if len(left) == 1:
                picked.append(left[0])
            if len(picked) == len(replies):
                self.save()
        self.render()

    def start_over(self) -> None:
        """Forget the shown prompt's ranking (and take it out of the file)."""
        self.picked[self.current] = []
        self.sources[self.current] = "human"
        self.save()
        self.render()

    def rank_rest(
        self,
        order: Callable[[Sequence[Turn], Sequence[Reply]], Sequence[int]],
        source: str = "labeler",
    ) -> None:
        """Rank every prompt not ranked yet with ``order(prompt, replies)`` (e.g.
        :func:`llmlab.labeler.rank`), labelled ``source``; the rankings already made are kept."""
        from llmlab.rankings import SOURCES

        source = checks.one_of(source, "source", SOURCES)
        for n, replies in enumerate(self.replies):
            if len(self.picked[n]) < len(replies):
                self.picked[n] = list(order(self.prompts[n], replies))
                self.sources[n] = source
        self.save()
        self.render()

    def save(self) -> None:
        from llmlab.rankings import save_rankings

        save_rankings(self.path, [*self.rankings, *self.kept])

    def render(self) -> None:
        n, replies, picked = self.current, self.replies[self.current], self.picked[self.current]
        self.header.value = f"<b style='{TEXT_STYLE}'>prompt {n + 1} of {len(self.prompts)}</b>"
        self.cards.value = ranking_html(self.prompts[n], replies, picked)
        for i, button in enumerate(self.buttons):
            button.layout.display = "" if i < len(replies) else "none"
            button.disabled = i in picked
        done = len(self.rankings)
        todo = "click the best reply's pick button first" if not picked else "keep going"
        state = "ranked" if len(picked) == len(replies) else todo
        if state == "ranked" and self.sources[n] != "human":
            state = (
                f"ranked by the scripted {self.sources[n]}, not by you (nobody clicked before "
                "the next cell ran); <i>start over</i> to rank it yourself"
            )
        self.status.value = (
            f"<span style='{TEXT_STYLE}'>this prompt: {state} · {done} of {len(self.prompts)} "
            f"prompts ranked ({self.by_you} by you), saved to {html.escape(str(self.path))}</span>"
        )
