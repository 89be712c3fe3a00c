"""What a token names an account by: a public id that is never reused, and a token version that
signing out and a password change advance; given to existing accounts by migration 0007."""

from __future__ import annotations

import re

from sqlalchemy import text

from core import accounts
from core.history import HistoryStore
from core.history.db import MIGRATIONS, make_engine

PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def test_upgrade_gives_every_existing_account_its_own_public_id(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    with engine.begin() as connection:
        for name in ("old", "older"):
            connection.execute(
                text(
                    "INSERT INTO users (username, password_hash, language, created_at) "
                    "VALUES (:name, 'x', 'fr', '2026-01-01 00:00:00')"
                ),
                {"name": name},
            )
        connection.execute(
            text(
                "INSERT INTO sessions (id, user_id, channel, created_at, updated_at) "
                "SELECT :id, id, 'api', created_at, created_at FROM users WHERE username = 'old'"
            ),
            {"id": "a" * 32},
        )
    engine.dispose()

    store = HistoryStore.open(database_url)
    try:
        old, older = (store.find_user_by_name(username=n) for n in ("old", "older"))
        assert old is not None and older is not None
        assert PUBLIC_ID.fullmatch(old.public_id) and PUBLIC_ID.fullmatch(older.public_id)
        assert old.public_id != older.public_id
        assert (old.token_version, older.token_version) == (0, 0)
        assert store.find_user_by_public_id(public_id=old.public_id) == old
        # Columns added in place: rebuilding `users` would have deleted its sessions.
        assert [s.id for s in store.list_sessions(user_id=old.id)] == ["a" * 32]
        new = store.create_user(username="new", password_hash="x")
        assert PUBLIC_ID.fullmatch(new.public_id) and new.token_version == 0
    finally:
        store.close()


def test_signing_out_and_a_new_password_advance_the_version(database_url: str) -> None:
    store = HistoryStore.open(database_url)
    try:
        user = accounts.register(store, "alice", "first-password")
        assert store.revoke_tokens(user_id=user.id).token_version == 1
        changed = accounts.change_password(store, user_id=user.id, password="second-password")
        assert (changed.token_version, changed.public_id) == (2, user.public_id)
        assert accounts.authenticate(store, "alice", "first-password") is None
        assert accounts.authenticate(store, "alice", "second-password") == changed
        assert store.find_user_by_public_id(public_id="0" * 32) is None
    finally:
        store.close()
