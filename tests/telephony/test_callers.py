"""core/callers.py on a real SQLite store: numbers hashed, users and sessions per caller."""

from __future__ import annotations

import logging

import pytest

from core import accounts
from core.callers import CHANNEL, CallerDirectory, mask, normalize
from core.config import Settings
from core.errors import ConflictError, InvalidInputError
from core.history import HistoryStore

KEY = b"k" * 32


@pytest.fixture
def store(settings: Settings):
    store = HistoryStore.open(settings.sqlalchemy_url)
    yield store
    store.close()


def test_numbers_are_normalised_and_withheld_ones_recognised() -> None:
    assert normalize("+1 (415) 555-0123") == normalize("+14155550123") == "+14155550123"
    assert normalize("client:Alice") == "client:alice"
    for withheld in ("", "  ", "anonymous", "Restricted", "+266696687", "+7378742833"):
        assert normalize(withheld) is None, withheld
    assert mask("+14155550123") == "***23" and mask("client:alice") == "***"


def test_a_caller_is_a_hash_a_user_and_a_continued_session(
    store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    callers = CallerDirectory(store, key=KEY)
    first = callers.connect("+1 415 555 0123")
    assert first.caller_id is not None and len(first.caller_id) == 32
    assert "4155550123" not in first.caller_id and "4155550123" not in first.user.username
    assert first.session.channel == CHANNEL and not first.returning
    store.add_turn(
        user_id=first.user.id,
        session_id=first.session.id,
        source="voice",
        user_text="Hi",
        language="en",
    )
    again = callers.connect("+14155550123")
    assert again.user.id == first.user.id and again.session.id == first.session.id
    assert again.returning
    other = callers.connect("+442071838750")
    assert other.user.id != first.user.id
    # Another key (another server), another hash: the hash is useless without the key.
    assert CallerDirectory(store, key=b"z" * 32).caller_id("+14155550123") != first.caller_id
    assert "4155550123" not in caplog.text and "***23" in caplog.text


def test_withheld_numbers_share_no_history(store: HistoryStore) -> None:
    callers = CallerDirectory(store, key=KEY)
    one, two = callers.connect("anonymous"), callers.connect("+266696687")
    assert one.caller_id is None and one.user.id == two.user.id
    assert one.session.id != two.session.id and not two.returning


def test_nobody_can_sign_in_or_sign_up_as_a_caller(store: HistoryStore) -> None:
    caller = CallerDirectory(store, key=KEY).connect("+14155550123")
    for password in ("", "!phone-caller", caller.user.password_hash):
        assert accounts.authenticate(store, caller.user.username, password) is None
    with pytest.raises(InvalidInputError):
        accounts.register(store, caller.user.username, "password-123")
    # An ordinary account is never taken for a caller's.
    store.create_user(
        username="phone:" + "0" * 32, password_hash=accounts.hash_password("pw-1234567")
    )
    directory = CallerDirectory(store, key=KEY)
    with pytest.raises(ConflictError):
        directory.user("0" * 32)


def test_a_short_key_is_refused(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        CallerDirectory(store, key=b"short")
