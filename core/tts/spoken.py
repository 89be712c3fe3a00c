"""An answer spoken while it is written: the one speaking path of every channel.

The browser page (press-to-talk and typed turns) and the live conversation (WebSocket,
hands-free page, phone) both pass the agent's events through `SpokenAnswer.relay`: the text
is cut into pieces (`AnswerPieces`, with its rules for when to start and how not to stall),
each piece is spoken in the user's voice as soon as it is cut, and its audio is handed to
the channel's `send`, which plays or paces it. The timings (first token, first audio) and the
note of a voice that failed are taken here, the same way for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from core.config import TTSProvider
from core.results import AgentEvent, AnswerDelta, AnswerRestart, TurnStarted
from core.tts.pieces import AnswerPieces
from core.tts.router import SpeechSynthesizer
from core.tts.speaking import speak_piece
from core.tts.text import speakable

# With less audio than this ahead of the listener, a piece is synthesised with the model
# held, as the first is: the voice gets both cores and is ready before the last runs out.
HOLD_LEAD_S = 1.0

# What a channel does with each spoken piece: (its text, 16-bit mono PCM at the voice's rate).
Send = Callable[[str, bytes], None]


def ms_between(start: float | None, end: float | None) -> float | None:
    """Milliseconds from one perf_counter() reading to a later one, if both were taken."""
    return None if start is None or end is None else round((end - start) * 1000, 1)


@dataclass
class AnswerVoice:
    """Speaks pieces of text one after the other and keeps the timeline of what it sent."""

    tts: SpeechSynthesizer
    language: str
    provider: TTSProvider
    sample_rate: int
    send: Send
    # Cleared while the first piece is synthesised (and any piece that the listener is about
    # to wait for): the model pauses between tokens and the voice gets both cores.
    hold: threading.Event | None = None
    first_audio: float | None = None  # perf_counter() when the first audio was handed over
    started: float | None = None  # when the audio handed over since the last run-out began
    sent_s: float = 0.0  # seconds of audio handed over since `started`
    fallback: str | None = None  # why the chosen voice did not speak (some of) it

    def ahead(self) -> float:
        """Seconds of audio handed over that have not played yet, by the clock."""
        if self.started is None:
            return 0.0
        return max(0.0, self.sent_s - (time.perf_counter() - self.started))

    async def run(self, pieces: AnswerPieces) -> None:
        """Speak each piece as `pieces` hands it out, until the answer is over."""
        while (piece := await pieces.next(self.ahead)) is not None:
            await self.speak(piece)

    async def speak(self, piece: str) -> None:
        text = speakable(piece)
        if not text.strip():
            return
        spoken = await speak_piece(
            self.tts,
            text,
            language=self.language,
            provider=self.provider,
            sample_rate=self.sample_rate,
            hold=self.hold if self.started is None or self.ahead() < HOLD_LEAD_S else None,
        )
        self.fallback = spoken.fallback or self.fallback
        if not spoken.pcm:
            return
        now = time.perf_counter()
        self.first_audio = self.first_audio or now
        if self.started is None or self.ahead() <= 0:
            # The first audio, or the listener ran out: the timeline starts from now.
            self.started, self.sent_s = now, 0.0
        self.sent_s += len(spoken.pcm) / 2 / self.sample_rate
        self.send(text, spoken.pcm)


class SpokenAnswer:
    """One answer: the agent's events passed through `relay`, its text spoken meanwhile."""

    def __init__(
        self,
        tts: SpeechSynthesizer | None,
        *,
        provider: TTSProvider,
        sample_rate: int,
        send: Send,
        note_fallback: Callable[[int, str], Awaitable[None]],
        pieces: AnswerPieces | None = None,
    ) -> None:
        self.tts = tts
        self.provider = provider
        self.sample_rate = sample_rate
        self.send = send
        self.note_fallback = note_fallback
        self.pieces = pieces or AnswerPieces()
        self.hold = threading.Event()
        self.hold.set()
        self.turn: TurnStarted | None = None
        self.voice: AnswerVoice | None = None
        self.first_token: float | None = None  # perf_counter() of the first token
        self._speaking: asyncio.Task[None] | None = None

    @property
    def first_audio(self) -> float | None:
        """perf_counter() when the first audio was handed to the channel."""
        return self.voice.first_audio if self.voice else None

    @property
    def spoken(self) -> bool:
        return self.first_audio is not None

    async def relay(self, events: AsyncIterator[AgentEvent]) -> AsyncIterator[AgentEvent]:
        """The agent's events, unchanged, while the answer in them is spoken. Once they end,
        `finished` waits for the voice."""
        try:
            async for event in events:
                if isinstance(event, TurnStarted):
                    self._start(event)
                elif isinstance(event, AnswerDelta):
                    self.first_token = self.first_token or time.perf_counter()
                    self.pieces.feed(event.text)
                elif isinstance(event, AnswerRestart):
                    self.pieces.restart()
                yield event
        except BaseException:
            self.stop()
            raise
        self.pieces.finish()

    def _start(self, turn: TurnStarted) -> None:
        self.turn = turn
        if self.tts is None:
            return
        self.voice = AnswerVoice(
            tts=self.tts,
            language=turn.language,
            provider=self.provider,
            sample_rate=self.sample_rate,
            send=self.send,
            hold=self.hold,
        )
        self._speaking = asyncio.create_task(self.voice.run(self.pieces))

    async def finished(self) -> None:
        """Every piece has been spoken and handed over; a failed voice is noted on the turn,
        as REST notes it."""
        if self._speaking is not None:
            await self._speaking
        if self.voice is not None and self.voice.fallback and self.turn is not None:
            await self.note_fallback(self.turn.turn_id, f"speech: {self.voice.fallback}")

    def stop(self) -> None:
        """Stop speaking now (the answer failed or was interrupted); `cancel` waits too."""
        self.hold.set()
        if self._speaking is not None:
            self._speaking.cancel()

    async def cancel(self) -> None:
        """Stop speaking and wait until the voice has stopped."""
        self.stop()
        task, self._speaking = self._speaking, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
