"""The loop detector: back-to-back copies of a span end an answer; ordinary text never does."""

from __future__ import annotations

import pytest

from core.llm.repetition import loop_end

ORDINARY = [
    "The capital of France is Paris. It is famous for the Eiffel Tower and its museums.",
    "Two plus two is four.",
    "Ha ha ha, that is a good one! Ha ha ha!",  # short repeats are speech, not a loop
    "1. Eggs. 2. Milk. 3. Bread. 4. Butter.",
    "Very, very, very good question: it depends on the weather.",
    "",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_answers_never_loop(text: str) -> None:
    for end in range(len(text) + 1):  # at every point of the stream, not only the end
        assert loop_end(text[:end]) is None, text[:end]


def test_a_repeated_sentence_is_cut_after_its_first_copy() -> None:
    text = "Sure! I am sorry about that. I am sorry about that. I am sorry about that."
    assert text[: loop_end(text)] == "Sure! I am sorry about that."


def test_a_loop_is_noticed_mid_sentence_and_cut_at_a_sentence_end() -> None:
    copy = "And so my fellow Americans, ask not. "
    stream = "Here it is: " + copy * 3 + "And so my"  # the stream is in its fourth copy
    cut = loop_end(stream)
    assert cut is not None
    assert stream[:cut] == "Here it is: And so my fellow Americans, ask not."


def test_a_loop_without_punctuation_is_cut_after_one_copy() -> None:
    text = "la la land is great " * 3
    cut = loop_end(text)
    assert cut is not None and text[:cut] == "la la land is great "


def test_the_detector_looks_at_the_end_only() -> None:
    looped_then_moved_on = "Stop it now. " * 3 + "Anyway, the answer is forty-two."
    assert loop_end(looped_then_moved_on) is None
