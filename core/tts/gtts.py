"""Google Translate's voices through the `gtts` package: MP3 from the cloud, decoded to PCM."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from core.audio import decode_pcm16
from core.errors import AgentError, ProviderError
from core.tts import AudioChunk
from core.tts.text import split_sentences

logger = logging.getLogger(__name__)

GOOGLE_URL = "https://translate.google.com"
# ISO 639-1 codes that Google Translate knows by an older name.
ALIASES = {"he": "iw"}
# How the batchexecute answer carries the MP3 (the same pattern gTTS 2.2.4 reads).
_AUDIO = re.compile(r'jQ1olc","\[\\"(.*)\\"]')
# One piece is at most a few sentences; anything longer is not speech of that piece.
_MAX_PIECE_SECONDS = 120.0


def _client_class() -> type[Any]:
    try:
        from gtts import gTTS
    except ImportError as exc:  # pragma: no cover - dependency hint
        raise ImportError("Install gTTS: pip install gTTS==2.2.4") from exc

    class Client(gTTS):
        """gTTS building its requests as usual, sent to `base_url` with a timeout.

        gTTS 2.2.4 always posts to https://translate.google.<tld>, without a timeout and with
        TLS verification switched off; this sends the very same requests to a configurable
        host, verifying certificates and giving up after `timeout` seconds.
        """

        def __init__(self, text: str, *, lang: str, base_url: str, timeout: float) -> None:
            super().__init__(text, lang=lang, lang_check=False)
            self.base_url = base_url.rstrip("/")
            self.timeout = timeout

        def stream(self) -> Iterator[bytes]:
            import requests

            for prepared in self._prepare_requests():
                path = urlsplit(prepared.url).path
                prepared.prepare_url(f"{self.base_url}{path}", None)
                try:
                    with requests.Session() as session:
                        response = session.send(prepared, timeout=self.timeout)
                        response.raise_for_status()
                        lines = [line.decode("utf-8") for line in response.iter_lines()]
                except requests.RequestException as exc:
                    raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
                found = [m.group(1) for line in lines if (m := _AUDIO.search(line))]
                if not found:
                    raise ProviderError("no audio in Google's answer")
                for encoded in found:
                    yield base64.b64decode(encoded)

    return Client


class GTTS:
    """Google's voices (many languages, natural sounding); needs the internet, so the caller
    falls back to a local voice when it fails."""

    is_local = False
    name = "gtts:google-translate"

    def __init__(
        self, *, base_url: str = GOOGLE_URL, timeout: float = 5.0, sample_rate: int = 22_050
    ) -> None:
        from gtts.lang import tts_langs

        self._client = _client_class()
        self._languages = frozenset(tts_langs())
        self.base_url = base_url
        self.timeout = timeout
        self.sample_rate = sample_rate  # MP3 is resampled to this, to match the local voices

    def _lang(self, language: str) -> str | None:
        for candidate in (language, language.split("-")[0].lower()):
            candidate = ALIASES.get(candidate, candidate)
            if candidate in self._languages:
                return candidate
        return None

    def supports(self, language: str) -> bool:
        return self._lang(language) is not None

    def synthesize(self, text: str, *, language: str) -> Iterator[AudioChunk]:
        """Yield one chunk of speech per sentence (or clause of a long sentence) of `text`."""
        lang = self._lang(language)
        if lang is None:
            raise ProviderError(f"gTTS does not speak language '{language}'.")
        for piece in split_sentences(text):
            yield AudioChunk(pcm=self._speak(piece, lang), sample_rate=self.sample_rate)

    def _speak(self, piece: str, lang: str) -> bytes:
        try:
            client = self._client(piece, lang=lang, base_url=self.base_url, timeout=self.timeout)
            # gTTS sends a long piece as several requests, each answered with its own MP3.
            return b"".join(
                decode_pcm16(mp3, rate=self.sample_rate, max_seconds=_MAX_PIECE_SECONDS)
                for mp3 in client.stream()
            )
        except ProviderError:
            raise
        except AgentError as exc:  # the MP3 would not decode
            raise ProviderError(f"unusable audio from Google: {exc}") from exc
        except Exception as exc:  # gTTS asserts on text it cannot tokenise, among others
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
