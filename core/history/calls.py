"""The phone calls part of the history store: each call's owner, session and latest status."""

from __future__ import annotations

import uuid
from dataclasses import fields

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from core.history.models import Call, SessionRow, Turn, utcnow
from core.history.records import CallRecord, SessionRecord

MAX_LISTED = 100


def _call(row: Call) -> CallRecord:
    return CallRecord(**{f.name: getattr(row, f.name) for f in fields(CallRecord)})


class CallStore:
    """Reads and writes of call records; `HistoryStore` is one, on its own engine.

    A call keeps its owner (`user_id`: who placed an outbound call, the caller's account for
    an incoming one) apart from its session. Deleting the session clears `session_id` and
    nothing else, so the call stays listed for its owner, and a call still going on is
    answered in a new session of that owner, never under another identity.
    """

    _sessions: sessionmaker[DBSession]  # HistoryStore's

    def begin_call(
        self, *, call_sid: str, caller_id: str, user_id: int, session_id: str
    ) -> CallRecord:
        """Record a new call (or return the one already recorded under `call_sid`)."""
        with self._sessions.begin() as db:
            call = db.get(Call, call_sid)
            if call is None:
                call = Call(
                    call_sid=call_sid, caller_id=caller_id, user_id=user_id, session_id=session_id
                )
                db.add(call)
                db.flush()
            return _call(call)

    def resume_call(self, *, call_sid: str, channel: str) -> SessionRecord | None:
        """The session a recorded call talks in (an outbound call's, chosen when it was
        placed). When that session was deleted, a new `channel` session of the call's owner,
        which the record then points to. None for a call with no record, or no owner."""
        with self._sessions.begin() as db:
            call = db.get(Call, call_sid)
            if call is None or call.user_id is None:
                return None
            conv = db.get(SessionRow, call.session_id) if call.session_id else None
            if conv is None:
                conv = SessionRow(id=uuid.uuid4().hex, user_id=call.user_id, channel=channel)
                db.add(conv)
                db.flush()
                call.session_id = conv.id
                call.updated_at = utcnow()
            count = select(func.count()).select_from(Turn).where(Turn.session_id == conv.id)
            turns = db.scalar(count) or 0
            return SessionRecord(
                **{
                    f.name: getattr(conv, f.name)
                    for f in fields(SessionRecord)
                    if f.name != "turn_count"
                },
                turn_count=turns,
            )

    def find_call(self, *, call_sid: str) -> CallRecord | None:
        with self._sessions.begin() as db:
            call = db.get(Call, call_sid)
            return _call(call) if call else None

    def list_calls(self, *, user_id: int, limit: int = MAX_LISTED) -> list[CallRecord]:
        """The calls `user_id` owns, newest first, with or without their session."""
        stmt = (
            select(Call)
            .where(Call.user_id == user_id)
            .order_by(Call.created_at.desc(), Call.call_sid)
            .limit(limit)
        )
        with self._sessions.begin() as db:
            return [_call(row) for row in db.scalars(stmt)]

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
        with self._sessions.begin() as db:
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
            return _call(call)
