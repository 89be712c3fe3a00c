"""What a real-time conversation tells its channel: one frozen dataclass per event, each
named (`type`) as the WebSocket protocol calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Ready:
    type: ClassVar[str] = "ready"
    session_id: str
    input_sample_rate: int
    output_sample_rate: int


@dataclass(frozen=True)
class SpeechStarted:
    type: ClassVar[str] = "speech_started"
    at_ms: int  # audio time since the conversation started


@dataclass(frozen=True)
class SpeechStopped:
    type: ClassVar[str] = "speech_stopped"
    at_ms: int


@dataclass(frozen=True)
class TranscriptEvent:
    type: ClassVar[str] = "transcript"
    text: str
    final: bool
    language: str


@dataclass(frozen=True)
class Queued:
    """The models are busy with other conversations: this turn waits behind `position` others."""

    type: ClassVar[str] = "queued"
    position: int


@dataclass(frozen=True)
class AnswerText:
    type: ClassVar[str] = "answer"
    delta: str


@dataclass(frozen=True)
class AnswerRestarted:
    """The cloud model broke off mid-answer and the local one starts over: drop the answer's
    text so far (audio already sent has been heard; no more of the broken answer follows)."""

    type: ClassVar[str] = "answer_restart"
    reason: str


@dataclass(frozen=True)
class AudioStart:
    type: ClassVar[str] = "audio_start"
    turn_id: int
    sample_rate: int


@dataclass(frozen=True)
class AudioOut:
    """Spoken answer: 16-bit little-endian mono PCM at the `AudioStart`'s rate."""

    type: ClassVar[str] = "audio"  # never sent as JSON: the WebSocket sends it as binary
    pcm: bytes


@dataclass(frozen=True)
class AudioEnd:
    type: ClassVar[str] = "audio_end"
    turn_id: int


@dataclass(frozen=True)
class Interrupted:
    type: ClassVar[str] = "interrupted"
    turn_id: int
    heard_text: str
    heard_ms: int


@dataclass(frozen=True)
class Resumed:
    """The user went on speaking before any of the answer was heard: the turn is withdrawn
    (its transcript and answer text so far are void, nothing was spoken) and what was said
    before the pause opens the utterance now under way, whose transcript covers both."""

    type: ClassVar[str] = "resumed"
    at_ms: int


@dataclass(frozen=True)
class TurnTimings:
    """Milliseconds from the end of the user's speech (the last voiced audio) to each stage."""

    transcript_ms: float | None
    first_token_ms: float | None
    first_audio_ms: float | None
    stt_ms: float | None


@dataclass(frozen=True)
class TurnComplete:
    type: ClassVar[str] = "turn"
    turn_id: int
    session_id: str
    user_text: str
    answer: str
    language: str
    interrupted: bool
    timings: TurnTimings


@dataclass(frozen=True)
class ToolUsed:
    """The agent called a tool (`result` None) or got its result back."""

    type: ClassVar[str] = "tool"
    name: str
    arguments: dict[str, Any]
    result: Any = None
    ok: bool | None = None  # None while it runs


@dataclass(frozen=True)
class Ending:
    """The conversation is over: the user said goodbye ("end"), was handed to a person
    ("transfer", with the number), or stayed silent ("idle"). Its last words have played;
    the channel hangs up, transfers, or closes."""

    type: ClassVar[str] = "end"
    reason: str
    transfer_to: str | None = None


@dataclass(frozen=True)
class ErrorEvent:
    type: ClassVar[str] = "error"
    message: str
    fatal: bool = False


Event = (
    Ready
    | SpeechStarted
    | SpeechStopped
    | TranscriptEvent
    | Queued
    | AnswerText
    | AnswerRestarted
    | AudioStart
    | AudioOut
    | AudioEnd
    | Interrupted
    | Resumed
    | TurnComplete
    | ToolUsed
    | Ending
    | ErrorEvent
)
