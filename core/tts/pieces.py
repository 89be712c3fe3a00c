"""An answer's text, as the model writes it, cut into the pieces a voice speaks one at a time.

Two rules decide the cuts, and both were chosen by measurement (`python -m bench.speaking`,
docs/performance.md):

- *When to start.* The first piece ends at the first natural phrase: a sentence end, a clause
  mark, or just before a word that opens a phrase ("and", "which", "of", "is"...), once it
  has FIRST_MIN_WORDS words. The listener waits meanwhile, so after FIRST_WAIT_S with no such
  phrase it takes whatever whole words there are.
- *How not to stall.* While the listener has more than URGENT_LEAD_S of audio ahead, a piece
  is a whole sentence (long ones cut at clauses), which a voice reads best. When less is
  ahead, the speaker takes the longest phrase already written instead of waiting for the
  sentence's end, and with under LOOSE_LEAD_S ahead, whatever whole words there are, so the
  next audio is ready before the last runs out.

Measured here (12 answers of the 1.5B model per rule, interleaved, quiet machine): the model
writes about 35 characters a second and Piper speaks 16, but the first pieces race the
voice, and each piece's synthesis takes the cores from the model. First audio after the first
token, p50 (p90), and answers with a gap over 0.3 s:

| rule | first audio | gaps |
| --- | --- | --- |
| whole sentences (before) | 2.04 s (3.37) | 1 of 12 (1.35 s) |
| 3 words at a phrase; phrases under 1.5 s ahead, any word under 0.4 s | 0.65 s (1.13) | 0 |
| 2 words at a phrase or any after 0.45 s; 1.5 s / 0.4 s | 0.46 s (0.56) | 0 |
| **2 words at a phrase or any after 0.3 s; 2.5 s / 0.6 s** (shipped) | 0.39 s (0.41) | 0 |

A phrase start still being written counts ("is" before it is known not to be "island"), and
a sentence that seems to end with the text so far is taken without waiting for the next token
(`SentenceBuffer.take_phrase`). Under a heavy load (4-6 other busy processes) every rule gave
1.1-1.5 s and gaps in 1-3 answers of 12: no rule can make a starved model write faster than
the voice speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from core.tts.text import SentenceBuffer

FIRST_MIN_WORDS = 2
# The first piece waits at most this long after the first text for a natural phrase; then it
# is whatever whole words there are ("According to the latest" rather than silence until
# "census,"): a cut inside a phrase is a short pause, a listener waiting is a long one.
FIRST_WAIT_S = 0.3
PHRASE_MIN_WORDS = 3
URGENT_LEAD_S = 2.5
# With less than this ahead, a later piece may end after any whole word: a cut in the middle
# of a phrase is heard as a short pause, a voice that runs dry as a long one.
LOOSE_LEAD_S = 0.6
# ... and may be this short: after a first piece of two words, a second of three could not
# be written and spoken before the first had played (gaps of 0.46-0.48 s on the real page).
LOOSE_MIN_WORDS = 2
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
        first_wait_s: float = FIRST_WAIT_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.first_min_words = first_min_words
        self.first_wait_s = first_wait_s
        self._clock = clock
        self._first_text: float | None = None  # when the answer's first text came
        self.phrase_min_words = phrase_min_words
        self.urgent_lead_s = urgent_lead_s
        self.loose_lead_s = loose_lead_s
        self._buffer = SentenceBuffer()
        self._ready: deque[str | None] = deque()
        self._changed = asyncio.Event()
        self._taken = 0  # pieces handed out

    def feed(self, delta: str) -> None:
        """More of the answer."""
        if self._first_text is None and delta.strip():
            self._first_text = self._clock()
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
        self._first_text = None
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
            if self._taken:
                loose = ahead_s < self.loose_lead_s
                words = min(words, LOOSE_MIN_WORDS) if loose else words
            else:  # the listener waits for the first words
                first = self._first_text
                loose = first is not None and self._clock() - first >= self.first_wait_s
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
