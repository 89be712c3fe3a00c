"""What a handler shows on the page: the parts it updates, and a session's turns as a chat."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.history import TurnRecord
from core.results import AnswerDelta, AnswerRestart, TurnDone, TurnResult, TurnStarted
from webapp.ui.player import feed_piece, feed_start
from webapp.ui.speech import PAGE_RATE

Message = dict[str, Any]

# After the part of an interrupted answer that was heard (the stored flag says so).
INTERRUPTED = "*(interrupted)*"


@dataclass
class View:
    """Everything one handler updates on the page, in the order of `out`; a part left None
    stays as the page shows it (except `session_id`, always written)."""

    status: str | None = None
    chat: list[Message] | None = None
    speech: str | None = None  # the player's feed: the answer's audio so far (player.py)
    timings: str | None = None
    plot: Any = None
    session_id: str | None = None
    sessions: Any = None
    recordings: dict[int, str] | None = None  # turn id -> its recording, this page's own
    clear_recorder: bool = False  # with the next output only: the recorder shows Record again

    # How many outputs `out` gives, for a handler that changes nothing (`unchanged`).
    SIZE = 10

    def out(self) -> tuple[Any, ...]:
        """The outputs: status, chat, speech, timings, plot, session state, sessions list,
        recorder, recordings state, and the session id the hands-free section joins."""
        clear, self.clear_recorder = self.clear_recorder, False
        return (
            _keep(self.status),
            _keep(self.chat),
            _keep(self.speech),
            _keep(self.timings),
            _keep(self.plot),
            self.session_id,
            _keep(self.sessions),
            None if clear else gr.skip(),
            _keep(self.recordings),
            self.session_id or "",
        )

    @classmethod
    def unchanged(cls) -> tuple[Any, ...]:
        return tuple(gr.skip() for _ in range(cls.SIZE))

    def say(self, role: str, content: str, recording: str | None = None) -> None:
        self.chat = [*(self.chat or []), *_messages(role, content, recording)]

    def grow_answer(self, content: str) -> None:
        """The agent's message (the last one) as it is written so far."""
        chat = self.chat or []
        self.chat = [*chat[:-1], {"role": "assistant", "content": content}]


def _keep(value: Any) -> Any:
    return gr.skip() if value is None else value


def _messages(role: str, text: str, recording: str | None) -> list[Message]:
    """A message, with the recording it was transcribed from (playable) before its text."""
    if recording is None:
        return [{"role": role, "content": text}]
    return [{"role": role, "content": {"path": recording}}, {"role": role, "content": text}]


def answer_text(turn: TurnRecord) -> str | None:
    """The answer as the chat shows it: one cut short (spoken over, or stopped with the
    server or the page that asked) is what was heard or written, marked."""
    if turn.interrupted or turn.status in ("interrupted", "cancelled"):
        return f"{turn.answer} — {INTERRUPTED}" if turn.answer else INTERRUPTED
    return turn.answer or None


def chat_messages(
    turns: list[TurnRecord], recordings: dict[int, str] | None = None
) -> list[Message]:
    """A session's turns as the Conversation view shows them, with this page's recordings."""
    messages: list[Message] = []
    for turn in turns:
        messages += _messages("user", turn.user_text, (recordings or {}).get(turn.id))
        answer = answer_text(turn)
        if answer:
            messages.append({"role": "assistant", "content": answer})
    return messages


class StreamedAnswer:
    """What an answer's stream has put on the page so far (`View`), item by item."""

    def __init__(self, view: View, stopped_at: float | None) -> None:
        self.view = view
        self.stopped_at = stopped_at
        self.answer = ""
        self.result: TurnResult | None = None
        self.first_sent: float | None = None  # perf_counter() of the first piece of audio

    def add(self, item: Any) -> None:
        view = self.view
        if isinstance(item, bytes):  # a piece of the spoken answer
            view.speech = (view.speech or "") + feed_piece(item)
            view.status = "Speaking..."
            self.first_sent = self.first_sent or time.perf_counter()
        elif isinstance(item, TurnStarted):
            view.session_id = item.session_id
            view.say("assistant", "")
            view.speech = feed_start(item.turn_id, PAGE_RATE, self.stopped_at)
        elif isinstance(item, AnswerDelta):
            self.answer += item.text
            view.grow_answer(self.answer)
        elif isinstance(item, AnswerRestart):
            self.answer = ""
            view.grow_answer(self.answer)
            view.status = "The cloud model failed; the local model is answering..."
        elif isinstance(item, TurnDone):
            self.result = item.result
            view.session_id = item.result.session_id
            view.grow_answer(item.result.answer)
