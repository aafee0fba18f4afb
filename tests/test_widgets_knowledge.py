"""Lesson 11's knowledge box, driven by setting its controls' values as a person's typing and
clicks do, on the tiny fixtures of tests/conftest.py (a random one-block model over bytes)."""

import pytest
import torch

PASSAGES = [
    "ORSINO:\nIf music be the food of love, play on.\n",
    "SIR TOBY BELCH:\nWhat a plague means my niece, to take the death of her brother thus?\n",
    "VIOLA:\nWhat country, friends, is this?\n",
]


@pytest.fixture(scope="module")
def questions():
    from llmlab import answers, instructions

    held_out = instructions.plays_examples("validation", answers.KINDS)
    genre = next(e for e in held_out if e.kind == "play_genre" and "comedy," in e.turns[0][1])
    who = next(e for e in held_out if e.kind == "character_play" and "SIR TOBY" in e.turns[0][1])
    return [genre, who]


@pytest.fixture
def box(tiny_chat_model, chat_tokenizer, questions, one_thread):
    from llmlab.widgets import KnowledgeBox

    return KnowledgeBox(
        tiny_chat_model(block_size=192), chat_tokenizer, questions, PASSAGES, pause=0
    )


def test_answer_confidence_is_the_lessons_probability_over_the_options(
    tiny_chat_model, chat_tokenizer, questions
):
    from llmlab import answers
    from llmlab.widgets import answer_confidence

    model = tiny_chat_model()
    for example in questions:
        found = answer_confidence(
            model, chat_tokenizer, example.turns[0][1], answers.options(example)
        )
        probs, _ = answers.option_probabilities(model, chat_tokenizer, example)
        assert torch.allclose(found.probs.double(), probs, atol=1e-6)
        assert found.answer == found.candidates[int(probs.argmax())]
        assert found.confidence == pytest.approx(float(probs.max()), abs=1e-6)
    with pytest.raises(ValueError, match="user_text"):
        answer_confidence(model, chat_tokenizer, "  ", ["A comedy."])
    with pytest.raises(ValueError, match="candidates"):
        answer_confidence(model, chat_tokenizer, "Who?", [])


def test_the_box_answers_the_picked_question_closed_book(box, questions):
    from llmlab import answers
    from llmlab.widgets import answer_confidence

    genre = questions[0]
    assert box.question.value == genre.turns[0][1] and not box.use_passage.value
    expected = answer_confidence(
        box.model, box.tokenizer, genre.turns[0][1], answers.options(genre)
    )
    assert box.result.answer == expected.answer
    assert torch.allclose(box.result.probs, expected.probs)
    text = box.output.value
    assert f"Answer:</b> {expected.answer}" in text and "a blind guess: 0.33, one of 3" in text
    assert ("right</span>" in text) == (expected.answer == genre.turns[1][1])
    assert "reads the question alone" in box.note.value
    assert "Without the passage" not in text


def test_the_passage_switch_puts_the_retrieved_passage_before_the_question(box, questions):
    from llmlab.widgets import answer_confidence, prompt_with_passage

    box.pick.value = 1  # "Which play is SIR TOBY BELCH in?": the retriever finds his speech
    assert box.passage.value == PASSAGES[1]
    closed = box.result
    assert len(closed.candidates) == 38  # the play titles
    box.use_passage.value = True
    question = questions[1].turns[0][1]
    read = prompt_with_passage(question, PASSAGES[1])
    assert box.user_text() == read and read.startswith("SIR TOBY BELCH:") and read.endswith("in?")
    expected = answer_confidence(box.model, box.tokenizer, read, closed.candidates)
    assert torch.allclose(box.result.probs, expected.probs)
    assert not torch.allclose(box.result.probs, closed.probs)  # the passage changed the bet
    assert f"Without the passage it answers {closed.answer} at {closed.confidence:.2f}" in (
        box.output.value
    )
    assert "reads the retriever's best match, then the question" in box.note.value
    # An edited passage is read as edited; switching it off goes back to the closed book.
    box.passage.value = "VIOLA:\nWhat country, friends, is this?\n"
    edited = answer_confidence(
        box.model,
        box.tokenizer,
        prompt_with_passage(question, box.passage.value),
        closed.candidates,
    )
    assert torch.allclose(box.result.probs, edited.probs)
    assert "reads your passage, then the question" in box.note.value
    box.use_passage.value = False
    assert torch.allclose(box.result.probs, closed.probs)


def test_the_retrieved_passage_is_the_best_match_that_fits_the_context(
    tiny_chat_model, chat_tokenizer, questions, one_thread
):
    from llmlab.widgets import KnowledgeBox, prompt_tokens, prompt_with_passage

    long = "SIR TOBY BELCH:\n" + "Sir Toby Belch sings, and Sir Toby Belch drinks.\n" * 4
    short = "SIR TOBY BELCH:\nA plague o' these pickle herring!\n"
    model = tiny_chat_model(block_size=192)
    box = KnowledgeBox(model, chat_tokenizer, questions, [long, short, PASSAGES[2]], pause=0)
    box.pick.value = 1
    assert box.retriever.search(box.question.value, 1) == [0]  # the long one matches best
    question, candidates = box.question.value, box.candidates
    too_long = prompt_tokens(chat_tokenizer, prompt_with_passage(question, long), candidates)
    fits = prompt_tokens(chat_tokenizer, prompt_with_passage(question, short), candidates)
    assert fits <= 192 < too_long
    assert box.passage.value == short and box.rank == 2
    box.use_passage.value = True
    assert "match #2" in box.note.value and "too long for its context" in box.note.value


