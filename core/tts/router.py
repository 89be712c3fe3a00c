"""Pick a voice by language and user choice; a local voice takes over when the cloud fails."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from core.audio import pcm16_wav
from core.config import TTSProvider
from core.errors import InvalidInputError, ProviderError
from core.tts import TTS, AudioChunk
from core.tts.text import speakable, split_sentences

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechChunk:
    """A piece of speech, who spoke it, and why that is not the voice asked for (if not)."""

    audio: AudioChunk
    provider: str
    fallback: str | None


class Speech(NamedTuple):
    """A whole text spoken: WAV bytes, the voice that finished it, and any fallback reason."""

    wav: bytes
    provider: str
    fallback: str | None


@dataclass(frozen=True)
class VoicePlan:
    """The voice to start with, the local voice that takes over if it fails, and why the
    voice asked for is not used at all (disabled, no such language), when it is not."""

    primary: TTS
    backup: TTS | None
    note: str | None


def plan_voice(
    language: str, requested: TTSProvider, *, english: TTS, other: TTS, cloud: TTS | None
) -> VoicePlan:
    """Pure selection: Piper for English, eSpeak NG for the rest, the English voice as a last
    resort; Google's voice first when asked for, enabled and able to speak the language."""
    if english.supports(language):
        local, local_note = english, None
    elif other.supports(language):
        local, local_note = other, None
    else:
        local, local_note = english, f"no voice for '{language}'; spoken by {english.name}"
    if requested is not TTSProvider.GTTS:
        return VoicePlan(local, None, local_note)
    if cloud is None:
        return VoicePlan(
            local, None, f"gTTS is disabled (GTTS_ENABLED=false); spoken by {local.name}"
        )
    if not cloud.supports(language):
        return VoicePlan(
            local, None, f"{cloud.name} has no '{language}' voice; spoken by {local.name}"
        )
    return VoicePlan(cloud, local, None)


def resample_pcm(pcm: bytes, source: int, target: int) -> bytes:
    """Linear resampling of PCM16; only needed if voices ever disagree on their rate."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    count = int(round(len(samples) * target / source))
    positions = np.linspace(0, len(samples) - 1, num=count) if count else np.zeros(0)
    return np.interp(positions, np.arange(len(samples)), samples).astype("<i2").tobytes()


@dataclass(frozen=True)
class SpeechSynthesizer:
    """Every voice of the server: Piper (English), eSpeak NG (other languages) and, when
    enabled, gTTS. Blocking: run it off the event loop."""

    english: TTS
    other: TTS
    cloud: TTS | None = None

    # It is a `TTS` itself: one that speaks every language, routing each to a voice.
    name: ClassVar[str] = "voices"

    @property
    def is_local(self) -> bool:
        return self.cloud is None

    @property
    def sample_rate(self) -> int:
        """The live channels' rate: the English voice's; the other voices are resampled."""
        return self.english.sample_rate

    def supports(self, language: str) -> bool:
        return True  # the English voice is the last resort

    def synthesize(
        self, text: str, *, language: str, provider: TTSProvider = TTSProvider.LOCAL
    ) -> Iterator[AudioChunk]:
        """The audio of `stream`, without who spoke it."""
        for chunk in self.stream(text, language=language, provider=provider):
            yield chunk.audio

    def plan(self, language: str, provider: TTSProvider = TTSProvider.LOCAL) -> VoicePlan:
        return plan_voice(
            language, provider, english=self.english, other=self.other, cloud=self.cloud
        )

    def stream(
        self, text: str, *, language: str, provider: TTSProvider = TTSProvider.LOCAL
    ) -> Iterator[SpeechChunk]:
        """Speak `text` piece by piece (sentences, clauses of long ones) as each is ready."""
        return self.stream_pieces(
            split_sentences(speakable(text)), language=language, provider=provider
        )

    def stream_pieces(
        self, pieces: Iterable[str], *, language: str, provider: TTSProvider = TTSProvider.LOCAL
    ) -> Iterator[SpeechChunk]:
        """Speak pieces as they come (for instance from a `SentenceBuffer` fed by a model's
        token stream). If the cloud voice fails, the local one speaks the rest: a failed
        cloud is not tried again for the later pieces of the same stream."""
        plan = self.plan(language, provider)
        voice, reason = plan.primary, plan.note
        for piece in pieces:
            if plan.backup is not None and voice is plan.primary:
                try:
                    chunks = list(voice.synthesize(piece, language=language))
                except ProviderError as exc:
                    voice = plan.backup
                    reason = f"{plan.primary.name} failed ({exc}); served by {voice.name}"
                    logger.warning("Text-to-speech fallback: %s", reason)
                else:
                    for chunk in chunks:
                        yield SpeechChunk(chunk, plan.primary.name, reason)
                    continue
            for chunk in voice.synthesize(piece, language=language):
                yield SpeechChunk(chunk, voice.name, reason)

    def speak_to_wav(
        self, text: str, language: str, provider: TTSProvider = TTSProvider.LOCAL
    ) -> Speech:
        """The whole of `text` as one WAV file, with who spoke it and any fallback reason."""
        return to_wav(list(self.stream(text, language=language, provider=provider)))


def to_wav(chunks: list[SpeechChunk]) -> Speech:
    """Join streamed speech into one WAV file at the first chunk's rate; the voice and the
    fallback reason are those of the last chunk (the voice that finished)."""
    if not chunks:
        raise InvalidInputError("There is nothing to speak in this text.")
    rate = chunks[0].audio.sample_rate
    return Speech(pcm16_wav(join_pcm(chunks, rate), rate), chunks[-1].provider, chunks[-1].fallback)


def join_pcm(chunks: list[SpeechChunk], rate: int) -> bytes:
    """Streamed speech as one run of 16-bit mono PCM at `rate`, resampled where it is not."""
    return b"".join(
        c.audio.pcm
        if c.audio.sample_rate == rate
        else resample_pcm(c.audio.pcm, c.audio.sample_rate, rate)
        for c in chunks
    )
