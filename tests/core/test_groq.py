"""The Groq providers through the real `groq` SDK against a loopback Groq, faults and all."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import create_app
from core.audio import AudioFormat, DecodedAudio
from core.config import Settings
from core.errors import ProviderError
from core.groq_client import GroqBreaker
from core.llm import ChatMessage
from core.llm.groq import GroqLLM
from core.providers import Providers
from core.stt.groq import GroqSTT
from tests.conftest import make_settings
from tests.groq_server import API_KEY, CHAT, TRANSCRIPTIONS, FakeGroq, groq_server_fixture  # noqa: F401
from tests.helpers import login, wer

SENTENCE = "The weather is lovely today and I would like to go for a walk."
QUESTION = "Why is the sky blue?"

# What each fault looks like in the recorded fallback reason.
FAULTS = {
    "429": "RateLimitError",
    "500": "InternalServerError",
    "hang": "APITimeoutError",
    "break": "stream broke",
    "unfinished": "answer was cut",
}


@pytest.fixture
def groq_settings(tmp_path: Path, groq_server: FakeGroq) -> Settings:
    return make_settings(
        tmp_path / "data",
        groq_api_key=API_KEY,
        groq_base_url=groq_server.url,
        groq_timeout_s=1.0,
        stt_provider="groq",
        llm_provider="groq",
    )


@pytest.fixture
def groq_stt(groq_settings: Settings) -> Iterator[GroqSTT]:
    stt = GroqSTT(
        api_key=API_KEY,
        model=groq_settings.groq_stt_model,
        base_url=groq_settings.groq_base_url,
        timeout=groq_settings.groq_timeout_s,
    )
    yield stt
    stt.client.close()


@pytest.fixture
def groq_llm(groq_settings: Settings) -> Iterator[GroqLLM]:
    llm = GroqLLM(
        api_key=API_KEY,
        model=groq_settings.groq_llm_model,
        base_url=groq_settings.groq_base_url,
        timeout=groq_settings.groq_timeout_s,
    )
    yield llm
    llm.client.close()


@pytest.fixture
def api(groq_settings, groq_stt, groq_llm, local_stt, local_llm) -> Iterator[TestClient]:
    """The REST API with Groq as primary and the bundled local models as fallback."""
    providers = Providers(
        stt=groq_stt, llm=groq_llm, stt_fallback=local_stt, llm_fallback=local_llm
    )
    with TestClient(create_app(groq_settings, providers=providers)) as client:
        yield client


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def stored_turn(api: TestClient, headers: dict, session_id: str) -> dict:
    res = api.get(f"/sessions/{session_id}", headers=headers)
    assert res.status_code == 200, res.text
    (turn,) = res.json()["turns"]
    return turn


# The SDK against the server ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pinned", "text", "spoken", "code"),
    [(None, "Hello world.", "english", "en"), ("fr", "Bonjour tout le monde.", "french", "fr")],
)
def test_stt_transcribes_a_wav(groq_server, groq_stt, pinned, text, spoken, code):
    groq_server.transcript = text
    groq_server.transcript_language = spoken
    audio = DecodedAudio(np.zeros(24_000, dtype=np.float32), AudioFormat.WAV)

    result = groq_stt.transcribe(audio, language=pinned)

    assert result.text == text
    assert result.language == code
    assert result.provider == "groq:whisper-large-v3-turbo"
    assert result.fallback is None
    (seen,) = groq_server.requests
    assert seen.path == TRANSCRIPTIONS
    assert seen.model == "whisper-large-v3-turbo"
    assert seen.authorized
    assert seen.language == pinned
    assert seen.audio_seconds == 1.5


def test_llm_streams_the_tokens_sent(groq_server, groq_llm):
    tokens = list(groq_llm.stream([ChatMessage("user", QUESTION)], max_tokens=32))

    assert tokens == groq_server.tokens()
    assert "".join(tokens) == groq_server.answer
    (seen,) = groq_server.requests
    assert (seen.path, seen.model, seen.stream, seen.authorized) == (
        CHAT,
        "llama-3.3-70b-versatile",
        True,
        True,
    )


def test_server_answers_plain_completions(groq_server, groq_llm):
    completion = groq_llm.client.chat.completions.create(
        model=groq_llm.model, messages=[{"role": "user", "content": QUESTION}]
    )

    assert completion.choices[0].message.content == groq_server.answer
    assert completion.choices[0].finish_reason == "stop"
    assert groq_server.requests[0].stream is False


# The agent over REST ----------------------------------------------------------------------


def test_groq_answers_when_healthy(api, groq_server, speak: Callable[[str], Path]):
    headers = login(api)
    upload = api.post(
        "/upload", headers=headers, files={"file": ("hi.wav", speak(SENTENCE).read_bytes())}
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["transcription"] == groq_server.transcript
    assert upload.json()["provider"] == "groq:whisper-large-v3-turbo"
    assert upload.json()["fallback"] is None
    session_id = upload.json()["session_id"]

    res = api.post("/response", headers=headers, json={"session_id": session_id})

    assert res.status_code == 200, res.text
    body = res.json()
    assert body["response"] == groq_server.answer
    assert body["provider"] == "groq:llama-3.3-70b-versatile"
    assert body["fallback"] is None
    turn = stored_turn(api, headers, session_id)
    assert turn["llm_provider"] == "groq:llama-3.3-70b-versatile"
    assert turn["fallback"] is None
    assert all(seen.authorized for seen in groq_server.requests)


def test_an_answer_that_loops_is_stopped_after_three_rounds(api, groq_server):
    """A model that repeats one sentence until its token limit: the stream stops once the loop
    is plain, and the stored answer keeps it once, with a note saying why it was cut."""
    groq_server.answer = "Of course. I can help with that. " + "Let me check that for you. " * 40
    headers = login(api)

    res = api.post("/response", headers=headers, json={"text": "Can you help me?", "stream": True})

    events = sse_events(res.text)
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    assert streamed.count("Let me check that for you.") == 3  # not 40
    done = next(data for kind, data in events if kind == "done")
    expected = "Of course. I can help with that. Let me check that for you."
    assert done["response"] == expected
    turn = stored_turn(api, headers, done["session_id"])
    assert (turn["answer"], turn["status"]) == (expected, "answered")
    assert turn["fallback"] == "the answer was stopped: it repeated itself"


@pytest.mark.parametrize("fault", FAULTS)
def test_local_model_answers_when_groq_fails(api, groq_server, local_llm, fault):
    groq_server.faults[CHAT] = fault
    headers = login(api)

    start = time.perf_counter()
    res = api.post("/response", headers=headers, json={"text": QUESTION})
    elapsed = time.perf_counter() - start

    assert res.status_code == 200, res.text
    body = res.json()
    assert body["response"].strip()
    assert body["provider"] == local_llm.name
    assert "groq:llama-3.3-70b-versatile failed" in body["fallback"]
    assert FAULTS[fault] in body["fallback"]
    # One call, no SDK retry: waiting out `retry-after` would blow the phone's 15 s.
    assert len(groq_server.seen(CHAT)) == 1
    if fault == "hang":
        # Groq is given up after GROQ_TIMEOUT_S, so the local answer still beats Twilio's 15 s.
        (waited,) = groq_server.waits
        assert waited < 2.5
        assert elapsed < 12
    turn = stored_turn(api, headers, body["session_id"])
    assert turn["status"] == "answered"
    assert turn["answer"] == body["response"]
    assert turn["llm_provider"] == local_llm.name
    assert turn["fallback"] == body["fallback"]


def test_broken_stream_restarts_with_the_local_answer(api, groq_server, local_llm):
    groq_server.faults[CHAT] = "break"
    headers = login(api)

    res = api.post("/response", headers=headers, json={"text": QUESTION, "stream": True})

    assert res.status_code == 200, res.text
    events = sse_events(res.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names.count("restart") == 1
    assert names[-1] == "done"
    cut = names.index("restart")
    before = [data["text"] for name, data in events[:cut] if name == "delta"]
    after = [data["text"] for name, data in events[cut:] if name == "delta"]
    assert before == groq_server.tokens_before_break()
    assert "stream broke" in events[cut][1]["reason"]
    done = events[-1][1]
    assert done["provider"] == local_llm.name
    assert done["response"] == "".join(after).strip()
    assert done["response"]
    assert done["fallback"] == events[cut][1]["reason"]
    turn = stored_turn(api, headers, done["session_id"])
    assert turn["answer"] == done["response"]
    assert turn["llm_provider"] == local_llm.name


@pytest.mark.parametrize("fault", ["429", "500", "hang"])
def test_local_whisper_transcribes_when_groq_fails(
    api, groq_server, local_stt, speak: Callable[[str], Path], fault
):
    groq_server.faults[TRANSCRIPTIONS] = fault
    headers = login(api)

    res = api.post(
        "/upload", headers=headers, files={"file": ("walk.wav", speak(SENTENCE).read_bytes())}
    )

    assert res.status_code == 200, res.text
    body = res.json()
    assert wer(SENTENCE, body["transcription"]) <= 0.2
    assert body["provider"] == local_stt.name
    assert "groq:whisper-large-v3-turbo failed" in body["fallback"]
    assert FAULTS[fault] in body["fallback"]
    assert len(groq_server.seen(TRANSCRIPTIONS)) == 1
    if fault == "hang":
        (waited,) = groq_server.waits
        assert waited < 2.5
    turn = stored_turn(api, headers, body["session_id"])
    assert turn["stt_provider"] == local_stt.name
    assert turn["fallback"] == body["fallback"]


# The breaker: Groq skipped for a while after it fails -------------------------------------


@pytest.fixture
def breaker_pair(groq_settings: Settings) -> Iterator[tuple[GroqSTT, GroqLLM, list[float]]]:
    """Groq speech and chat sharing one breaker (as `build_providers` makes them) on a clock
    the test moves by hand."""
    now = [1000.0]
    breaker = GroqBreaker(cooldown_s=30.0, clock=lambda: now[0])
    common = {
        "api_key": API_KEY,
        "base_url": groq_settings.groq_base_url,
        "timeout": groq_settings.groq_timeout_s,
        "breaker": breaker,
    }
    stt = GroqSTT(model=groq_settings.groq_stt_model, **common)
    llm = GroqLLM(model=groq_settings.groq_llm_model, **common)
    yield stt, llm, now
    stt.client.close()
    llm.client.close()


SILENCE = DecodedAudio(np.zeros(16_000, dtype=np.float32), AudioFormat.WAV)
MESSAGES = [ChatMessage("user", QUESTION)]


def test_a_hanging_groq_is_skipped_by_both_backends_for_the_cooldown(groq_server, breaker_pair):
    stt, llm, now = breaker_pair
    groq_server.faults[TRANSCRIPTIONS] = "hang"
    with pytest.raises(ProviderError, match="APITimeoutError"):
        stt.transcribe(SILENCE, language=None)

    # Chat is not asked (it would hang too): it fails at once, saying why.
    start = time.perf_counter()
    with pytest.raises(ProviderError, match=r"skipped for 30 s more after APITimeoutError"):
        list(llm.stream(MESSAGES, max_tokens=16))
    assert time.perf_counter() - start < 0.1
    assert groq_server.seen(CHAT) == []

    now[0] += 31  # the cooldown is over: Groq is asked again, and answers
    groq_server.faults[TRANSCRIPTIONS] = "ok"
    assert "".join(llm.stream(MESSAGES, max_tokens=16)) == groq_server.answer
    assert stt.transcribe(SILENCE, language=None).text == groq_server.transcript


def test_a_429_skips_that_backend_for_retry_after(groq_server, breaker_pair):
    stt, llm, now = breaker_pair
    groq_server.faults[CHAT] = "429"
    groq_server.retry_after = 12
    with pytest.raises(ProviderError, match="RateLimitError"):
        list(llm.stream(MESSAGES, max_tokens=16))

    with pytest.raises(ProviderError, match=r"skipped for 12 s more after RateLimitError"):
        list(llm.stream(MESSAGES, max_tokens=16))
    assert len(groq_server.seen(CHAT)) == 1
    # Speech has its own limits: it still goes to Groq.
    assert stt.transcribe(SILENCE, language=None).text == groq_server.transcript

    now[0] += 13
    groq_server.faults[CHAT] = "ok"
    assert "".join(llm.stream(MESSAGES, max_tokens=16)) == groq_server.answer


@pytest.mark.parametrize("fault", ["500", "break", "unfinished"])
def test_a_server_error_skips_only_the_backend_that_got_it(groq_server, breaker_pair, fault):
    stt, llm, _ = breaker_pair
    groq_server.faults[CHAT] = fault
    with pytest.raises(ProviderError, match=FAULTS[fault]):
        list(llm.stream(MESSAGES, max_tokens=16))

    with pytest.raises(ProviderError, match="skipped"):
        list(llm.stream(MESSAGES, max_tokens=16))
    assert len(groq_server.seen(CHAT)) == 1
    assert stt.transcribe(SILENCE, language=None).text == groq_server.transcript
