"""Sign-in and registration."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from core import accounts
from core.concurrency import run_blocking
from core.history import UserRecord
from core.throttle import retry_after
from webapp.deps import AppState, StateDep
from webapp.errors import documented
from webapp.schemas import Credentials, TokenResponse, UserPublic

router = APIRouter(tags=["auth"])


TOO_MANY = "Too many failed sign-ins: wait a few minutes, then try again."


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def check_password(state: AppState, username: str, password: str, client: str) -> UserRecord:
    """The user whose password this is; 429 while throttled, 401 for a wrong password (the
    same answers whether or not the account exists)."""
    attempt = await run_blocking(state.logins.begin, username, client)
    if attempt.refused:
        raise HTTPException(429, TOO_MANY, headers={"Retry-After": str(retry_after(attempt))})
    user = await run_blocking(lambda: accounts.authenticate(state.store, username, password))
    if user is None:
        raise HTTPException(401, "Wrong username or password.")  # the attempt stays counted
    await run_blocking(state.logins.succeeded, username, attempt)
    return user


@router.post("/login", response_model=TokenResponse, responses=documented(400, 401, 413, 422, 429))
async def login(body: Credentials, state: StateDep, request: Request) -> TokenResponse:
    """Exchange a username and password for a bearer token (JWT)."""
    user = await check_password(state, body.username, body.password, client_address(request))
    token = state.tokens.issue(user_id=user.id, username=user.username)
    return TokenResponse(token=token, expires_in=state.tokens.expires_in)


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=201,
    responses=documented(400, 403, 409, 413, 422),
)
async def register(body: Credentials, state: StateDep) -> UserPublic:
    """Create an account; then sign in with POST /login."""
    if not state.settings.allow_registration:
        raise HTTPException(403, "Registration is closed on this server.")
    user = await run_blocking(lambda: accounts.register(state.store, body.username, body.password))
    return UserPublic(id=user.id, username=user.username)
