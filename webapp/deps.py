"""FastAPI dependencies: the shared agent state and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.applications import Starlette

from core.agent import Agent
from core.concurrency import run_blocking
from core.config import Settings
from core.dialing import Outbound
from core.history import HistoryStore, UserRecord
from core.throttle import LoginThrottle
from webapp.auth import InvalidToken, TokenService


@dataclass
class AppState:
    settings: Settings
    store: HistoryStore
    agent: Agent
    tokens: TokenService
    logins: LoginThrottle
    outbound: Outbound


def state_of(app: Starlette) -> AppState:
    """The web app's state, as `webapp.api.create_app` stored it."""
    state = app.state.agent_state
    assert isinstance(state, AppState)
    return state


def get_state(request: Request) -> AppState:
    return state_of(request.app)


StateDep = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="The token from POST /login")

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def current_user(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserRecord:
    if credentials is None:
        raise HTTPException(
            401, "Not authenticated: send Authorization: Bearer <token>.", headers=_UNAUTHORIZED
        )
    try:
        return await run_blocking(state.tokens.user_of, credentials.credentials)
    except InvalidToken as exc:
        raise HTTPException(401, str(exc), headers=_UNAUTHORIZED) from exc


CurrentUser = Annotated[UserRecord, Depends(current_user)]
