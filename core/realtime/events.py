"""What a real-time conversation tells its channel: one frozen dataclass per event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ready:
    session_id: str
    input_sample_rate: int
    output_sample_rate: int


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int  # audio time since the conversation started


@dataclass(frozen=True)
class SpeechStopped:
    at_ms: int


@dataclass(frozen=True)
class TranscriptEvent:
    text: str
    final: bool
    language: str


@dataclass(frozen=True)
class Queued:
    """The models are busy with other conversations: this turn waits behind `position` others."""

    position: int


@dataclass(frozen=True)
class AnswerText:
    delta: str


@dataclass(frozen=True)
class AnswerRestart:
    """The cloud model broke off mid-answer and the local one starts over: drop the answer's
    text so far (audio already sent has been heard; no more of the broken answer follows)."""

    reason: str


@dataclass(frozen=True)
class AudioStart:
    turn_id: int
    sample_rate: int


@dataclass(frozen=True)
class AudioOut:
    """Spoken answer: 16-bit little-endian mono PCM at the `AudioStart`'s rate."""

    pcm: bytes


@dataclass(frozen=True)
class AudioEnd:
    turn_id: int


@dataclass(frozen=True)
class Interrupted:
    turn_id: int
    heard_text: str
    heard_ms: int


@dataclass(frozen=True)
class Resumed:
    """The user went on speaking before any of the answer was heard: the turn is withdrawn
    (its transcript and answer text so far are void, nothing was spoken) and what was said
    before the pause opens the utterance now under way, whose transcript covers both."""

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
    turn_id: int
    session_id: str
    user_text: str
    answer: str
    language: str
    interrupted: bool
    timings: TurnTimings


@dataclass(frozen=True)
class ErrorEvent:
    message: str
    fatal: bool = False


Event = (
    Ready
    | SpeechStarted
    | SpeechStopped
    | TranscriptEvent
    | Queued
    | AnswerText
    | AnswerRestart
    | AudioStart
    | AudioOut
    | AudioEnd
    | Interrupted
    | Resumed
    | TurnComplete
    | ErrorEvent
)
