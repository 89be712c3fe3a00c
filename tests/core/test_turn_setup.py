"""A turn's preparation: the computed fact ends the prompt's last message, in the language its
words are in, and leaves the rest of the prompt as it would be without it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core import accounts
from core.config import Settings
from core.history import HistoryStore, SessionRecord, UserRecord
from core.prompting import Prompts
from core.providers import Providers
from core.turn_setup import prepare_turn
from tests.conftest import make_settings


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    opened = HistoryStore.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def prompts(settings: Settings, local_providers: Providers) -> Prompts:
    return Prompts(settings, local_providers)


def start(store: HistoryStore, name: str = "ada") -> tuple[UserRecord, SessionRecord]:
    user = accounts.register(store, name, "password-123")
    return user, store.create_session(user_id=user.id)


def test_the_computed_fact_ends_the_last_message(store, settings, prompts) -> None:
    user, session = start(store)

    turn, _, messages, fact = prepare_turn(
        store, prompts, settings, user, session, "Elf mal sechs?", None, 0
    )
    plain_user, plain_session = start(store, "bob")
    _, _, plain, none = prepare_turn(
        store, prompts, settings, plain_user, plain_session, "Wie heißt du?", "casual", 0
    )

    assert fact is not None and none is None
    # Detection alone calls it English; the number words make it German.
    assert turn.language == "de" and turn.user_text == "Elf mal sechs?"
    assert messages[-1].role == "user"
    assert messages[-1].content == "Elf mal sechs?\n\n(Taschenrechner: 11 × 6 = 66)"
    assert plain[-1].content == "Wie heißt du?"
    # The system prompt is the one any German turn gets: the model's cached prefix holds.
    assert messages[0] == plain[0] and len(messages) == len(plain) == 2


def test_a_transcribed_question_to_the_clock_gets_the_users_time(store, settings, prompts) -> None:
    user, session = start(store)
    user = store.update_user(user_id=user.id, time_zone="Asia/Tokyo")
    store.add_turn(
        user_id=user.id,
        session_id=session.id,
        source="audio",
        user_text="¿Qué hora es?",
        language="es",
    )
    before = datetime.now(ZoneInfo("Asia/Tokyo"))

    _, _, messages, fact = prepare_turn(store, prompts, settings, user, session, "", None, 0)

    after = datetime.now(ZoneInfo("Asia/Tokyo"))
    assert fact is not None and fact.kind == "time" and fact.language == "es"
    text, note = messages[-1].content.split("\n\n")
    assert text == "¿Qué hora es?"
    shown = {f"{moment.hour}:{moment.minute:02d}" for moment in (before, after)}
    assert note.startswith("(Ahora: ") and note.split()[1].rstrip(",") in shown
