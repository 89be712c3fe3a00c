"""The answer spoken on the page while it is written, as a live conversation speaks it.

The agent's events are read by one task, which cuts the answer into pieces (`AnswerPieces`);
another speaks each piece in the user's voice (`speak_piece`, as the live engine does). The
page's handler reads both through `merge`, in the order they are ready, and hands each
piece of audio to the page's player (webapp/ui/player.py), which starts on the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from core.concurrency import run_blocking
from core.errors import AgentError
from core.history import UserRecord
from core.results import AgentEvent, AnswerDelta, AnswerRestart, TurnStarted
from core.tts.speaking import AnswerPieces, chosen_voice, speak_piece
from core.tts.text import speakable
from webapp.deps import AppState

# The player's rate: Piper's and eSpeak NG's own, so their pieces pass unchanged.
PAGE_RATE = 22050


class PageSpeech:
    """One answer's speech on the page; `merge` yields the agent's events and, between them,
    each piece of audio (16-bit mono PCM at PAGE_RATE, bytes)."""

    def __init__(self, state: AppState, user: UserRecord) -> None:
        self.tts = state.agent.providers.tts
        self.store = state.store
        self.voice = chosen_voice(user.tts_provider, state.settings)
        # Cleared while the first piece is synthesised: the model pauses and the voice gets
        # both cores, as in a live conversation.
        self.hold = threading.Event()
        self.hold.set()
        self.first_token: float | None = None  # perf_counter() when the first token came
        self.first_audio: float | None = None  # perf_counter() when the first piece was ready
        self.spoken = False
        self.fallback: str | None = None  # why the chosen voice did not speak (some of) it
        self._pieces = AnswerPieces()
        self._ready: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def merge(
        self, events: AsyncIterator[AgentEvent]
    ) -> AsyncIterator[list[AgentEvent | bytes]]:
        """The agent's events as they come, with the audio of each piece once it is spoken,
        in batches: everything ready at once comes together, so a page that takes its time
        to show each token does not hold the audio back behind them. The agent's error, if
        any, is raised here after what came before it."""
        tasks = [asyncio.create_task(self._read(events))]
        running = 1
        try:
            while running:
                ready = [await self._ready.get()]
                while not self._ready.empty():
                    ready.append(self._ready.get_nowait())
                batch: list[AgentEvent | bytes] = []
                for kind, value in ready:
                    if kind == "event":
                        if isinstance(value, TurnStarted) and self.tts is not None:
                            tasks.append(asyncio.create_task(self._speak(value)))
                            running += 1
                        batch.append(value)
                    elif kind == "audio":
                        batch.append(value)
                    elif kind == "error":
                        if batch:
                            yield batch
                        raise value
                    else:  # "done": a task has finished
                        running -= 1
                if batch:
                    yield batch
        finally:
            self.hold.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read(self, events: AsyncIterator[AgentEvent]) -> None:
        try:
            async for event in events:
                if isinstance(event, AnswerDelta):
                    self.first_token = self.first_token or time.perf_counter()
                    self._pieces.feed(event.text)
                elif isinstance(event, AnswerRestart):
                    self._pieces.restart()
                self._ready.put_nowait(("event", event))
        except AgentError as exc:
            self._ready.put_nowait(("error", exc))
        finally:
            self._pieces.finish()
            self._ready.put_nowait(("done", None))

    async def _speak(self, turn: TurnStarted) -> None:
        assert self.tts is not None
        language = turn.language
        try:
            while (piece := await self._pieces.queue.get()) is not None:
                text = speakable(piece)
                if not text.strip():
                    continue
                spoken = await speak_piece(
                    self.tts,
                    text,
                    language=language,
                    provider=self.voice,
                    sample_rate=PAGE_RATE,
                    hold=None if self.spoken else self.hold,  # until the first piece is heard
                )
                pcm, self.fallback = spoken.pcm, spoken.fallback or self.fallback
                if pcm:
                    self.first_audio = self.first_audio or time.perf_counter()
                    self.spoken = True
                    self._ready.put_nowait(("audio", pcm))
            if self.fallback:  # noted on the turn, as REST and the live engine note it
                reason = f"speech: {self.fallback}"
                await run_blocking(
                    lambda: self.store.note_fallback(turn_id=turn.turn_id, reason=reason)
                )
        finally:
            self._ready.put_nowait(("done", None))
