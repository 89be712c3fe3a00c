"""A turn's spoken answer: owner only, made once, remade when the voice or answer changes."""

from __future__ import annotations

import dataclasses

import pytest

from core.audio import decode
from core.config import TTSProvider
from core.errors import NotFoundError
from core.history import HistoryStore
from core.tts.gtts import GTTS
from core.tts.turns import speak_turn
from tests.gtts_server import closed_port_url

ANSWER = "La capitale de la France est Paris."


@pytest.fixture
def store(database_url: str):
    s = HistoryStore.open(database_url)
    yield s
    s.close()


def answered_turn(store: HistoryStore, username: str = "alice", answer: str | None = ANSWER):
    user = store.create_user(username=username, password_hash="x")
    session = store.create_session(user_id=user.id)
    turn = store.add_turn(
        user_id=user.id, session_id=session.id, source="text", user_text="?", language="fr"
    )
    if answer is not None:
        store.complete_turn(
            turn_id=turn.id,
            answer=answer,
            language="fr",
            personality="casual",
            llm_provider="test",
            fallback=None,
            llm_first_token_ms=1.0,
            total_ms=2.0,
        )
    return user, turn


def test_the_answer_is_spoken_in_the_turns_language_and_cached(store, local_tts, tmp_path):
    user, turn = answered_turn(store)
    cache = tmp_path / "audio"

    def speak(provider: TTSProvider = TTSProvider.LOCAL):
        return speak_turn(
            store=store,
            tts=local_tts,
            cache_dir=cache,
            user_id=user.id,
            turn_id=turn.id,
            provider=provider,
        )

    speech = speak()
    assert (speech.provider, speech.fallback) == ("local:espeak-ng", None)
    assert decode(speech.wav, max_seconds=60).duration > 1.0
    assert (cache / f"{turn.id}.wav").read_bytes() == speech.wav

    # Served from the cache: eSpeak never says the same thing twice to the byte.
    assert speak().wav == speech.wav
    # Another choice of voice is another recording.
    other = speak(TTSProvider.GTTS)
    assert other.fallback == "gTTS is disabled (GTTS_ENABLED=false); spoken by local:espeak-ng"
    assert other.wav != speech.wav


def test_a_turn_of_someone_else_or_without_an_answer_is_not_found(store, local_tts, tmp_path):
    _, turn = answered_turn(store, "alice")
    bob, pending = answered_turn(store, "bob", answer=None)
    for turn_id, message in ((turn.id, "Turn not found"), (pending.id, "no answer")):
        with pytest.raises(NotFoundError, match=message):
            speak_turn(
                store=store,
                tts=local_tts,
                cache_dir=tmp_path,
                user_id=bob.id,
                turn_id=turn_id,
                provider=TTSProvider.LOCAL,
            )
    assert not list(tmp_path.glob("*.wav"))


def test_a_cloud_failure_is_noted_on_the_turn(store, local_tts, tmp_path):
    user, turn = answered_turn(store)
    voices = dataclasses.replace(local_tts, cloud=GTTS(base_url=closed_port_url(), timeout=1.0))

    speech = speak_turn(
        store=store,
        tts=voices,
        cache_dir=tmp_path,
        user_id=user.id,
        turn_id=turn.id,
        provider=TTSProvider.GTTS,
    )

    assert speech.provider == "local:espeak-ng"
    assert "gtts:google-translate failed" in speech.fallback
    stored = store.get_turn(user_id=user.id, turn_id=turn.id)
    assert stored.fallback == f"speech: {speech.fallback}"
