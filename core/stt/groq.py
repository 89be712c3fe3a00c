"""Cloud speech-to-text with Groq's Whisper through the official `groq` SDK."""

from __future__ import annotations

import logging

from core.audio import DecodedAudio
from core.concurrency import FairLock
from core.errors import ProviderError
from core.groq_client import GroqBreaker, make_client
from core.sdk_errors import provider_error
from core.stt import Transcript

logger = logging.getLogger(__name__)


class GroqSTT:
    """`whisper-large-v3-turbo` (configurable) over Groq's OpenAI-compatible audio endpoint."""

    is_local = False
    lock: FairLock | None = None  # calls run side by side, on the vendor's machines

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 8.0,
        breaker: GroqBreaker | None = None,
    ) -> None:
        self.name = f"groq:{model}"
        self.model = model
        self.breaker = breaker
        self.client = make_client(api_key=api_key, base_url=base_url, timeout=timeout)

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        import groq

        if self.breaker is not None:
            try:
                self.breaker.check(self.name)
            except ProviderError as exc:
                raise ProviderError(f"Groq transcription {exc}") from exc
        try:
            result = self.client.audio.transcriptions.create(
                file=("audio.wav", audio.to_wav()),
                model=self.model,
                response_format="verbose_json",
                language=language or groq.omit,
            )
        except groq.GroqError as exc:
            if self.breaker is not None:
                self.breaker.failed(self.name, exc)
            raise provider_error(exc, groq, service="Groq", call="transcription") from exc
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
