"""The local model scores its answer's first clause while it writes it: below the rule's
threshold its stream says `Unsure` where the clause ends; nothing is held back, the words do
not change, and an answer after a tool's result is not scored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from core.llm import ChatMessage
from core.llm.doubt import CLAUSE_TOKENS, DoubtRule, Meter, Unsure, clause_length, scored

QUESTION = [
    ChatMessage("system", "You are a helpful assistant. Answer in two sentences."),
    ChatMessage("user", "Which river flows through the town of Tübingen?"),
]


@pytest.fixture
def with_rule(local_llm: Any) -> Iterator[Any]:
    """The shared local model; whatever rule a test sets is taken off again."""
    before = local_llm.doubt
    yield local_llm
    local_llm.doubt = before


def streamed(llm: Any, messages: list[ChatMessage]) -> list[object]:
    return list(llm.stream(messages, max_tokens=48))


def test_a_first_clause_scored_below_the_threshold_is_followed_by_unsure(with_rule) -> None:
    with_rule.doubt = None
    plain = streamed(with_rule, QUESTION)
    with_rule.doubt = DoubtRule(below=0.0)  # every real score is below 0
    doubted = streamed(with_rule, QUESTION)
    with_rule.doubt = DoubtRule(below=-100.0)  # none is
    sure = streamed(with_rule, QUESTION)

    marks = [i for i, piece in enumerate(doubted) if isinstance(piece, Unsure)]
    assert len(marks) == 1 and not any(isinstance(piece, Unsure) for piece in sure)
    words = [piece for piece in doubted if isinstance(piece, str)]
    assert words == sure == plain  # nothing held or changed (temperature 0)
    # Said where the first clause ends: the words before it hold the clause's closing mark.
    before = "".join(words[: marks[0]])
    assert clause_length(words[: marks[0]], complete=False, following=words[marks[0]])
    assert any(mark in before for mark in ",;:.!?") or marks[0] >= CLAUSE_TOKENS
    assert doubted[marks[0]].score < 0  # type: ignore[union-attr]


def test_an_answer_after_a_tools_result_is_not_scored(with_rule) -> None:
    with_rule.doubt = DoubtRule(below=0.0)
    messages = [
        ChatMessage("system", "You are a helpful assistant."),
        ChatMessage("user", "What time is it?"),
        ChatMessage("tool", '{"time": "14:05"}', tool_call_id="call-1"),
    ]

    pieces = streamed(with_rule, messages)

    assert pieces and not any(isinstance(piece, Unsure) for piece in pieces)


def test_the_meter_notes_the_most_likely_tokens_probability_until_the_clause_ends() -> None:
    words = {1: b"Rome", 2: b".", 3: b" It"}
    meter = Meter(lambda tokens: b"".join(words[t] for t in tokens))
    sure = np.log(np.array([0.05, 0.05, 0.1, 0.8]))  # log-probabilities as logits
    unsure = np.log(np.array([0.3, 0.2, 0.2, 0.3]))
    meter([9], sure.copy())  # the first step: "Rome" is chosen after it (not the likeliest)
    meter([9, 1], unsure.copy())  # then "."; the clause may go on ("3." of "3.5")
    meter([9, 1, 2], sure.copy())  # then " It": the clause ended, the meter stops
    meter([9, 1, 2, 3], unsure.copy())
    meter([9, 1, 2, 3, 1], sure.copy())

    assert meter.texts == ["Rome", ".", " It"]
    assert meter.logprobs == pytest.approx([np.log(0.8), np.log(0.3), np.log(0.8)])
    assert meter.score(complete=False) == pytest.approx(np.log(0.8))  # "Rome" alone


@pytest.mark.parametrize(
    ("texts", "following", "complete", "length"),
    [
        (["Rome", "."], "", False, None),  # "." may be "3." of "3.5"
        (["Rome", "."], " It", False, 1),
        (["3", "."], "5", False, None),
        (["Rome", "."], "", True, 1),
        ([" The", " Nile", ",", " of"], "", False, 2),
        (["a"] * CLAUSE_TOKENS, "", False, CLAUSE_TOKENS),
        (["a"] * 3, "", False, None),
    ],
)
def test_the_first_clause_ends_at_a_mark_and_a_space(
    texts: list[str], following: str, complete: bool, length: int | None
) -> None:
    assert clause_length(texts, complete=complete, following=following) == length


def test_an_answer_shorter_than_a_clause_is_judged_at_its_end() -> None:
    meter = Meter(lambda tokens: b"")
    meter.texts, meter.logprobs = ["Par", "is"], [-2.0, -1.0]

    said = list(scored(iter(["Par", "is"]), meter, DoubtRule(below=-1.0)))

    assert said == ["Par", "is", Unsure(-1.5)]
