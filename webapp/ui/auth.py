"""Browser sign-in for the UI: the REST API's accounts and JWTs, carried in an HttpOnly cookie."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.concurrency import run_blocking
from core.errors import AgentError
from core.history import UserRecord
from webapp.auth import COOKIE, InvalidToken
from webapp.deps import AppState, state_of
from webapp.routes.auth import check_password, client_address

SIGNIN_PATH = "/signin"

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Voice Agent</title>
<style>
 body {{ font-family: system-ui, sans-serif; background: #f4f5f7; display: grid;
        place-items: center; min-height: 100vh; margin: 0; }}
 form {{ background: white; padding: 2rem 2.5rem; border-radius: 12px; width: 320px;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
 h1 {{ font-size: 1.4rem; margin: 0 0 1.2rem; }}
 label {{ display: block; margin: .8rem 0 .3rem; font-size: .9rem; color: #333; }}
 input {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem;
         border: 1px solid #ccd; border-radius: 6px; }}
 button {{ margin-top: 1.4rem; width: 100%; padding: .7rem; font-size: 1rem; border: 0;
          border-radius: 6px; background: #ea580c; color: white; cursor: pointer; }}
 .error {{ color: #b91c1c; font-size: .9rem; margin: .5rem 0 0; }}
</style></head>
<body><form method="post" action="{action}">
<h1>Voice Agent</h1>
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="64">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
       required maxlength="256">
{error}
<button type="submit" id="signin">Sign in</button>
</form></body></html>
"""


def signin_page(error: str | None = None, status_code: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return HTMLResponse(_PAGE.format(action=SIGNIN_PATH, error=message), status_code=status_code)


def user_id_from_cookie(state: AppState, cookies: dict[str, str]) -> int | None:
    """The user id in a valid UI cookie, else None."""
    token = cookies.get(COOKIE)
    if not token:
        return None
    try:
        return state.tokens.verify(token)
    except InvalidToken:
        return None


def current_ui_user(state: AppState, cookies: dict[str, str]) -> UserRecord | None:
    user_id = user_id_from_cookie(state, cookies)
    return state.store.find_user(user_id=user_id) if user_id is not None else None


def auth_dependency(state: AppState):  # type: ignore[no-untyped-def]
    """For Gradio: every UI route asks this; None means 401."""

    def check(request: Request) -> str | None:
        user_id = user_id_from_cookie(state, dict(request.cookies))
        return str(user_id) if user_id is not None else None

    return check


@router.get(SIGNIN_PATH)
async def signin_form() -> HTMLResponse:
    return signin_page()


@router.post(SIGNIN_PATH)
async def signin(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    state = state_of(request.app)
    try:
        user = await check_password(state, username, password, client_address(request))
    except HTTPException as exc:
        page = signin_page(str(exc.detail), status_code=exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    token = state.tokens.issue_for(user)  # reads and writes nothing
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=state.tokens.expires_in,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/signout")
async def signout(request: Request) -> Response:
    """Sign the page out, as `POST /logout` does: every token of the account stops working
    (a copied cookie too), not only this browser's cookie."""
    state = state_of(request.app)
    token = request.cookies.get(COOKIE)
    if token:
        try:
            user = await run_blocking(state.tokens.user_of, token)
            await state.store.aio.revoke_tokens(user_id=user.id)
        except (InvalidToken, AgentError):  # already signed out, or no room to store it
            pass
    response = RedirectResponse(SIGNIN_PATH, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


class SigninRedirect:
    """Send a browser that opens the UI page without a valid cookie to the sign-in form.

    Gradio itself answers 401 on its own routes (through `auth_dependency`); this only turns
    the page load into a redirect a person can act on.
    """

    def __init__(self, app: ASGIApp, *, state: AppState, pages: tuple[str, ...] = ("/",)):
        self.app = app
        self.state = state
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.pages:
            request = Request(scope)
            if user_id_from_cookie(self.state, dict(request.cookies)) is None:
                await RedirectResponse(SIGNIN_PATH, status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
