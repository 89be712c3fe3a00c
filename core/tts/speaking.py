"""Speaking an answer while it is still being written, the same way on every channel.

The live conversation (WebSocket, phone) and the browser page both feed the answer's text in
as the model streams it, speak each piece as soon as it is complete, in the voice the user
chose. The first piece is cut short, because it decides when the voice starts; the rest are
cut by sentence, as they are ahead of the speech anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from core.concurrency import run_blocking
from core.config import Settings, TTSProvider
from core.errors import AgentError
from core.tts.router import SpeechSynthesizer, join_pcm
from core.tts.text import CLAUSE_MIN_CHARS, MAX_PIECE_CHARS, SentenceBuffer

logger = logging.getLogger(__name__)

# The first piece may be cut at a comma after this many characters, and at a space after
# this many: "The capital of France is Paris." is one piece, a long first sentence is not.
FIRST_CLAUSE_CHARS = 16
FIRST_PIECE_MAX_CHARS = 48


def chosen_voice(choice: str | None, settings: Settings) -> TTSProvider:
    """The voice a user has chosen (`UserRecord.tts_provider`), else the server's default."""
    return TTSProvider(choice or settings.tts_provider)


class AnswerPieces:
    """An answer's text as it streams in, cut into the pieces to speak one at a time. They
    wait in `queue` for the voice, and a None follows the last one."""

    def __init__(self) -> None:
        self._buffer = self._first()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    @staticmethod
    def _first() -> SentenceBuffer:
        return SentenceBuffer(clause_min=FIRST_CLAUSE_CHARS, max_chars=FIRST_PIECE_MAX_CHARS)

    def feed(self, delta: str) -> None:
        """More of the answer: queue the pieces it completed (often none)."""
        pieces = self._buffer.feed(delta)
        if pieces:
            self._buffer.set_limits(clause_min=CLAUSE_MIN_CHARS, max_chars=MAX_PIECE_CHARS)
        for piece in pieces:
            self.queue.put_nowait(piece)

    def interject(self, line: str) -> None:
        """Say `line` now, between the answer's pieces (a filler while a tool runs): what
        the answer said so far goes first."""
        for piece in [*self._buffer.flush(), line]:
            self.queue.put_nowait(piece)

    def restart(self) -> None:
        """The answer starts again (another model took over): forget the text so far, and
        the broken answer's pieces not spoken yet."""
        self._buffer = self._first()
        while not self.queue.empty():
            self.queue.get_nowait()

    def finish(self) -> None:
        """The answer is complete: queue whatever is left, then the None."""
        for piece in self._buffer.flush():
            self.queue.put_nowait(piece)
        self.queue.put_nowait(None)


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
