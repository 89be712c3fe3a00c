"""JSON Web Tokens for the API: HS256 only, expiry required, signed with the service's secret,
and good only while their account exists at the token version they were issued under.

A token's `sub` is the account's public id, random and never reused: the numeric id is reused
(SQLite gives a deleted row's id to the next account), so a token naming it would open
whichever account got the number next. Its `ver` is the account's token version, which signing
out and a password change advance, so that any token can be revoked before it expires. Checking
both costs one indexed read per request.

Tokens are made with joserfc, the JOSE library of the Authlib project: `authlib.jose` is
deprecated in its favour and Authlib installs it as a dependency.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from core.history import UserRecord
from core.history.users import UserStore

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # a real token is ~250 bytes; anything huge is refused unparsed


# The browser UI carries the same JWT in this HttpOnly cookie (webapp.ui.auth sets it).
COOKIE = "voice_agent_token"

PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
MAX_VERSION = 2**31 - 1  # an INTEGER column on every database

INVALID = "Invalid or expired token."
GONE = "The account of this token no longer exists."
REVOKED = "This token was revoked (signed out, or the password changed): sign in again."


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or revoked, or its account is gone."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: which account, at which token version."""

    public_id: str
    version: int


class TokenService:
    """Issues and verifies the bearer tokens of the API and the UI."""

    def __init__(self, secret: bytes, *, expire_minutes: int, users: UserStore) -> None:
        self._key = OctKey.import_key(secret)
        self._claims = jwt.JWTClaimsRegistry(
            leeway=5, exp={"essential": True}, sub={"essential": True}, ver={"essential": True}
        )
        self.expires_in = expire_minutes * 60
        self._users = users

    def issue_for(self, user: UserRecord) -> str:
        """A token for `user` at its token version. Reads and writes nothing, so signing in
        works on a full disk."""
        return self._encode(user, user.username)

    def issue(self, *, user_id: int, username: str) -> str:
        """A token for the account `user_id`, named `username`, at its stored token version:
        for callers that hold only the id (the browser sign-in). Blocking (one read)."""
        user = self._users.find_user(user_id=user_id)
        if user is None:
            raise InvalidToken(GONE)
        return self._encode(user, username)

    def _encode(self, user: UserRecord, name: str) -> str:
        now = int(time.time())
        claims = {
            "sub": user.public_id,
            "ver": user.token_version,
            "name": name,
            "iat": now,
            "exp": now + self.expires_in,
        }
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, claims, self._key)

    def read(self, token: str) -> TokenClaims:
        """The claims of a well-formed, signed, unexpired token; raises `InvalidToken`
        otherwise. Reads nothing: whether it still opens its account is `user_of`'s."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("Invalid token.")
        try:
            # The algorithm is pinned: "none", RS256 and the rest are refused before any check.
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
            sub, ver = decoded.claims["sub"], decoded.claims["ver"]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(INVALID) from exc
        # Only what this server issues: a signed token of another shape (a leaked or guessed
        # secret, another service's token, one from before public ids) is refused, never
        # looked up.
        if not isinstance(sub, str) or not PUBLIC_ID.fullmatch(sub):
            raise InvalidToken(INVALID)
        if type(ver) is not int or not 0 <= ver <= MAX_VERSION:
            raise InvalidToken(INVALID)
        return TokenClaims(public_id=sub, version=ver)

    def user_of(self, token: str) -> UserRecord:
        """The account `token` opens: a valid token whose account exists and whose version is
        the account's. Raises `InvalidToken`. Blocking (one indexed read): off the event loop."""
        claims = self.read(token)
        user = self._users.find_user_by_public_id(public_id=claims.public_id)
        if user is None:
            raise InvalidToken(GONE)
        if user.token_version != claims.version:
            raise InvalidToken(REVOKED)
        return user

    def verify(self, token: str) -> int:
        """The id of the account `token` opens (see `user_of`); raises `InvalidToken`.
        Blocking."""
        return self.user_of(token).id
