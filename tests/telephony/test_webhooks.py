"""`POST /twilio/voice`, `/status` and `/fallback` on a live server, signed like Twilio does."""

from __future__ import annotations

import logging

import pytest

from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import (
    PUBLIC_BASE,
    PUBLIC_STREAM,
    call_params,
    sid,
    sign,
    stream_parameters,
    twiml,
)

NUMBER = "+1 (415) 555-0123"
GREETING = "Hello! I am your voice assistant. How can I help you?"


def test_the_voice_webhook_greets_and_streams_the_call(
    phone: PhoneServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call_sid = sid("CA")
    res = phone.twilio.post("/twilio/voice", call_params(call_sid, NUMBER))
    root = twiml(res)
    assert [child.tag for child in root] == ["Say", "Connect"]
    assert root.find("Say").text == GREETING  # type: ignore[union-attr]
    url, params = stream_parameters(root)
    # The public URL behind the TLS proxy, not the loopback address the server listens on.
    assert url == PUBLIC_STREAM
    assert set(params) == {"call", "caller", "user", "session", "expires", "signature"}
    assert params["call"] == call_sid and len(params["caller"]) == 32
    # The number is in no form anywhere: not in the TwiML, not in the log.
    for form in (NUMBER, "4155550123", "+14155550123", "555-0123"):
        assert form not in res.text and form not in caplog.text
    assert "***23" in caplog.text
    user = phone.caller(params["caller"])
    assert user.username == f"phone:{params['caller']}" and str(user.id) == params["user"]

    # The same number, written another way, is the same caller, in the same session.
    again = twiml(phone.twilio.post("/twilio/voice", call_params(sid("CA"), "+14155550123")))
    _, params_again = stream_parameters(again)
    assert params_again["caller"] == params["caller"]
    assert params_again["session"] == params["session"]
    # Another number is another caller.
    other = twiml(phone.twilio.post("/twilio/voice", call_params(sid("CA"), "+442071838750")))
    assert stream_parameters(other)[1]["caller"] != params["caller"]


def test_missing_or_forged_signatures_are_refused(phone: PhoneServer) -> None:
    params = call_params(sid("CA"), NUMBER)
    twilio = phone.twilio
    local_url = f"{phone.base}/twilio/voice"  # what the app sees, not what Twilio signed
    tampered = {**params, "From": "+15550009999"}
    cases = {
        "no header": twilio.post("/twilio/voice", params, signature=None),
        "empty header": twilio.post("/twilio/voice", params, signature=""),
        "another token": twilio.post(
            "/twilio/voice", params, signature=sign(f"{PUBLIC_BASE}/twilio/voice", params, "x" * 32)
        ),
        "signed for the local URL": twilio.post(
            "/twilio/voice", params, signature=sign(local_url, params)
        ),
        "fields changed after signing": twilio.post(
            "/twilio/voice", tampered, signature=sign(f"{PUBLIC_BASE}/twilio/voice", params)
        ),
        "signed for another path": twilio.post(
            "/twilio/voice", params, signature=sign(f"{PUBLIC_BASE}/twilio/gather", params)
        ),
    }
    for case, res in cases.items():
        assert res.status_code == 403, (case, res.status_code, res.text)
        assert "Signature" in res.json()["detail"], case
    assert twilio.post("/twilio/voice", params).status_code == 200
    # A query string is part of what Twilio signs.
    assert twilio.post("/twilio/voice", params, query="x=1").status_code == 200
    res = twilio.post(
        "/twilio/voice",
        params,
        query="x=2",
        signature=sign(f"{PUBLIC_BASE}/twilio/voice?x=1", params),
    )
    assert res.status_code == 403


@pytest.mark.parametrize("missing", ["twilio_auth_token", "public_base_url"])
def test_without_the_phone_settings_every_request_is_refused(
    phone_server_factory, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    server: PhoneServer = phone_server_factory(**{missing: None})
    res = server.twilio.post("/twilio/voice", call_params(sid("CA"), NUMBER))
    assert res.status_code == 403, res.text
    assert missing.upper() in caplog.text  # the log names the setting to set


def test_an_oversized_or_malformed_form_is_refused(phone: PhoneServer) -> None:
    import httpx

    url = f"{phone.base}/twilio/voice"
    headers = {"X-Twilio-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"}
    huge = httpx.post(url, content=b"From=" + b"1" * 70_000, headers=headers)
    assert huge.status_code == 413
    bad = httpx.post(url, content=b"From=\xff\xfe", headers=headers)
    assert bad.status_code == 400


def test_status_callbacks_update_the_call_record(phone: PhoneServer) -> None:
    from telephony.state import phone_of

    call_sid = sid("CA")
    phone.twilio.post("/twilio/voice", call_params(call_sid, NUMBER))
    calls = phone_of(phone.app).calls
    assert calls.find_call(call_sid=call_sid).status == "ringing"  # type: ignore[union-attr]
    update = call_params(call_sid, NUMBER, CallStatus="completed", CallDuration="42")
    assert phone.twilio.post("/twilio/status", update, signature=None).status_code == 403
    assert calls.find_call(call_sid=call_sid).status == "ringing"  # type: ignore[union-attr]
    res = phone.twilio.post("/twilio/status", update)
    assert res.status_code == 204
    record = calls.find_call(call_sid=call_sid)
    assert record is not None and record.status == "completed" and record.duration_s == 42
    assert NUMBER not in repr(record)
    # The record is in the database: another store on the same file (a restart) sees it.
    from core.history import HistoryStore

    settings = phone_of(phone.app).settings
    other = HistoryStore.open(settings.sqlalchemy_url)
    try:
        again = other.find_call(call_sid=call_sid)
        assert again is not None and again.status == "completed" and again.duration_s == 42
        assert again.session_id is not None and again.caller_id != NUMBER
    finally:
        other.close()


def test_the_fallback_url_apologises_and_hangs_up(phone_server_factory) -> None:
    # It works even when the phone is not set up: that may be why Twilio fell back.
    server: PhoneServer = phone_server_factory(twilio_auth_token=None)
    root = twiml(server.twilio.post("/twilio/fallback", call_params(sid("CA"), NUMBER)))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "sorry" in (root.find("Say").text or "").lower()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "duration",
    ["²", "٣", "1" * 26, "86401", "-5", "+5", " 7", "7.5", "1_0", ""],
)
def test_a_duration_that_is_not_a_calls_is_ignored(phone: PhoneServer, duration: str) -> None:
    """Superscripts and other scripts' digits pass `str.isdigit`; 26 digits overflow the
    column. Twilio sends whole seconds, a day at most: anything else is left out, and the
    status still counts (an error would only make Twilio retry the same form)."""
    from telephony.state import phone_of

    call_sid = sid("CA")
    phone.twilio.post("/twilio/voice", call_params(call_sid, NUMBER))
    update = call_params(call_sid, NUMBER, CallStatus="completed", CallDuration=duration)
    res = phone.twilio.post("/twilio/status", update)
    assert res.status_code == 204, res.text
    record = phone_of(phone.app).calls.find_call(call_sid=call_sid)
    assert record is not None and (record.status, record.duration_s) == ("completed", None)
    # A day, the longest call Twilio allows, is kept.
    longest = call_params(call_sid, NUMBER, CallStatus="completed", CallDuration="86400")
    assert phone.twilio.post("/twilio/status", longest).status_code == 204
    assert phone_of(phone.app).calls.find_call(call_sid=call_sid).duration_s == 86400  # type: ignore[union-attr]


@pytest.mark.parametrize("silent", ["²", "٢", "1" * 26, "-1", "x"])
def test_an_unreadable_silence_count_starts_again(phone: PhoneServer, silent: str) -> None:
    """The count of `<Gather>`s heard in silence travels in the action's query: one that is not
    a count the app wrote counts as none."""
    from urllib.parse import urlencode

    params = call_params(sid("CA"), NUMBER)
    query = urlencode({"silent": silent})  # as Twilio requests and signs it
    root = twiml(phone.twilio.post("/twilio/gather", params, query=query))
    (gather,) = root
    assert gather.tag == "Gather" and gather.attrib["action"].endswith("?silent=1")
    assert gather.find("Say").text == "Are you still there?"  # type: ignore[union-attr]
