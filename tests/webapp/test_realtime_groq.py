"""`WS /ws/conversation` with Groq first and failing: the bundled models still answer the spoken
turn, aloud, and the stored turn says which provider served it and why."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from core.history import TurnRecord
from tests.core.test_groq import FAULTS
from tests.groq_server import (  # noqa: F401
    CHAT,
    LLM_MODEL,
    STT_MODEL,
    TRANSCRIPTIONS,
    FakeGroq,
    groq_providers_fixture,
    groq_server_fixture,
    voiced_seconds,
)
from tests.helpers import ADMIN, pcm16, serve, wer
from tests.webapp.test_realtime_ws import RATE, Live, Received, receive_until, send_audio, silence

QUESTION = "What is the capital of France?"


@pytest.fixture
def live_groq(app_factory, groq_providers: Callable, groq_server: FakeGroq) -> Iterator[tuple]:
    """A live server whose providers are the loopback Groq, the bundled models behind it.
    The client waits up to 3 s (not 1 s): the fake Groq answers from a thread of this busy
    process, and one slow answer under load made a transcription time out."""
    app = app_factory(
        providers=groq_providers(timeout=3.0), groq_api_key="x", groq_base_url=groq_server.url
    )
    with serve(app) as base:
        res = httpx.post(f"{base}/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        yield Live(base, res.json()["token"]), app.state.agent_state.store


def spoken_turn(live: Live, speak) -> tuple[Received, dict]:
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        send_audio(ws, silence(0.5) + pcm16(speak(QUESTION)) + silence(1.0))
        turn = receive_until(ws, got, "turn", timeout=90)
        ws.send('{"type": "end"}')
    return got, turn


def stored(store, turn: dict) -> TurnRecord:
    user = store.find_user_by_name(username=ADMIN[0])
    return store.get_turn(user_id=user.id, turn_id=turn["turn_id"])


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_the_local_model_answers_when_groq_chat_fails(
    live_groq, speak, groq_server, local_llm, fault
):
    live, store = live_groq
    groq_server.transcript = QUESTION  # Groq hears the question, then fails to answer it
    groq_server.transcript_seconds = voiced_seconds(speak(QUESTION).read_bytes())
    groq_server.faults[CHAT] = fault

    got, turn = spoken_turn(live, speak)

    record = stored(store, turn)
    assert record.user_text == QUESTION
    assert record.stt_provider == f"groq:{STT_MODEL}" and record.status == "answered"
    assert record.llm_provider == local_llm.name
    reason = record.fallback or ""
    assert f"groq:{LLM_MODEL} failed" in reason and FAULTS[fault] in reason
    assert turn["answer"] and turn["answer"] == record.answer
    assert "paris" in record.answer.lower(), record.answer
    assert got.audio  # and it was spoken
    types = got.types()
    if fault in ("break", "unfinished"):
        # The client is told to drop the cut stream's words; the answer after is the local one.
        (restart,) = [e for e in got.events if e["type"] == "answer_restart"]
        assert restart["reason"] == reason
        after = got.events[types.index("answer_restart") :]
        assert "".join(e["delta"] for e in after if e["type"] == "answer").strip() == record.answer
    else:
        assert "answer_restart" not in types


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["429", "500", "hang"])
def test_local_whisper_hears_the_turn_when_groq_speech_fails(
    live_groq, speak, groq_server, local_stt, local_llm, fault
):
    live, store = live_groq
    groq_server.faults[TRANSCRIPTIONS] = fault

    got, turn = spoken_turn(live, speak)

    record = stored(store, turn)
    assert wer(QUESTION, record.user_text) <= 0.2, record.user_text
    assert record.stt_provider == local_stt.name
    reason = record.fallback or ""
    assert f"groq:{STT_MODEL} failed" in reason and FAULTS[fault] in reason
    if fault == "hang":
        # Groq does not answer at all: the answer does not wait for it a second time.
        assert record.llm_provider == local_llm.name
        assert f"groq:{LLM_MODEL} failed (Groq chat skipped" in reason, reason
        assert len(groq_server.seen(CHAT)) == 0
    else:
        # A refused transcription says nothing about chat: Groq still answers.
        assert record.llm_provider == f"groq:{LLM_MODEL}" and record.answer == groq_server.answer
    assert got.audio
