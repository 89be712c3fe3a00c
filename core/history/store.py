"""The history store and its async face; turns here, sessions, users and calls in their own
modules."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, case, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from core.errors import NotFoundError, StorageFullError
from core.history.calls import CallStore
from core.history.db import make_engine, migrate
from core.history.models import Turn, utcnow
from core.history.offload import Face, Offloaded
from core.history.records import TurnRecord, from_row
from core.history.sessions import SessionStore
from core.history.users import UserStore

logger = logging.getLogger(__name__)


class HistoryStore(SessionStore, UserStore, CallStore):
    """Blocking data access. On the event loop, await its async face instead: `store.aio.x(...)`
    runs `store.x(...)` on a worker thread.

    One rule for what is not there: `get_*` raises `NotFoundError` (the caller asked for
    something that must exist), `find_*` returns None (looking is the point).

    A full disk raises `StorageFullError` from any write (`core.history.db`). An answer that
    cannot be stored leaves its turn `pending`, as an answer that never came does: at once
    if the smaller write fits, else at the first transaction once the disk has room. A turn
    is never left `answering` for the life of the process (a stop is `interrupt_unfinished`'s).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._unsettled: set[int] = set()  # turns to set `pending` once there is room
        self._unsettled_lock = threading.Lock()
        self.aio = AsyncHistoryStore(self)

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
        if self._unsettled:
            self._settle()
        with self._sessions.begin() as db:
            yield db

    @contextmanager
    def _pending_if_full(self, turn_id: int) -> Iterator[None]:
        """Around the write that ends a turn: with no room for it, the turn is to be `pending`
        again (then `StorageFullError` goes on to the caller)."""
        try:
            yield
        except StorageFullError:
            logger.warning("Turn %s: no room to store its answer; it waits for one again", turn_id)
            with self._unsettled_lock:
                self._unsettled.add(turn_id)
            self._settle()
            raise

    def _settle(self) -> None:
        """Set `pending` the turns whose end could not be stored, if there is room now. Only
        turns still `answering`: one that was answered since keeps its answer."""
        with self._unsettled_lock:
            turn_ids = sorted(self._unsettled)
        try:
            with self._sessions.begin() as db:
                db.execute(
                    update(Turn)
                    .where(Turn.id.in_(turn_ids), Turn.status == "answering")
                    .values(status="pending")
                )
        except (StorageFullError, DBAPIError) as exc:
            # Still no room (or the database is busy): the next transaction tries again. The
            # one that asked goes on; this write is not its own.
            logger.info("Turns %s left to set pending later: %s", turn_ids, exc)
            return
        with self._unsettled_lock:
            self._unsettled.difference_update(turn_ids)
        logger.info("Turns %s are pending again", turn_ids)

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
            return from_row(TurnRecord, turn)

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
        """Store a turn's answer; with no room for it, the turn is `pending` again (see the
        class)."""
        with self._pending_if_full(turn_id), self._tx() as db:
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
            return from_row(TurnRecord, turn)

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
                ("transcript_ms", transcript_ms),
                ("first_token_ms", first_token_ms),
                ("first_audio_ms", first_audio_ms),
            ):
                if value is not None:
                    setattr(turn, name, value)
            if heard_answer is not None:
                turn.answer = heard_answer
                turn.interrupted = True
                turn.status = "answered"
                turn.answered_at = turn.answered_at or utcnow()
            return from_row(TurnRecord, turn)

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
        """Mark a turn `answering` when its answer starts, or `pending` again when none came
        (once there is room for it, on a full disk)."""
        settling = self._pending_if_full(turn_id) if status == "pending" else nullcontext()
        with settling, self._tx() as db:
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
            return from_row(TurnRecord, turn) if turn else None

    def get_turn(self, *, user_id: int, turn_id: int) -> TurnRecord:
        """One of the user's turns; someone else's is as unknown as a missing one."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None or turn.session.user_id != user_id:
                raise NotFoundError("Turn not found.")
            return from_row(TurnRecord, turn)

    def note_fallback(self, *, turn_id: int, reason: str) -> TurnRecord:
        """Add a fallback reason (say, of the voice that spoke the answer) to a turn's record."""
        with self._tx() as db:
            turn = db.get(Turn, turn_id)
            if turn is None:
                raise NotFoundError("Turn not found.")
            if reason not in (turn.fallback or ""):
                turn.fallback = "; ".join(x for x in (turn.fallback, reason) if x)
            return from_row(TurnRecord, turn)

    def list_turns(
        self, *, user_id: int, session_id: str, answered_only: bool = False
    ) -> list[TurnRecord]:
        with self._tx() as db:
            self._owned(db, user_id, session_id)
            stmt = select(Turn).where(Turn.session_id == session_id).order_by(Turn.id)
            if answered_only:
                stmt = stmt.where(Turn.status == "answered")
            return [from_row(TurnRecord, t) for t in db.scalars(stmt)]


class AsyncHistoryStore(Face[HistoryStore]):
    """`HistoryStore`'s methods as coroutine functions of the same parameters and results,
    each run on a worker thread (`core.history.offload`), for callers on the event loop."""

    # Sessions and turns
    create_session = Offloaded(HistoryStore.create_session)
    get_session = Offloaded(HistoryStore.get_session)
    list_sessions = Offloaded(HistoryStore.list_sessions)
    update_session = Offloaded(HistoryStore.update_session)
    delete_session = Offloaded(HistoryStore.delete_session)
    add_turn = Offloaded(HistoryStore.add_turn)
    complete_turn = Offloaded(HistoryStore.complete_turn)
    record_realtime = Offloaded(HistoryStore.record_realtime)
    withdraw_turn = Offloaded(HistoryStore.withdraw_turn)
    set_turn_status = Offloaded(HistoryStore.set_turn_status)
    interrupt_unfinished = Offloaded(HistoryStore.interrupt_unfinished)
    find_pending_turn = Offloaded(HistoryStore.find_pending_turn)
    get_turn = Offloaded(HistoryStore.get_turn)
    note_fallback = Offloaded(HistoryStore.note_fallback)
    list_turns = Offloaded(HistoryStore.list_turns)
    # Users
    count_users = Offloaded(HistoryStore.count_users)
    create_user = Offloaded(HistoryStore.create_user)
    find_user = Offloaded(HistoryStore.find_user)
    find_user_by_name = Offloaded(HistoryStore.find_user_by_name)
    find_user_by_public_id = Offloaded(HistoryStore.find_user_by_public_id)
    update_user = Offloaded(HistoryStore.update_user)
    revoke_tokens = Offloaded(HistoryStore.revoke_tokens)
    change_password = Offloaded(HistoryStore.change_password)
    # Calls
    begin_call = Offloaded(HistoryStore.begin_call)
    resume_call = Offloaded(HistoryStore.resume_call)
    find_call = Offloaded(HistoryStore.find_call)
    list_calls = Offloaded(HistoryStore.list_calls)
    update_call = Offloaded(HistoryStore.update_call)
