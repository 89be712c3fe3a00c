"""JSON Web Tokens for the API: HS256 only, expiry required, secret from settings or data dir.

Tokens are made with joserfc, the JOSE library of the Authlib project: `authlib.jose` is
deprecated in its favour and Authlib installs it as a dependency.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from pathlib import Path

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from core.config import MIN_JWT_SECRET_BYTES, Settings

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # a real token is ~200 bytes; anything huge is refused unparsed


# The browser UI carries the same JWT in this HttpOnly cookie (webapp.ui.auth sets it).
COOKIE = "voice_agent_token"


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


def load_secret(settings: Settings) -> bytes:
    """JWT_SECRET when set; otherwise a strong secret generated once and kept in DATA_DIR."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    path: Path = settings.data_dir / "jwt_secret"
    if path.is_file():
        secret = path.read_bytes().strip()
        if len(secret) >= MIN_JWT_SECRET_BYTES:
            return secret
        logger.warning("Ignoring the weak secret in %s and generating a new one", path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    logger.info("Generated a JWT secret in %s", path)
    return secret


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
