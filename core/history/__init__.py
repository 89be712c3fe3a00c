"""Conversation history: users, sessions and turns, kept through SQLAlchemy."""

from core.history.records import SessionRecord, TurnRecord, UserRecord
from core.history.store import HistoryStore

__all__ = ["HistoryStore", "SessionRecord", "TurnRecord", "UserRecord"]
