"""Frozen views of stored rows, safe to pass around after the database session closes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    personality: str | None
    custom_prompt: str | None
    language: str
    created_at: datetime
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
    eos_transcript_ms: float | None = None
    eos_first_token_ms: float | None = None
    eos_first_audio_ms: float | None = None
    tool_calls: list[dict[str, Any]] | None = None  # what `core.tools.ToolResult.as_record` says


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
