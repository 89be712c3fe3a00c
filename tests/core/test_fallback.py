"""Fallback from a failing cloud provider: the real `groq` SDK against a loopback Groq with
faults on demand, and the bundled local models taking over."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.audio import DecodedAudio, decode
from core.concurrency import Ticket, working_on
from core.errors import ProviderError, TranscriptionError
from core.fallback import Switch, Token, stream_answer, transcribe
from core.llm import ChatMessage
from core.llm.groq import GroqLLM
from core.stt import Transcript
from core.stt.groq import GroqSTT
from tests.groq_server import (  # noqa: F401
    API_KEY,
    CHAT,
    LLM_MODEL,
    STT_MODEL,
    TRANSCRIPTIONS,
    FakeGroq,
    groq_server_fixture,
)
from tests.helpers import wer

SENTENCE = "The weather is lovely today and I would like to go for a walk."
MESSAGES = [ChatMessage("user", "Why is the sky blue?")]


@pytest.fixture
def groq_stt(groq_server: FakeGroq) -> Iterator[GroqSTT]:
    stt = GroqSTT(api_key=API_KEY, model=STT_MODEL, base_url=groq_server.url, timeout=1.0)
    yield stt
    stt.client.close()


@pytest.fixture
def groq_llm(groq_server: FakeGroq) -> Iterator[GroqLLM]:
    llm = GroqLLM(api_key=API_KEY, model=LLM_MODEL, base_url=groq_server.url, timeout=1.0)
    yield llm
    llm.client.close()


@pytest.fixture
def speech(speak: Callable[[str], Path]) -> DecodedAudio:
    return decode(speak(SENTENCE).read_bytes(), max_seconds=30)


# transcribe ---------------------------------------------------------------------------------


def test_a_healthy_primary_transcribes_and_no_fallback_is_recorded(
    groq_server: FakeGroq, groq_stt: GroqSTT, local_stt, speech: DecodedAudio
) -> None:
    result = transcribe(groq_stt, local_stt, speech, language="en")

    assert (result.text, result.provider, result.fallback) == (
        groq_server.transcript,
        groq_stt.name,
        None,
    )
    (seen,) = groq_server.seen(TRANSCRIPTIONS)
    assert seen.language == "en"


def test_the_local_model_transcribes_when_the_primary_fails_and_says_why(
    groq_server: FakeGroq,
    groq_stt: GroqSTT,
    local_stt,
    speech: DecodedAudio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    groq_server.faults[TRANSCRIPTIONS] = "500"

    with caplog.at_level(logging.WARNING, logger="core.fallback"):
        result = transcribe(groq_stt, local_stt, speech, language="en")

    assert wer(SENTENCE, result.text) <= 0.2
    assert result.provider == local_stt.name
    assert result.fallback is not None
    assert result.fallback.startswith(f"{groq_stt.name} failed (")
    assert "InternalServerError" in result.fallback
    assert result.fallback.endswith(f"); served by {local_stt.name}")
    assert [r.getMessage() for r in caplog.records if r.name == "core.fallback"] == [
        f"Speech-to-text fallback: {result.fallback}"
    ]


class BrokenWhisper:
    """Speech-to-text failing the way the local model reports a crash of Whisper. A fake: no
    audio that the fallback can still send makes the real model raise on demand."""

    name = "local:broken-whisper"
    is_local = True
    lock = None

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        raise TranscriptionError("Local speech recognition failed: out of memory")


def test_a_transcription_error_of_the_primary_is_served_by_the_fallback(
    groq_server: FakeGroq, groq_stt: GroqSTT, speech: DecodedAudio
) -> None:
    result = transcribe(BrokenWhisper(), groq_stt, speech, language=None)

    assert (result.text, result.provider) == (groq_server.transcript, groq_stt.name)
    assert result.fallback == (
        "local:broken-whisper failed (Local speech recognition failed: out of memory); "
        f"served by {groq_stt.name}"
    )


def test_without_a_fallback_the_primary_error_is_raised(
    groq_server: FakeGroq, groq_stt: GroqSTT, speech: DecodedAudio
) -> None:
    groq_server.faults[TRANSCRIPTIONS] = "429"

    with pytest.raises(ProviderError, match="RateLimitError"):
        transcribe(groq_stt, None, speech, language=None)


def test_an_unwanted_transcript_is_still_returned_when_the_primary_serves_it(
    groq_server: FakeGroq, groq_stt: GroqSTT, local_stt, speech: DecodedAudio
) -> None:
    unwanted = Ticket()
    unwanted.cancel()

    with working_on(unwanted):
        result = transcribe(groq_stt, local_stt, speech, language=None)

    assert (result.text, result.fallback) == (groq_server.transcript, None)


def test_an_unwanted_transcript_is_not_handed_to_the_fallback(
    groq_server: FakeGroq, groq_stt: GroqSTT, local_stt, speech: DecodedAudio
) -> None:
    groq_server.faults[TRANSCRIPTIONS] = "500"
    unwanted = Ticket()
    unwanted.cancel()

    # The local model would have answered; the primary's error is raised instead.
    with working_on(unwanted), pytest.raises(ProviderError, match="InternalServerError"):
        transcribe(groq_stt, local_stt, speech, language=None)
    assert len(groq_server.seen(TRANSCRIPTIONS)) == 1


# stream_answer ------------------------------------------------------------------------------


def test_a_healthy_primary_streams_tokens_only(
    groq_server: FakeGroq, groq_llm: GroqLLM, local_llm
) -> None:
    events = list(stream_answer(groq_llm, local_llm, MESSAGES, max_tokens=32))

    assert events == [Token(text) for text in groq_server.tokens()]


def test_a_primary_failing_before_any_token_switches_without_a_restart(
    groq_server: FakeGroq, groq_llm: GroqLLM, local_llm
) -> None:
    groq_server.faults[CHAT] = "500"

    events = list(stream_answer(groq_llm, local_llm, MESSAGES, max_tokens=16))

    switch, *rest = events
    assert isinstance(switch, Switch)
    assert (switch.provider, switch.restart) == (local_llm.name, False)
    assert switch.reason.startswith(f"{groq_llm.name} failed (")
    assert "InternalServerError" in switch.reason
    assert switch.reason.endswith(f"); served by {local_llm.name}")
    assert rest and all(isinstance(e, Token) for e in rest)
    assert "".join(e.text for e in rest if isinstance(e, Token)).strip()


def test_a_stream_broken_midway_switches_once_and_asks_for_a_restart(
    groq_server: FakeGroq, groq_llm: GroqLLM, local_llm
) -> None:
    groq_server.faults[CHAT] = "break"

    events = list(stream_answer(groq_llm, local_llm, MESSAGES, max_tokens=16))

    switches = [i for i, e in enumerate(events) if isinstance(e, Switch)]
    assert len(switches) == 1
    cut = switches[0]
    switch = events[cut]
    assert isinstance(switch, Switch)
    assert events[:cut] == [Token(text) for text in groq_server.tokens_before_break()]
    assert (switch.provider, switch.restart) == (local_llm.name, True)
    assert "stream broke" in switch.reason
    after = events[cut + 1 :]
    assert after and all(isinstance(e, Token) for e in after)


def test_without_a_fallback_a_broken_stream_raises_after_its_tokens(
    groq_server: FakeGroq, groq_llm: GroqLLM
) -> None:
    groq_server.faults[CHAT] = "break"
    got: list[Token | Switch] = []

    with pytest.raises(ProviderError, match="stream broke"):
        for event in stream_answer(groq_llm, None, MESSAGES, max_tokens=16):
            got.append(event)

    assert got == [Token(text) for text in groq_server.tokens_before_break()]
