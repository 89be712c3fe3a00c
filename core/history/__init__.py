"""Conversation history: users, sessions, turns and phone calls, kept through SQLAlchemy."""

from core.history.records import (
    AnswerTimings,
    CallRecord,
    RealtimeTimings,
    SessionRecord,
    TurnRecord,
    UserRecord,
)
from core.history.sessions import new_session_id
from core.history.store import HistoryStore

__all__ = [
    "AnswerTimings",
    "CallRecord",
    "HistoryStore",
    "RealtimeTimings",
    "SessionRecord",
    "TurnRecord",
    "UserRecord",
    "new_session_id",
]
