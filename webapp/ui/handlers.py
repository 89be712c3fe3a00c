"""What the UI's buttons do: thin calls into the core agent, with progress and readable errors."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from core import language, personalities, tracing
from core.concurrency import run_blocking
from core.errors import AgentError
from core.history import TurnRecord, UserRecord
from core.results import AnswerDelta, AnswerRestart, TurnDone, TurnResult, TurnStarted
from webapp.deps import AppState
from webapp.errors import status_for
from webapp.ui.auth import current_ui_user
from webapp.ui.player import feed_piece, feed_start
from webapp.ui.speech import PAGE_RATE, PageSpeech

logger = logging.getLogger(__name__)

LANGUAGE_CHOICES = [("Automatic", language.AUTO)] + [
    (f"{name} ({code})", code) for code, name in language.NAMES.items()
]
PERSONALITY_CHOICES = [*personalities.BUILTIN, personalities.CUSTOM]


@dataclass
class View:
    """Everything one turn updates on the page, in the order of the outputs list."""

    status: str = ""
    chat: list[dict[str, str]] = field(default_factory=list)
    speech: str = ""  # the player's feed: the answer's audio so far (webapp/ui/player.py)
    timings: str = ""
    plot: Any = None
    session_id: str | None = None
    sessions: Any = None

    def out(self) -> tuple[Any, ...]:
        return (
            self.status,
            self.chat,
            self.speech,
            self.timings,
            self.plot if self.plot is not None else gr.skip(),
            self.session_id,
            self.sessions if self.sessions is not None else gr.skip(),
        )

    def say(self, role: str, content: str) -> None:
        self.chat = [*self.chat, {"role": role, "content": content}]

    def grow_answer(self, content: str) -> None:
        """The agent's message (the last one) as it is written so far."""
        self.chat = [*self.chat[:-1], {"role": "assistant", "content": content}]


