"""A phone call over Media Streams with Groq first and failing: the caller hears an answer from
the bundled models within 15 s, Groq is waited for once at most, and the stored turn records
which provider served it and why.

A hanging Groq costs one GROQ_TIMEOUT_S per turn (the breaker skips it after that), so the
default 8 s leaves the local models about 7 s; `bench/phone_latency.py` holds them to 1.5 s.
The test uses 2 s, as the gather test does, to stay clear of a busy machine's slowness.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.core.test_groq import FAULTS
from tests.groq_server import (  # noqa: F401
    API_KEY,
    CHAT,
    LLM_MODEL,
    STT_MODEL,
    TRANSCRIPTIONS,
    FakeGroq,
    groq_providers_fixture,
    groq_server_fixture,
    voiced_seconds,
)
from tests.helpers import pcm16, wer
from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import PUBLIC_STREAM, media_call, silence
from tests.telephony.test_media import QUESTION, place_call, wait_answered

PHONE_LIMIT_S = 15.0
TIMEOUT_S = 2.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stt_fault", "chat_fault"), [("hang", "hang"), ("429", "429"), ("500", "500"), ("ok", "break")]
)
def test_a_call_is_answered_in_time_when_groq_fails(
    phone_server_factory: Callable[..., PhoneServer],
    groq_providers: Callable,
    groq_server: FakeGroq,
    local_stt,
    local_llm,
    speak,
    stt_fault: str,
    chat_fault: str,
) -> None:
    phone = phone_server_factory(
        providers=groq_providers(timeout=TIMEOUT_S),
        groq_api_key=API_KEY,
        groq_base_url=groq_server.url,
    )
    groq_server.transcript = QUESTION
    groq_server.transcript_seconds = voiced_seconds(speak(QUESTION).read_bytes())
    groq_server.faults.update({TRANSCRIPTIONS: stt_fault, CHAT: chat_fault})
    call_sid, params = place_call(phone)
    with media_call(phone.twilio, PUBLIC_STREAM, call_sid=call_sid) as call:
        call.start(params)
        call.say(silence(0.4) + pcm16(speak(QUESTION), 8000) + silence(0.2))
        call.said()
        heard_at, _ = call.wait_for("media", timeout=60)  # the first frame of the answer
        assert call.last_voiced_at is not None
        waited = heard_at - call.last_voiced_at
        (turn,) = wait_answered(phone, params)
        call.stop()

    assert waited < PHONE_LIMIT_S, (waited, turn)
    if stt_fault == "hang":
        # Groq was waited for once: the transcriptions that hung overlapped, then the answer
        # went straight to the local model without asking Groq.
        assert groq_server.waits and max(groq_server.waits) < TIMEOUT_S + 1.5, groq_server.waits
        assert groq_server.seen(CHAT) == []
    assert turn.status == "answered" and turn.answer, turn
    # Over the phone line Whisper base may hear "France" as "friends": close enough.
    assert wer(QUESTION, turn.user_text) <= 0.2, turn.user_text
    reason = turn.fallback or ""
    assert turn.llm_provider == local_llm.name
    assert f"groq:{LLM_MODEL} failed" in reason and FAULTS[chat_fault] in reason, reason
    if stt_fault == "ok":
        assert turn.stt_provider == f"groq:{STT_MODEL}"
    else:
        assert turn.stt_provider == local_stt.name
        assert f"groq:{STT_MODEL} failed" in reason and FAULTS[stt_fault] in reason, reason
