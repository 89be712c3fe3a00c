"""Cloud speech-to-text with Groq's Whisper through the official `groq` SDK."""

from __future__ import annotations

import io
import logging
import wave

import numpy as np

from core.audio import SAMPLE_RATE, DecodedAudio
from core.errors import ProviderError
from core.stt import Transcript

logger = logging.getLogger(__name__)


def to_wav(audio: DecodedAudio) -> bytes:
    """Encode decoded samples as a 16-bit mono WAV, the smallest lossless upload Groq accepts."""
    pcm = (np.clip(audio.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return buf.getvalue()


class GroqSTT:
    """`whisper-large-v3-turbo` (configurable) over Groq's OpenAI-compatible audio endpoint."""

    is_local = False

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, timeout: float = 8.0
    ) -> None:
        try:
            import groq
        except ImportError as exc:  # pragma: no cover - dependency hint
            raise ImportError("Install the Groq SDK: pip install groq") from exc
        self.name = f"groq:{model}"
        self.model = model
        self.client = groq.Groq(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        import groq

        try:
            result = self.client.audio.transcriptions.create(
                file=("audio.wav", to_wav(audio)),
                model=self.model,
                response_format="verbose_json",
                language=language or groq.omit,
            )
        except groq.GroqError as exc:
            raise ProviderError(f"Groq transcription failed: {type(exc).__name__}: {exc}") from exc
        text = (getattr(result, "text", "") or "").strip()
        detected = getattr(result, "language", None) or language or ""
        return Transcript(
            text=text,
            language=_language_code(detected),
            duration=audio.duration,
            provider=self.name,
        )


_NAMES = {
    "english": "en",
    "french": "fr",
    "spanish": "es",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "arabic": "ar",
    "hindi": "hi",
    "korean": "ko",
    "polish": "pl",
    "turkish": "tr",
}


def _language_code(value: str) -> str:
    """Groq's verbose_json names the language in English ("french"); the core uses ISO codes."""
    value = value.strip().lower()
    return _NAMES.get(value, value[:2] if len(value) > 2 else value)
