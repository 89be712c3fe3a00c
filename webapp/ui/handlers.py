"""What the UI's buttons do: thin calls into the core agent, with progress and readable errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from core import language, personalities, tracing
from core.concurrency import run_blocking
from core.errors import AgentError, NotFoundError
from core.history import TurnRecord, UserRecord
from core.results import TurnResult
from core.tts.spoken import ms_between
from webapp.deps import AppState
from webapp.errors import status_for
from webapp.ui.auth import current_ui_user
from webapp.ui.handsfree import StoredTurn
from webapp.ui.speech import PageSpeech
from webapp.ui.timings import HeardReport, StopClock, timings_line, timings_plot
from webapp.ui.view import StreamedAnswer, View, chat_messages

logger = logging.getLogger(__name__)

LANGUAGE_CHOICES = [("Automatic", language.AUTO)] + [
    (f"{name} ({code})", code) for code, name in language.NAMES.items()
]
PERSONALITY_CHOICES = [*personalities.BUILTIN, personalities.CUSTOM]

# The button's own words (Gradio's recorder says Record, then Stop).
HOW_TO = "Press Record, speak, then press Stop."

# A hands-free answer cut short is stored as interrupted once the cancelled answer has stored
# what it wrote (the engine waits up to 5 s for that): the page waits this long for the mark.
SETTLE_S = 8.0
SETTLE_STEP_S = 0.2


class UIController:
    """The UI's actions for the signed-in user of each request."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def user(self, request: gr.Request) -> UserRecord:
        user = current_ui_user(self.state, dict(request.cookies))
        if user is None:
            raise gr.Error("Your sign-in has expired: reload the page to sign in again.")
        return user

    # Page and settings ---------------------------------------------------------------

    async def load(self, request: gr.Request) -> tuple[Any, ...]:
        user = self.user(request)
        sessions = await self._session_choices(user)
        personality = user.personality or self.state.settings.default_personality
        return (
            f"Signed in as **{user.username}** · [Sign out](/signout)",
            personality,
            user.custom_prompt or "",
            gr.update(visible=personality == personalities.CUSTOM),
            user.language,
            sessions,
        )

    async def save_settings(
        self, personality: str, custom_prompt: str, lang: str, request: gr.Request
    ) -> tuple[str, Any]:
        user = self.user(request)
        visible = gr.update(visible=personality == personalities.CUSTOM)
        try:
            personalities.validate(personality, custom_prompt)
        except AgentError as exc:
            return f"Error: {exc}", visible
        await self.state.store.aio.update_user(
            user_id=user.id,
            personality=personality,
            custom_prompt=custom_prompt or None,
            language=lang,
        )
        shown = dict(LANGUAGE_CHOICES).get(lang, lang)
        names = {v: k for k, v in LANGUAGE_CHOICES}
        return f"Saved: {personality}, language {names.get(lang, shown)}.", visible

    async def _session_choices(self, user: UserRecord, selected: str | None = None) -> Any:
        records = await self.state.store.aio.list_sessions(user_id=user.id)
        choices = [
            (f"{(r.title or 'Untitled')[:40]} · {r.turn_count} turn(s)", r.id) for r in records
        ]
        return gr.update(choices=choices, value=selected)

    async def _turns(self, user: UserRecord, session_id: str) -> list[TurnRecord]:
        return await self.state.store.aio.list_turns(user_id=user.id, session_id=session_id)

    def _shown(
        self, turns: list[TurnRecord], recordings: dict[int, str] | None, session_id: str
    ) -> View:
        """A session's turns in the Conversation view, with the last one's timings."""
        return View(
            chat=chat_messages(turns, recordings),
            timings=timings_line(turns[-1]) if turns else "",
            plot=timings_plot(turns),
            session_id=session_id,
        )

    async def open_session(
        self, session_id: str | None, recordings: dict[int, str] | None, request: gr.Request
    ) -> tuple[Any, ...]:
        """Show an earlier conversation, or none ("New conversation"); the recorder is
        cleared either way."""
        user = self.user(request)
        if not session_id:
            view = View(status=f"New conversation. {HOW_TO}", chat=[], speech="", timings="")
            view.plot = timings_plot([])
        else:
            turns = await self._turns(user, session_id)
            view = self._shown(turns, recordings, session_id)
            view.status = f"Continuing a conversation of {len(turns)} turn(s)."
        view.clear_recorder = True
        return view.out()

    async def handsfree_turn(
        self, recordings: dict[int, str] | None, event: gr.EventData, request: gr.Request
    ) -> tuple[Any, ...]:
        """A turn of the hands-free conversation is stored: show its session, as stored."""
        user = self.user(request)
        stored = StoredTurn.parse(event._data)
        if stored is None:
            return View.unchanged()
        try:
            turns = await self._settled_turns(user, stored)
            choices = await self._session_choices(user, stored.session_id)
        except NotFoundError:  # not (yet) a stored session of this user
            return View.unchanged()
        view = self._shown(turns, recordings, stored.session_id)
        view.sessions = choices
        return view.out()

    async def _settled_turns(self, user: UserRecord, stored: StoredTurn) -> list[TurnRecord]:
        """The session's turns, once an interrupted one is stored as such (or SETTLE_S on)."""
        deadline = time.monotonic() + (SETTLE_S if stored.interrupted else 0.0)
        while True:
            turns = await self._turns(user, stored.session_id)
            ids = {turn.id: turn for turn in turns}
            turn = ids.get(stored.turn_id or 0) or (turns[-1] if turns else None)
            if turn is None or turn.interrupted or time.monotonic() >= deadline:
                return turns
            await asyncio.sleep(SETTLE_STEP_S)

    async def heard(
        self, session_id: str | None, event: gr.EventData, request: gr.Request
    ) -> tuple[Any, Any]:
        """The page's player started playing an answer: store when, after the stop, as the
        turn's first audio; show the timings if the answer's other figures are in."""
        user = self.user(request)
        report = HeardReport.parse(event._data)
        if report is None:
            return gr.skip(), gr.skip()
        try:
            turn = await self.state.store.aio.get_turn(user_id=user.id, turn_id=report.turn_id)
        except NotFoundError:
            return gr.skip(), gr.skip()
        if turn.source == "voice":  # a live turn: the engine times it
            return gr.skip(), gr.skip()
        if turn.first_audio_ms is None:  # the first report is the one
            await self.state.store.aio.record_realtime(
                turn_id=turn.id,
                transcript_ms=None,
                first_token_ms=None,
                first_audio_ms=report.heard_ms,
            )
        if turn.session_id != session_id:
            return gr.skip(), gr.skip()
        turns = await self._turns(user, turn.session_id)
        # Until the answer's handler has stored its figures, it writes the line itself.
        if not turns or turns[-1].id != turn.id or turns[-1].realtime is None:
            return gr.skip(), gr.skip()
        return timings_line(turns[-1]), timings_plot(turns)

    # A turn --------------------------------------------------------------------------

    async def audio_turn(
        self,
        audio_path: str | None,
        session_id: str | None,
        recordings: dict[int, str] | None,
        clock: str | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Recording or uploaded file -> transcript -> streamed answer -> spoken answer.

        Timed from the press of Stop (`clock`, from the page), so the upload counts; once
        transcribed, the recording moves into the conversation and the recorder is cleared,
        ready to record again."""
        if not audio_path:
            return
        began = time.perf_counter()
        stop = StopClock.parse(clock)
        ended_at = began - (stop.waited_ms / 1000 if stop else 0.0)
        user = self.user(request)
        recordings = dict(recordings or {})
        view = await self._start_view(user, session_id, recordings)
        view.status, view.timings = "Transcribing...", ""
        yield view.out()
        view.timings = None
        view.clear_recorder = True  # handled from here on, whatever the transcript says
        try:
            data = await run_blocking(lambda: Path(audio_path).read_bytes())
            result = await self.state.agent.transcribe(
                user=user, audio=data, session_id=session_id, channel="ui"
            )
        except AgentError as exc:
            view.status = f"{self._error(exc)} {HOW_TO}"
            yield view.out()
            return
        transcript_ms = ms_between(ended_at, time.perf_counter())
        view.session_id = result.session_id or view.session_id
        if not result.text:
            view.status = "No speech heard in that recording. Press Record and try again."
            yield view.out()
            return
        if result.turn_id is not None:
            recordings[result.turn_id] = audio_path
            view.recordings = recordings
        view.say("user", result.text, recording=audio_path)
        answer = self._answer(
            user,
            view,
            text=None,
            ended_at=ended_at,
            transcript_ms=transcript_ms,
            stt_ms=result.stt_ms,
            stopped_at=stop.stopped_at if stop else None,
        )
        async for out in answer:
            yield out

    async def text_turn(
        self,
        text: str,
        session_id: str | None,
        recordings: dict[int, str] | None,
        clock: str | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """A typed message, timed from Send (or Enter) on the page."""
        if not text.strip():
            return
        began = time.perf_counter()
        stop = StopClock.parse(clock)
        user = self.user(request)
        view = await self._start_view(user, session_id, recordings)
        view.say("user", text.strip())
        view.timings = ""
        answer = self._answer(
            user,
            view,
            text=text,
            ended_at=began - (stop.waited_ms / 1000 if stop else 0.0),
            transcript_ms=None,
            stt_ms=None,
            stopped_at=stop.stopped_at if stop else None,
        )
        async for out in answer:
            yield out

    async def _start_view(
        self, user: UserRecord, session_id: str | None, recordings: dict[int, str] | None
    ) -> View:
        view = View(chat=[], session_id=session_id)
        if session_id:
            view.chat = chat_messages(await self._turns(user, session_id), recordings)
        return view

    async def _answer(
        self,
        user: UserRecord,
        view: View,
        *,
        text: str | None,
        ended_at: float,
        transcript_ms: float | None,
        stt_ms: float | None,
        stopped_at: float | None,
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the answer into the chat and speak it piece by piece as it is written: the
        page's player starts on the first phrase, as in a live conversation.

        Every figure counts from `ended_at`, the end of speech (or the press of Send); the
        first audio is the player's own report of when it started playing (`heard`), or,
        when the page sent no clock (`stopped_at`), when the first piece was sent."""
        view.status = "Thinking..."
        yield view.out()
        view.timings = None  # written once the turn is stored (or by `heard`)
        speech = PageSpeech(self.state, user)
        shown = StreamedAnswer(view, stopped_at)
        events = self.state.agent.respond(
            user=user, text=text, session_id=view.session_id, channel="ui", hold=speech.hold
        )
        try:
            async for batch in speech.merge(events):
                for item in batch:
                    shown.add(item)
                yield view.out()
        except AgentError as exc:
            view.status = self._error(exc)
            yield view.out()
            return
        if shown.result is not None:
            stages = {
                "transcript": transcript_ms,
                "first_token": ms_between(ended_at, speech.first_token),
                "first_tts_chunk": ms_between(ended_at, speech.first_audio),
                "first_audio_sent": ms_between(ended_at, shown.first_sent),
            }
            await self._done(
                user,
                view,
                shown.result,
                stages=stages,
                ended_at=ended_at,
                stopped_at=stopped_at,
                spoken=speech.spoken,
            )
            yield view.out()

    async def _done(
        self,
        user: UserRecord,
        view: View,
        done: TurnResult,
        *,
        stages: dict[str, float | None],
        ended_at: float,
        stopped_at: float | None,
        spoken: bool,
    ) -> None:
        """The answer is in: store its timings, trace it, show the turn's timings line."""
        await self.state.store.aio.record_realtime(
            turn_id=done.turn_id,
            transcript_ms=stages["transcript"],
            first_token_ms=stages["first_token"],
            first_audio_ms=None if stopped_at is not None else stages["first_audio_sent"],
        )
        tracing.record_turn(
            tracing.TurnTrace(
                channel="ui",
                ended_at=ended_at,
                stages_ms=stages,
                attributes={
                    "turn_id": done.turn_id,
                    "language": done.language,
                    "provider": done.provider,
                    "fallback": done.fallback,
                },
            )
        )
        view.sessions = await self._session_choices(user, done.session_id)
        # Read last, with nothing awaited before the output: a first audio the player reports
        # from now on is shown by `heard`, after this.
        turns = await self._turns(user, done.session_id)
        view.plot = timings_plot(turns)
        turn = next((t for t in turns if t.id == done.turn_id), None)
        view.timings = timings_line(turn) if turn is not None else ""
        view.status = "Done." if spoken else "Done (the answer could not be spoken)."

    @staticmethod
    def _error(exc: AgentError) -> str:
        if status_for(exc) >= 500:
            return f"Error: Something went wrong on our side: {exc}"
        return f"Error: {exc}"
