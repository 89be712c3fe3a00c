"""Database engine (SQLite tuned for a server: WAL, busy timeout; or PostgreSQL), the one place
its errors become the core's, and Alembic migrations that app processes starting together can
all run."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url

from core.errors import StorageFullError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x766F6963  # any constant: the key of PostgreSQL's advisory lock ("voic")
DISK_FULL = (
    "The server's disk is full: nothing could be stored, and nothing was changed. Try again later."
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; busy_timeout makes writers wait, not fail.

    synchronous=FULL: the API acknowledges a turn only after its commit, so a commit must
    outlive anything that can happen next. A killed process loses nothing under NORMAL either
    (the committed pages are in the OS's cache; `tests/core/test_durability.py` SIGKILLs the
    server under load and finds every acknowledged turn), but after an OS crash or a power cut
    NORMAL can drop the last commits, acknowledged ones included. FULL syncs the WAL at each
    commit: about 0.25 ms per commit on the development machine, against seconds per answer.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Switching a new file to WAL needs it alone for a moment, and SQLite answers "database
    is locked" at once to a second process switching at the same time (its busy timeout does
    not apply): processes starting together on a new file wait their turn here instead."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def is_disk_full(error: BaseException) -> bool:
    """Whether a driver's error says the disk is full: SQLite's SQLITE_FULL ("database or disk
    is full") or PostgreSQL's SQLSTATE 53100, disk_full ("could not extend file ...: No space
    left on device")."""
    return (
        getattr(error, "sqlite_errorname", None) == "SQLITE_FULL"
        or getattr(error, "sqlstate", None) == "53100"  # psycopg 3
    )


def _storage_full(context: ExceptionContext) -> StorageFullError | None:
    """Every statement and commit on the engine, from every store: a full disk becomes the
    core's `StorageFullError`, which the web app answers with a 507 that says so, instead of
    a driver error that it can only call an internal error (a 500). SQLAlchemy rolls the
    transaction back either way; reads, which need no room, go on working."""
    if is_disk_full(context.original_exception):
        return StorageFullError(DISK_FULL)
    return None


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and the pragmas above."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _storage_full)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _one_migrator_at_a_time(connection: Connection) -> None:
    # Several app processes starting together (behind a load balancer, or restarted at once)
    # would each find the schema old and create the same tables. The first to take this lock
    # migrates; the others wait for its commit, then find the schema up to date. Both locks
    # end with the transaction.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before reading


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        _one_migrator_at_a_time(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
