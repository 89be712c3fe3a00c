"""An answer's text, as the model writes it, cut into the pieces a voice speaks one at a time.

Two rules decide the cuts, and both were chosen by measurement (`python -m bench.speaking`,
docs/performance.md):

- *When to start.* The first piece ends at the first natural phrase: a sentence end, a clause
  mark, or just before a word that opens a phrase ("and", "which", "of", "is"...), once it
  has FIRST_MIN_WORDS words. The voice no longer waits for a first full stop.
- *How not to stall.* While the listener has more than URGENT_LEAD_S of audio ahead, a piece
  is a whole sentence (long ones cut at clauses), which a voice reads best. When less is
  ahead, the speaker takes the longest phrase already written instead of waiting for the
  sentence's end, and with under LOOSE_LEAD_S ahead, whatever whole words there are, so the
  next audio is ready before the last runs out.

Measured here (12 answers of the 1.5B model per rule, interleaved, quiet machine): the model
writes 35.6 characters a second and Piper speaks 15.8, but the first pieces race the voice,
and each piece's synthesis takes the cores from the model. Waiting for sentences: first
audio 1.94 s after the first token, 1 answer in 12 with a gap (1.09 s). Three words, then
phrases under 1.5 s ahead and any word under 0.4 s: 0.64 s, no gap (the rule shipped). Two
words, then phrases under 2.5 s ahead and any word under 0.6 s: 0.62 s, no gap; with phrases
only under 1.5 s ahead, a 0.69 s gap. The two-word rule ties in that bench, but on the real
page (`python -m bench.browser --scenarios hands-free`, same machine, back to back) it gave
2.38-2.43 s from the end of speech to audio playing against 2.14 s for three words, and it
cuts speech into choppier pieces: three words it is. Under a heavy load (4-6 other busy
processes) the rules gave 1.1-1.5 s and gaps in 1-3 answers of 12: no rule can make a
starved model write faster than the voice speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from core.tts.text import SentenceBuffer

FIRST_MIN_WORDS = 3
PHRASE_MIN_WORDS = 3
URGENT_LEAD_S = 1.5
# With less than this ahead, a later piece may end after any whole word: a cut in the middle
# of a phrase is heard as a short pause, a voice that runs dry as a long one.
LOOSE_LEAD_S = 0.4
# How often a waiting speaker looks at the lead again when no text comes.
TICK_S = 0.05


class AnswerPieces:
    """The answer's text as it streams in; `next` hands the speaker its next piece."""

    def __init__(
        self,
        *,
        first_min_words: int = FIRST_MIN_WORDS,
        phrase_min_words: int = PHRASE_MIN_WORDS,
        urgent_lead_s: float = URGENT_LEAD_S,
        loose_lead_s: float = LOOSE_LEAD_S,
    ) -> None:
        self.first_min_words = first_min_words
        self.phrase_min_words = phrase_min_words
        self.urgent_lead_s = urgent_lead_s
        self.loose_lead_s = loose_lead_s
        self._buffer = SentenceBuffer()
        self._ready: deque[str | None] = deque()
        self._changed = asyncio.Event()
        self._taken = 0  # pieces handed out

    def feed(self, delta: str) -> None:
        """More of the answer."""
        self._ready.extend(self._buffer.feed(delta))
        self._changed.set()

    def interject(self, line: str) -> None:
        """Say `line` next, between the answer's pieces (a filler while a tool runs): what
        the answer said so far goes first."""
        self._ready.extend([*self._buffer.flush(), line])
        self._changed.set()

    def restart(self) -> None:
        """The answer starts again (another model took over): forget the text so far, and
        the broken answer's pieces not spoken yet."""
        self._buffer = SentenceBuffer()
        self._ready.clear()
        self._taken = 0
        self._changed.set()

    def finish(self) -> None:
        """The answer is complete: what is left, then the end (None from `next`)."""
        self._ready.extend([*self._buffer.flush(), None])
        self._changed.set()

    def take(self, ahead_s: float) -> tuple[bool, str | None]:
        """The next piece now, if there is one, with `ahead_s` of audio ahead of the
        listener: (True, piece), (True, None) at the end, or (False, None) to wait."""
        if self._ready:
            piece = self._ready.popleft()
        elif ahead_s < self.urgent_lead_s:
            words = self.phrase_min_words if self._taken else self.first_min_words
            loose = self._taken > 0 and ahead_s < self.loose_lead_s  # the first starts, no gap
            piece = self._buffer.take_phrase(min_words=words, any_word=loose)
            if piece is None:
                return False, None
        else:
            return False, None
        self._taken += piece is not None
        return True, piece

    async def next(self, ahead: Callable[[], float]) -> str | None:
        """Wait for the next piece to speak, given how much audio the listener has `ahead`
        (seconds); None once the answer is over."""
        while True:
            found, piece = self.take(ahead())
            if found:
                return piece
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), TICK_S)
