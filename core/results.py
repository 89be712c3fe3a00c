"""What the agent gives back: a stored transcription, a finished turn, and the events of an
answer as it streams."""

from __future__ import annotations

from dataclasses import dataclass

from core.history import AnswerTimings, TurnRecord
from core.tools import Action, ToolCall, ToolResult


@dataclass(frozen=True)
class TranscriptionResult:
    """A transcribed recording, stored as the session's next (not yet answered) user turn."""

    session_id: str | None  # None when no speech was heard and no session was named
    turn_id: int | None  # None when no speech was heard (nothing stored)
    text: str
    language: str
    duration: float
    provider: str
    stt_ms: float
    fallback: str | None


@dataclass(frozen=True)
class TurnResult:
    """A finished turn, as stored."""

    session_id: str
    turn_id: int
    user_text: str
    answer: str
    language: str
    personality: str
    provider: str
    fallback: str | None
    timings: AnswerTimings  # as stored: the record's
    tool_calls: tuple[ToolResult, ...] = ()
    action: Action | None = None  # what the channel does after this answer (hang up, transfer)


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class AnswerRestart:
    """The cloud model failed mid-answer; the local one starts over, so drop the text so far."""

    reason: str


@dataclass(frozen=True)
class TurnStarted:
    session_id: str
    turn_id: int
    language: str
    personality: str


@dataclass(frozen=True)
class ToolStarted:
    """The model called a tool; its result follows (a channel may say a filler meanwhile)."""

    call: ToolCall
    filler: bool  # a live channel may say a filler if it runs long (not while the user types)


@dataclass(frozen=True)
class ToolFinished:
    result: ToolResult


@dataclass(frozen=True)
class TurnDone:
    result: TurnResult


AgentEvent = TurnStarted | AnswerDelta | AnswerRestart | ToolStarted | ToolFinished | TurnDone


def turn_result(record: TurnRecord, provider: str, personality: str) -> TurnResult:
    """A stored turn as the finished turn an answer gives back."""
    return TurnResult(
        session_id=record.session_id,
        turn_id=record.id,
        user_text=record.user_text,
        answer=record.answer or "",
        language=record.language,
        personality=personality,
        provider=provider,
        fallback=record.fallback,
        timings=record.timings,
    )
