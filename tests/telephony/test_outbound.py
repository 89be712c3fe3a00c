"""`POST /calls` and `GET /calls`: the real twilio SDK places calls on a stand-in of Twilio's
REST API, and the call is recorded like an incoming one."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from core.callers import CHANNEL
from tests.gtts_server import closed_port_url
from tests.helpers import ADMIN, login, register
from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import (
    ACCOUNT_SID,
    PUBLIC_BASE,
    PUBLIC_STREAM,
    call_params,
    media_call,
    sid,
    stream_parameters,
    twiml,
)
from tests.telephony.twilio_rest_server import (  # noqa: F401
    INVALID_TO,
    FakeTwilio,
    RawAnswer,
    TwilioError,
    twilio_rest_fixture,
)

FROM_NUMBER = "+15005550006"
NUMBER = "+14155550123"
OTHER = "+442071838750"
CALL_SID = re.compile(r"CA[0-9a-f]{32}")


def outbound(twilio_rest: FakeTwilio, **overrides: object) -> dict[str, object]:
    """Settings for outbound calls through the stand-in; `alice` may place them."""
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_from_number": FROM_NUMBER,
        "twilio_api_base_url": twilio_rest.url,
        "outbound_callers": ["alice"],
        **overrides,
    }


@contextmanager
def api(server: PhoneServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=30) as client:
        yield client


def test_a_call_is_placed_through_twilio_and_recorded(
    phone_server_factory: Callable[..., PhoneServer],
    twilio_rest: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 201, res.text
        placed = res.json()
        assert CALL_SID.fullmatch(placed["call_sid"])
        assert placed["status"] == "queued" and placed["to"] == "***23"

        # The SDK itself made the request, authenticated, with the agent's own webhooks.
        (seen,) = twilio_rest.requests
        assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
        assert seen.authorized and seen.user_agent.startswith("twilio-python/9.")
        assert seen.field("To") == NUMBER and seen.field("From") == FROM_NUMBER
        assert seen.field("Url") == f"{PUBLIC_BASE}/twilio/voice"
        assert seen.field("Method") == "POST"
        assert seen.field("StatusCallback") == f"{PUBLIC_BASE}/twilio/status"
        assert seen.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]

        # Recorded like an incoming call: the callee's keyed hash, never the number, in a new
        # phone session of the user who placed it.
        record = server.store.find_call(call_sid=placed["call_sid"])
        assert record is not None and record.status == "queued"
        assert record.caller_id == server.app.state.phone.callers.caller_id(NUMBER)
        assert record.session_id == placed["session_id"]
        user = server.store.find_user_by_name(username="alice")
        assert user is not None
        session = server.store.get_session(user_id=user.id, session_id=placed["session_id"])
        assert session.channel == CHANNEL

        res = client.get("/calls", headers=alice)
        assert res.status_code == 200
        (listed,) = res.json()
        assert listed["call_sid"] == placed["call_sid"] and listed["status"] == "queued"
        assert listed["session_id"] == placed["session_id"] and listed["duration_s"] is None
        assert NUMBER not in res.text and "4155550123" not in res.text

        # Nobody else sees the call.
        bob = register(client, "bob")  # type: ignore[arg-type]
        assert client.get("/calls", headers=bob).json() == []
    assert "4155550123" not in caplog.text and "***23" in caplog.text


def test_only_the_accounts_named_may_call(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        # The admin account is no exception: OUTBOUND_CALLERS names everyone who may.
        for headers in (register(client, "bob"), login(client)):  # type: ignore[arg-type]
            res = client.post("/calls", json={"to": NUMBER}, headers=headers)
            assert res.status_code == 403, res.text
            assert "OUTBOUND_CALLERS" in res.json()["detail"]
            assert res.json()["error"] == "PermissionDeniedError"
    assert twilio_rest.requests == []

    listed = phone_server_factory(**outbound(twilio_rest, outbound_callers=["bob", ADMIN[0]]))
    with api(listed) as client:
        res = client.post("/calls", json={"to": NUMBER}, headers=login(client))  # type: ignore[arg-type]
        assert res.status_code == 201, res.text


def test_without_a_twilio_account_calls_are_refused(
    phone_server_factory: Callable[..., PhoneServer],
) -> None:
    server = phone_server_factory(outbound_callers=["alice"])  # token and URL, no account
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 503, res.text
        assert res.json() == {
            "detail": "Outbound calls are not set up on this server: it needs "
            "TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER.",
            "error": "NotConfiguredError",
        }


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (INVALID_TO, "Twilio refused the call: Invalid 'To' Phone Number (error 21211)."),
        # Twilio's messages may name the number: it comes back masked.
        (
            TwilioError(21215, "Account not authorized to call {To}. Enable the region."),
            "Twilio refused the call: Account not authorized to call ***23. Enable the region. "
            "(error 21215).",
        ),
    ],
)
def test_a_call_twilio_refuses_is_a_502_with_its_reason(
    phone_server_factory: Callable[..., PhoneServer],
    twilio_rest: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
    error: TwilioError,
    detail: str,
) -> None:
    caplog.set_level(logging.INFO)
    twilio_rest.fail = error
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 502, res.text
        assert res.json() == {"detail": detail, "error": "UpstreamError"}
        assert len(twilio_rest.requests) == 1
        assert client.get("/calls", headers=alice).json() == []  # nothing recorded
    assert "4155550123" not in caplog.text


def test_wrong_credentials_or_no_twilio_are_502s(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    twilio_rest.auth_token = "f" * 32  # not the token the app holds
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 502, res.text
        assert res.json()["detail"] == "Twilio refused the call: Authenticate (error 20003)."
        (seen,) = twilio_rest.requests
        assert not seen.authorized

    gone = phone_server_factory(**outbound(twilio_rest, twilio_api_base_url=closed_port_url()))
    with api(gone) as client:
        alice = login(client, "alice", "password-123")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 502, res.text
        assert res.json()["detail"] == (
            "Twilio could not be reached to place the call (ConnectionError)."
        )


@pytest.mark.parametrize(
    "raw",
    [
        RawAnswer(
            200, "text/html; charset=utf-8", b"<html><body>Sign in to continue</body></html>"
        ),
        RawAnswer(201, "application/json", b"[]"),  # JSON, but not a call
        RawAnswer(201, "application/json", b'{"sid": 7, "status": ["queued"]}'),
        RawAnswer(201, "application/json", b'{"sid": "CA</a>", "status": "queued"}'),
    ],
    ids=["html page", "json list", "wrong types", "not a call sid"],
)
def test_a_2xx_that_is_not_a_call_is_a_502(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio, raw: RawAnswer
) -> None:
    """A proxy or a captive portal in the way can answer 2xx with anything: it is not a call."""
    twilio_rest.raw = raw
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        res = client.post("/calls", json={"to": NUMBER}, headers=alice)
        assert res.status_code == 502, res.text
        assert res.json() == {
            "detail": "Twilio answered the call request with something other than a call; "
            "the call may ring all the same, unrecorded.",
            "error": "UpstreamError",
        }
        assert len(twilio_rest.requests) == 1
        assert client.get("/calls", headers=alice).json() == []


def test_a_number_not_in_e164_form_is_a_422(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        for to in (
            "4155550123",
            "+1 415 555 0123",
            "+1-415-555-0123",
            "+04155550123",
            "+12345",
            "+1234567890123456",
            "client:alice",
            "",
            "+1415555012３",
        ):
            res = client.post("/calls", json={"to": to}, headers=alice)
            assert res.status_code == 422, (to, res.text)
            assert res.json()["detail"][0]["loc"] == ["body", "to"]
        assert client.post("/calls", json={}, headers=alice).status_code == 422
    assert twilio_rest.requests == []


def test_calls_need_a_token(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        for res in (
            client.post("/calls", json={"to": NUMBER}),
            client.post("/calls", json={"to": NUMBER}, headers={"Authorization": "Bearer x"}),
            client.get("/calls"),
        ):
            assert res.status_code == 401, res.text
            assert res.headers["WWW-Authenticate"] == "Bearer"
    assert twilio_rest.requests == []


def wait_status(server: PhoneServer, call_sid: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (record := server.store.find_call(call_sid=call_sid)) is None or record.status != status:
        assert time.monotonic() < deadline, f"the call stayed {record and record.status}"
        time.sleep(0.05)


def answer(server: PhoneServer, call_sid: str, to: str = NUMBER) -> dict[str, str]:
    """Twilio's side once the callee answers: the voice webhook of an outbound call (From is
    the agent's number, To the callee's), then the stream's parameters."""
    params = call_params(
        call_sid,
        FROM_NUMBER,
        To=to,
        Called=to,
        Direction="outbound-api",
        CallStatus="in-progress",
    )
    url, stream = stream_parameters(twiml(server.twilio.post("/twilio/voice", params)))
    assert url == PUBLIC_STREAM and stream["call"] == call_sid
    return stream


