"""Twilio's media stream with frames the parser cannot take (issue 23): 30,000 "[" before
and after `start` raised RecursionError out of the handler, which closed without a close
frame. Such a frame is ignored as any frame that is not a JSON object is, and the call goes
on and ends cleanly."""

from __future__ import annotations

import logging
import time

import pytest

from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import PUBLIC_STREAM, media_call
from tests.telephony.test_media import place_call


def test_a_frame_nested_too_deep_is_ignored_before_and_after_start(
    phone: PhoneServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    call_sid, params = place_call(phone)
    with media_call(phone.twilio, PUBLIC_STREAM, call_sid=call_sid) as call:
        call.ws.send("[" * 30_000)
        call.start(params)
        call.ws.send("[" * 30_000)
        time.sleep(1.0)  # read and ignored, the call still on
        call.stop()
    closed = call.got.closed
    assert closed is not None and closed.rcvd is not None and closed.rcvd.code == 1000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