def chat_messages(turns: list[TurnRecord]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for turn in turns:
        messages.append({"role": "user", "content": turn.user_text})
        if turn.answer:
            messages.append({"role": "assistant", "content": turn.answer})
    return messages


STAGES = ("speech-to-text", "until first token", "rest of the answer")


def timings_frame(turns: list[TurnRecord]) -> Any:
    """One stacked bar per turn: speech-to-text, wait for the first token, rest of the answer.

    Every turn has all three stages (0 when a stage did not happen, such as speech-to-text for
    typed text), so the chart's colour domain never misses one.
    """
    import pandas as pd

    rows = []
    for n, turn in enumerate(turns, 1):
        stt = turn.stt_ms or 0.0
        first = turn.llm_first_token_ms or 0.0
        rest = max(0.0, (turn.total_ms or 0.0) - stt - first) if turn.total_ms else 0.0
        for stage, value in zip(STAGES, (stt, first, rest), strict=True):
            rows.append({"turn": str(n), "stage": stage, "ms": float(value)})
    # Explicit dtypes: an empty frame's object columns would make the time axis categorical.
    frame = pd.DataFrame(rows, columns=["turn", "stage", "ms"])
    return frame.astype({"turn": "string", "stage": "string", "ms": "float64"})


def timings_plot(turns: list[TurnRecord]) -> Any:
    """The plot's update: shown only once there is a turn to draw.

    Gradio builds the chart's colour scale when the plot appears and not on later value
    changes, so the plot stays hidden (unmounted) until it has data with every stage.
    """
    return gr.update(value=timings_frame(turns), visible=bool(turns))


def _ms_between(start: float | None, end: float | None) -> float | None:
    """Milliseconds from one perf_counter() reading to a later one, if both were taken."""
    return None if start is None or end is None else round((end - start) * 1000, 1)


def _fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


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
        await run_blocking(
            lambda: self.state.store.update_user(
                user_id=user.id,
                personality=personality,
                custom_prompt=custom_prompt or None,
                language=lang,
            )
        )
        shown = dict(LANGUAGE_CHOICES).get(lang, lang)
        names = {v: k for k, v in LANGUAGE_CHOICES}
        return f"Saved: {personality}, language {names.get(lang, shown)}.", visible

    async def _session_choices(self, user: UserRecord, selected: str | None = None) -> Any:
        records = await run_blocking(lambda: self.state.store.list_sessions(user_id=user.id))
        choices = [
            (f"{(r.title or 'Untitled')[:40]} · {r.turn_count} turn(s)", r.id) for r in records
        ]
        return gr.update(choices=choices, value=selected)

    async def open_session(self, session_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        user = self.user(request)
        if not session_id:
            return View(status="New conversation.", plot=timings_plot([])).out()
        turns = await run_blocking(
            lambda: self.state.store.list_turns(user_id=user.id, session_id=session_id)
        )
        return View(
            status=f"Continuing a conversation of {len(turns)} turn(s).",
            chat=chat_messages(turns),
            plot=timings_plot(turns),
            session_id=session_id,
        ).out()

    # A turn --------------------------------------------------------------------------

    async def audio_turn(
        self, audio_path: str | None, session_id: str | None, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Recording or uploaded file -> transcript -> streamed answer -> spoken answer."""
        if not audio_path:
            return
        user = self.user(request)
        view = await self._start_view(user, session_id)
        view.status = "Transcribing..."
        yield view.out()
        try:
            data = await run_blocking(lambda: Path(audio_path).read_bytes())
            result = await self.state.agent.transcribe(
                user=user, audio=data, session_id=session_id, channel="ui"
            )
        except AgentError as exc:
            view.status = self._error(exc)
            yield view.out()
            return
        view.session_id = result.session_id or view.session_id
        if not result.text:
            view.status = "No speech heard in that recording. Try again, a little louder."
            yield view.out()
            return
        view.say("user", result.text)
        async for out in self._answer(user, view, text=None, stt_ms=result.stt_ms):
            yield out

    async def text_turn(
        self, text: str, session_id: str | None, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        if not text.strip():
            return
        user = self.user(request)
        view = await self._start_view(user, session_id)
        view.say("user", text.strip())
        async for out in self._answer(user, view, text=text, stt_ms=None):
            yield out

    async def _start_view(self, user: UserRecord, session_id: str | None) -> View:
        view = View(session_id=session_id)
        if session_id:
            turns = await run_blocking(
                lambda: self.state.store.list_turns(user_id=user.id, session_id=session_id)
            )
            view.chat = chat_messages(turns)
        return view

    async def _answer(
        self, user: UserRecord, view: View, *, text: str | None, stt_ms: float | None
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the answer into the chat and speak it piece by piece as it is written: the
        page's player starts on the first clause, as in a live conversation."""
        started = time.perf_counter()
        view.status = "Thinking..."
        yield view.out()
        speech = PageSpeech(self.state, user)
        answer = ""
        result: TurnResult | None = None
        first_sent: float | None = None
        events = self.state.agent.respond(
            user=user, text=text, session_id=view.session_id, channel="ui", hold=speech.hold
        )
        try:
            async for batch in speech.merge(events):
                for item in batch:
                    if isinstance(item, bytes):  # a piece of the spoken answer
                        view.speech += feed_piece(item)
                        view.status = "Speaking..."
                        first_sent = first_sent or time.perf_counter()
                    elif isinstance(item, TurnStarted):
                        view.say("assistant", "")
                        view.speech = feed_start(uuid.uuid4().hex, PAGE_RATE)
                    elif isinstance(item, AnswerDelta):
                        answer += item.text
                        view.grow_answer(answer)
                    elif isinstance(item, AnswerRestart):
                        answer = ""
                        view.grow_answer(answer)
                        view.status = "The cloud model failed; the local model is answering..."
                    elif isinstance(item, TurnDone):
                        result = item.result
                        view.session_id = result.session_id
                        view.grow_answer(result.answer)
                yield view.out()
        except AgentError as exc:
            view.status = self._error(exc)
            yield view.out()
            return
        if result is None:
            return
        done = result
        turns = await run_blocking(
            lambda: self.state.store.list_turns(user_id=user.id, session_id=done.session_id)
        )
        view.plot = timings_plot(turns)
        view.sessions = await self._session_choices(user, done.session_id)
        # The clock starts at the end of speech: before the transcription, for a recording.
        ended_at = started - (stt_ms or 0) / 1000
        stages = {
            "transcript": stt_ms,
            "first_token": _ms_between(ended_at, speech.first_token),
            "first_tts_chunk": _ms_between(ended_at, speech.first_audio),
            "first_audio_sent": _ms_between(ended_at, first_sent),
        }
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
        after_token = _ms_between(speech.first_token, first_sent)
        view.timings = (
            f"**Last turn** · speech-to-text {_fmt(stt_ms)} · "
            f"first token {_fmt(stages['first_token'])} · "
            f"first audio {_fmt(stages['first_audio_sent'])}"
            + (f" ({_fmt(after_token)} after the first token)" if after_token else "")
            + f" · {done.provider}"
            + (f" (fallback: {done.fallback})" if done.fallback else "")
        )
        view.status = "Done." if speech.spoken else "Done (the answer could not be spoken)."
        yield view.out()

    @staticmethod
    def _error(exc: AgentError) -> str:
        if status_for(exc) >= 500:
            return f"Error: Something went wrong on our side: {exc}"
        return f"Error: {exc}"
