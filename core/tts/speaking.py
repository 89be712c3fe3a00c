"""Speaking an answer while it is still being written, the same way on every channel.

The live conversation (WebSocket, phone) and the browser page both feed the answer's text in
as the model streams it, speak each piece as soon as it is complete, in the voice the user
chose. The first piece is cut short, because it decides when the voice starts; the rest are
cut by sentence, as they are ahead of the speech anyway.
"""

from __future__ import annotations

from core.config import Settings, TTSProvider
from core.tts.router import SpeechSynthesizer, resample_pcm
from core.tts.text import CLAUSE_MIN_CHARS, MAX_PIECE_CHARS, SentenceBuffer

# The first piece may be cut at a comma after this many characters, and at a space after
# this many: "The capital of France is Paris." is one piece, a long first sentence is not.
FIRST_CLAUSE_CHARS = 16
FIRST_PIECE_MAX_CHARS = 48


def chosen_voice(choice: str | None, settings: Settings) -> TTSProvider:
    """The voice a user has chosen (`UserRecord.tts_provider`), else the server's default."""
    return TTSProvider(choice or settings.tts_provider)


class AnswerPieces:
    """An answer's text as it streams in, cut into the pieces to speak one at a time."""

    def __init__(self) -> None:
        self._buffer = self._first()

    @staticmethod
    def _first() -> SentenceBuffer:
        return SentenceBuffer(clause_min=FIRST_CLAUSE_CHARS, max_chars=FIRST_PIECE_MAX_CHARS)

    def feed(self, delta: str) -> list[str]:
        """The pieces this delta completed (often none)."""
        pieces = self._buffer.feed(delta)
        if pieces:
            self._buffer.set_limits(clause_min=CLAUSE_MIN_CHARS, max_chars=MAX_PIECE_CHARS)
        return pieces

    def flush(self) -> list[str]:
        """The answer is complete: whatever is left."""
        return self._buffer.flush()

    def restart(self) -> None:
        """The answer starts again (another model took over): forget the text so far."""
        self._buffer = self._first()


def piece_pcm(
    tts: SpeechSynthesizer,
    text: str,
    *,
    language: str,
    provider: TTSProvider,
    sample_rate: int,
) -> bytes:
    """One piece spoken as 16-bit mono PCM at `sample_rate`, whichever voice spoke it.
    Blocking; raises the voice's `AgentError` when no voice could speak it."""
    return b"".join(
        c.pcm if c.sample_rate == sample_rate else resample_pcm(c.pcm, c.sample_rate, sample_rate)
        for c in tts.synthesize(text, language=language, provider=provider)
    )
