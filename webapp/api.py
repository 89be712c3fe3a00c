"""Build the web application: its state, middleware, error handlers and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from core.callers import CallerDirectory
from core.dialing import Outbound
from core.service import Service
from core.throttle import LoginThrottle
from webapp import docs, errors
from webapp.auth import TokenService
from webapp.deps import AppState
from webapp.limits import BodySizeLimit
from webapp.routes import auth, calls, chat, config, realtime, sessions, speech

logger = logging.getLogger(__name__)

# Multipart framing (boundaries, part headers, form fields) on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
# The JSON routes take at most a few KB (8000 characters of text); 1 MB is generous.
_JSON_LIMIT_MB = 1
_JSON_PATHS = (
    "/login",
    "/register",
    "/password",
    "/response",
    "/speak",
    "/sessions",
    "/settings",
    "/calls",
)

DESCRIPTION = """
A voice agent: upload speech or send text, get an answer in your language, with the
personality you choose. Sign in with `POST /login`, then send `Authorization: Bearer <token>`.
"""


def build_state(service: Service) -> AppState:
    """The web app's state: the service, its tokens, its sign-in throttle and the calls it
    places."""
    settings = service.settings
    tokens = TokenService(
        service.secret, expire_minutes=settings.jwt_expire_minutes, users=service.store
    )
    logins = LoginThrottle(
        service.guards,
        per_account=settings.login_max_failures,
        per_client=settings.login_max_failures_per_client,
        window_s=settings.login_window_s,
    )
    return AppState(
        settings=settings,
        store=service.store,
        agent=service.agent,
        tokens=tokens,
        logins=logins,
        outbound=Outbound(
            settings=settings,
            store=service.store,
            callers=CallerDirectory.from_secret(service.store, service.secret),
            dialer=service.dialer,
        ),
    )


def create_app(service: Service) -> FastAPI:
    """The REST API and the live WebSocket; `app.py` adds the phone and the page."""
    settings = service.settings
    state = build_state(service)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.store.close()

    app = FastAPI(
        title="Voice Agent API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by webapp.docs
        redoc_url=None,
    )
    app.state.agent_state = state
    errors.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_upload_bytes + _MULTIPART_OVERHEAD,
        paths=("/upload",),
        limit_mb=settings.max_upload_mb,
    )
    app.add_middleware(
        BodySizeLimit,
        limit=_JSON_LIMIT_MB * 1024 * 1024,
        paths=_JSON_PATHS,
        limit_mb=_JSON_LIMIT_MB,
        what="request body",
    )
    for module in (auth, chat, sessions, config, speech, realtime, calls):
        app.include_router(module.router)
    docs.install(app)
    return app
