"""The end-of-lesson quiz, driven by setting its radio buttons and clicking Check as people do."""

import pytest

from llmlab.widgets import Question, Quiz, feedback_html, grade, quiz_html
from llmlab.widgets.quiz import shuffled

ADD = Question("What is 2 + 2?", ["3", "4", "5"], "4", "Two and two make four.")
BIG = Question("Which is larger?", ("0.12", "0.34"), "0.34", "0.34 > 0.12 by 0.22 <nothing>.")


def test_a_question_refuses_bad_input_by_name():
    with pytest.raises(ValueError, match="answer must be one of options"):
        Question("Q?", ["a", "b"], "c", "why")
    with pytest.raises(ValueError, match="options must hold at least 2"):
        Question("Q?", ["a"], "a", "why")
    with pytest.raises(ValueError, match=r"options must be distinct, got \['a'\]"):
        Question("Q?", ["a", "b", "a"], "a", "why")
    with pytest.raises(ValueError, match="options must be a list"):
        Question("Q?", "ab", "a", "why")
    with pytest.raises(ValueError, match=r"options\[1\]"):
        Question("Q?", ["a", ""], "a", "why")
    with pytest.raises(ValueError, match="prompt"):
        Question("  ", ["a", "b"], "a", "why")
    with pytest.raises(ValueError, match="why"):
        Question("Q?", ["a", "b"], "a", None)
    # Frozen, and the options stored as a tuple (a list passed in cannot change it later).
    assert sorted(ADD.options) == ["3", "4", "5"] and isinstance(ADD.options, tuple)
    with pytest.raises(AttributeError):
        ADD.answer = "3"


def test_options_are_shown_in_an_order_the_prompt_fixes_not_the_one_written():
    written = ["right", "wrong one", "wrong two", "wrong three"]
    again = Question(ADD.prompt, written, "right", "why")
    assert (
        again.options
        == shuffled(written, ADD.prompt)
        == Question(ADD.prompt, written, "right", "w").options
    )
    assert sorted(again.options) == sorted(written)
    # The right option, written first every time, lands in every place across prompts.
    places = {shuffled(written, f"question {n}?").index("right") for n in range(40)}
    assert places == {0, 1, 2, 3}


def test_grade_marks_each_choice_against_its_answer():
    results = grade([ADD, BIG], ["4", "0.12"])
    assert [r.right for r in results] == [True, False]
    assert [r.chosen for r in results] == ["4", "0.12"]
    assert [r.right for r in grade([ADD, BIG], [None, "0.34"])] == [False, True]
    with pytest.raises(ValueError, match="one choice per question: 1 for 2"):
        grade([ADD, BIG], ["4"])
    with pytest.raises(ValueError, match=r"chosen\[1\] must be None or one of"):
        grade([ADD, BIG], ["4", "0.5"])
    with pytest.raises(ValueError, match="questions is empty"):
        grade([], [])


def test_feedback_says_right_or_wrong_with_the_answer_and_why():
    right, wrong, blank = grade([ADD, ADD, ADD], ["4", "3", None])
    assert "✓ Right" in feedback_html(right) and "Two and two make four." in feedback_html(right)
    text = feedback_html(wrong)
    assert "✗ Wrong" in text and "the answer is <i>4</i>" in text and "make four" in text
    assert "Not answered" in feedback_html(blank) and "four" not in feedback_html(blank)
    assert "&lt;nothing&gt;" in feedback_html(grade([BIG], ["0.34"])[0])  # escaped


def test_the_widget_checks_the_picks_and_counts_the_score():
    quiz = Quiz([ADD, BIG])
    assert quiz.chosen == [None, None] and all(f.value == "" for f in quiz.feedback)
    assert [c.options for c in quiz.choices] == [ADD.options, BIG.options]
    quiz.choices[0].value = "4"
    quiz.check.click()
    assert "✓ Right" in quiz.feedback[0].value and "Not answered" in quiz.feedback[1].value
    assert "Score: 1 of 2 right (1 not answered)" in quiz.score.value
    quiz.choices[1].value = "0.12"  # a changed pick: its verdict is cleared until Check
    assert quiz.feedback[1].value == "" and "press Check again" in quiz.score.value
    quiz.check.click()
    assert "✗ Wrong" in quiz.feedback[1].value and "Score: 1 of 2 right</b>" in quiz.score.value
    quiz.choices[1].value = "0.34"
    quiz.check.click()
    assert "Score: 2 of 2 right" in quiz.score.value
    assert [r.right for r in quiz.results] == [True, True]


def test_the_static_rendering_shows_questions_and_hides_answers_in_details():
    quiz = Quiz([ADD, BIG], title="Lesson 0 <quiz>")
    bundle = quiz._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert page == quiz_html([ADD, BIG], "Lesson 0 <quiz>") and "Lesson 0 &lt;quiz&gt;" in page
    before, folded = page.split("<details>")
    assert "What is 2 + 2?" in before and "<li>5</li>" in before and "<li>0.12</li>" in before
    assert "make four" not in before and "make four" in folded  # the why: only when unfolded
    assert folded.index("<b>4</b>") < folded.index("<b>0.34</b>")


def test_a_quiz_refuses_bad_input_by_name():
    with pytest.raises(ValueError, match="questions is empty"):
        Quiz([])
    with pytest.raises(ValueError, match=r"questions\[1\] must be a Question"):
        Quiz([ADD, "What?"])
    with pytest.raises(ValueError, match="questions must be a list"):
        Quiz(ADD)
    with pytest.raises(ValueError, match="title"):
        Quiz([ADD], title="")
