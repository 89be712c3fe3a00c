"""Text-to-speech: one streaming protocol, a backend per engine, chosen by the answer's language."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AudioChunk:
    """A piece of speech: 16-bit little-endian mono PCM at `sample_rate`."""

    pcm: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class TTS(Protocol):
    """Speak text; blocking, so callers drive it off the event loop.

    `synthesize` yields audio as soon as each sentence or clause is ready, so playback can
    start before the whole answer is spoken.
    """

    name: str
    is_local: bool

    @property
    def sample_rate(self) -> int:
        """The rate of the audio it speaks."""
        ...

    def supports(self, language: str) -> bool: ...

    def synthesize(self, text: str, *, language: str) -> Iterator[AudioChunk]: ...
