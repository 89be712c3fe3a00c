"""Build the FastAPI application: shared agent state, middleware, error handlers and routes."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from core import accounts, language
from core.agent import Agent
from core.config import Settings
from core.history import HistoryStore
from core.providers import Providers, build_providers
from core.throttle import LoginThrottle
from telephony import routes as telephony_routes
from webapp import docs, errors
from webapp.auth import TokenService, load_secret
from webapp.deps import AppState
from webapp.limits import BodySizeLimit
from webapp.routes import auth, chat, config, realtime, sessions, speech

logger = logging.getLogger(__name__)

# Multipart framing (boundaries, part headers, form fields) on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
# The JSON routes take at most a few KB (8000 characters of text); 1 MB is generous.
_JSON_LIMIT_MB = 1
_JSON_PATHS = ("/login", "/register", "/response", "/speak", "/sessions", "/settings")

DESCRIPTION = """
A voice agent: upload speech or send text, get an answer in your language, with the
personality you choose. Sign in with `POST /login`, then send `Authorization: Bearer <token>`.
"""


def build_state(settings: Settings, providers: Providers | None = None) -> AppState:
    """Open the database, load the models (unless given) and create the first account."""
    store = HistoryStore.open(settings.sqlalchemy_url)
    cut = store.interrupt_unfinished(reason="the server stopped while answering")
    if cut:
        logger.warning("%d turn(s) cut off by the last stop are marked interrupted", cut)
    generated = accounts.ensure_admin(store, settings)
    if generated is not None:
        # Shown once, on the console of whoever started the server; never logged.
        sys.stderr.write(
            f"\n  First start: created user '{settings.admin_username}' with password "
            f"'{generated}'.\n  Set ADMIN_PASSWORD to choose it yourself.\n\n"
        )
    if providers is None:
        providers = build_providers(settings)
    language.warm_up()
    agent = Agent(settings=settings, providers=providers, store=store)
    tokens = TokenService(load_secret(settings), expire_minutes=settings.jwt_expire_minutes)
    logins = LoginThrottle(
        per_account=settings.login_max_failures,
        per_client=settings.login_max_failures_per_client,
        window_s=settings.login_window_s,
    )
    return AppState(settings=settings, store=store, agent=agent, tokens=tokens, logins=logins)


def create_app(settings: Settings, *, providers: Providers | None = None) -> FastAPI:
    """The whole web application; `providers` lets tests share loaded models between apps."""
    state = build_state(settings, providers)

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
    for module in (auth, chat, sessions, config, speech, realtime):
        app.include_router(module.router)
    app.include_router(telephony_routes.router)
    docs.install(app)
    if settings.ui_enabled:
        from webapp.ui import mount_ui  # Gradio is heavy: imported only when the UI is on

        app = mount_ui(app, state)
    return app
