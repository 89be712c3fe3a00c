"""The one rule for a turn's language and personality, on every channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.history import SessionRecord, UserRecord
from core.turns.context import TurnContext
from tests.conftest import make_settings

NOW = datetime(2026, 12, 5, tzinfo=UTC)
USER = UserRecord(
    id=1,
    username="ada",
    password_hash="-",
    personality=None,
    custom_prompt=None,
    language="auto",
    created_at=NOW,
    public_id="p",
    token_version=0,
)
SESSION = SessionRecord(
    id="s",
    user_id=1,
    title=None,
    channel="api",
    personality=None,
    custom_prompt=None,
    language=None,
    created_at=NOW,
    updated_at=NOW,
)


@pytest.fixture
def context(tmp_path: Path) -> TurnContext:
    settings = make_settings(tmp_path, default_language="en", default_personality="formal")
    return TurnContext(USER, SESSION, settings)


def test_a_pinned_language_wins_over_what_was_heard_and_typed(context: TurnContext) -> None:
    pinned_user = replace(context, user=replace(USER, language="it"))
    assert pinned_user.language(heard="de", text="Bonjour, comment allez-vous ?") == "it"
    # The session's pin wins over the user's.
    both = replace(pinned_user, session=replace(SESSION, language="es"))
    assert both.language(heard="de") == "es"
    assert both.pinned == "es"


def test_else_what_was_heard_else_detected_else_the_prior_else_the_default(
    context: TurnContext,
) -> None:
    assert context.pinned is None
    assert context.language(heard="de", text="Good morning, how are you?") == "de"
    assert context.language(text="Bonjour, comment allez-vous aujourd'hui ?") == "fr"
    assert context.language(prior="es") == "es"
    assert context.language() == "en"
    # No session yet (an upload before its first words): the user's pin still counts.
    assert replace(context, session=None, user=replace(USER, language="fr")).language() == "fr"


def test_a_personality_comes_from_the_turn_the_session_the_user_or_the_default(
    context: TurnContext,
) -> None:
    assert context.personality() == ("formal", None)
    user = replace(context, user=replace(USER, personality="casual"))
    assert user.personality() == ("casual", None)
    session = replace(user, session=replace(SESSION, personality="humorous"))
    assert session.personality() == ("humorous", None)
    assert session.personality(None, "casual") == ("casual", None)
    # A custom personality without its prompt falls back to the default.
    assert session.personality("custom") == ("formal", None)
    custom = replace(session, user=replace(USER, custom_prompt="Speak like a pirate."))
    assert custom.personality("custom") == ("custom", "Speak like a pirate.")


def test_the_clock_reads_in_the_users_zone_else_the_servers(context: TurnContext) -> None:
    assert context.time_zone == context.settings.time_zone
    assert replace(context, user=replace(USER, time_zone="Europe/Rome")).time_zone == "Europe/Rome"
