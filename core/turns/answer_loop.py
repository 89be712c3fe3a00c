"""One answer as the model writes it: fallback, restarts, tool rounds and the loop guard.

The loop keeps what the turn's record needs (the text so far, the provider that wrote it, why
another one did, the first token's time), so whatever ends the answer (its end, a failure, a
client gone) the recorder (core/turns/recorder.py) stores what there is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from functools import partial

from core import fallback
from core.llm import ChatMessage, repetition
from core.llm.doubt import Unsure
from core.model_streams import iterate_blocking
from core.providers import Providers
from core.results import AgentEvent, AnswerDelta, AnswerRestart
from core.tool_turns import ToolTurn
from core.tools import ToolCall
from core.turns.hedge import between_sentences, caveat

REPEATING = "the answer was stopped: it repeated itself"


def ms_since(start: float) -> float:
    """Milliseconds since `start`, a perf_counter() reading."""
    return round((time.perf_counter() - start) * 1000, 1)


@dataclass
class AnswerLoop:
    """The model's answer to one turn, round after round of tools, as agent events."""

    providers: Providers
    tools: ToolTurn
    max_tokens: int
    start: float  # perf_counter() when the turn began: the first token is timed from it
    owner: Hashable  # whose work the model calls are (core.concurrency)
    hold: threading.Event | None = None  # cleared: the model pauses between tokens
    text: str = ""  # the answer so far: stored at the end, read by the loop guard per token
    provider: str = field(default="")
    reason: str | None = None  # why another provider wrote it, or why it was stopped
    first_token_ms: float | None = None
    # The answer's language, and whether it may say it is unsure (not over a computed fact).
    language: str = "en"
    may_hedge: bool = True
    unsure: float | None = None  # the model's score, when it doubted its first clause
    _caveat_due: bool = False  # said at the end of the sentence, or of the answer

    def __post_init__(self) -> None:
        self.provider = self.provider or self.providers.llm.name

    async def run(self, messages: list[ChatMessage]) -> AsyncIterator[AgentEvent]:
        """Stream the answer; after each round that calls tools, their results and the next
        round. Stops early, keeping the first round, when the answer starts repeating."""
        looping = False
        while not looping:
            specs = self.tools.specs()  # none once the rounds are spent
            # The model starts before anything goes out, so sending costs no model time.
            stream = iterate_blocking(
                partial(
                    fallback.stream_answer,
                    self.providers.llm,
                    self.providers.llm_fallback,
                    messages,
                    max_tokens=self.max_tokens,
                    tools=specs,
                ),
                hold=self.hold,
                owner=self.owner,
            )
            said = len(self.text)  # where this round's text starts
            calls: list[ToolCall] = []
            try:
                async for item in stream:
                    event = self._take(item, calls if specs else None)
                    if event is None:
                        continue
                    if isinstance(event, AnswerRestart):
                        said = 0
                    yield event
                    if isinstance(event, AnswerDelta) and self._looping():
                        looping = True
                        break
            finally:
                await stream.aclose()
            if looping or not calls:
                break
            calls = self.tools.fresh(calls)
            if calls:
                async for tool_event in self.tools.run(calls):
                    yield tool_event
                messages = self.tools.follow_up(messages, self.text[said:], calls)
        if self._caveat_due:  # no sentence ended after the doubted clause
            words = self._caveat()
            self.text += words
            yield AnswerDelta(words)

    def _take(
        self,
        item: fallback.Token | ToolCall | fallback.Switch | Unsure,
        calls: list[ToolCall] | None,
    ) -> AgentEvent | None:
        """One item of the model's stream: a call noted (in `calls`, when tools were offered:
        a model may still write one when none is), a change of provider, the model's doubt
        about its first clause (said after the sentence it is in), or words."""
        if isinstance(item, Unsure):
            if self.may_hedge and self.unsure is None:
                self.unsure, self._caveat_due = item.score, True
            return None
        if isinstance(item, ToolCall):
            if calls is not None:
                calls.append(item)
            return None
        if isinstance(item, fallback.Switch):
            self.provider, self.reason = item.provider, item.reason
            if not item.restart:
                return None
            self.text, self.first_token_ms = "", None
            self.unsure, self._caveat_due = None, False
            return AnswerRestart(reason=item.reason)
        if self.first_token_ms is None:
            self.first_token_ms = ms_since(self.start)
        words = item.text
        if self._caveat_due and between_sentences(self.text, words):
            words = self._caveat() + words
        self.text += words
        return AnswerDelta(words)

    def _caveat(self) -> str:
        """The words that say the model is unsure: said once."""
        self._caveat_due = False
        return caveat(self.language)

    def _looping(self) -> bool:
        """Whether the answer now repeats itself: cut back to its first round if so."""
        cut = repetition.loop_end(self.text)
        if cut is None:
            return False
        self.text = self.text[:cut]
        self.reason = "; ".join(filter(None, (self.reason, REPEATING)))
        return True
