"""One live answer: the agent's text streamed to the channel and spoken piece by piece as it
comes, then its timings stored, counted and traced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from core import metrics, tracing
from core.errors import AgentError
from core.history import UserRecord
from core.phrases import Line, say
from core.realtime import events as ev
from core.realtime.playback import LiveAudio, Playback
from core.realtime.port import AgentPort
from core.results import (
    AgentEvent,
    AnswerDelta,
    AnswerRestart,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnStarted,
)
from core.tools import Action, Keypad, TransferCall
from core.tts.pieces import AnswerPieces
from core.tts.spoken import AnswerVoice, SpokenAnswer, ms_between

ENDING_STEP_S = 0.05
ENDING_GRACE_S = 2.0  # a client whose reports stop: the clock ends the wait


@dataclass
class LiveAnswer:
    """Answers one turn of a live conversation: `run` once."""

    port: AgentPort
    user: UserRecord
    session_id: str | None
    channel: str
    playback: Playback  # what the client is sent of this answer (turn id set when stored)
    emit: Callable[[ev.Event], None]
    spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]
    keypad: Keypad | None = None
    action: Action | None = None  # what the answer's tools asked for, once it is done
    # What `run` has seen so far: the answer's language, its text, the model that answered
    # (and any fallback), and the filler said while a tool runs.
    _language: str = ""
    _answer: str = ""
    _outcome: dict[str, str | None] = field(default_factory=dict)
    _filling: asyncio.Task[None] | None = None

    async def run(
        self,
        *,
        user_text: str,
        text: str | None,
        start: float,
        transcript_ms: float | None,
        stt_ms: float | None,
    ) -> None:
        """Answer `text` (or the session's pending transcript, when None), timed from `start`
        (the end of the user's speech, or when a typed message came)."""
        port, playback = self.port, self.playback
        self._language = port.settings.default_language
        audio = LiveAudio(
            playback, sample_rate=port.output_sample_rate, emit=self.emit, start=start
        )
        spoken = SpokenAnswer(
            port.voice,
            provider=port.voice_for(self.user),
            sample_rate=port.output_sample_rate,
            send=audio.put,
            note_fallback=port.note_fallback,
        )
        sending = self.spawn(audio.run()) if port.voice is not None else None
        try:
            events = port.respond(
                user=self.user,
                text=text,
                session_id=self.session_id,
                channel=self.channel,
                hold=spoken.hold,
                keypad=self.keypad,
            )
            async for event in spoken.relay(events):
                self._show(event, spoken)
            await spoken.finished()
            audio.close()
            if sending is not None:
                await sending
        except asyncio.CancelledError:
            playback.timings = ev.TurnTimings(
                transcript_ms, ms_between(start, spoken.first_token), audio.first_audio_ms, stt_ms
            )
            spoken.stop()
            for task in (sending, self._filling):
                if task is not None:
                    task.cancel()
            raise
        except AgentError as exc:
            spoken.stop()
            if sending is not None:
                sending.cancel()
            self.emit(ev.ErrorEvent(f"The agent could not answer: {exc}"))
            return
        first_token_ms = ms_between(start, spoken.first_token)
        timings = ev.TurnTimings(transcript_ms, first_token_ms, audio.first_audio_ms, stt_ms)
        await self._complete(user_text, start, timings, ms_between(start, spoken.first_audio))

    def _show(self, event: AgentEvent, spoken: SpokenAnswer) -> None:
        """One of the agent's events, told to the channel (and remembered for the end)."""
        if isinstance(event, TurnStarted):
            self.playback.turn_id = event.turn_id
            self._language = event.language
        elif isinstance(event, AnswerDelta):
            self.emit(ev.AnswerText(event.text))
        elif isinstance(event, AnswerRestart):
            self.emit(ev.AnswerRestarted(event.reason))
        elif isinstance(event, ToolStarted):
            self.emit(ev.ToolUsed(event.call.name, event.call.arguments))
            if event.filler and self.port.voice is not None:
                self._filling = self.spawn(self._filler(spoken.pieces, self._language))
        elif isinstance(event, ToolFinished):
            if self._filling is not None:
                self._filling.cancel()
            call, output = event.result.call, event.result.output
            self.emit(ev.ToolUsed(call.name, call.arguments, output.content, output.ok))
        elif isinstance(event, TurnDone):
            self._answer = event.result.answer
            self.action = event.result.action
            self._outcome = {"provider": event.result.provider, "fallback": event.result.fallback}

    async def _complete(
        self, user_text: str, start: float, timings: ev.TurnTimings, tts_ms: float | None
    ) -> None:
        """The answer has been sent: store, count and trace its timings, tell the channel,
        and do what its tools asked for (hang up, transfer)."""
        turn_id = self.playback.turn_id
        if turn_id is None:
            return
        await self.port.store_timings(turn_id, timings)
        metrics.observe_turn(self.channel, timings)
        tracing.record_turn(
            tracing.TurnTrace(
                channel=self.channel,
                ended_at=start,
                stages_ms={
                    "transcript": timings.transcript_ms,
                    "first_token": timings.first_token_ms,
                    "first_tts_chunk": tts_ms,
                    "first_audio_sent": timings.first_audio_ms,
                },
                attributes={"turn_id": turn_id, "language": self._language, **self._outcome},
            )
        )
        self.emit(
            ev.TurnComplete(
                turn_id=turn_id,
                session_id=self.session_id or "",
                user_text=user_text,
                answer=self._answer,
                language=self._language,
                interrupted=False,
                timings=timings,
            )
        )
        if self.action is not None:
            await self._end(self.action)

    async def _filler(self, pieces: AnswerPieces, language: str) -> None:
        """A tool that runs longer than TOOL_FILLER_S: say a filler, once."""
        await asyncio.sleep(self.port.settings.tool_filler_s)
        pieces.interject(say(Line.FILLER, language))

    async def _end(self, action: Action) -> None:
        number = action.number if isinstance(action, TransferCall) else None
        await self.end(action.kind, transfer_to=number)

    async def end(self, reason: str, *, transfer_to: str | None = None) -> None:
        """The conversation is over: once the last words have played, tell the channel to
        hang up, transfer or close (`ev.Ending`)."""
        playback = self.playback
        # To the very end (not `playing()`, which rounds a VAD window off), by the client's
        # reports when it sends them (the phone's marks), else by the clock.
        steps = int((playback.sent_seconds + ENDING_GRACE_S) / ENDING_STEP_S) + 1
        for _ in range(steps if playback.started is not None else 0):
            if playback.stopped or playback.heard_ms() >= playback.sent_seconds * 1000:
                break
            await asyncio.sleep(ENDING_STEP_S)
        self.emit(ev.Ending(reason, transfer_to=transfer_to))

    async def say(self, line: str, language: str) -> None:
        """Say a fixed line that is no answer (nothing stored): "Are you still there?"."""
        if self.port.voice is None:
            return
        audio = LiveAudio(
            self.playback,
            sample_rate=self.port.output_sample_rate,
            emit=self.emit,
            start=time.perf_counter(),
        )
        voice = AnswerVoice(
            tts=self.port.voice,
            language=language,
            provider=self.port.voice_for(self.user),
            sample_rate=self.port.output_sample_rate,
            send=audio.put,
        )
        sending = asyncio.ensure_future(audio.run())
        try:
            await voice.speak(line)
        except BaseException:
            sending.cancel()
            raise
        audio.close()
        await sending
