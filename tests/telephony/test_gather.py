"""`TELEPHONY_MODE=gather`: turn by turn with `<Gather input="speech">` and `<Say>`, the answers
from the real `groq` SDK against a loopback Groq (or the bundled model when it hangs)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest

from core.llm.groq import GroqLLM
from core.providers import Providers
from tests.groq_server import API_KEY, CHAT, FakeGroq, groq_server_fixture  # noqa: F401
from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import PUBLIC_BASE, call_params, sid, twiml

NUMBER = "+33142685300"
# An answer that would dial out if it were pasted into the TwiML unescaped.
INJECTION = 'Sure. </Say><Dial>+15550001234</Dial><Say> Bye & "thanks" <Hangup/>'


@pytest.fixture
def gather_server(
    phone_server_factory: Callable[..., PhoneServer],
    groq_server: FakeGroq,
    local_stt,
    local_llm,
    local_tts,
) -> Iterator[Callable[..., PhoneServer]]:
    """Servers in gather mode whose primary LLM is the loopback Groq, the local model behind."""
    clients: list[GroqLLM] = []

    def start(timeout_s: float = 5.0) -> PhoneServer:
        llm = GroqLLM(api_key=API_KEY, model="llama", base_url=groq_server.url, timeout=timeout_s)
        clients.append(llm)
        providers = Providers(stt=local_stt, llm=llm, llm_fallback=local_llm, tts=local_tts)
        return phone_server_factory(
            providers=providers,
            telephony_mode="gather",
            groq_api_key=API_KEY,
            groq_base_url=groq_server.url,
            groq_timeout_s=timeout_s,
        )

    yield start
    for llm in clients:
        llm.client.close()


def gathered(root: ET.Element) -> tuple[ET.Element, str]:
    """The single `<Gather>` of a document and what its `<Say>` says."""
    assert [child.tag for child in root] == ["Gather"], ET.tostring(root)
    gather = root[0]
    assert gather.attrib["input"] == "speech" and gather.attrib["method"] == "POST"
    assert gather.attrib["action"].startswith(f"{PUBLIC_BASE}/twilio/gather")
    says = gather.findall("Say")
    return gather, says[0].text or "" if says else ""


def test_a_gather_call_answers_turn_by_turn_escaping_the_answer(gather_server, groq_server):
    phone: PhoneServer = gather_server()
    call_sid = sid("CA")
    greeting = gathered(twiml(phone.twilio.post("/twilio/voice", call_params(call_sid, NUMBER))))
    assert greeting[1].startswith("Hello!")

    groq_server.answer = INJECTION
    turn = call_params(call_sid, NUMBER, SpeechResult="Please call my friend.", Confidence="0.9")
    res = phone.twilio.post("/twilio/gather", turn)
    root = twiml(res)
    gather, said = gathered(root)
    # The model's text is spoken, word for word, and is nothing but text.
    assert said == INJECTION
    assert root.find(".//Dial") is None and root.find(".//Hangup") is None
    assert "&lt;/Say&gt;&lt;Dial&gt;" in res.text
    assert gather.attrib["language"] == "en-US"

    # Remembered: the caller's session has the turn; the next call continues it.
    users = phone.store.find_user_by_name
    from telephony.state import phone_of

    caller_id = phone_of(phone.app).callers.caller_id(NUMBER)
    user = users(username=f"phone:{caller_id}")
    assert user is not None
    (session,) = phone.store.list_sessions(user_id=user.id)
    (stored,) = phone.store.list_turns(user_id=user.id, session_id=session.id)
    assert stored.user_text == "Please call my friend." and stored.answer == INJECTION.strip()
    assert session.channel == "phone"


def test_silence_asks_again_then_hangs_up(gather_server) -> None:
    phone: PhoneServer = gather_server()
    call_sid = sid("CA")
    params = call_params(call_sid, NUMBER)
    gather, said = gathered(twiml(phone.twilio.post("/twilio/gather", params)))
    assert said == "Are you still there?" and gather.attrib["action"].endswith("?silent=1")
    gather, _ = gathered(twiml(phone.twilio.post("/twilio/gather", params, query="silent=1")))
    assert gather.attrib["action"].endswith("?silent=2")
    root = twiml(phone.twilio.post("/twilio/gather", params, query="silent=2"))
    assert [child.tag for child in root] == ["Say", "Hangup"]


@pytest.mark.slow
def test_a_hanging_groq_is_answered_by_the_local_model_within_twilios_limit(
    gather_server, groq_server
) -> None:
    phone: PhoneServer = gather_server(timeout_s=2.0)
    groq_server.faults[CHAT] = "hang"
    turn = call_params(sid("CA"), NUMBER, SpeechResult="What is the capital of France?")
    start = time.monotonic()
    res = phone.twilio.post("/twilio/gather", turn)
    elapsed = time.monotonic() - start
    _, said = gathered(twiml(res))
    assert elapsed < 15, elapsed
    assert "paris" in said.lower(), said


def test_an_answer_too_slow_for_twilio_gets_an_apology(gather_server, groq_server, monkeypatch):
    from telephony import routes

    monkeypatch.setattr(routes, "GATHER_ANSWER_TIMEOUT_S", 1.0)
    phone: PhoneServer = gather_server(timeout_s=30.0)  # Groq hangs longer than Twilio waits
    groq_server.faults[CHAT] = "hang"
    turn = call_params(sid("CA"), NUMBER, SpeechResult="Tell me about the moon.")
    start = time.monotonic()
    _, said = gathered(twiml(phone.twilio.post("/twilio/gather", turn)))
    assert time.monotonic() - start < 5
    assert said == routes.TOO_SLOW
