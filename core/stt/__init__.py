"""Speech-to-text: one protocol, a backend per vendor, and a factory keyed by settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.audio import DecodedAudio
from core.concurrency import FairLock


@dataclass(frozen=True)
class Transcript:
    """What a speech-to-text backend heard."""

    text: str
    language: str  # ISO 639-1 code
    duration: float  # seconds of audio
    provider: str  # e.g. "local:whisper-base"
    fallback: str | None = None  # why the primary provider was bypassed, when it was


class STT(Protocol):
    """Transcribe decoded audio; blocking, so callers run it off the event loop."""

    name: str
    is_local: bool

    @property
    def lock(self) -> FairLock | None:
        """One call at a time, in arrival order, behind this lock (`core.concurrency`)."""
        ...

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript: ...
