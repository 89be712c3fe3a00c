"""The phone channel's shared state: signature checks, callers, stream tickets, recent calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.applications import Starlette

from core.agent import Agent
from core.callers import CallerDirectory, phone_key
from core.config import Settings
from core.history import HistoryStore
from core.service import Service
from telephony.signature import TwilioSignatures
from telephony.tickets import StreamTickets

logger = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass
class Phone:
    """Everything the phone routes share in one app."""

    settings: Settings
    agent: Agent
    callers: CallerDirectory
    tickets: StreamTickets
    store: HistoryStore  # blocking: on the event loop, await `store.aio`

    @property
    def calls(self) -> HistoryStore:
        """Where the call records are kept."""
        return self.store

    def signatures(self) -> TwilioSignatures:
        """The signature checker; raises `NotConfigured` naming a missing setting."""
        return TwilioSignatures.from_settings(self.settings)


def make_phone(service: Service) -> Phone:
    """The phone channel's state, made from the service.

    The keys that hash numbers and sign stream tickets derive from the server's secret
    (JWT_SECRET, or the one generated in DATA_DIR), which outlives auth-token rotations at
    Twilio.
    """
    return Phone(
        settings=service.settings,
        agent=service.agent,
        callers=CallerDirectory.from_secret(service.store, service.secret),
        tickets=StreamTickets(phone_key(service.secret, "stream tickets"), service.guards),
        store=service.store,
    )


def phone_of(app: Starlette) -> Phone:
    """The app's phone state, as `telephony.routes.install` stored it."""
    phone = app.state.phone
    assert isinstance(phone, Phone)
    return phone
