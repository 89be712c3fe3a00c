"""One live answer: the agent's text streamed to the channel and spoken piece by piece as it
comes, then its timings stored, counted and traced."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from core import metrics, tracing
from core.errors import AgentError
from core.history import UserRecord
from core.realtime import events as ev
from core.realtime.playback import AnswerSpeaker, Playback
from core.realtime.port import AgentPort
from core.results import AnswerDelta, AnswerRestart, TurnDone, TurnStarted
from core.tts.speaking import AnswerPieces


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


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
        pieces = AnswerPieces()
        first_token_ms: float | None = None
        # Cleared while the first piece is synthesised: both models want both cores, and the
        # first audio matters more than the rest of the text, which is ahead of speech anyway.
        hold = threading.Event()
        hold.set()
        turn_id = playback.turn_id
        language = port.settings.default_language
        voice: AnswerSpeaker | None = None
        speaker: asyncio.Task[None] | None = None
        answer = ""
        outcome: dict[str, str | None] = {}  # the model that answered, and any fallback
        try:
            async for event in port.respond(
                user=self.user,
                text=text,
                session_id=self.session_id,
                channel=self.channel,
                hold=hold,
            ):
                if isinstance(event, TurnStarted):
                    turn_id = playback.turn_id = event.turn_id
                    language = event.language
                    if port.voice is not None:
                        voice = AnswerSpeaker(
                            tts=port.voice,
                            playback=playback,
                            language=language,
                            provider=port.voice_for(self.user),
                            sample_rate=port.output_sample_rate,
                            emit=self.emit,
                            hold=hold,
                            start=start,
                        )
                        speaker = self.spawn(voice.run(pieces.queue))
                elif isinstance(event, AnswerDelta):
                    if first_token_ms is None:
                        first_token_ms = ms_since(start)
                    self.emit(ev.AnswerText(event.text))
                    pieces.feed(event.text)
                elif isinstance(event, AnswerRestart):
                    pieces.restart()
                    self.emit(ev.AnswerRestarted(event.reason))
                elif isinstance(event, TurnDone):
                    answer = event.result.answer
                    outcome = {"provider": event.result.provider, "fallback": event.result.fallback}
            pieces.finish()
            if speaker is not None:
                await speaker
        except asyncio.CancelledError:
            hold.set()
            if speaker is not None:
                speaker.cancel()
            raise
        except AgentError as exc:
            if speaker is not None:
                speaker.cancel()
            self.emit(ev.ErrorEvent(f"The agent could not answer: {exc}"))
            return
        if turn_id is None:
            return
        timings = ev.TurnTimings(
            transcript_ms=transcript_ms,
            first_token_ms=first_token_ms,
            first_audio_ms=voice.first_audio_ms if voice else None,
            stt_ms=stt_ms,
        )
        await port.store_timings(turn_id, timings)
        if voice is not None and voice.fallback:
            await port.note_fallback(turn_id, f"speech: {voice.fallback}")
        metrics.observe_turn(self.channel, timings)
        tracing.record_turn(
            tracing.TurnTrace(
                channel=self.channel,
                ended_at=start,
                stages_ms={
                    "transcript": transcript_ms,
                    "first_token": first_token_ms,
                    "first_tts_chunk": voice.first_tts_ms if voice else None,
                    "first_audio_sent": timings.first_audio_ms,
                },
                attributes={"turn_id": turn_id, "language": language, **outcome},
            )
        )
        self.emit(
            ev.TurnComplete(
                turn_id=turn_id,
                session_id=self.session_id or "",
                user_text=user_text,
                answer=answer,
                language=language,
                interrupted=False,
                timings=timings,
            )
        )
