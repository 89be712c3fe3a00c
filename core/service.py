"""What every channel serves from: the settings, the store, the agent, the server's secret and
the limits every process counts together.

`app.py` opens one `Service` and hands it to each channel (the web app, the phone), which build
their own state from it; the channels never import each other.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from core import accounts, language
from core.agent import Agent
from core.config import MIN_JWT_SECRET_BYTES, Settings
from core.dialing import Dialer
from core.errors import StorageFullError
from core.history import HistoryStore
from core.history.guards import SharedGuards
from core.providers import Providers, build_providers
from core.tool_turns import warm_tools

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    settings: Settings
    store: HistoryStore
    agent: Agent
    secret: bytes  # signs the API's tokens; the phone's keys derive from it
    guards: SharedGuards  # sign-in attempts and used stream tickets, in the shared database
    dialer: Dialer | None = None  # places outbound calls; None when they are not set up


def open_service(
    settings: Settings, providers: Providers | None = None, *, dialer: Dialer | None = None
) -> Service:
    """Open the database, load the models (unless given) and create the first account;
    `dialer` places outbound calls (None: they are off)."""
    store = HistoryStore.open(settings.sqlalchemy_url)
    try:
        cut = store.interrupt_unfinished(reason="the server stopped while answering")
    except StorageFullError as exc:  # start all the same: reads work, and room may return
        cut = 0
        logger.error("Could not mark the turns the last stop cut off: %s", exc)
    if cut:
        logger.warning("%d turn(s) cut off by the last stop are marked interrupted", cut)
    generated = accounts.ensure_admin(store, settings)
    if generated is not None:
        # Shown once, on the console of whoever started the server; never logged.
        sys.stderr.write(
            f"\n  First start: created user '{settings.admin_username}' with password "
            f"'{generated}'.\n  Set ADMIN_PASSWORD to choose it yourself.\n\n"
        )
    built = providers is None
    if providers is None:
        providers = build_providers(settings)
    language.warm_up()
    agent = Agent(settings=settings, providers=providers, store=store)
    if built:  # models given (tests) were warmed by whoever built them
        warm_tools(providers.llm_fallback or providers.llm, agent.tools, settings)
    return Service(
        settings=settings,
        store=store,
        agent=agent,
        secret=load_secret(settings),
        guards=SharedGuards(store.engine),
        dialer=dialer,
    )


def load_secret(settings: Settings) -> bytes:
    """JWT_SECRET when set; otherwise a strong secret generated once and kept in DATA_DIR."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    path: Path = settings.data_dir / "jwt_secret"
    if path.is_file():
        secret = path.read_bytes().strip()
        if len(secret) >= MIN_JWT_SECRET_BYTES:
            return secret
        logger.warning("Ignoring the weak secret in %s and generating a new one", path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    logger.info("Generated a JWT secret in %s", path)
    return secret
