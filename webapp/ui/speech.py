"""The answer spoken on the page while it is written, as a live conversation speaks it.

The agent's events are read by one task, which cuts the answer into pieces (`AnswerPieces`);
another speaks each piece in the user's voice (`piece_pcm`). The page's handler reads both
through `merge`, in the order they are ready, and hands each piece of audio to the page's
player (webapp/ui/player.py), which starts on the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from core.agent import AgentEvent, AnswerDelta, AnswerRestart, TurnStarted
from core.concurrency import run_blocking
from core.errors import AgentError
from core.history import UserRecord
from core.tts.speaking import AnswerPieces, chosen_voice, piece_pcm
from core.tts.text import speakable
from webapp.deps import AppState

logger = logging.getLogger(__name__)

# The player's rate: Piper's and eSpeak NG's own, so their pieces pass unchanged.
PAGE_RATE = 22050


class PageSpeech:
    """One answer's speech on the page; `merge` yields the agent's events and, between them,
    each piece of audio (16-bit mono PCM at PAGE_RATE, bytes)."""

    def __init__(self, state: AppState, user: UserRecord) -> None:
        self.tts = state.agent.providers.tts
        self.voice = chosen_voice(user.tts_provider, state.settings)
        # Cleared while the first piece is synthesised: the model pauses and the voice gets
        # both cores, as in a live conversation.
        self.hold = threading.Event()
        self.hold.set()
        self.first_token: float | None = None  # perf_counter() when the first token came
        self.first_audio: float | None = None  # perf_counter() when the first piece was ready
        self.spoken = False
        self._pieces = AnswerPieces()
        self._texts: asyncio.Queue[str | None] = asyncio.Queue()
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
                            tasks.append(asyncio.create_task(self._speak(value.language)))
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
                    for piece in self._pieces.feed(event.text):
                        self._texts.put_nowait(piece)
                elif isinstance(event, AnswerRestart):
                    self._pieces.restart()
                    while not self._texts.empty():  # the broken answer's unspoken pieces
                        self._texts.get_nowait()
                self._ready.put_nowait(("event", event))
            for piece in self._pieces.flush():
                self._texts.put_nowait(piece)
        except AgentError as exc:
            self._ready.put_nowait(("error", exc))
        finally:
            self._texts.put_nowait(None)
            self._ready.put_nowait(("done", None))

    async def _speak(self, language: str) -> None:
        try:
            while (piece := await self._texts.get()) is not None:
                text = speakable(piece)
                if text.strip():
                    pcm = await self._piece(text, language)
                    if pcm:
                        if self.first_audio is None:
                            self.first_audio = time.perf_counter()
                        self.spoken = True
                        self._ready.put_nowait(("audio", pcm))
        finally:
            self._ready.put_nowait(("done", None))

    async def _piece(self, text: str, language: str) -> bytes:
        assert self.tts is not None
        tts = self.tts
        if not self.spoken:
            self.hold.clear()
        try:
            return await run_blocking(
                lambda: piece_pcm(
                    tts, text, language=language, provider=self.voice, sample_rate=PAGE_RATE
                )
            )
        except AgentError as exc:  # speech is a bonus: the written answer still stands
            logger.warning("Speaking a piece of the answer failed: %s", exc)
            return b""
        finally:
            self.hold.set()
