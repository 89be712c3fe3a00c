"""A database with no room left: SQLite's own limit on its size (`max_page_count`, the same
SQLITE_FULL a full disk gives) and PostgreSQL's disk_full (SQLSTATE 53100, raised by the
server, and on a tablespace whose disk is full) through the real drivers become
`StorageFullError`, change nothing, and leave no turn `answering`. SQLite on a full disk, end
to end, is tests/webapp/test_disk_full.py."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from core.errors import StorageFullError
from core.history import HistoryStore
from core.history.guards import SharedGuards
from core.throttle import LoginThrottle, retry_after
from tests.conftest import POSTGRES_URL, postgres_only, sqlite_only

BIG = "x" * 1_000_000  # needs hundreds of new pages


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    s = HistoryStore.open(database_url)
    yield s
    s.close()


class NoRoom:
    """SQLite's file may not grow while on: every new connection gets `max_page_count` set
    to the pages it has (SQLite raises a lower limit to that)."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    @staticmethod
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count=1")

    def __enter__(self) -> None:
        event.listen(self.store.engine, "connect", self._limit)
        self.store.engine.dispose()

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.store.engine, "connect", self._limit)
        self.store.engine.dispose()


@sqlite_only
def test_a_write_with_no_room_is_storage_full_and_reads_go_on(store: HistoryStore) -> None:
    user = store.create_user(username="alice", password_hash="x")
    with NoRoom(store):
        with pytest.raises(StorageFullError, match="disk is full"):
            store.update_user(user_id=user.id, custom_prompt=BIG)
        found = store.find_user(user_id=user.id)
        assert found is not None and found.custom_prompt is None
    assert store.update_user(user_id=user.id, custom_prompt=BIG).custom_prompt == BIG


@sqlite_only
def test_an_answer_with_no_room_leaves_its_turn_pending(store: HistoryStore) -> None:
    """The answer is too big for the room left; the turn's status fits, so it is `pending`
    again at once (on a disk with no room at all, at the first write once there is some:
    tests/webapp/test_disk_full.py)."""
    user = store.create_user(username="alice", password_hash="x")
    session = store.create_session(user_id=user.id)
    turn = store.add_turn(
        user_id=user.id,
        session_id=session.id,
        source="text",
        user_text="Tell me everything.",
        language="en",
        status="answering",
    )
    with NoRoom(store), pytest.raises(StorageFullError):
        store.complete_turn(
            turn_id=turn.id,
            answer=BIG,
            language="en",
            personality="casual",
            llm_provider="local",
            fallback=None,
            llm_first_token_ms=1.0,
            total_ms=2.0,
        )
    stored = store.get_turn(user_id=user.id, turn_id=turn.id)
    assert (stored.status, stored.answer) == ("pending", None)


@sqlite_only
def test_sign_in_attempts_are_counted_in_memory_while_the_database_has_no_room(
    store: HistoryStore,
) -> None:
    guards = SharedGuards(store.engine)
    now = [1000.0]
    logins = LoginThrottle(guards, per_account=2, per_client=10, window_s=60, clock=lambda: now[0])
    assert logins.begin("ann", "1.2.3.4").ids  # counted in the database
    with NoRoom(store):
        with pytest.raises(StorageFullError):  # the pages there are, filled with old attempts
            for _ in range(10_000):
                guards.charge([("filler", 10**6)], now=0.0, window_s=1)
        second = logins.begin("ann", "1.2.3.4")
        assert (second.ids, second.refused) == ((), False) and second.local_id is not None
        now[0] += 10
        refused = logins.begin("ann", "5.6.7.8")  # one in the database, one in memory
        assert refused.refused and retry_after(refused) == 50
        logins.succeeded("ann", second)  # the right password clears ann's failures
        assert not logins.begin("ann", "1.2.3.4").refused
        assert not logins.begin("ann", "1.2.3.4").refused
        assert logins.begin("ann", "1.2.3.4").refused
    # There is room again: the database counts, and the attempts in memory have aged out.
    now[0] += 61
    assert logins.begin("ann", "1.2.3.4").ids
    assert logins.begin("ann", "1.2.3.4").ids
    assert logins.begin("ann", "1.2.3.4").refused


@postgres_only
def test_postgres_disk_full_is_storage_full(store: HistoryStore) -> None:
    """PostgreSQL says 53100 for a relation it cannot extend ("could not extend file ...: No
    space left on device"); raised here by the server itself, through psycopg."""
    user = store.create_user(username="alice", password_hash="x")
    with pytest.raises(StorageFullError, match="disk is full"), store.engine.begin() as db:
        db.execute(text("UPDATE users SET language = 'fr'"))
        db.execute(
            text(
                "DO $$ BEGIN RAISE EXCEPTION 'could not extend file' "
                "USING ERRCODE = 'disk_full'; END $$"
            )
        )
    found = store.find_user(user_id=user.id)
    assert found is not None and found.language == "auto"


@pytest.fixture
def full_tablespace(postgres_admin: Engine, database_url: str) -> Iterator[str]:
    """A database whose tables live on a 1 MB tmpfs (a PostgreSQL tablespace there). Needs
    root, and the server on this machine (scripts/with-postgres.sh starts one). Not the
    test's own database (`database_url` only makes the PostgreSQL pass select the test): a
    tablespace can be dropped only after the database in it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tempfile.mkdtemp(prefix="pg-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", folder]).returncode:
        os.rmdir(folder)
        pytest.skip("this machine does not allow mounting a tmpfs")
    shutil.chown(folder, "postgres", "postgres")
    name, space = f"test_{uuid.uuid4().hex[:16]}", f"full_{uuid.uuid4().hex[:8]}"
    try:
        with postgres_admin.connect() as db:
            db.execute(text(f"CREATE TABLESPACE {space} LOCATION '{folder}'"))
            db.execute(text(f'CREATE DATABASE "{name}"'))
            db.execute(text(f'ALTER DATABASE "{name}" SET default_tablespace = {space}'))
        assert POSTGRES_URL is not None
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with postgres_admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            db.execute(text(f"DROP TABLESPACE IF EXISTS {space}"))
        subprocess.run(["umount", folder], check=True)
        os.rmdir(folder)


@postgres_only
def test_postgres_with_its_disk_full_is_storage_full(full_tablespace: str) -> None:
    store = HistoryStore.open(full_tablespace)
    try:
        user = store.create_user(username="alice", password_hash="x")
        with pytest.raises(StorageFullError, match="disk is full") as full:
            for _ in range(100):  # random text: TOAST cannot compress it into the room left
                store.update_user(user_id=user.id, custom_prompt=secrets.token_hex(100_000))
        assert getattr(full.value.__cause__, "sqlstate", None) == "53100"
        found = store.find_user(user_id=user.id)
        assert found is not None and found.username == "alice"
    finally:
        store.close()
