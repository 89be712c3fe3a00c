"""JSON Web Tokens for the API: HS256 only, expiry required, signed with the service's secret.

Tokens are made with joserfc, the JOSE library of the Authlib project: `authlib.jose` is
deprecated in its favour and Authlib installs it as a dependency.
"""

from __future__ import annotations

import logging
import re
import time

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # a real token is ~200 bytes; anything huge is refused unparsed


# The browser UI carries the same JWT in this HttpOnly cookie (webapp.ui.auth sets it).
COOKIE = "voice_agent_token"


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


USER_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_USER_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT


class TokenService:
    """Issues and verifies the bearer tokens of the API and the UI."""

    def __init__(self, secret: bytes, *, expire_minutes: int) -> None:
        self._key = OctKey.import_key(secret)
        self._claims = jwt.JWTClaimsRegistry(
            leeway=5, exp={"essential": True}, sub={"essential": True}
        )
        self.expires_in = expire_minutes * 60

    def issue(self, *, user_id: int, username: str) -> str:
        now = int(time.time())
        claims = {"sub": str(user_id), "name": username, "iat": now, "exp": now + self.expires_in}
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, claims, self._key)

    def verify(self, token: str) -> int:
        """The user id in a valid token; raises `InvalidToken` otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("Invalid token.")
        try:
            # The algorithm is pinned: "none", RS256 and the rest are refused before any check.
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
            sub = decoded.claims["sub"]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken("Invalid or expired token.") from exc
        # Only ids this server issues: a signed `sub` beyond the database's integers (a leaked
        # or guessed secret, another service's token) is refused, never looked up.
        if not isinstance(sub, str) or not USER_ID.fullmatch(sub) or int(sub) > MAX_USER_ID:
            raise InvalidToken("Invalid or expired token.")
        return int(sub)
