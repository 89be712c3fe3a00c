"""SQLAlchemy 2.0 tables: users, their conversation sessions, and the turns of each session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class NulFreeString(TypeDecorator[str]):
    """A string column whose values lose any NUL character on the way in. PostgreSQL refuses
    NUL in text (a 500 from any field a user fills, a session id included); it never means
    anything, so it is dropped on every database alike."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return value.replace("\x00", "") if isinstance(value, str) else value


class NulFreeText(NulFreeString):
    """The same for unbounded text."""

    impl = Text
    cache_ok = True


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them without the zone,
    PostgreSQL returns them in its session's zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        # PostgreSQL answers in its session's time zone (the server's, by default): UTC here too.
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


def new_public_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(NulFreeString(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(NulFreeString(255))
    personality: Mapped[str | None] = mapped_column(NulFreeString(32), default=None)
    custom_prompt: Mapped[str | None] = mapped_column(NulFreeText, default=None)
    language: Mapped[str] = mapped_column(NulFreeString(8), default="auto")
    tts_provider: Mapped[str | None] = mapped_column(NulFreeString(16), default=None)
    time_zone: Mapped[str | None] = mapped_column(NulFreeString(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What tokens name the account by: random, so never another account's. The numeric id
    # is not: SQLite gives the id of a deleted row to the next account.
    public_id: Mapped[str] = mapped_column(
        NulFreeString(32), unique=True, index=True, default=new_public_id
    )
    # Advanced by signing out and by a password change: tokens carrying an older one are
    # refused from then on.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    sessions: Mapped[list[SessionRow]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class SessionRow(Base):
    """A conversation: the unit whose earlier turns the agent remembers."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(NulFreeString(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(NulFreeString(200), default=None)
    channel: Mapped[str] = mapped_column(NulFreeString(16), default="api")
    personality: Mapped[str | None] = mapped_column(NulFreeString(32), default=None)
    custom_prompt: Mapped[str | None] = mapped_column(NulFreeText, default=None)
    language: Mapped[str | None] = mapped_column(NulFreeString(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="sessions")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Turn.id",
    )


class Turn(Base):
    """One exchange: the user's message (typed or transcribed) and the agent's answer."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(NulFreeString(16))  # "text" or "audio"
    user_text: Mapped[str] = mapped_column(NulFreeText)
    language: Mapped[str] = mapped_column(NulFreeString(8))
    personality: Mapped[str | None] = mapped_column(NulFreeString(32), default=None)
    answer: Mapped[str | None] = mapped_column(NulFreeText, default=None)
    status: Mapped[str] = mapped_column(NulFreeString(16), default="pending", index=True)
    stt_provider: Mapped[str | None] = mapped_column(NulFreeString(64), default=None)
    llm_provider: Mapped[str | None] = mapped_column(NulFreeString(64), default=None)
    fallback: Mapped[str | None] = mapped_column(NulFreeText, default=None)
    audio_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    stt_ms: Mapped[float | None] = mapped_column(Float, default=None)
    llm_first_token_ms: Mapped[float | None] = mapped_column(Float, default=None)
    total_ms: Mapped[float | None] = mapped_column(Float, default=None)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    # From the end of the user's speech to each stage (a live turn's, or the page's), where
    # `llm_first_token_ms` and `total_ms` count from the start of the answer
    transcript_ms: Mapped[float | None] = mapped_column(Float, default=None)
    first_token_ms: Mapped[float | None] = mapped_column(Float, default=None)
    first_audio_ms: Mapped[float | None] = mapped_column(Float, default=None)
    # The tools this turn called: name, arguments, result, ok, ms (and action) of each
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    session: Mapped[SessionRow] = relationship(back_populates="turns")

    @validates("stt_provider", "llm_provider")
    def _fit_provider(self, key: str, value: str | None) -> str | None:
        # Provider names embed model names from settings, which can be long: SQLite would keep
        # an over-long one, PostgreSQL would refuse the whole turn. The start is what matters.
        length: int = self.__table__.c[key].type.length  # type: ignore[attr-defined]
        return value[:length] if value else value


class Call(Base):
    """A phone call: its caller (a keyed hash of the number, never the number), owner, session
    and latest status from Twilio."""

    __tablename__ = "calls"

    call_sid: Mapped[str] = mapped_column(NulFreeString(64), primary_key=True)
    caller_id: Mapped[str] = mapped_column(NulFreeString(64))
    # Whose call it is (who placed it, or the caller's account), kept apart from the session:
    # deleting the session leaves the call its owner's. None only for calls recorded before
    # owners were (revision 0007) whose session was already gone.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True, default=None
    )
    status: Mapped[str] = mapped_column(NulFreeString(16), default="ringing")
    duration_s: Mapped[int | None] = mapped_column(Integer, default=None)
    stream_sid: Mapped[str | None] = mapped_column(NulFreeString(64), default=None)
    # How the agent ended the stream ("end", "transfer", "idle"): what <Connect>'s action does
    ending: Mapped[str | None] = mapped_column(NulFreeString(16), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginAttempt(Base):
    """A sign-in attempt counted against one key (an account or a client address): a failure,
    or one whose password is still being checked. In the database, so that every app process
    on it counts the same attempts."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(NulFreeString(80), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class UsedTicket(Base):
    """A phone stream ticket that has opened its stream, kept until it expires: a replay is
    refused by whichever process it reaches."""

    __tablename__ = "used_tickets"

    call_sid: Mapped[str] = mapped_column(NulFreeString(64), primary_key=True)
    expires: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch
