"""The orchestrator every channel calls: audio or text in, answer stream out, turn stored."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator

from core import fallback, personalities
from core.admission import ConversationLimit, Gate
from core.audio import decode
from core.concurrency import Queueing, parallelism, run_blocking, run_model, waiting_on
from core.config import Settings
from core.errors import (
    AgentError,
    InvalidInputError,
    NotFoundError,
    NothingToAnswerError,
    ProviderError,
)
from core.facts import Fact, words_to_add
from core.history import HistoryStore, SessionRecord, TurnRecord, UserRecord
from core.llm import ChatMessage
from core.prompting import Prompts
from core.providers import Providers
from core.results import (
    AgentEvent,
    AnswerDelta,
    TranscriptionResult,
    TurnDone,
    TurnResult,
    TurnStarted,
    turn_result,
)
from core.stt import Transcript
from core.tool_turns import Tools, ToolTurn
from core.tools import Keypad, ToolContext, Toolset
from core.turn_setup import prepare_turn
from core.turns.answer_loop import AnswerLoop, ms_since
from core.turns.context import TurnContext
from core.turns.hedge import asks
from core.turns.recorder import record_answer

logger = logging.getLogger(__name__)


class Agent:
    """One agent for every channel; shares the loaded models among all conversations."""

    def __init__(self, *, settings: Settings, providers: Providers, store: HistoryStore) -> None:
        self.settings = settings
        self.providers = providers
        self.store = store
        # First guesses of one piece of work's seconds; each gate learns the real figure.
        self.speech_gate = self._gate("speech recogniser", providers.stt, service_s=0.5)
        self.answer_gate = self._gate("language model", providers.llm, service_s=1.5)
        self.conversations = ConversationLimit.from_settings(settings)
        self.prompts = Prompts(settings, providers)
        self.tools = Tools.from_settings(settings)

    def _gate(self, name: str, model: Queueing, *, service_s: float) -> Gate:
        return Gate(
            name,
            max_wait_s=self.settings.max_queue_wait_s,
            service_s=service_s,
            parallel=parallelism(model),
            queued=lambda: waiting_on(model),
        )

    # Sessions --------------------------------------------------------------------------

    async def _session(
        self, user: UserRecord, session_id: str | None, channel: str, *, new_id: str | None = None
    ) -> SessionRecord:
        if session_id:
            return await self.store.aio.get_session(user_id=user.id, session_id=session_id)
        return await self.store.aio.create_session(
            user_id=user.id, channel=channel, session_id=new_id
        )

    # Speech ----------------------------------------------------------------------------

    async def transcribe(
        self,
        *,
        user: UserRecord,
        audio: bytes,
        session_id: str | None = None,
        personality: str | None = None,
        channel: str = "api",
    ) -> TranscriptionResult:
        """Decode and transcribe a recording; store it as the session's next user turn."""
        if personality:
            personalities.validate(personality, user.custom_prompt or "-")
        with self.speech_gate.slot():
            # An unknown session is refused before decoding, but a new one is only created
            # once speech is heard: a bad or silent upload leaves nothing behind.
            session = await self._session(user, session_id, channel) if session_id else None
            decoded = await run_blocking(
                lambda: decode(
                    audio,
                    max_seconds=self.settings.max_audio_seconds,
                    deadline_s=self.settings.max_decode_seconds,
                )
            )
            context = TurnContext(user, session, self.settings)
            pinned = context.pinned
            start = time.perf_counter()
            transcript = await run_model(
                lambda: fallback.transcribe(
                    self.providers.stt, self.providers.stt_fallback, decoded, language=pinned
                )
            )
            stt_ms = ms_since(start)
        lang = context.language(heard=transcript.language)
        turn_id = None
        if transcript.text:
            session = session or await self._session(user, None, channel)
            turn = await self.record_speech(
                user=user,
                session_id=session.id,
                transcript=transcript,
                language=lang,
                stt_ms=stt_ms,
                personality=personality,
            )
            turn_id = turn.id
        return TranscriptionResult(
            session_id=session.id if session else None,
            turn_id=turn_id,
            text=transcript.text,
            language=lang,
            duration=round(decoded.duration, 3),
            provider=transcript.provider,
            stt_ms=stt_ms,
            fallback=transcript.fallback,
        )

    async def record_speech(
        self,
        *,
        user: UserRecord,
        session_id: str,
        transcript: Transcript,
        language: str,
        stt_ms: float,
        personality: str | None = None,
        source: str = "audio",
    ) -> TurnRecord:
        """Store a transcript as the session's next user turn, waiting for `respond`."""
        return await self.store.aio.add_turn(
            user_id=user.id,
            session_id=session_id,
            source=source,
            user_text=transcript.text,
            language=language,
            personality=personality,
            stt_provider=transcript.provider,
            audio_seconds=round(transcript.duration, 3),
            stt_ms=stt_ms,
            fallback=transcript.fallback,
        )

    async def open_session(
        self, user: UserRecord, session_id: str | None, channel: str, *, new_id: str | None = None
    ) -> SessionRecord:
        """The user's session `session_id` (NotFoundError if not theirs), or a new one (with the
        id `new_id`, when it was named before it was stored)."""
        return await self._session(user, session_id, channel, new_id=new_id)

    # Answers ---------------------------------------------------------------------------

    async def prefill(
        self, *, user: UserRecord, session_id: str | None, text: str, spoken: str
    ) -> bool:
        """Read the prompt that `text` (said in the language `spoken`) would get into the
        local model's cache while the user is still pausing (the live engine calls this with
        the pause's transcript), so that if the turn ends there, the answer only has to
        sample. Stores nothing. False when there is nothing to gain (a cloud model, no text)
        or the model is busy with someone else."""
        llm = self.providers.llm
        if not llm.is_local or not text.strip():
            return False

        def build() -> list[ChatMessage]:
            session = None
            if session_id:
                with contextlib.suppress(NotFoundError):  # not stored before its first turn
                    session = self.store.get_session(user_id=user.id, session_id=session_id)
            turns = self.store.list_turns(user_id=user.id, session_id=session.id) if session else []
            history = [t for t in turns if t.status == "answered"]
            context = TurnContext(user, session, self.settings)
            name, custom = context.personality()
            fact = context.fact(text, spoken)
            note = fact.note if fact else None  # read ahead too, as the turn will end
            return self.prompts.build_messages(
                history, text, language=spoken, personality=name, custom=custom, note=note
            )

        try:
            messages = await run_blocking(build)
        except AgentError:
            return False  # too long, say: the answer will say so
        return await run_model(llm.prefill, messages)

    async def respond(
        self,
        *,
        user: UserRecord,
        text: str | None = None,
        session_id: str | None = None,
        personality: str | None = None,
        channel: str = "api",
        hold: threading.Event | None = None,
        refuse_when_busy: bool = True,
        keypad: Keypad | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Answer `text`, or the session's pending transcription when `text` is empty.

        Yields `TurnStarted`, then `AnswerDelta`s (and an `AnswerRestart` if the cloud model
        fails mid-answer), `ToolStarted`/`ToolFinished` around each tool the model calls
        (the answer then goes on with the results), then `TurnDone` once the turn is stored.
        `keypad` is the channel's keypad, for the tool that reads digits (the phone). While
        `hold` is given and cleared, generation pauses between tokens (the real-time engine
        frees the CPU for the first sentence's speech that way).

        When the language model is too busy to start within MAX_QUEUE_WAIT_S, raises
        `OverloadedError` before anything is stored, unless `refuse_when_busy` is off (live
        conversations, admitted as a whole, wait their turn).
        """
        if personality:
            personalities.validate(personality, user.custom_prompt or "-")
        text = (text or "").strip()
        if not text and not session_id:
            raise NothingToAnswerError(
                "No text given and no session_id with a transcription to answer."
            )
        with self.answer_gate.slot(refuse=refuse_when_busy):
            events = self._respond(user, text, session_id, personality, channel, hold, keypad)
            try:
                async for event in events:
                    yield event
            finally:
                # A consumer that stops early closes this generator; the inner one must be
                # closed now too, so the partial answer is stored before the slot is freed.
                await events.aclose()

    async def _respond(
        self,
        user: UserRecord,
        text: str,
        session_id: str | None,
        personality: str | None,
        channel: str,
        hold: threading.Event | None,
        keypad: Keypad | None,
    ) -> AsyncGenerator[AgentEvent, None]:
        start = time.perf_counter()
        turn, name, messages, fact, tools = await self._prepare(
            user, session_id, channel, keypad, text, personality
        )
        loop = AnswerLoop(
            self.providers,
            tools,
            max_tokens=self.settings.llm_max_tokens,
            start=start,
            owner=("user", user.id),
            hold=hold,
            language=turn.language,
            # A computed value is not in doubt; a reply to what is not a question has no fact.
            may_hedge=fact is None and asks(turn.user_text),
        )
        answered = False
        record = None
        try:
            yield TurnStarted(
                session_id=turn.session_id,
                turn_id=turn.id,
                language=turn.language,
                personality=name,
            )
            async for event in loop.run(tools.prompt(messages)):
                yield event
            # A computed value the model garbled or left out is said without it (core/facts).
            closing = tools.closing_words(loop.text) or words_to_add(fact, loop.text)
            if closing:
                loop.text += closing
                yield AnswerDelta(closing)
            answered = True
        finally:
            # On success, on failure and when the client goes away mid-answer: what was
            # generated is stored either way, with a status that says which it was.
            record = record_answer(
                self.store,
                turn,
                personality=name,
                loop=loop,
                tools=tools,
                answered=answered,
                total_ms=ms_since(start),
            )
        if answered and record is not None:
            result = turn_result(record, loop.provider, name)
            yield TurnDone(
                dataclasses.replace(result, tool_calls=tuple(tools.results), action=tools.action)
            )

    async def _prepare(
        self,
        user: UserRecord,
        session_id: str | None,
        channel: str,
        keypad: Keypad | None,
        text: str,
        personality: str | None,
    ) -> tuple[TurnRecord, str, list[ChatMessage], Fact | None, ToolTurn]:
        """The turn stored (or the pending one found), its personality, prompt, computed fact
        and tools; a new session that a refused message opened is deleted with it."""
        session = await self._session(user, session_id, channel)
        toolset = (
            self.tools.offered(channel=channel, keypad=keypad is not None)
            if self.providers.llm.calls_tools
            else Toolset()
        )
        # One hop to a worker for all the preparation: store reads and writes, language
        # detection and token counting, so the model starts as early as possible.
        try:
            turn, name, messages, fact = await run_blocking(
                lambda: prepare_turn(
                    self.store,
                    self.prompts,
                    self.settings,
                    user,
                    session,
                    text,
                    personality,
                    self.tools.tokens(toolset, self.prompts),
                )
            )
        except InvalidInputError:
            if session_id is None:  # refused before any turn: the new session goes too
                await self.store.aio.delete_session(user_id=user.id, session_id=session.id)
            raise
        tools = self._tool_turn(toolset, user, session.id, channel, turn.language, keypad)
        return turn, name, messages, fact, tools

    def _tool_turn(
        self,
        toolset: Toolset,
        user: UserRecord,
        session_id: str,
        channel: str,
        language: str,
        keypad: Keypad | None,
    ) -> ToolTurn:
        """The turn's tools, with what they may know of it."""
        return ToolTurn(
            toolset,
            ToolContext(
                user_id=user.id,
                username=user.username,
                session_id=session_id,
                channel=channel,
                language=language,
                time_zone=TurnContext(user, None, self.settings).time_zone,
                keypad=keypad,
                transfer_number=self.settings.transfer_number,
            ),
            timeout_s=self.settings.tool_timeout_s,
            action_threshold=self.settings.llm_action_threshold,
        )

    async def answer(self, **kwargs: object) -> TurnResult:
        """Like `respond`, collecting the stream into the finished turn."""
        async for event in self.respond(**kwargs):  # type: ignore[arg-type]
            if isinstance(event, TurnDone):
                return event.result
        raise ProviderError("The answer stream ended without a result.")
