"""The accounts part of the history store: users, their settings, and what their tokens name."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from core.errors import ConflictError, NotFoundError
from core.history.models import User
from core.history.records import UserRecord

_UNSET: Any = object()


def _user(row: User) -> UserRecord:
    return UserRecord(**{f.name: getattr(row, f.name) for f in fields(UserRecord)})


class UserStore:
    """Reads and writes of user rows; `HistoryStore` is one, on its own engine.

    A token names its account by `public_id`, random and never reused, unlike the numeric
    `id` (SQLite gives a deleted row's id to the next account, whose settings and prompt an
    old token would then read). It carries the account's `token_version` too, which signing
    out and a password change advance, so that every token issued before is refused.
    """

    _sessions: sessionmaker[DBSession]  # HistoryStore's

    def count_users(self) -> int:
        with self._sessions.begin() as db:
            return db.scalar(select(func.count()).select_from(User)) or 0

    def create_user(self, *, username: str, password_hash: str) -> UserRecord:
        try:
            with self._sessions.begin() as db:
                user = User(username=username, password_hash=password_hash, language="auto")
                db.add(user)
                db.flush()
                return _user(user)
        except IntegrityError as exc:
            raise ConflictError(f"The username '{username}' is taken.") from exc

    def find_user(self, *, user_id: int) -> UserRecord | None:
        with self._sessions.begin() as db:
            user = db.get(User, user_id)
            return _user(user) if user else None

    def find_user_by_name(self, *, username: str) -> UserRecord | None:
        with self._sessions.begin() as db:
            user = db.scalar(select(User).where(User.username == username))
            return _user(user) if user else None

    def find_user_by_public_id(self, *, public_id: str) -> UserRecord | None:
        """The account a token names, or None (it was deleted)."""
        with self._sessions.begin() as db:
            user = db.scalar(select(User).where(User.public_id == public_id))
            return _user(user) if user else None

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
        with self._sessions.begin() as db:
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
            return _user(user)

    def revoke_tokens(self, *, user_id: int) -> UserRecord:
        """Sign out everywhere: advance the token version, so no token issued so far works."""
        return self._next_token_version(user_id)

    def change_password(self, *, user_id: int, password_hash: str) -> UserRecord:
        """Store a new password hash and advance the token version, in one transaction: no
        token issued under the old password works afterwards."""
        return self._next_token_version(user_id, password_hash=password_hash)

    def _next_token_version(self, user_id: int, **changes: str) -> UserRecord:
        # Incremented by the database, so that two revocations at once both count.
        with self._sessions.begin() as db:
            db.execute(
                update(User)
                .where(User.id == user_id)
                .values(token_version=User.token_version + 1, **changes)
            )
            user = db.get(User, user_id, populate_existing=True)
            if user is None:
                raise NotFoundError("User not found.")
            return _user(user)
