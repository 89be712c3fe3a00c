"""One piece of an answer spoken in the voice the user chose (`core/tts/spoken.py` speaks a
whole answer with it, on every channel)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from core.concurrency import run_blocking
from core.config import Settings, TTSProvider
from core.errors import AgentError
from core.tts.router import SpeechSynthesizer, join_pcm

logger = logging.getLogger(__name__)


def chosen_voice(choice: str | None, settings: Settings) -> TTSProvider:
    """The voice a user has chosen (`UserRecord.tts_provider`), else the server's default."""
    return TTSProvider(choice or settings.tts_provider)


@dataclass(frozen=True)
class SpokenPiece:
    """A piece of an answer as heard: 16-bit mono PCM, and why the chosen voice did not
    speak it, when it did not (to be noted on the turn, as REST notes it)."""

    pcm: bytes
    fallback: str | None = None


def piece_pcm(
    tts: SpeechSynthesizer,
    text: str,
    *,
    language: str,
    provider: TTSProvider,
    sample_rate: int,
) -> SpokenPiece:
    """One piece spoken at `sample_rate`, whichever voice spoke it. Blocking; raises the
    voice's `AgentError` when no voice could speak it."""
    chunks = list(tts.stream(text, language=language, provider=provider))
    return SpokenPiece(join_pcm(chunks, sample_rate), chunks[-1].fallback if chunks else None)


async def speak_piece(
    tts: SpeechSynthesizer,
    text: str,
    *,
    language: str,
    provider: TTSProvider,
    sample_rate: int,
    hold: threading.Event | None = None,
) -> SpokenPiece:
    """A piece of an answer (already `speakable`) spoken off the event loop (`piece_pcm`).
    While it is synthesised `hold` (if given) is cleared: the model pauses between tokens and
    the voice gets the cores, which the first piece wants. Speech is a bonus: a piece no
    voice could speak is silent (b""), the failure logged."""
    if hold is not None:
        hold.clear()
    try:
        return await run_blocking(
            lambda: piece_pcm(
                tts, text, language=language, provider=provider, sample_rate=sample_rate
            )
        )
    except AgentError as exc:
        logger.warning("Speaking a piece of the answer failed: %s", exc)
        return SpokenPiece(b"")
    finally:
        if hold is not None:
            hold.set()
