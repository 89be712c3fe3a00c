"""core/history/calls.py on a real database: a call keeps its owner when its session goes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.history import HistoryStore


@pytest.fixture
def store(database_url: str):
    s = HistoryStore.open(database_url)
    yield s
    s.close()


def test_a_call_outlives_its_session_and_resumes_in_a_new_one_of_its_owner(
    store: HistoryStore,
) -> None:
    alice = store.create_user(username="alice", password_hash="x")
    placed = store.create_session(user_id=alice.id, channel="phone")
    store.begin_call(call_sid="CA1", caller_id="h" * 32, user_id=alice.id, session_id=placed.id)
    assert store.resume_call(call_sid="CA1", channel="phone") == store.get_session(
        user_id=alice.id, session_id=placed.id
    )

    store.delete_session(user_id=alice.id, session_id=placed.id)
    (kept,) = store.list_calls(user_id=alice.id)
    assert (kept.call_sid, kept.user_id, kept.session_id) == ("CA1", alice.id, None)

    resumed = store.resume_call(call_sid="CA1", channel="phone")
    assert resumed is not None and resumed.id != placed.id
    assert (resumed.user_id, resumed.channel, resumed.turn_count) == (alice.id, "phone", 0)
    assert store.find_call(call_sid="CA1").session_id == resumed.id  # type: ignore[union-attr]
    assert store.resume_call(call_sid="CA1", channel="phone") == resumed  # no third session
    assert [s.id for s in store.list_sessions(user_id=alice.id)] == [resumed.id]
    assert store.resume_call(call_sid="CA2", channel="phone") is None  # no record


def test_calls_recorded_before_owners_were_keep_their_sessions_user(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from core.history.db import MIGRATIONS, make_engine

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    now = "2026-12-01 00:00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, password_hash, language, created_at) "
                f"VALUES (7, 'alice', 'x', 'auto', '{now}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO sessions (id, user_id, channel, created_at, updated_at) "
                f"VALUES ('{'a' * 32}', 7, 'phone', '{now}', '{now}')"
            )
        )
        for sid, session in (("CA1", f"'{'a' * 32}'"), ("CA2", "NULL")):
            connection.execute(
                text(
                    "INSERT INTO calls (call_sid, caller_id, session_id, status, created_at, "
                    f"updated_at) VALUES ('{sid}', 'h', {session}, 'completed', '{now}', '{now}')"
                )
            )
    engine.dispose()

    store = HistoryStore.open(database_url)
    try:
        (listed,) = store.list_calls(user_id=7)
        assert (listed.call_sid, listed.session_id, listed.user_id) == ("CA1", "a" * 32, 7)
        orphan = store.find_call(call_sid="CA2")
        assert orphan is not None and orphan.user_id is None
        assert store.resume_call(call_sid="CA2", channel="phone") is None  # nobody's to resume
    finally:
        store.close()
