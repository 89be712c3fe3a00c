"""A live server with the phone channel set up, and the Twilio simulator pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from core.callers import USERNAME_PREFIX
from core.history import HistoryStore, TurnRecord, UserRecord
from tests.helpers import serve
from tests.telephony.simulator import AUTH_TOKEN, PUBLIC_BASE, Twilio
from webapp.deps import AppState

PHONE_SETTINGS: dict[str, object] = {
    "public_base_url": PUBLIC_BASE,
    "twilio_auth_token": AUTH_TOKEN,
}


@dataclass
class PhoneServer:
    app: FastAPI
    base: str
    twilio: Twilio

    @property
    def state(self) -> AppState:
        return self.app.state.agent_state  # type: ignore[no-any-return]

    @property
    def store(self) -> HistoryStore:
        return self.state.store

    def caller(self, caller_id: str) -> UserRecord:
        """The user of a caller id (from the TwiML's parameters): callers cannot sign in, so
        the test reads the store directly."""
        user = self.store.find_user_by_name(username=USERNAME_PREFIX + caller_id)
        assert user is not None
        return user

    def turns(self, params: dict[str, str]) -> list[TurnRecord]:
        """The turns of the session a stream's parameters name."""
        user = self.caller(params["caller"])
        return self.store.list_turns(user_id=user.id, session_id=params["session"])


@pytest.fixture
def phone_server_factory(
    app_factory: Callable[..., FastAPI],
) -> Iterator[Callable[..., PhoneServer]]:
    """Start live servers with the phone set up; keyword arguments override settings."""
    with ExitStack() as stack:

        def start(**overrides: object) -> PhoneServer:
            app = app_factory(**{**PHONE_SETTINGS, **overrides})
            base = stack.enter_context(serve(app))
            return PhoneServer(app, base, Twilio(base))

        yield start


@pytest.fixture
def phone(phone_server_factory: Callable[..., PhoneServer]) -> PhoneServer:
    return phone_server_factory()
