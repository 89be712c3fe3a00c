"""What a live conversation needs of the agent, in the conversation's own terms.

The engine talks to this one small object (hear, judge, record, answer, store, voice) instead
of reaching through the agent into its store, providers and settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import AsyncIterator

import numpy as np

from core.admission import AccountFullError
from core.agent import Agent
from core.audio import SAMPLE_RATE, AudioFormat, DecodedAudio
from core.callers import CHANNEL
from core.concurrency import Ticket, run_model, waiting_on
from core.config import Settings, TTSProvider
from core.fallback import transcribe as transcribe_with_fallback
from core.history import SessionRecord, TurnRecord, UserRecord
from core.realtime import events as ev
from core.realtime.playback import Playback
from core.results import AgentEvent
from core.stt import Transcript
from core.tools import Keypad
from core.tts.router import SpeechSynthesizer
from core.tts.speaking import chosen_voice

DEFAULT_OUTPUT_RATE = 22050  # announced when the server does not speak (no audio follows)
TAIL_PADDING = SAMPLE_RATE // 4  # samples of silence after an utterance, for Whisper


SETTLE_S = 5.0  # how long a cancelled answer may take to store what it generated
ACCOUNT_WAIT_S = 2.0  # how long a new conversation waits for the account's last to close


async def settle(task: asyncio.Task[None]) -> None:
    """Wait (up to SETTLE_S) for a cancelled task to finish its cleanup, whatever it raises."""
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(task), timeout=SETTLE_S)


class AgentPort:
    """The agent as one live conversation uses it."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self.settings: Settings = agent.settings
        self.voice: SpeechSynthesizer | None = agent.providers.tts
        self.output_sample_rate = (
            self.voice.sample_rate if self.voice is not None else DEFAULT_OUTPUT_RATE
        )
        self.judges_turns = agent.providers.turn_model is not None
        self._place: tuple[int, bool] | None = None  # whose place it holds, and if a call's

    # Admission and sessions ------------------------------------------------------------

    async def enter(self, user_id: int, channel: str) -> None:
        """Take one of the server's MAX_CONVERSATIONS places for the user (`OverloadedError`
        if none, or if the account holds MAX_CONVERSATIONS_PER_USER already). The account's
        own conversation that is closing (a page that reconnects, hands-free stopped and
        started again) gets ACCOUNT_WAIT_S to free its place first."""
        phone = channel == CHANNEL
        deadline = time.monotonic() + ACCOUNT_WAIT_S
        while True:
            try:
                self._agent.conversations.enter(user_id, phone=phone)
                break
            except AccountFullError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.05)
        self._place = (user_id, phone)

    def leave(self) -> None:
        if self._place is not None:
            user_id, phone = self._place
            self._place = None
            self._agent.conversations.leave(user_id, phone=phone)

    async def open_session(
        self, user: UserRecord, session_id: str | None, channel: str, *, new_id: str | None = None
    ) -> SessionRecord:
        return await self._agent.open_session(user, session_id, channel, new_id=new_id)

    # Hearing ---------------------------------------------------------------------------

    def hearing_queue(self) -> int:
        """How many calls hold or wait for the speech recogniser."""
        return waiting_on(self._agent.providers.stt)

    def answering_queue(self) -> int:
        """How many calls hold or wait for the language model."""
        return waiting_on(self._agent.providers.llm)

    async def transcribe(
        self, samples: np.ndarray, *, pinned: str | None, ticket: Ticket | None = None
    ) -> tuple[Transcript, float]:
        """Transcribe on the model pool; the transcript and Whisper's time in ms. The call
        queues as `ticket`'s (by default the calling task's owner's, for a turn), and leaves
        the queue unrun when the task is cancelled."""
        providers = self._agent.providers
        # Whisper hears the last word better with a little silence after it (the speculative
        # transcription starts only ~0.1 s after the voice stopped).
        padded = np.concatenate([samples.astype(np.float32), np.zeros(TAIL_PADDING, np.float32)])
        audio = DecodedAudio(samples=padded, format=AudioFormat.WAV)
        start = time.perf_counter()
        transcript = await run_model(
            lambda: transcribe_with_fallback(
                providers.stt, providers.stt_fallback, audio, language=pinned
            ),
            ticket=ticket,
        )
        if pinned:
            transcript = dataclasses.replace(transcript, language=pinned)
        return transcript, round((time.perf_counter() - start) * 1000, 1)

    async def judge(self, samples: np.ndarray) -> float:
        """The end-of-turn model's probability that the turn is complete (`judges_turns`);
        cancelled, a verdict still queued for the model leaves the queue unrun."""
        model = self._agent.providers.turn_model
        assert model is not None, "judge() without an end-of-turn model"
        return await run_model(model.complete, samples)

    # Turns -----------------------------------------------------------------------------

    async def record_speech(
        self,
        *,
        user: UserRecord,
        session_id: str,
        transcript: Transcript,
        language: str,
        stt_ms: float,
    ) -> TurnRecord:
        return await self._agent.record_speech(
            user=user,
            session_id=session_id,
            transcript=transcript,
            language=language,
            stt_ms=stt_ms,
            source="voice",
        )

    async def prefill(
        self, *, user: UserRecord, session_id: str | None, text: str, spoken: str
    ) -> bool:
        return await self._agent.prefill(user=user, session_id=session_id, text=text, spoken=spoken)

    def respond(
        self,
        *,
        user: UserRecord,
        text: str | None,
        session_id: str | None,
        channel: str,
        hold: threading.Event,
        keypad: Keypad | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """The agent's answer stream; a live conversation, admitted as a whole, waits its turn
        at the model instead of being refused."""
        return self._agent.respond(
            user=user,
            text=text,
            session_id=session_id,
            channel=channel,
            hold=hold,
            refuse_when_busy=False,
            keypad=keypad,
        )

    def voice_for(self, user: UserRecord) -> TTSProvider:
        return chosen_voice(user.tts_provider, self.settings)

    async def store_timings(
        self, turn_id: int, timings: ev.TurnTimings, *, heard_answer: str | None = None
    ) -> None:
        """Store a live turn's timings; `heard_answer` (an interruption) replaces its answer."""
        await self._agent.store.aio.record_realtime(
            turn_id=turn_id,
            transcript_ms=timings.transcript_ms,
            first_token_ms=timings.first_token_ms,
            first_audio_ms=timings.first_audio_ms,
            heard_answer=heard_answer,
        )

    async def note_fallback(self, turn_id: int, reason: str) -> None:
        await self._agent.store.aio.note_fallback(turn_id=turn_id, reason=reason)

    async def store_heard(
        self, turn_id: int, heard: str, answer: asyncio.Task[None] | None, playback: Playback
    ) -> None:
        """An answer was cut off: once it has stopped (it stores what it generated first),
        its stored answer becomes the part that was `heard`, with the timings it reached."""
        if answer is not None:
            await settle(answer)
        timings = playback.timings or ev.TurnTimings(None, None, None, None)
        await self.store_timings(turn_id, timings, heard_answer=heard)

    async def withdraw_when_stored(
        self, answer: asyncio.Task[None], stored: asyncio.Task[TurnRecord] | None
    ) -> None:
        """Withdraw a turn once its cancelled answer has stopped and its row is known."""
        await settle(answer)
        if stored is None:
            return  # cancelled before its transcript was stored: nothing to withdraw
        try:
            turn = await stored
        except Exception:
            return
        await self.withdraw(turn.id)

    async def withdraw(self, turn_id: int) -> None:
        """Delete a turn its speaker went on from before hearing any of its answer."""
        await self._agent.store.aio.withdraw_turn(turn_id=turn_id)
