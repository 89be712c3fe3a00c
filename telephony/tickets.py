"""Signed stream tickets: the call's identity, passed from the webhook to the media socket.

Twilio signs the Media Streams handshake over the stream URL only; the `<Parameter>`s of the
TwiML arrive afterwards in the `start` message, unsigned. So the webhook signs them itself
(HMAC-SHA256 with a key only this server has), with an expiry, and each ticket opens one
stream: a socket cannot choose another caller's session, nor replay a ticket it saw. Which
tickets were used is kept in the shared database, so a replay is refused by every process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from core.history.guards import SharedGuards

TTL_S = 300  # the stream opens once the greeting is said: seconds, not minutes
_FIELDS = ("call", "caller", "user", "session", "expires")


@dataclass(frozen=True)
class StreamIdentity:
    """Who a verified stream belongs to."""

    call_sid: str
    caller_id: str  # the keyed hash of the number, or "anonymous"
    user_id: int
    session_id: str


class StreamTickets:
    """Issues the `<Parameter>` values of a call's stream and verifies them, once each."""

    def __init__(self, key: bytes, guards: SharedGuards, *, ttl_s: int = TTL_S) -> None:
        self._key = key
        self._guards = guards
        self._ttl_s = ttl_s

    def _mac(self, values: Mapping[str, str]) -> str:
        message = json.dumps([values[name] for name in _FIELDS])  # unambiguous framing
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def issue(
        self, *, call_sid: str, caller_id: str, user_id: int, session_id: str
    ) -> dict[str, str]:
        """The parameters to put in the TwiML's `<Stream>`, signature included."""
        values = {
            "call": call_sid,
            "caller": caller_id,
            "user": str(user_id),
            "session": session_id,
            "expires": str(int(time.time()) + self._ttl_s),
        }
        return {**values, "signature": self._mac(values)}

    def verify(self, params: Mapping[str, object], call_sid: str) -> StreamIdentity | None:
        """The identity in a `start` message's custom parameters, or None when they are not
        ones this server issued for this call, have expired, or were used already (by any
        process on the database). Blocking: call it off the event loop."""
        values = {name: params.get(name) for name in (*_FIELDS, "signature")}
        if not all(isinstance(v, str) and v for v in values.values()):
            return None
        strings = {name: str(value) for name, value in values.items()}
        if not hmac.compare_digest(self._mac(strings), strings["signature"]):
            return None
        if strings["call"] != call_sid or not strings["user"].isdigit():
            return None
        expires = int(strings["expires"]) if strings["expires"].isdigit() else 0
        now = time.time()
        if expires <= now or not self._guards.use_ticket(call_sid, expires=expires, now=now):
            return None
        return StreamIdentity(
            call_sid=call_sid,
            caller_id=strings["caller"],
            user_id=int(strings["user"]),
            session_id=strings["session"],
        )
