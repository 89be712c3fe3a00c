"""The spoken side of a live answer: its audio sent to the client paced, and what was heard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.listening.vad import WINDOW_MS
from core.realtime import events as ev

# Spoken audio leaves in chunks of this length, at most this far ahead of real time.
AUDIO_CHUNK_S = 0.1
AUDIO_LEAD_S = 0.5
# How long past the end of the audio (by the server's clock) a client's playback reports
# are still believed.
REPORT_GRACE_MS = 1000.0


@dataclass
class Playback:
    """What the client has been sent of the current answer, to know what it has heard."""

    turn_id: int | None = None
    pieces: list[tuple[str, float]] = field(default_factory=list)  # (text, seconds)
    started: float | None = None  # wall clock of the first audio sent
    sent_seconds: float = 0.0
    reported_ms: float | None = None  # the client's own `played_ms`, when it reports one
    stopped: bool = False  # interrupted: not one more chunk of this answer may leave
    # The answer's timings as far as they went, set when it is cut off (to be stored with
    # what was heard).
    timings: ev.TurnTimings | None = None

    def heard_ms(self) -> float:
        """How much has played: the client's report when it sends them, else the clock."""
        if self.started is None:
            return 0.0
        sent_ms = self.sent_seconds * 1000
        clock_ms = (time.perf_counter() - self.started) * 1000
        # A client that stopped reporting (a background tab, a lost message) cannot keep the
        # agent "speaking" for ever: past the end by the clock plus a grace, the clock wins.
        if self.reported_ms is not None and clock_ms <= sent_ms + REPORT_GRACE_MS:
            return min(self.reported_ms, sent_ms)
        return min(clock_ms, sent_ms)

    def playing(self) -> bool:
        # Within a VAD window of the end counts as played (clients round their reports).
        ends = self.sent_seconds * 1000 - WINDOW_MS
        return self.started is not None and self.heard_ms() < ends


class LiveAudio:
    """A live answer's audio on its way to the client: each spoken piece (`SpokenAnswer`'s
    `send`) queued, then sent in short chunks, paced, by `run`, until `close`."""

    def __init__(
        self,
        playback: Playback,
        *,
        sample_rate: int,
        emit: Callable[[ev.Event], None],
        start: float,
    ) -> None:
        self.playback = playback
        self.sample_rate = sample_rate
        self.emit = emit
        self.start = start  # the clock the first-audio time is measured from
        self.first_audio_ms: float | None = None  # its first audio handed to the channel
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()

    def put(self, text: str, pcm: bytes) -> None:
        self._queue.put_nowait((text, pcm))

    def close(self) -> None:
        """No more pieces: `run` ends once the last has been sent."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        playback = self.playback
        while (item := await self._queue.get()) is not None:
            text, pcm = item
            if playback.stopped:
                return
            if playback.started is None:
                self.emit(ev.AudioStart(playback.turn_id or 0, self.sample_rate))
                playback.started = time.perf_counter()
            playback.pieces.append((text, len(pcm) / 2 / self.sample_rate))
            await self._send_paced(pcm)
        if playback.started is not None and not playback.stopped:
            self.emit(ev.AudioEnd(playback.turn_id or 0))

    async def _send_paced(self, pcm: bytes) -> None:
        """Send audio in short chunks, never more than `AUDIO_LEAD_S` ahead of playback, so
        an interruption reaches the client at once instead of queueing behind seconds of
        audio, and the client has little to throw away."""
        playback = self.playback
        step = int(self.sample_rate * AUDIO_CHUNK_S) * 2
        for i in range(0, len(pcm), step):
            chunk = pcm[i : i + step]
            assert playback.started is not None
            ahead = playback.sent_seconds - (time.perf_counter() - playback.started)
            if ahead > AUDIO_LEAD_S:
                await asyncio.sleep(ahead - AUDIO_LEAD_S)
            if playback.stopped:
                return
            self.emit(ev.AudioOut(chunk))
            if self.first_audio_ms is None:
                self.first_audio_ms = round((time.perf_counter() - self.start) * 1000, 1)
            playback.sent_seconds += len(chunk) / 2 / self.sample_rate
