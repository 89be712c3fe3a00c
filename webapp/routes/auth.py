"""Sign-in, registration, sign-out and password changes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from core import accounts
from core.concurrency import run_blocking
from core.history import UserRecord
from core.throttle import retry_after
from webapp.deps import AppState, CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import Credentials, PasswordChange, TokenResponse, UserPublic

router = APIRouter(tags=["auth"])


TOO_MANY = "Too many failed sign-ins: wait a few minutes, then try again."
WRONG_CURRENT = "The current password is wrong."


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def check_password(state: AppState, username: str, password: str, client: str) -> UserRecord:
    """The user whose password this is; 429 while throttled, 401 for a wrong password (the
    same answers whether or not the account exists)."""
    attempt = await run_blocking(state.logins.begin, username, client)
    if attempt.refused:
        raise HTTPException(429, TOO_MANY, headers={"Retry-After": str(retry_after(attempt))})
    # Not `store.aio`: accounts' functions hash with argon2 (tens of ms, blocking too) beside
    # their store calls, all in one worker hop.
    user = await run_blocking(lambda: accounts.authenticate(state.store, username, password))
    if user is None:
        raise HTTPException(401, "Wrong username or password.")  # the attempt stays counted
    await run_blocking(state.logins.succeeded, username, attempt)
    return user


def token_response(state: AppState, user: UserRecord) -> TokenResponse:
    return TokenResponse(token=state.tokens.issue_for(user), expires_in=state.tokens.expires_in)


@router.post("/login", response_model=TokenResponse, responses=documented(400, 401, 413, 422, 429))
async def login(body: Credentials, state: StateDep, request: Request) -> TokenResponse:
    """Exchange a username and password for a bearer token (JWT). Works on a full disk too:
    nothing it must store stands in the way of a right password."""
    user = await check_password(state, body.username, body.password, client_address(request))
    return token_response(state, user)


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=201,
    responses=documented(400, 403, 409, 413, 422, 507),
)
async def register(body: Credentials, state: StateDep) -> UserPublic:
    """Create an account; then sign in with POST /login."""
    if not state.settings.allow_registration:
        raise HTTPException(403, "Registration is closed on this server.")
    user = await run_blocking(lambda: accounts.register(state.store, body.username, body.password))
    return UserPublic.model_validate(user)


@router.post("/logout", status_code=204, responses=documented(401, 507))
async def logout(user: CurrentUser, state: StateDep) -> Response:
    """Sign out everywhere: every token of the account stops working, this one included (and
    the browser page's sign-in)."""
    await state.store.aio.revoke_tokens(user_id=user.id)
    return Response(status_code=204)


@router.post(
    "/password",
    response_model=TokenResponse,
    responses=documented(400, 401, 403, 413, 422, 429, 507),
)
async def change_password(
    body: PasswordChange, user: CurrentUser, state: StateDep, request: Request
) -> TokenResponse:
    """Change my password, given the current one: every earlier token of the account stops
    working, and a new one comes back. A wrong current password is 403, and counts as a
    failed sign-in (429 after too many), so a stolen token cannot guess the password."""
    accounts.validate_password(body.new_password)  # before anything is counted or hashed
    try:
        await check_password(state, user.username, body.current_password, client_address(request))
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        raise HTTPException(403, WRONG_CURRENT) from exc
    changed = await run_blocking(
        lambda: accounts.change_password(state.store, user_id=user.id, password=body.new_password)
    )
    return token_response(state, changed)
