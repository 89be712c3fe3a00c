"""The phone channel's shared state: signature checks, callers, stream tickets, recent calls."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from fastapi import FastAPI

from core.callers import CallerDirectory
from core.config import Settings
from telephony.signature import TwilioSignatures
from telephony.tickets import StreamTickets
from webapp.auth import load_secret
from webapp.deps import AppState

logger = logging.getLogger(__name__)

MAX_CALLS = 1000  # recent calls kept in memory
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass(frozen=True)
class CallRecord:
    """What the app knows of a call: never the number, only its keyed hash."""

    call_sid: str
    caller_id: str  # keyed hash of the number, or "anonymous"
    session_id: str
    status: str = "ringing"
    duration_s: int | None = None
    stream_sid: str | None = None
    updated_at: float = 0.0


class CallLog:
    """Recent calls and their latest status, from webhooks, streams and status callbacks."""

    def __init__(self, limit: int = MAX_CALLS) -> None:
        self._calls: OrderedDict[str, CallRecord] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, call_sid: str) -> CallRecord | None:
        with self._lock:
            return self._calls.get(call_sid)

    def begin(self, call_sid: str, *, caller_id: str, session_id: str) -> CallRecord:
        record = CallRecord(call_sid, caller_id, session_id, updated_at=time.time())
        with self._lock:
            self._calls[call_sid] = record
            self._calls.move_to_end(call_sid)
            while len(self._calls) > self._limit:
                self._calls.popitem(last=False)
        return record

    def update(self, call_sid: str, **changes: object) -> CallRecord | None:
        """Change a known call's record; None for a call this server has not seen."""
        with self._lock:
            record = self._calls.get(call_sid)
            if record is None:
                return None
            record = replace(record, **changes, updated_at=time.time())  # type: ignore[arg-type]
            self._calls[call_sid] = record
            return record


def _derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose from the server's secret, so no two uses share a key."""
    return hmac.new(secret, f"voice-agent phone: {purpose}".encode(), hashlib.sha256).digest()


@dataclass
class Phone:
    """Everything the phone routes share in one app."""

    settings: Settings
    callers: CallerDirectory
    tickets: StreamTickets
    calls: CallLog

    def signatures(self) -> TwilioSignatures:
        """The signature checker; raises `NotConfigured` naming a missing setting."""
        return TwilioSignatures.from_settings(self.settings)


_create_lock = threading.Lock()


def phone_of(app: FastAPI) -> Phone:
    """The app's phone state, made on first use from its agent state.

    The keys that hash numbers and sign stream tickets derive from the JWT secret (JWT_SECRET,
    or the one generated in DATA_DIR), which outlives auth-token rotations at Twilio.
    """
    existing: Phone | None = getattr(app.state, "phone", None)
    if existing is not None:
        return existing
    with _create_lock:
        existing = getattr(app.state, "phone", None)
        if existing is None:
            state: AppState = app.state.agent_state
            secret = load_secret(state.settings)
            existing = Phone(
                settings=state.settings,
                callers=CallerDirectory(state.store, key=_derive(secret, "caller numbers")),
                tickets=StreamTickets(_derive(secret, "stream tickets")),
                calls=CallLog(),
            )
            app.state.phone = existing
    return existing
