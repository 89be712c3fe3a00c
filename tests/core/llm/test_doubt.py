"""The local model scores its answer's first tokens while it writes them: below the rule's
threshold its stream says `Unsure` before the words; the words themselves do not change, and
an answer after a tool's result is not scored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.llm import ChatMessage
from core.llm.doubt import DoubtRule, Meter, Unsure, held_until_scored

QUESTION = [
    ChatMessage("system", "You are a helpful assistant. Answer in one sentence."),
    ChatMessage("user", "Which river flows through the town of Tübingen?"),
]


@pytest.fixture
def with_rule(local_llm: Any) -> Iterator[Any]:
    """The shared local model; whatever rule a test sets is taken off again."""
    before = local_llm.doubt
    yield local_llm
    local_llm.doubt = before


def streamed(llm: Any, messages: list[ChatMessage]) -> list[object]:
    return list(llm.stream(messages, max_tokens=32))


def test_an_answer_scored_below_the_threshold_says_unsure_before_its_words(with_rule) -> None:
    with_rule.doubt = None
    plain = streamed(with_rule, QUESTION)
    with_rule.doubt = DoubtRule(tokens=5, below=0.0)  # every real score is below 0
    doubted = streamed(with_rule, QUESTION)
    with_rule.doubt = DoubtRule(tokens=5, below=-100.0)  # none is
    sure = streamed(with_rule, QUESTION)

    assert isinstance(doubted[0], Unsure) and doubted[0].score < 0
    assert not any(isinstance(piece, Unsure) for piece in doubted[1:] + sure)
    # Held, scored and let go: the same words, in the same pieces (temperature 0).
    assert doubted[1:] == sure == plain
    assert "".join(map(str, plain)).strip()


def test_an_answer_after_a_tools_result_is_not_scored(with_rule) -> None:
    with_rule.doubt = DoubtRule(tokens=5, below=0.0)
    messages = [
        ChatMessage("system", "You are a helpful assistant."),
        ChatMessage("user", "What time is it?"),
        ChatMessage("tool", '{"time": "14:05"}', tool_call_id="call-1"),
    ]

    pieces = streamed(with_rule, messages)

    assert pieces and not any(isinstance(piece, Unsure) for piece in pieces)


def test_the_meter_reads_each_chosen_tokens_log_probability_one_step_later() -> None:
    import numpy as np

    meter = Meter(tokens=2)
    step = np.log(np.array([0.5, 0.25, 0.25]))  # log-probabilities as logits
    meter([7], step.copy())  # the first step: its token is not known yet
    meter([7, 1], step.copy())  # token 1 was chosen
    meter([7, 1, 0], step.copy())  # then token 0; two tokens scored: done

    assert meter.done
    assert meter.logprobs == pytest.approx([np.log(0.25), np.log(0.5)])
    assert meter.score() == pytest.approx((np.log(0.25) + np.log(0.5)) / 2)


def test_a_short_answer_is_judged_on_the_tokens_it_has() -> None:
    meter = Meter(tokens=5)
    meter.logprobs = [-2.0]  # "Paris." and the end: one token scored
    held = list(held_until_scored(iter(["Par", "is."]), meter, DoubtRule(5, below=-1.0)))

    assert held == [Unsure(-2.0), "Par", "is."]