def test_the_placed_call_is_answered_by_the_agent(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        placed = client.post("/calls", json={"to": NUMBER}, headers=alice).json()
        call_sid = placed["call_sid"]
        stream = answer(server, call_sid)
        with media_call(server.twilio, PUBLIC_STREAM, call_sid=call_sid) as call:
            call.start(stream)
            wait_status(server, call_sid, "in-progress")
            call.stop()
        done = {**call_params(call_sid, FROM_NUMBER), "CallStatus": "completed"}
        res = server.twilio.post("/twilio/status", {**done, "CallDuration": "7"})
        assert res.status_code == 204
        (listed,) = client.get("/calls", headers=alice).json()
    assert listed["call_sid"] == call_sid and listed["session_id"] == placed["session_id"]
    assert listed["status"] == "completed" and listed["duration_s"] == 7


def test_the_answered_call_talks_in_the_session_recorded_for_it(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        placed = client.post("/calls", json={"to": NUMBER}, headers=alice).json()
        stream = answer(server, placed["call_sid"])
    assert stream["session"] == placed["session_id"]
    assert stream["caller"] == server.app.state.phone.callers.caller_id(NUMBER)


def test_an_outbound_call_without_a_record_is_its_callees_own(phone: PhoneServer) -> None:
    """A call this server has no record of (placed from Twilio's console, say): the person on
    the line is `To`, never `From`, the agent's own number that every such call shares."""
    callers = phone.app.state.phone.callers
    streams = [answer(phone, sid("CA"), to) for to in (NUMBER, OTHER)]
    assert [s["caller"] for s in streams] == [callers.caller_id(NUMBER), callers.caller_id(OTHER)]
    assert streams[0]["user"] != streams[1]["user"]
    assert streams[0]["session"] != streams[1]["session"]
    assert phone.store.find_user_by_name(username=f"phone:{callers.caller_id(FROM_NUMBER)}") is None
    # The callee is known by their number, as when they call in themselves.
    inbound = stream_parameters(
        twiml(phone.twilio.post("/twilio/voice", call_params(sid("CA"), NUMBER)))
    )[1]
    assert (inbound["caller"], inbound["user"]) == (streams[0]["caller"], streams[0]["user"])


def test_a_call_whose_session_was_deleted_stays_listed_and_joins_no_other_session(
    phone_server_factory: Callable[..., PhoneServer], twilio_rest: FakeTwilio
) -> None:
    server = phone_server_factory(**outbound(twilio_rest))
    callers = server.app.state.phone.callers
    with api(server) as client:
        alice = register(client, "alice")  # type: ignore[arg-type]
        placed = [
            client.post("/calls", json={"to": to}, headers=alice).json() for to in (NUMBER, OTHER)
        ]
        for call in placed:
            res = client.delete(f"/sessions/{call['session_id']}", headers=alice)
            assert res.status_code == 204
        # The calls are still hers, listed without a session.
        listed = client.get("/calls", headers=alice).json()
        assert {c["call_sid"]: c["session_id"] for c in listed} == {
            c["call_sid"]: None for c in placed
        }

        # Answered now, each callee talks in a new session of hers: not in the deleted one,
        # and not in one they would share through `From`.
        first, second = (
            answer(server, c["call_sid"], to) for c, to in zip(placed, (NUMBER, OTHER), strict=True)
        )
        owner = server.store.find_user_by_name(username="alice")
        assert owner is not None and first["user"] == second["user"] == str(owner.id)
        assert (first["caller"], second["caller"]) == (
            callers.caller_id(NUMBER),
            callers.caller_id(OTHER),
        )
        deleted = {c["session_id"] for c in placed}
        assert (
            first["session"] != second["session"]
            and not {first["session"], second["session"]} & deleted
        )
        # The record follows the call to its new session; the call's next webhook stays there.
        assert answer(server, placed[0]["call_sid"])["session"] == first["session"]
        listed = client.get("/calls", headers=alice).json()
        assert {c["call_sid"]: c["session_id"] for c in listed} == {
            placed[0]["call_sid"]: first["session"],
            placed[1]["call_sid"]: second["session"],
        }
        sessions = {s["id"] for s in client.get("/sessions", headers=alice).json()}
        assert sessions == {first["session"], second["session"]}
