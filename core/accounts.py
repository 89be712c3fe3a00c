"""User accounts: argon2 password hashes, sign-in, registration, password changes and the
first admin."""

from __future__ import annotations

import logging
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.config import Settings
from core.errors import ConflictError, InvalidInputError
from core.history import HistoryStore, UserRecord

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 accepts any length; a bound keeps hashing cheap for bad input

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def validate_credentials(username: str, password: str) -> None:
    """Raise `InvalidInputError` for a malformed username or a too short or long password."""
    if not USERNAME.match(username):
        raise InvalidInputError(
            "Username must be 3-64 characters: letters, digits and _ . @ - only."
        )
    validate_password(password)


def validate_password(password: str) -> None:
    """Raise `InvalidInputError` for a too short or too long password."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(
            f"Password must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters."
        )


def authenticate(store: HistoryStore, username: str, password: str) -> UserRecord | None:
    """The user when the password matches, else None (same cost whether or not they exist)."""
    if len(password) > MAX_PASSWORD or len(username) > 64:
        return None
    user = store.find_user_by_name(username=username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def register(store: HistoryStore, username: str, password: str) -> UserRecord:
    validate_credentials(username, password)
    return store.create_user(username=username, password_hash=hash_password(password))


def change_password(store: HistoryStore, *, user_id: int, password: str) -> UserRecord:
    """Set a new password (the caller has checked the current one). Every token issued before
    stops working; the record returned carries the new token version."""
    validate_password(password)
    return store.change_password(user_id=user_id, password_hash=hash_password(password))


def ensure_admin(store: HistoryStore, settings: Settings) -> str | None:
    """Create the first account when there is none.

    Uses ADMIN_USERNAME/ADMIN_PASSWORD; when no password is set, one is generated and
    returned so the caller can show it once. Returns None when nothing was generated.
    """
    if store.count_users() > 0:
        return None
    generated = None
    if settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    else:
        password = generated = secrets.token_urlsafe(12)
    try:
        store.create_user(username=settings.admin_username, password_hash=hash_password(password))
    except ConflictError:  # another app process, starting at the same time, made it first
        return None
    logger.info("Created the first account '%s'", settings.admin_username)
    return generated
