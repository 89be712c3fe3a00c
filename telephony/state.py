"""The phone channel's shared state: signature checks, callers, stream tickets, recent calls."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass

from fastapi import FastAPI

from core.callers import CallerDirectory
from core.config import Settings
from core.history import HistoryStore
from telephony.signature import TwilioSignatures
from telephony.tickets import StreamTickets
from webapp.auth import load_secret
from webapp.deps import AppState

logger = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def _derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose from the server's secret, so no two uses share a key."""
    return hmac.new(secret, f"voice-agent phone: {purpose}".encode(), hashlib.sha256).digest()


@dataclass
class Phone:
    """Everything the phone routes share in one app."""

    settings: Settings
    callers: CallerDirectory
    tickets: StreamTickets
    calls: HistoryStore  # the calls table (blocking: call it off the event loop)

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
                calls=state.store,
            )
            app.state.phone = existing
    return existing
