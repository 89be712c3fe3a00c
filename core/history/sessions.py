"""The sessions part of the history store: a user's conversations, each read and written only
by its owner."""

from __future__ import annotations

import re
import uuid
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DBSession

from core.errors import NotFoundError
from core.history.models import SessionRow, Turn, utcnow
from core.history.records import SessionRecord, from_row

SESSION_ID = re.compile(r"[0-9a-f]{32}")
_UNSET: Any = object()


def new_session_id() -> str:
    """A fresh session id, for a session named before it is stored."""
    return uuid.uuid4().hex


class SessionStore:
    """Reads and writes of sessions; `HistoryStore` is one, in its transactions. Someone
    else's session is as unknown as a missing one (`NotFoundError`), for turns too."""

    def _tx(self) -> AbstractContextManager[DBSession]:
        """A transaction: `HistoryStore`'s."""
        raise NotImplementedError

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
            return from_row(SessionRecord, conv, turn_count=0)

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
            return from_row(SessionRecord, conv, turn_count=self._count(db, session_id))

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
            return [from_row(SessionRecord, c, turn_count=n) for c, n in db.execute(stmt)]

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
            return from_row(SessionRecord, conv, turn_count=self._count(db, session_id))

    def delete_session(self, *, user_id: int, session_id: str) -> None:
        with self._tx() as db:
            conv = self._owned(db, user_id, session_id)
            db.delete(conv)
