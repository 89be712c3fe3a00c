"""One real-time conversation: PCM in, turn-taking by VAD, streamed spoken answers out.

Transport-agnostic: a channel (WebSocket, hands-free UI, phone) calls `feed` with audio as it
arrives and reads `events()`. Every threshold is counted in audio time, not wall-clock time,
so the same audio always makes the same turns; only latency depends on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import numpy as np

from core import metrics
from core.agent import Agent
from core.concurrency import deferring
from core.errors import AgentError
from core.history import UserRecord, new_session_id
from core.listening.vad import SileroVAD
from core.phrases import Line, say
from core.realtime import events as ev
from core.realtime.answering import LiveAnswer
from core.realtime.heard import heard_text
from core.realtime.hearing import Hearing, Said
from core.realtime.idle import CHECK_EVERY_S, IdleWatch
from core.realtime.keypad import KeypadDigits
from core.realtime.playback import Playback
from core.realtime.port import AgentPort
from core.realtime.tasks import FAILED, Tasks
from core.realtime.turns import TurnTaker
from core.stt import Transcript
from core.turns.answer_loop import ms_since
from core.turns.context import TurnContext

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Conversation:
    """A live conversation of one user in one session over a full-duplex audio stream."""

    def __init__(
        self,
        *,
        agent: Agent,
        vad: SileroVAD,
        user: UserRecord,
        sample_rate: int,
        session_id: str | None = None,
        channel: str = "ws",
        keypad: bool = False,
    ) -> None:
        settings = agent.settings
        self.port = AgentPort(agent)
        self.user = user
        self.channel = channel
        self.sample_rate = sample_rate
        self.requested_session = session_id
        self.session_id: str | None = None
        self._unstored = False  # a new session, named but not stored until its first turn
        self._storing: asyncio.Future[Any] | None = None  # its row being written
        self.output_sample_rate = self.port.output_sample_rate
        self._events: asyncio.Queue[ev.Event | None] = asyncio.Queue()
        self.owner = object()  # whose work its model calls are: the models serve owners in turn
        self._tasks = Tasks(self.owner, lambda _: self._emit(ev.ErrorEvent(FAILED)))
        self.turns = TurnTaker(vad=vad, settings=settings, sample_rate=sample_rate, listener=self)
        self.hearing = Hearing(
            owner=self.owner,
            port=self.port,
            turns=self.turns,
            emit=self._emit,
            spawn=self._tasks.watched,
            read_ahead=self._read_ahead,
        )
        self._prefill: asyncio.Task[bool] | None = None  # the pause's prompt, read ahead
        self._context = TurnContext(user, None, settings)  # the session's, once opened
        self._answer: asyncio.Task[None] | None = None
        self._said: Said | None = None  # the spoken turn being answered, until it is heard
        self._playback = Playback()
        self._closed = False
        self._over = False  # ended by the agent (goodbye, transfer, silence): no more input
        self._admitted = False  # holds one of the server's MAX_CONVERSATIONS places
        self.keypad = KeypadDigits() if keypad else None
        self._idle = IdleWatch(prompt_s=settings.idle_prompt_s, hangup_s=settings.idle_hangup_s)
        self._language = settings.default_language  # of the last thing the user said

    # Lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        """Open (or create) the session and announce readiness; returns the session id.

        Raises `NotFoundError` for a session that is not the user's, and `OverloadedError`
        when the server already holds MAX_CONVERSATIONS conversations.
        """
        await self.port.enter(self.user.id, self.channel)
        self._admitted = True
        session = None
        try:
            if self.requested_session:
                session = await self.port.open_session(
                    self.user, self.requested_session, self.channel
                )
        except BaseException:
            self._release()
            raise
        # Named now, stored with its first turn: a connection that never speaks leaves no row.
        self.session_id = session.id if session else new_session_id()
        self._unstored = session is None
        self._context = TurnContext(self.user, session, self.port.settings)
        self._language = self._context.language()
        self._emit(ev.Ready(self.session_id, self.sample_rate, self.output_sample_rate))
        if self.port.voice is not None and (self._idle.prompt_s or self._idle.hangup_s):
            self._spawn(self._watch_silence())
        return self.session_id

    async def _store_session(self) -> None:
        """Store the session named at start, once, in a task every turn waits for: a turn
        cancelled meanwhile neither cancels the write nor makes another turn redo it."""
        if not self._unstored:
            return
        storing = self._storing
        if storing is None or (storing.done() and (storing.cancelled() or storing.exception())):
            storing = self._storing = asyncio.ensure_future(
                self.port.open_session(self.user, None, self.channel, new_id=self.session_id)
            )
        await asyncio.shield(storing)
        self._unstored = False

    async def events(self) -> AsyncIterator[ev.Event]:
        """Events in order, until `close`."""
        while (event := await self._events.get()) is not None:
            yield event

    async def finish(self) -> None:
        """The client is done: end the utterance in progress as a turn, wait for its answer."""
        self.turns.end_now()
        answer = self._answer
        if answer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await answer
        # Audio leaves ahead of playback: let the client play the rest before closing.
        playback = self._playback
        if playback.playing():
            await asyncio.sleep(playback.sent_seconds - playback.heard_ms() / 1000)

    async def close(self) -> None:
        """Stop everything now (the client left); the turn in progress keeps what was heard."""
        if self._closed:
            return
        # Leaving mid-answer is an interruption: the history keeps the part that was heard.
        storing = self._interrupt() if self.agent_busy() else None
        self._closed = True
        self.hearing.cancel()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._answer
        if storing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(storing, timeout=10)
        if self.keypad is not None:
            self.keypad.cancel()
        self._tasks.cancel_all()
        self._events.put_nowait(None)
        self._release()

    def _release(self) -> None:
        if self._admitted:
            self._admitted = False
            self.port.leave()

    def _emit(self, event: ev.Event) -> None:
        if isinstance(event, ev.Ending):
            self._over = True
        if not self._closed:
            self._events.put_nowait(event)

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return self._tasks.spawn(coro)

    # Audio in and turn-taking (the `TurnListener` side of the engine) -------------------

    def feed(self, pcm: bytes) -> None:
        """Audio from the client: PCM16 little-endian mono at `sample_rate`, any length."""
        if not self._closed and not self._over:
            self.turns.feed(pcm)

    def agent_busy(self) -> bool:
        """The agent is answering: thinking, or its audio is still playing at the client."""
        answering = self._answer is not None and not self._answer.done()
        return answering or self._playback.playing()

    def speech_started(self, *, at_ms: int, barge_in: bool) -> None:
        self._idle.heard()
        if barge_in and self._unheard():
            self._resume(at_ms)
        else:
            self.hearing.new_utterance()
            if barge_in:
                self._interrupt()
        self._emit(ev.SpeechStarted(at_ms=at_ms))

    def _unheard(self) -> bool:
        """A spoken turn is being answered and none of the answer has been sent."""
        answer, said = self._answer, self._said
        return (
            said is not None
            and answer is not None
            and not answer.done()
            and self._playback.started is None
        )

    def _resume(self, at_ms: int) -> None:
        """The user goes on before hearing anything: the pause was not the end of the turn.
        The answer stops unspoken, its turn is withdrawn, and what was said before the pause
        opens the new utterance (the part known as text, the rest as audio: `carried`), so
        the next transcript covers all of it."""
        said, answer = self._said, self._answer
        assert said is not None and answer is not None
        self._said = None
        answer.cancel()
        self.hearing.withdrawn()  # the turn's transcript, if it still waits for the model
        self._playback.stopped = True
        self._playback = Playback()
        self.turns.carry_on(self.hearing.carried(said.samples))
        self._emit(ev.Resumed(at_ms=at_ms))
        self._spawn(self.port.withdraw_when_stored(answer, said.stored))

    def paused(self, samples: np.ndarray) -> None:
        self.hearing.paused(samples, pinned=self._context.pinned)

    def resumed(self) -> None:
        self.hearing.resumed()

    def _read_ahead(self, transcript: Transcript) -> None:
        """The pause's transcript is in and the user still pauses: read its prompt ahead."""
        if self.port.settings.llm_prefill:
            self._prefill = self._tasks.watched(
                self.port.prefill(
                    user=self.user,
                    session_id=self.session_id,
                    text=transcript.text,
                    spoken=self._context.language(heard=transcript.language),
                )
            )

    def speech_ended(self, samples: np.ndarray, *, at_ms: int, last_voice_at: float) -> None:
        self._emit(ev.SpeechStopped(at_ms=at_ms))
        # Any earlier answer has played or was interrupted: this turn's is not started yet.
        self._playback = Playback()
        said = self._said = Said(samples)
        if not self.hearing.guessing:
            position = self.port.hearing_queue()
            if position:
                self._emit(ev.Queued(position))
        pending = self.hearing.heard(samples, pinned=self._context.pinned)
        self._start_answer(self._spoken_turn(pending, last_voice_at, said))

    def _start_answer(self, coro: Coroutine[Any, Any, None]) -> None:
        previous = self._answer
        if previous is not None and not previous.done():
            previous.cancel()
        self._answer = self._spawn(coro)

    def text_turn(self, text: str) -> None:
        """A typed message in the conversation: answered like a spoken one."""
        if self.agent_busy():
            self._interrupt()
        self._said = None
        self._start_answer(self._typed_turn(text.strip(), time.perf_counter()))

    def interrupt(self) -> None:
        """The client asks the agent to stop talking."""
        if self.agent_busy():
            self._interrupt()

    def keypress(self, key: str) -> None:
        """A phone key: digits for a tool that reads them, else a stop on a noisy line."""
        if self.keypad is None or not self.keypad.press(key):
            self.interrupt()

    async def _watch_silence(self) -> None:
        while not self._closed and not self._over:
            await asyncio.sleep(CHECK_EVERY_S)
            line = self._idle.check(busy=self.agent_busy() or self.turns.in_speech)
            if line is not None:
                self._start_answer(self._say(line))

    async def _say(self, line: Line) -> None:
        playback = self._playback = Playback()
        speaker = self._live_answer(playback)
        await speaker.say(say(line, self._language), self._language)
        if line is Line.IDLE_GOODBYE:
            await speaker.end("idle")

    def played(self, played_ms: float) -> None:
        """The client reports how much of the current answer it has played."""
        self._playback.reported_ms = max(0.0, float(played_ms))

    def _interrupt(self) -> asyncio.Task[None] | None:
        """Stop the answer now; returns the task storing what was heard (if anything was)."""
        playback, heard_ms = self._playback, self._playback.heard_ms()
        heard = heard_text(playback.pieces, heard_ms / 1000)
        answer = self._answer
        if answer is not None and not answer.done():
            answer.cancel()
        playback.stopped = True
        self._playback = Playback()
        if playback.turn_id is None:
            return None
        self._emit(ev.Interrupted(playback.turn_id, heard, int(heard_ms)))
        metrics.observe_interruption(self.channel)
        return self._spawn(self.port.store_heard(playback.turn_id, heard, answer, playback))

    # Answers -------------------------------------------------------------------------

    async def _spoken_turn(
        self, pending: asyncio.Future[tuple[Transcript, float]], voice_end: float, said: Said
    ) -> None:
        try:
            transcript, stt_ms = await pending
        except AgentError as exc:
            self._emit(ev.ErrorEvent(f"Speech recognition failed: {exc}"))
            return
        if not transcript.text:
            return  # noise, a cough: no turn
        transcript_ms = ms_since(voice_end)
        language = self._context.language(heard=transcript.language)
        self._language = language
        self._emit(ev.TranscriptEvent(transcript.text, final=True, language=language))
        assert self.session_id is not None
        await self._store_session()
        # Its own task, so a withdrawal that cancels this one still learns the row's id.
        said.stored = asyncio.ensure_future(
            self.port.record_speech(
                user=self.user,
                session_id=self.session_id,
                transcript=transcript,
                language=language,
                stt_ms=stt_ms,
            )
        )
        turn = await asyncio.shield(said.stored)
        await self._answer_turn(
            turn.id, transcript.text, None, voice_end, transcript_ms, stt_ms=stt_ms
        )

    async def _typed_turn(self, text: str, start: float) -> None:
        if not text:
            return
        await self._store_session()
        await self._answer_turn(None, text, text, start, None, stt_ms=None)

    async def _answer_turn(
        self,
        turn_id: int | None,
        user_text: str,
        text: str | None,
        start: float,
        transcript_ms: float | None,
        *,
        stt_ms: float | None,
    ) -> None:
        """Answer (`LiveAnswer`), once any reading ahead of this turn's prompt is done."""
        if self._prefill is not None:
            # Our own reading ahead holds the model for a moment: not a queue to announce.
            await asyncio.wait([self._prefill])
            self._prefill = None
        position = self.port.answering_queue()
        if position:
            self._emit(ev.Queued(position))
        playback = self._playback = Playback(turn_id=turn_id)
        if turn_id is not None:  # spoken: until heard, talking on withdraws it
            deferring(lambda: playback.started is None)
        answer = self._live_answer(playback)
        await answer.run(
            user_text=user_text,
            text=text,
            start=start,
            transcript_ms=transcript_ms,
            stt_ms=stt_ms,
        )

    def _live_answer(self, playback: Playback) -> LiveAnswer:
        return LiveAnswer(
            port=self.port,
            user=self.user,
            session_id=self.session_id,
            channel=self.channel,
            playback=playback,
            emit=self._emit,
            spawn=self._tasks.watched,
            keypad=self.keypad,
        )
