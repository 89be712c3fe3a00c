"""Phone callers: a number, kept only as a keyed hash, mapped to a user and their session."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass

from core.errors import ConflictError
from core.history import HistoryStore, SessionRecord, UserRecord

logger = logging.getLogger(__name__)

CHANNEL = "phone"
# ':' is not allowed in the usernames people register (core.accounts.USERNAME), so nobody can
# sign up under a caller's name; and the password hash is no argon2 hash, so nobody can sign in
# as a caller (argon2 refuses to verify against it).
USERNAME_PREFIX = "phone:"
UNUSABLE_PASSWORD = "!phone-caller"
ANONYMOUS = "anonymous"  # every caller with a withheld number, each call a new session
DIGEST_CHARS = 32  # 128 bits of HMAC-SHA256: collisions are out of reach, the name stays short
MIN_KEY_BYTES = 16
_SESSIONS_SEARCHED = 50

# What Twilio puts in `From` when the caller withholds their number: words, or the keypad
# spelling of ANONYMOUS, UNAVAILABLE, RESTRICTED and BLOCKED.
_WITHHELD = frozenset(
    {"anonymous", "unknown", "private", "restricted", "unavailable", "blocked"}
    | {"+266696687", "+86282452253", "+7378742833", "+2562533"}
)
_SEPARATORS = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"\+?\d{3,20}")


def normalize(number: str) -> str | None:
    """The caller's identity as hashed: an E.164-like number without separators, or a SIP or
    client identity in lower case; None when the number is withheld or missing."""
    raw = number.strip()
    compact = _SEPARATORS.sub("", raw)
    if not raw or raw.lower() in _WITHHELD or compact in _WITHHELD:
        return None
    if _NUMBER.fullmatch(compact):
        return compact
    return raw.lower()


def phone_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose of the phone channel, derived from the server's secret, so no
    two uses share a key."""
    return hmac.new(secret, f"voice-agent phone: {purpose}".encode(), hashlib.sha256).digest()


def mask(number: str) -> str:
    """A number safe for a log line: its last two digits only."""
    digits = re.sub(r"\D", "", number)
    return f"***{digits[-2:]}" if len(digits) >= 6 else "***"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the agent knows them, and the session this call continues."""

    user: UserRecord
    session: SessionRecord
    caller_id: str | None  # the keyed hash of the number; None when it is withheld
    returning: bool  # True when the call continues an earlier session


class CallerDirectory:
    """Finds or creates the user of a phone number; blocking (it reads and writes the store)."""

    def __init__(self, store: HistoryStore, *, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"The caller hashing key must be at least {MIN_KEY_BYTES} bytes.")
        self.store = store
        self._key = key

    @classmethod
    def from_secret(cls, store: HistoryStore, secret: bytes) -> CallerDirectory:
        """The directory keyed from the server's secret: calls in and calls out hash a number
        the same way, and the hashes outlive auth-token rotations at Twilio."""
        return cls(store, key=phone_key(secret, "caller numbers"))

    def caller_id(self, number: str) -> str | None:
        """The number's keyed hash (HMAC-SHA256, hex): the same for every call of a number,
        useless to anyone without the key. None for a withheld number."""
        identity = normalize(number)
        if identity is None:
            return None
        digest = hmac.new(self._key, identity.encode(), hashlib.sha256).hexdigest()
        return digest[:DIGEST_CHARS]

    def user(self, caller_id: str | None) -> UserRecord:
        """The user of a caller id (of the anonymous caller for None), created on first call."""
        name = USERNAME_PREFIX + (caller_id or ANONYMOUS)
        user = self.store.find_user_by_name(username=name)
        if user is None:
            try:
                user = self.store.create_user(username=name, password_hash=UNUSABLE_PASSWORD)
                logger.info("New phone caller: user %s", user.id)
            except ConflictError:  # the same number calling on two lines at once
                user = self.store.find_user_by_name(username=name)
        if user is None or user.password_hash != UNUSABLE_PASSWORD:
            raise ConflictError(f"The account '{name}' is not a phone caller's account.")
        return user

    def latest_session(self, user: UserRecord) -> SessionRecord | None:
        """The caller's most recently active phone session, if any."""
        sessions = self.store.list_sessions(user_id=user.id, limit=_SESSIONS_SEARCHED)
        return next((s for s in sessions if s.channel == CHANNEL), None)

    def answered(self, call_sid: str, number: str) -> Caller | None:
        """The callee (`number`, the call's `To`) of an outbound call placed by a user
        (`POST /calls`): the call talks in the session recorded when it was placed, owned by
        that user, or in a new session of theirs when they deleted that one. None for a call
        this server has no record of: its callee is then a caller like any other (`connect`)."""
        session = self.store.resume_call(call_sid=call_sid, channel=CHANNEL)
        user = self.store.find_user(user_id=session.user_id) if session else None
        if session is None or user is None:
            return None
        logger.info("Outbound call to %s answered: session %s", mask(number), session.id)
        return Caller(user=user, session=session, caller_id=self.caller_id(number), returning=True)

    def connect(self, number: str) -> Caller:
        """The caller of `number` and the session their call continues: their latest phone
        session, or a new one on a first call (and on every call from a withheld number)."""
        caller_id = self.caller_id(number)
        user = self.user(caller_id)
        session = self.latest_session(user) if caller_id is not None else None
        returning = session is not None
        if session is None:
            session = self.store.create_session(user_id=user.id, channel=CHANNEL)
        logger.info(
            "Call from %s: user %s, %s session %s",
            mask(number),
            user.id,
            "continuing" if returning else "new",
            session.id,
        )
        return Caller(user=user, session=session, caller_id=caller_id, returning=returning)
