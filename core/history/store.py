"""Reads and writes of users, sessions and turns; every lookup is scoped to its owner."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Engine, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from core.errors import ConflictError, NotFoundError
from core.history.db import make_engine, migrate
from core.history.models import Call, SessionRow, Turn, User, utcnow
from core.history.records import CallRecord, SessionRecord, TurnRecord, UserRecord

R = TypeVar("R")
_UNSET: Any = object()


def _record(cls: type[R], row: object, **extra: object) -> R:
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = {n: getattr(row, n) for n in names if n not in extra}
    return cls(**values, **extra)


SESSION_ID = re.compile(r"[0-9a-f]{32}")


def new_session_id() -> str:
    """A fresh session id, for a session named before it is stored."""
    return uuid.uuid4().hex


class HistoryStore:
    """Blocking data access; the agent calls it off the event loop.

    One rule for what is not there: `get_*` raises `NotFoundError` (the caller asked for
    something that must exist), `find_*` returns None (looking is the point)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> HistoryStore:
        """Connect to `url` and migrate the schema to the newest revision."""
        engine = make_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[DBSession]:
        with self._sessions.begin() as db:
            yield db

    # Users -------------------------------------------------------------------------------

    def count_users(self) -> int:
        with self._tx() as db:
            return db.scalar(select(func.count()).select_from(User)) or 0

    def create_user(self, *, username: str, password_hash: str) -> UserRecord:
        try:
            with self._tx() as db:
                user = User(username=username, password_hash=password_hash, language="auto")
                db.add(user)
                db.flush()
                return _record(UserRecord, user)
        except IntegrityError as exc:
            raise ConflictError(f"The username '{username}' is taken.") from exc

    def find_user(self, *, user_id: int) -> UserRecord | None:
        with self._tx() as db:
            user = db.get(User, user_id)
            return _record(UserRecord, user) if user else None

    def find_user_by_name(self, *, username: str) -> UserRecord | None:
        with self._tx() as db:
            user = db.scalar(select(User).where(User.username == username))
            return _record(UserRecord, user) if user else None

    def update_user(
        self,
        *,
        user_id: int,
        personality: str | None = _UNSET,
        custom_prompt: str | None = _UNSET,
        language: str = _UNSET,
        tts_provider: str | None = _UNSET,
        time_zone: str | None = _UNSET,
    ) -> UserRecord:
        with self._tx() as db:
            user = db.get(User, user_id)
            if user is None:
                raise NotFoundError("User not found.")
            for name, value in (
                ("personality", personality),
                ("custom_prompt", custom_prompt),
                ("language", language),
                ("tts_provider", tts_provider),
                ("time_zone", time_zone),
            ):
                if value is not _UNSET:
                    setattr(user, name, value)
            return _record(UserRecord, user)

    # Sessions ----------------------------------------------------------------------------

    def create_session(
        self,
        *,
        user_id: int,
        title: str | None = None,
        channel: str = "api",
        session_id: str | None = None,
    ) -> SessionRecord:
        """A new session; `session_id` is one named earlier with `new_session_id`."""
        with self._tx() as db:
            conv = SessionRow(
                id=session_id or new_session_id(), user_id=user_id, title=title, channel=channel
            )
            db.add(conv)
            db.flush()
            return _record(SessionRecord, conv, turn_count=0)

    def _owned(self, db: DBSession, user_id: int, session_id: str) -> SessionRow:
        if not SESSION_ID.fullmatch(session_id):  # not an id this store makes: never looked up
            raise NotFoundError("Session not found.")
        conv = db.get(SessionRow, session_id)
        if conv is None or conv.user_id != user_id:
            raise NotFoundError("Session not found.")
        return conv

    def _count(self, db: DBSession, session_id: str) -> int:
        stmt = select(func.count()).select_from(Turn).where(Turn.session_id == session_id)
        return db.scalar(stmt) or 0

    def get_session(self, *, user_id: int, session_id: str) -> SessionRecord:
        with self._tx() as db:
            conv = self._owned(db, user_id, session_id)
            return _record(SessionRecord, conv, turn_count=self._count(db, session_id))

    def list_sessions(self, *, user_id: int, limit: int = 100) -> list[SessionRecord]:
        counts = (
            select(Turn.session_id, func.count().label("n")).group_by(Turn.session_id).subquery()
        )
        stmt = (
            select(SessionRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.session_id == SessionRow.id)
            .where(SessionRow.user_id == user_id)
            .order_by(SessionRow.updated_at.desc())
            .limit(limit)
        )
        with self._tx() as db:
            return [_record(SessionRecord, c, turn_count=n) for c, n in db.execute(stmt)]

    def update_session(
        self,
        *,
        user_id: int,
        session_id: str,
        title: str | None = _UNSET,
        personality: str | None = _UNSET,
        custom_prompt: str | None = _UNSET,
        language: str | None = _UNSET,
    ) -> SessionRecord:
        with self._tx() as db:
            conv = self._owned(db, user_id, session_id)
            for name, value in (
                ("title", title),
                ("personality", personality),
                ("custom_prompt", custom_prompt),
                ("language", language),
            ):
                if value is not _UNSET:
                    setattr(conv, name, value)
            conv.updated_at = utcnow()
            return _record(SessionRecord, conv, turn_count=self._count(db, session_id))

    def delete_session(self, *, user_id: int, session_id: str) -> None:
        with self._tx() as db:
            conv = self._owned(db, user_id, session_id)
            db.delete(conv)

    # Turns -------------------------------------------------------------------------------

    def add_turn(
        self,
        *,
        user_id: int,
        session_id: str,
        source: str,
        user_text: str,
        language: str,
        personality: str | None = None,
        stt_provider: str | None = None,
        audio_seconds: float | None = None,
        stt_ms: float | None = None,
        fallback: str | None = None,
        status: str = "pending",
    ) -> TurnRecord:
        """A new turn: `pending` (waiting for an answer) or `answering` (one has started)."""
        with self._tx() as db:
            conv = self._owned(db, user_id, session_id)
            turn = Turn(
                session_id=session_id,
                source=source,
                user_text=user_text,
                language=language,
                personality=personality,
                stt_provider=stt_provider,
                audio_seconds=audio_seconds,
                stt_ms=stt_ms,
                fallback=fallback,
                status=status,
                interrupted=False,
            )
            db.add(turn)
            if not conv.title:
                conv.title = user_text[:80]
            conv.updated_at = utcnow()
            db.flush()
            return _record(TurnRecord, turn)

    def complete_turn(
        self,
        *,
        turn_id: int,
        answer: str,
        language: str,
        personality: str,
        llm_provider: str,
        fallback: str | None,
        llm_first_token_ms: float | None,
        total_ms: float,
        status: str = "answered",
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> TurnRecord:
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None:
                raise NotFoundError("Turn not found.")
            turn.answer = answer
            turn.language = language
            turn.personality = personality
            turn.llm_provider = llm_provider
            turn.fallback = "; ".join(x for x in (turn.fallback, fallback) if x) or None
            turn.llm_first_token_ms = llm_first_token_ms
            turn.total_ms = total_ms
            turn.status = status
            turn.tool_calls = tool_calls or None
            turn.answered_at = utcnow()
            return _record(TurnRecord, turn)

    def record_realtime(
        self,
        *,
        turn_id: int,
        transcript_ms: float | None,
        first_token_ms: float | None,
        first_audio_ms: float | None,
        heard_answer: str | None = None,
    ) -> TurnRecord:
        """Store a turn's timings from the end of speech; `heard_answer` (when the user
        interrupted) replaces the answer with the part that was heard, so later turns remember
        what was said, and marks the turn interrupted.

        A timing given as None leaves the stored one as it is: an interruption stored after
        the answer's timings (the user spoke over its last words) keeps them, and the page
        stores its first audio apart from the rest, when its player reports it."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None:
                raise NotFoundError("Turn not found.")
            for name, value in (
                ("eos_transcript_ms", transcript_ms),
                ("eos_first_token_ms", first_token_ms),
                ("eos_first_audio_ms", first_audio_ms),
            ):
                if value is not None:
                    setattr(turn, name, value)
            if heard_answer is not None:
                turn.answer = heard_answer
                turn.interrupted = True
                turn.status = "answered"
                turn.answered_at = turn.answered_at or utcnow()
            return _record(TurnRecord, turn)

    def withdraw_turn(self, *, turn_id: int) -> None:
        """Delete a live turn whose speaker went on before any of its answer was heard: what
        they said is carried into the next turn, so nothing is lost. A session title taken
        from it comes from the session's first turn left, or the next one."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None:
                return
            conv = turn.session
            db.delete(turn)
            db.flush()
            if conv.title == turn.user_text[:80]:
                first = db.scalar(
                    select(Turn.user_text)
                    .where(Turn.session_id == conv.id)
                    .order_by(Turn.id)
                    .limit(1)
                )
                conv.title = first[:80] if first else None

    def set_turn_status(self, *, turn_id: int, status: str) -> None:
        """Mark a turn `answering` when its answer starts, or `pending` again when none came."""
        with self._tx() as db:
            db.execute(update(Turn).where(Turn.id == turn_id).values(status=status))

    def interrupt_unfinished(self, *, reason: str) -> int:
        """At start: turns whose answer was cut off by a stop of the server (status
        `answering`) become `interrupted`, with the reason; returns how many. A turn that
        another live process is still answering is set `answered` when it completes."""
        with self._tx() as db:
            result = db.execute(
                update(Turn)
                .where(Turn.status == "answering")
                .values(
                    status="interrupted",
                    fallback=case(
                        (Turn.fallback.is_(None), reason), else_=Turn.fallback + "; " + reason
                    ),
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def find_pending_turn(self, *, user_id: int, session_id: str) -> TurnRecord | None:
        """The newest transcription of the session that has no answer yet."""
        with self._tx() as db:
            self._owned(db, user_id, session_id)
            turn = db.scalar(
                select(Turn)
                .where(Turn.session_id == session_id, Turn.status == "pending")
                .order_by(Turn.id.desc())
                .limit(1)
            )
            return _record(TurnRecord, turn) if turn else None

    def get_turn(self, *, user_id: int, turn_id: int) -> TurnRecord:
        """One of the user's turns; someone else's is as unknown as a missing one."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None or turn.session.user_id != user_id:
                raise NotFoundError("Turn not found.")
            return _record(TurnRecord, turn)

    def note_fallback(self, *, turn_id: int, reason: str) -> TurnRecord:
        """Add a fallback reason (say, of the voice that spoke the answer) to a turn's record."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None:
                raise NotFoundError("Turn not found.")
            if reason not in (turn.fallback or ""):
                turn.fallback = "; ".join(x for x in (turn.fallback, reason) if x)
            return _record(TurnRecord, turn)

    def list_turns(
        self, *, user_id: int, session_id: str, answered_only: bool = False
    ) -> list[TurnRecord]:
        with self._tx() as db:
            self._owned(db, user_id, session_id)
            stmt = select(Turn).where(Turn.session_id == session_id).order_by(Turn.id)
            if answered_only:
                stmt = stmt.where(Turn.status == "answered")
            return [_record(TurnRecord, t) for t in db.scalars(stmt)]

    # Phone calls ---------------------------------------------------------------------------

    def begin_call(self, *, call_sid: str, caller_id: str, session_id: str) -> CallRecord:
        """Record a new call (or return the one already recorded under `call_sid`)."""
        with self._tx() as db:
            call = db.get(Call, call_sid)
            if call is None:
                call = Call(call_sid=call_sid, caller_id=caller_id, session_id=session_id)
                db.add(call)
                db.flush()
            return _record(CallRecord, call)

    def find_call_session(self, *, call_sid: str) -> SessionRecord | None:
        """The session a recorded call talks in (an outbound call's, chosen when it was placed),
        or None."""
        with self._tx() as db:
            call = db.get(Call, call_sid)
            conv = db.get(SessionRow, call.session_id) if call and call.session_id else None
            if conv is None:
                return None
            return _record(SessionRecord, conv, turn_count=self._count(db, conv.id))

    def find_call(self, *, call_sid: str) -> CallRecord | None:
        with self._tx() as db:
            call = db.get(Call, call_sid)
            return _record(CallRecord, call) if call else None

    def update_call(
        self,
        *,
        call_sid: str,
        status: str | None = None,
        duration_s: int | None = None,
        stream_sid: str | None = None,
        clear_stream: bool = False,
        ending: str | None = None,
    ) -> CallRecord | None:
        """Change a known call's status, duration, stream or ending; None for an unknown
        call."""
        with self._tx() as db:
            call = db.get(Call, call_sid)
            if call is None:
                return None
            if status is not None:
                call.status = status
            if duration_s is not None:
                call.duration_s = duration_s
            if stream_sid is not None or clear_stream:
                call.stream_sid = stream_sid
            if ending is not None:
                call.ending = ending
            call.updated_at = utcnow()
            return _record(CallRecord, call)
