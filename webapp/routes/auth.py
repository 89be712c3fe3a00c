"""Sign-in and registration."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from core import accounts
from core.concurrency import run_blocking
from webapp.deps import StateDep
from webapp.schemas import Credentials, TokenResponse, UserPublic

router = APIRouter(tags=["auth"])


@router.post("/login", response_model=TokenResponse)
async def login(body: Credentials, state: StateDep) -> TokenResponse:
    """Exchange a username and password for a bearer token (JWT)."""
    user = await run_blocking(
        lambda: accounts.authenticate(state.store, body.username, body.password)
    )
    if user is None:
        raise HTTPException(401, "Wrong username or password.")
    token = state.tokens.issue(user_id=user.id, username=user.username)
    return TokenResponse(token=token, expires_in=state.tokens.expires_in)


@router.post("/register", response_model=UserPublic, status_code=201)
async def register(body: Credentials, state: StateDep) -> UserPublic:
    """Create an account; then sign in with POST /login."""
    if not state.settings.allow_registration:
        raise HTTPException(403, "Registration is closed on this server.")
    user = await run_blocking(lambda: accounts.register(state.store, body.username, body.password))
    return UserPublic(id=user.id, username=user.username)
