"""Call control over Media Streams with the Twilio simulator: a caller asking for a person is
`<Dial>`ed to TRANSFER_NUMBER, a goodbye hangs up once it has played, and keypad digits reach
the tool that reads them. The model is the loopback Groq (the real SDK), scripted to call the
tools, so the phone path itself is what is tested."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.groq_server import (  # noqa: F401
    API_KEY,
    CHAT,
    FakeGroq,
    groq_providers_fixture,
    groq_server_fixture,
    voiced_seconds,
)
from tests.helpers import pcm16
from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import (
    PUBLIC_BASE,
    PUBLIC_STREAM,
    MediaCall,
    call_params,
    media_call,
    sid,
    silence,
    stream_parameters,
    twiml,
)

NUMBER = "+14155550177"
TRANSFER = "+15550001111"


def calls_on(word: str, name: str) -> Callable[..., Any]:
    def choose(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if word in str(messages[-1].get("content", "")).lower():
            return [{"name": name, "arguments": {}}]
        return None

    return choose


def start_call(phone: PhoneServer) -> tuple[str, dict[str, str], str]:
    """The incoming-call webhook: the call sid, the stream's parameters, and the path of the
    `<Connect action>` Twilio asks once the stream ends."""
    call_sid = sid("CA")
    root = twiml(phone.twilio.post("/twilio/voice", call_params(call_sid, NUMBER)))
    url, params = stream_parameters(root)
    assert url == PUBLIC_STREAM
    connect = root.find("Connect")
    assert connect is not None
    action = connect.attrib["action"]
    assert action.startswith(PUBLIC_BASE)
    return call_sid, params, urlsplit(action).path


def wait_closed(call: MediaCall, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while call.got.closed is None:
        assert time.monotonic() < deadline, f"the app kept the stream open: {call.events()}"
        time.sleep(0.05)


def after_stream(phone: PhoneServer, path: str, call_sid: str) -> ET.Element:
    """What Twilio does when the stream has ended: ask the action what comes next."""
    return twiml(phone.twilio.post(path, call_params(call_sid, NUMBER, CallStatus="in-progress")))


@pytest.fixture
def phone(
    phone_server_factory: Callable[..., PhoneServer],
    groq_providers: Callable,
    groq_server: FakeGroq,
) -> PhoneServer:
    return phone_server_factory(
        providers=groq_providers(timeout=5.0),
        groq_api_key=API_KEY,
        groq_base_url=groq_server.url,
        transfer_number=TRANSFER,
    )


def hear(groq_server: FakeGroq, speak: Callable, sentence: str) -> bytes:
    groq_server.transcript = sentence
    groq_server.transcript_seconds = voiced_seconds(speak(sentence).read_bytes())
    return silence(0.4) + pcm16(speak(sentence), 8000) + silence(0.3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "word", "tool", "ending"),
    [
        ("I would like to talk to a person.", "person", "transfer_to_human", "transfer"),
        # No comma: Piper pauses at one, and "That is all, thanks" is a whole turn that the
        # turn detector may rightly end there, before the goodbye is said.
        ("Thank you so much and goodbye.", "goodbye", "end_conversation", "end"),
    ],
)
def test_the_agent_speaks_then_transfers_or_hangs_up(
    phone: PhoneServer,
    groq_server: FakeGroq,
    speak: Callable,
    sentence: str,
    word: str,
    tool: str,
    ending: str,
) -> None:
    groq_server.tool_calls = calls_on(word, tool)
    call_sid, params, action = start_call(phone)
    with media_call(phone.twilio, PUBLIC_STREAM, call_sid=call_sid) as call:
        call.start(params)
        call.say(hear(groq_server, speak, sentence))
        call.said()
        wait_closed(call)
    got = call.got
    # The app closed the stream itself, normally, saying why, once its last words had played:
    # every mark it sent was played back to it first.
    assert got.closed is not None and got.closed.rcvd is not None
    assert (got.closed.rcvd.code, got.closed.rcvd.reason) == (1000, f"Call {ending}")
    marks = [m["mark"]["name"] for _, m in got.of("mark")]
    assert got.audio and marks and got.acked == marks
    (turn,) = phone.turns(params)
    assert turn.tool_calls and turn.tool_calls[0]["name"] == tool
    assert turn.tool_calls[0]["action"] == ending and turn.answer
    record = phone.store.find_call(call_sid=call_sid)
    assert record is not None and record.ending == ending

    root = after_stream(phone, action, call_sid)
    if ending == "transfer":
        dial = root.find("Dial")
        assert dial is not None and (dial.text or "").strip() == TRANSFER
    else:
        assert [child.tag for child in root] == ["Hangup"]


@pytest.mark.slow
def test_keypad_digits_reach_the_tool_that_reads_them(
    phone: PhoneServer, groq_server: FakeGroq, speak: Callable
) -> None:
    groq_server.tool_calls = calls_on("order", "read_keypad")
    call_sid, params, _ = start_call(phone)
    with media_call(phone.twilio, PUBLIC_STREAM, call_sid=call_sid) as call:
        call.start(params)
        call.dtmf("7")  # before any tool reads: a keypress, not input
        call.say(hear(groq_server, speak, "Where is my order, please?"))
        call.said()
        deadline = time.monotonic() + 60
        while not [r for r in groq_server.seen(CHAT) if r.tool_calls == ("read_keypad",)]:
            assert time.monotonic() < deadline, groq_server.requests
            time.sleep(0.05)
        time.sleep(0.3)
        for key in "48213#":
            call.dtmf(key)
        deadline = time.monotonic() + 60
        while not (turns := phone.turns(params)) or turns[0].status != "answered":
            assert time.monotonic() < deadline, turns
            time.sleep(0.1)
        call.stop()
    (turn,) = turns
    assert turn.tool_calls is not None
    (read,) = turn.tool_calls
    assert read["name"] == "read_keypad" and read["ok"] is True
    assert read["result"] == {"digits": "48213"}
    assert "48213" in (turn.answer or "")  # the model got the digits back


def test_a_stream_that_ended_without_a_transfer_hangs_up(phone: PhoneServer) -> None:
    call_sid, _, action = start_call(phone)
    root = after_stream(phone, action, call_sid)
    assert [child.tag for child in root] == ["Hangup"]
    # Signed like every webhook.
    res = phone.twilio.post(action, call_params(call_sid, NUMBER), signature=None)
    assert res.status_code == 403
