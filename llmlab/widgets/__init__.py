"""Interactive lesson widgets (ipywidgets), one module per widget, each in three layers:

1. a pure function of data (tensors, text) that computes everything once per input;
2. a small view-model class that owns the controls and observes them;
3. a thin renderer: an ``HTML`` widget, or an ``Image`` widget fed by one reused figure.

What the view-models share (display, control wiring, the figure-to-picture redraw) is in
:mod:`llmlab.widgets.base`. Tests drive a widget by setting ``control.value`` and reading the
rendered output, exactly as a slider drag would; nothing here needs a browser or JavaScript from
the network. Importing this package is cheap: ipywidgets, matplotlib and torch load when a widget
is built.
"""

from llmlab.widgets.attention import (
    AttentionExplorer,
    AttentionMaps,
    attention_maps,
    head_summary,
    show_token,
)
from llmlab.widgets.chat import NO_ONE, ChatBox, chat_html, stream_reply
from llmlab.widgets.corpus import SpeechBrowser, speech_html
from llmlab.widgets.descent import (
    SURFACES,
    DescentPath,
    DescentPlayground,
    Surface,
    descent_path,
    descent_verdict,
)
from llmlab.widgets.knowledge import (
    Confidence,
    KnowledgeBox,
    answer_confidence,
    answer_options,
    confidence_html,
    prompt_tokens,
    prompt_with_passage,
)
from llmlab.widgets.lens import (
    LensExplorer,
    LensPredictions,
    lens_html,
    lens_predictions,
)
from llmlab.widgets.quiz import Question, Quiz, feedback_html, grade, quiz_html
from llmlab.widgets.ranking import RankingBox, ranking_html
from llmlab.widgets.sampling import (
    Distribution,
    SamplingPlayground,
    next_token_distribution,
)
from llmlab.widgets.scaling import (
    LadderChoice,
    LadderPoint,
    ScalingLadder,
    choice_sentence,
    ladder_choice,
    ladder_points,
)
from llmlab.widgets.tokens import (
    TOKEN_COLOURS,
    TokenPlayground,
    TokenView,
    token_html,
    token_view,
)
from llmlab.widgets.training import TrainingView, status_text

__all__ = [
    "NO_ONE",
    "SURFACES",
    "TOKEN_COLOURS",
    "AttentionExplorer",
    "AttentionMaps",
    "ChatBox",
    "Confidence",
    "DescentPath",
    "DescentPlayground",
    "LensExplorer",
    "LensPredictions",
    "Distribution",
    "KnowledgeBox",
    "LadderChoice",
    "LadderPoint",
    "Question",
    "Quiz",
    "RankingBox",
    "SamplingPlayground",
    "ScalingLadder",
    "SpeechBrowser",
    "Surface",
    "TokenPlayground",
    "TokenView",
    "TrainingView",
    "answer_confidence",
    "answer_options",
    "attention_maps",
    "chat_html",
    "choice_sentence",
    "confidence_html",
    "descent_path",
    "descent_verdict",
    "feedback_html",
    "grade",
    "head_summary",
    "ladder_choice",
    "ladder_points",
    "lens_html",
    "lens_predictions",
    "next_token_distribution",
    "prompt_tokens",
    "prompt_with_passage",
    "quiz_html",
    "ranking_html",
    "show_token",
    "speech_html",
    "status_text",
    "stream_reply",
    "token_html",
    "token_view",
]
