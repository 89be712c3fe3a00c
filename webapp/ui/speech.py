"""The answer spoken on the page while it is written, through the core's one speaking path.

`SpokenAnswer` (core/tts/spoken.py) cuts the answer into pieces and speaks each in the user's
voice, as it does for a live conversation; here its `send` queues each piece's audio for the
page's handler, which reads the agent's events and the audio through `merge`, in the order
they are ready, and hands each piece to the page's player (webapp/ui/player.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from core.errors import AgentError
from core.history import UserRecord
from core.results import AgentEvent, AnswerDelta
from core.tts.speaking import chosen_voice
from core.tts.spoken import SpokenAnswer
from webapp.deps import AppState

# The player's rate: Piper's and eSpeak NG's own, so their pieces pass unchanged.
PAGE_RATE = 22050

# Words alone reach the page at most this often (the first ones, audio and the end at once):
# each redraw of the chat costs the browser, and on a machine that also runs the model, that
# slowed the model down (bench/browser: 205 ms a token; 150 with this and no progress overlay
# on the answer's outputs; 105 with no page at all).
WORDS_EVERY_S = 0.2


class PageSpeech:
    """One answer's speech on the page; `merge` yields the agent's events and, between them,
    each piece of audio (16-bit mono PCM at PAGE_RATE, bytes)."""

    def __init__(self, state: AppState, user: UserRecord) -> None:
        store = state.store

        async def note_fallback(turn_id: int, reason: str) -> None:
            await store.aio.note_fallback(turn_id=turn_id, reason=reason)

        self._ready: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.answer = SpokenAnswer(
            state.agent.providers.tts,
            provider=chosen_voice(user.tts_provider, state.settings),
            sample_rate=PAGE_RATE,
            send=lambda _text, pcm: self._ready.put_nowait(("audio", pcm)),
            note_fallback=note_fallback,
        )
        self.hold = self.answer.hold  # for the agent: the model pauses while this is cleared

    @property
    def first_token(self) -> float | None:
        """perf_counter() when the first token came."""
        return self.answer.first_token

    @property
    def first_audio(self) -> float | None:
        """perf_counter() when the first piece of audio was ready for the page."""
        return self.answer.first_audio

    @property
    def spoken(self) -> bool:
        return self.answer.spoken

    @property
    def fallback(self) -> str | None:
        """Why the chosen voice did not speak (some of) the answer."""
        return self.answer.voice.fallback if self.answer.voice else None

    async def merge(
        self, events: AsyncIterator[AgentEvent]
    ) -> AsyncIterator[list[AgentEvent | bytes]]:
        """The agent's events as they come, with the audio of each piece once it is spoken,
        in batches: everything ready at once comes together, so a page that takes its time
        to show each token does not hold the audio back behind them. The agent's error, if
        any, is raised here after what came before it."""
        reading = asyncio.create_task(self._read(events))
        words_shown: float | None = None  # when words last went to the page
        try:
            while True:
                ready = [await self._ready.get()]
                if words_shown is not None and _words(ready[-1]):
                    await self._gather_words(ready, until=words_shown + WORDS_EVERY_S)
                while not self._ready.empty():
                    ready.append(self._ready.get_nowait())
                if any(_words(item) for item in ready):
                    words_shown = time.perf_counter()
                batch: list[AgentEvent | bytes] = []
                for kind, value in ready:
                    if kind == "error":
                        if batch:
                            yield batch
                        raise value
                    if kind != "done":
                        batch.append(value)
                if batch:
                    yield batch
                if ready[-1][0] == "done":
                    return
        finally:
            self.answer.stop()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    async def _gather_words(self, ready: list[tuple[str, Any]], *, until: float) -> None:
        """Add to `ready` what comes until `until`, or until something other than words."""
        while (left := until - time.perf_counter()) > 0:
            try:
                item = await asyncio.wait_for(self._ready.get(), left)
            except TimeoutError:
                return
            ready.append(item)
            if not _words(item):
                return

    async def _read(self, events: AsyncIterator[AgentEvent]) -> None:
        try:
            async for event in self.answer.relay(events):
                self._ready.put_nowait(("event", event))
            await self.answer.finished()
        except AgentError as exc:
            self._ready.put_nowait(("error", exc))
        finally:
            self._ready.put_nowait(("done", None))


def _words(item: tuple[str, Any]) -> bool:
    return item[0] == "event" and isinstance(item[1], AnswerDelta)
