"""Conversation history: users, sessions, turns and phone calls, kept through SQLAlchemy."""

from core.history.records import CallRecord, SessionRecord, TurnRecord, UserRecord
from core.history.store import HistoryStore, new_session_id

__all__ = [
    "CallRecord",
    "HistoryStore",
    "SessionRecord",
    "TurnRecord",
    "UserRecord",
    "new_session_id",
]
