"""The history: schema by migration, SQLite's WAL and busy timeout, owner-scoped access."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from core.errors import ConflictError, NotFoundError
from core.history import HistoryStore, RealtimeTimings
from tests.conftest import POSTGRES_URL, postgres_only, sqlite_only


@pytest.fixture
def store(database_url: str):
    s = HistoryStore.open(database_url)
    yield s
    s.close()


def test_the_app_and_the_store_use_the_database_of_this_run(
    store: HistoryStore, app_factory
) -> None:
    expected = "sqlite" if POSTGRES_URL is None else "postgresql"
    assert store.engine.dialect.name == expected
    assert app_factory().state.agent_state.store.engine.dialect.name == expected


@sqlite_only
def test_every_connection_uses_wal_and_a_busy_timeout(store: HistoryStore) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_schema_comes_from_alembic(store: HistoryStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.history.models import Base

    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0009"
        # The migrations make exactly the tables the models describe.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_from_0001_keeps_users_and_adds_their_voice_choice(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from core.history.db import MIGRATIONS, make_engine

    url = database_url
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, language, created_at) "
                "VALUES ('old', 'x', 'fr', '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()

    store = HistoryStore.open(url)
    try:
        user = store.find_user_by_name(username="old")
        assert user is not None
        assert (user.language, user.tts_provider) == ("fr", None)
        updated = store.update_user(user_id=user.id, tts_provider="gtts")
        assert updated.tts_provider == "gtts"
        assert updated.language == "fr"
    finally:
        store.close()


def test_0009_gives_the_timings_from_the_end_of_speech_their_names(database_url: str) -> None:
    """The turns' `eos_*` columns take the names the record and the API give them, with their
    values; a downgrade gives the old names back, values too."""
    from alembic import command
    from alembic.config import Config

    from core.history.db import MIGRATIONS, make_engine

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, password_hash, language, created_at, "
                "public_id, token_version) VALUES (1, 'old', 'x', 'en', '2026-12-01', :p, 0)"
            ),
            {"p": "b" * 32},
        )
        connection.execute(
            text(
                "INSERT INTO sessions (id, user_id, channel, created_at, updated_at) "
                "VALUES (:s, 1, 'ws', '2026-12-01', '2026-12-01')"
            ),
            {"s": "a" * 32},
        )
        connection.execute(
            text(
                "INSERT INTO turns (session_id, source, user_text, language, status, "
                "interrupted, created_at, llm_first_token_ms, eos_transcript_ms, "
                "eos_first_token_ms, eos_first_audio_ms) VALUES (:s, 'voice', 'hi', 'en', "
                "'answered', false, '2026-12-01', 150.0, 300.0, 900.0, 1400.0)"
            ),
            {"s": "a" * 32},
        )
    engine.dispose()

    store = HistoryStore.open(database_url)
    try:
        (turn,) = store.list_turns(user_id=1, session_id="a" * 32)
        assert turn.realtime == RealtimeTimings(300.0, 900.0, 1400.0)
        assert turn.llm_first_token_ms == 150.0
    finally:
        store.close()

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with engine.connect() as connection:
        old = "SELECT eos_transcript_ms, eos_first_token_ms, eos_first_audio_ms FROM turns"
        assert connection.execute(text(old)).one() == (300.0, 900.0, 1400.0)
    engine.dispose()


def test_a_turn_is_found_only_by_its_owner(store: HistoryStore) -> None:
    alice = store.create_user(username="alice", password_hash="x")
    bob = store.create_user(username="bob", password_hash="x")
    session = store.create_session(user_id=alice.id)
    turn = store.add_turn(
        user_id=alice.id, session_id=session.id, source="text", user_text="hi", language="en"
    )
    assert store.get_turn(user_id=alice.id, turn_id=turn.id) == turn
    with pytest.raises(NotFoundError):
        store.get_turn(user_id=bob.id, turn_id=turn.id)
    with pytest.raises(NotFoundError):
        store.get_turn(user_id=alice.id, turn_id=turn.id + 1)

    store.note_fallback(turn_id=turn.id, reason="gtts failed")
    noted = store.note_fallback(turn_id=turn.id, reason="gtts failed")
    assert noted.fallback == "gtts failed"


def test_sessions_and_turns_are_scoped_to_their_owner(store: HistoryStore) -> None:
    alice = store.create_user(username="alice", password_hash="x")
    bob = store.create_user(username="bob", password_hash="x")
    session = store.create_session(user_id=alice.id)
    turn = store.add_turn(
        user_id=alice.id, session_id=session.id, source="text", user_text="hi", language="en"
    )
    assert store.find_pending_turn(user_id=alice.id, session_id=session.id) == turn
    with pytest.raises(NotFoundError):
        store.get_session(user_id=bob.id, session_id=session.id)
    with pytest.raises(NotFoundError):
        store.add_turn(
            user_id=bob.id, session_id=session.id, source="text", user_text="x", language="en"
        )
    with pytest.raises(NotFoundError):
        store.delete_session(user_id=bob.id, session_id=session.id)
    assert [s.id for s in store.list_sessions(user_id=bob.id)] == []
    assert store.list_sessions(user_id=alice.id)[0].turn_count == 1


def test_completed_turn_keeps_timings_and_is_no_longer_pending(store: HistoryStore) -> None:
    user = store.create_user(username="carol", password_hash="x")
    session = store.create_session(user_id=user.id)
    turn = store.add_turn(
        user_id=user.id,
        session_id=session.id,
        source="audio",
        user_text="hello",
        language="en",
        stt_provider="local:whisper-base",
        stt_ms=120.0,
        audio_seconds=1.5,
    )
    done = store.complete_turn(
        turn_id=turn.id,
        answer="Hi!",
        language="en",
        personality="formal",
        llm_provider="local:qwen",
        fallback=None,
        llm_first_token_ms=80.0,
        total_ms=400.0,
    )
    assert (done.status, done.stt_ms, done.llm_first_token_ms, done.total_ms) == (
        "answered",
        120.0,
        80.0,
        400.0,
    )
    assert store.find_pending_turn(user_id=user.id, session_id=session.id) is None


def test_an_interruption_stored_after_the_timings_keeps_them(store: HistoryStore) -> None:
    """The user speaks over the last words of an answer whose timings are stored: the turn
    becomes the part heard, marked interrupted, with its timings; a figure stored apart
    (the page's first audio) joins the others."""
    user = store.create_user(username="erin", password_hash="x")
    session = store.create_session(user_id=user.id)
    turn = store.add_turn(
        user_id=user.id, session_id=session.id, source="audio", user_text="hi", language="en"
    )
    store.record_realtime(
        turn_id=turn.id, transcript_ms=300.0, first_token_ms=900.0, first_audio_ms=1400.0
    )
    heard = store.record_realtime(
        turn_id=turn.id,
        transcript_ms=None,
        first_token_ms=None,
        first_audio_ms=None,
        heard_answer="Hello there",
    )
    assert (heard.answer, heard.interrupted, heard.status) == ("Hello there", True, "answered")
    assert heard.realtime == RealtimeTimings(300.0, 900.0, 1400.0)

    page = store.add_turn(
        user_id=user.id, session_id=session.id, source="audio", user_text="and?", language="en"
    )
    heard_first = store.record_realtime(
        turn_id=page.id, transcript_ms=None, first_token_ms=None, first_audio_ms=2100.0
    )
    assert heard_first.first_audio_ms == 2100.0
    assert heard_first.realtime is None  # a first audio alone: not yet a timed turn
    both = store.record_realtime(
        turn_id=page.id, transcript_ms=700.0, first_token_ms=1600.0, first_audio_ms=None
    )
    assert both.realtime == RealtimeTimings(700.0, 1600.0, 2100.0)
    assert not both.interrupted


def test_duplicate_username_is_a_conflict_and_keeps_the_first(store: HistoryStore) -> None:
    store.create_user(username="dave", password_hash="first")
    with pytest.raises(ConflictError):
        store.create_user(username="dave", password_hash="second")
    assert store.find_user_by_name(username="dave").password_hash == "first"


def test_deleting_a_session_deletes_its_turns(store: HistoryStore) -> None:
    user = store.create_user(username="erin", password_hash="x")
    session = store.create_session(user_id=user.id)
    store.add_turn(
        user_id=user.id, session_id=session.id, source="text", user_text="a", language="en"
    )
    store.delete_session(user_id=user.id, session_id=session.id)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM turns")).scalar() == 0


def test_a_withdrawn_turn_goes_and_its_title_follows_the_turns_left(store: HistoryStore) -> None:
    user = store.create_user(username="fay", password_hash="x")
    session = store.create_session(user_id=user.id)

    def add(words: str) -> int:
        return store.add_turn(
            user_id=user.id, session_id=session.id, source="voice", user_text=words, language="en"
        ).id

    first = add("Okay.")
    merged = add("Okay. What is the capital of France?")
    store.withdraw_turn(turn_id=first)
    (left,) = store.list_turns(user_id=user.id, session_id=session.id)
    assert left.id == merged
    assert store.get_session(user_id=user.id, session_id=session.id).title == left.user_text
    store.withdraw_turn(turn_id=merged)
    store.withdraw_turn(turn_id=merged)  # gone already: nothing to do, no error
    assert store.get_session(user_id=user.id, session_id=session.id).title is None
    add("Hello there.")
    assert store.get_session(user_id=user.id, session_id=session.id).title == "Hello there."


# Each process starts the way an app process does: migrate, then create the first account.
_START = """
import sys
from core import accounts
from core.config import Settings
from core.history import HistoryStore, RealtimeTimings

settings = Settings(_env_file=None, database_url=sys.argv[1], admin_password="adminpass123")
print("ready", flush=True)
sys.stdin.readline()
store = HistoryStore.open(settings.sqlalchemy_url)
accounts.ensure_admin(store, settings)
store.close()
"""


def test_app_processes_starting_together_share_one_database(database_url: str) -> None:
    """Alembic keeps its state in module globals, so the racers are processes, not threads."""
    root = Path(__file__).resolve().parents[3]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _START, database_url],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
    for racer in racers:  # all at once: every one finds an empty database
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    errors = [racer.communicate(timeout=60)[1] for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * 4, errors
    store = HistoryStore.open(database_url)
    try:
        assert store.count_users() == 1
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0009"
    finally:
        store.close()


def test_a_long_provider_name_is_cut_to_fit_not_refused(store: HistoryStore) -> None:
    """Model names come from settings; PostgreSQL refuses a value longer than its column."""
    user = store.create_user(username="frank", password_hash="x")
    session = store.create_session(user_id=user.id)
    stt, llm = "groq:" + "s" * 100, "openai:org/" + "m" * 100
    turn = store.add_turn(
        user_id=user.id,
        session_id=session.id,
        source="audio",
        user_text="hi",
        language="en",
        stt_provider=stt,
    )
    done = store.complete_turn(
        turn_id=turn.id,
        answer="Hello.",
        language="en",
        personality="casual",
        llm_provider=llm,
        fallback=None,
        llm_first_token_ms=1.0,
        total_ms=2.0,
    )
    (stored,) = store.list_turns(user_id=user.id, session_id=session.id)
    assert (stored.stt_provider, stored.llm_provider) == (stt[:64], llm[:64])
    assert done.llm_provider == llm[:64]


@postgres_only
def test_times_come_back_in_utc_whatever_the_server_zone(database_url: str) -> None:
    from sqlalchemy.engine import make_url

    kolkata = make_url(database_url).update_query_dict({"options": "-c timezone=Asia/Kolkata"})
    store = HistoryStore.open(kolkata.render_as_string(hide_password=False))
    try:
        made = store.create_user(username="grace", password_hash="x")
        read = store.find_user(user_id=made.id)
    finally:
        store.close()
    assert read is not None and read.created_at == made.created_at
    assert read.created_at.utcoffset() == timedelta(0)
