"""Frozen views of stored rows, safe to pass around after the database session closes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

R = TypeVar("R")


def from_row(cls: type[R], row: object, **extra: object) -> R:
    """The record `cls` of a stored row: each of its fields read from the row's attribute of
    the same name (one name from the table on), but those given in `extra`."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = {n: getattr(row, n) for n in names if n not in extra}
    return cls(**values, **extra)


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    personality: str | None
    custom_prompt: str | None
    language: str
    created_at: datetime
    public_id: str  # what tokens name the account by: random, never reused
    token_version: int  # tokens carrying an older one are refused
    tts_provider: str | None = None  # None: the server's TTS_PROVIDER
    time_zone: str | None = None  # None: the server's TIME_ZONE


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user_id: int
    title: str | None
    channel: str
    personality: str | None
    custom_prompt: str | None
    language: str | None
    created_at: datetime
    updated_at: datetime
    turn_count: int = 0


@dataclass(frozen=True)
class AnswerTimings:
    """The agent's own figures for a turn, in ms: the transcription, and from the start of the
    answer to its first token and to its end."""

    stt_ms: float | None
    llm_first_token_ms: float | None
    total_ms: float | None


@dataclass(frozen=True)
class RealtimeTimings:
    """A turn's stages in ms from the end of the user's speech: a live turn's (the engine times
    it), or one said or typed on the browser page (from its press of Stop or Send)."""

    transcript_ms: float | None
    first_token_ms: float | None
    first_audio_ms: float | None


@dataclass(frozen=True)
class TurnRecord:
    id: int
    session_id: str
    source: str
    user_text: str
    language: str
    personality: str | None
    answer: str | None
    status: str
    stt_provider: str | None
    llm_provider: str | None
    fallback: str | None
    audio_seconds: float | None
    stt_ms: float | None
    llm_first_token_ms: float | None
    total_ms: float | None
    interrupted: bool
    created_at: datetime
    answered_at: datetime | None
    # From the end of the user's speech, not from the start of the answer (`realtime`)
    transcript_ms: float | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    tool_calls: list[dict[str, Any]] | None = None  # what `core.tools.ToolResult.as_record` says

    @property
    def timings(self) -> AnswerTimings:
        """The agent's own figures, grouped."""
        return AnswerTimings(self.stt_ms, self.llm_first_token_ms, self.total_ms)

    @property
    def realtime(self) -> RealtimeTimings | None:
        """None for a turn not timed from the end of speech. A first audio alone does not
        make one: the page's player may report it before the answer's other figures are in."""
        if self.transcript_ms is None and self.first_token_ms is None:
            return None
        return RealtimeTimings(self.transcript_ms, self.first_token_ms, self.first_audio_ms)


@dataclass(frozen=True)
class CallRecord:
    """What the app knows of a phone call: never the number, only its keyed hash."""

    call_sid: str
    caller_id: str  # keyed hash of the number, or "anonymous"
    session_id: str | None
    status: str
    duration_s: int | None
    stream_sid: str | None
    created_at: datetime
    updated_at: datetime
    ending: str | None = None  # how the agent ended the stream: end, transfer or idle
    user_id: int | None = None  # whose call it is; kept when its session is deleted