def test_a_typed_question_gets_its_own_passage_and_no_known_answer(box):
    box.use_passage.value = True
    box.question.value = "What is the food of love?"
    assert box.passage.value == PASSAGES[0]  # ORSINO's music
    assert box.truth is None and "your own question" in box.output.value
    assert len(box.result.candidates) == 3  # the picked question's candidates stay


def test_an_empty_question_gets_a_message_not_a_traceback(box):
    box.question.value = ""
    assert "Type a question (or pick one)" in box.note.value and "role='alert'" in box.note.value
    assert box.output.value == "" and box.result is None
    box.question.value = "?!"
    assert "no words" in box.note.value
    box.question.value = "Is it a comedy, a history or a tragedy?"  # back: answered again
    assert "Answer:" in box.output.value and "alert" not in box.note.value


def test_a_passage_longer_than_the_context_gets_a_message(box):
    box.use_passage.value = True
    box.passage.value = "VIOLA:\nWhat country, friends, is this?\n" * 8
    note = box.note.value
    assert "The passage is too long for the model" in note and "192-token context" in note
    assert "switch it off" in note and box.output.value == "" and box.result is None
    box.use_passage.value = False  # closed book: the question alone fits
    assert box.result is not None and "alert" not in box.note.value
    box.use_passage.value = True
    box.passage.value = "   "
    assert "The passage box is empty" in box.note.value
    box.question.value = "Zounds zounds?"  # no passage shares a word: nothing was retrieved
    assert box.passage.value == "" and "No passage shares a word" in box.note.value


def test_typing_waits_for_a_pause(tiny_chat_model, chat_tokenizer, questions, one_thread):
    from llmlab.widgets import KnowledgeBox

    box = KnowledgeBox(tiny_chat_model(), chat_tokenizer, questions, PASSAGES, pause=5)
    first = box.output.value
    box.question.value = "What country is this?"
    assert box.output.value == first  # not yet: the pause has not passed
    box.flush()
    assert box.output.value != first and "your own question" in box.output.value
    assert "What country is this?" in box.still()["text/html"]


def test_confidence_html_marks_the_right_answer_even_outside_the_shown():
    from llmlab.widgets import Confidence, confidence_html

    found = Confidence(("A.", "B.", "C.", "D."), torch.tensor([0.1, 0.5, 0.3, 0.1]))
    assert found.answer == "B." and found.confidence == pytest.approx(0.5)
    table = confidence_html(found, "D.", shown=2)
    assert table.count("<tr>") == 3 and "D. ✓ (ranked 4 of 4)" in table
    assert table.index("B.") < table.index("C.") < table.index("D.")
    assert confidence_html(found, "B.", shown=2).count("<tr>") == 2
    with pytest.raises(ValueError, match="shown"):
        confidence_html(found, None, shown=0)


def test_bad_input_is_refused_by_name(tiny_chat_model, chat_tokenizer, questions):
    from llmlab import instructions
    from llmlab.widgets import KnowledgeBox

    model = tiny_chat_model()
    with pytest.raises(TypeError, match="model"):
        KnowledgeBox("sft", chat_tokenizer, questions, PASSAGES)
    with pytest.raises(ValueError, match="questions is empty"):
        KnowledgeBox(model, chat_tokenizer, [], PASSAGES)
    dialogue = instructions.Example("dialogue", (("user", "Hi"), ("assistant", "Ho")), "macbeth")
    with pytest.raises(ValueError, match=r"questions\[1\]"):
        KnowledgeBox(model, chat_tokenizer, [questions[0], dialogue], PASSAGES)
    with pytest.raises(ValueError, match="texts is empty"):
        KnowledgeBox(model, chat_tokenizer, questions, [])
    with pytest.raises(ValueError, match="shown"):
        KnowledgeBox(model, chat_tokenizer, questions, PASSAGES, shown=0)


def test_a_picked_question_is_answered_at_once(tiny_chat_model, chat_tokenizer, questions):
    from llmlab.widgets import KnowledgeBox

    box = KnowledgeBox(tiny_chat_model(), chat_tokenizer, questions, PASSAGES, pause=5)
    box.pick.value = 1  # no pause to wait for: the 38 titles are the candidates now
    assert box.result is not None and len(box.result.candidates) == 38
    assert questions[1].turns[0][1] in box.still()["text/html"]


def test_a_line_question_is_scored_over_every_speaker_of_the_plays(
    tiny_chat_model, chat_tokenizer, questions, one_thread
):
    from llmlab import instructions
    from llmlab.widgets import KnowledgeBox, answer_options

    line = next(
        e
        for e in instructions.plays_examples("validation", ["line_speaker"])
        if e.play == questions[0].play
    )
    plays = [questions[0].play, "macbeth"]
    found = answer_options(line, plays)
    speakers = sum(len(instructions.speakers(p)) for p in plays)
    assert len(found) in (speakers, speakers + 1) and line.turns[1][1] in found
    assert "SEYTON, in Macbeth." in found and len(set(found)) == len(found)
    assert answer_options(questions[0], plays) == ["A comedy.", "A history.", "A tragedy."]
    # In the box: quoted passages given to the model, searched by their full text.
    searched = [f"{p}Give us the place alone" for p in PASSAGES]
    quotes = [f"From Twelfth Night:\n{p}" for p in PASSAGES]
    model = tiny_chat_model(block_size=256)
    box = KnowledgeBox(model, chat_tokenizer, [line, *questions], searched, given=quotes, pause=0)
    assert box.candidates == answer_options(line, [line.play])  # the menu's plays: one
    assert box.passage.value.startswith("From Twelfth Night:\n")
    with pytest.raises(ValueError, match="given must hold one text per passage"):
        KnowledgeBox(model, chat_tokenizer, questions, searched, given=quotes[:2])
