"""A call that comes in while every conversation place is taken hears so and is let go."""

from __future__ import annotations

import time

import httpx
from websockets.sync.client import connect

from telephony.twiml import BUSY
from tests.helpers import ADMIN
from tests.telephony.conftest import PhoneServer
from tests.telephony.simulator import call_params, sid, twiml


def test_a_call_beyond_the_conversation_limit_gets_a_busy_message(
    phone_server_factory,
) -> None:
    phone: PhoneServer = phone_server_factory(max_conversations=1)
    res = httpx.post(f"{phone.base}/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    url = phone.base.replace("http", "ws", 1) + f"/ws/conversation?token={res.json()['token']}"
    with connect(url, open_timeout=10) as ws:
        assert '"ready"' in ws.recv(timeout=10)
        root = twiml(phone.twilio.post("/twilio/voice", call_params(sid("CA"), "+15550001111")))
        assert [child.tag for child in root] == ["Say", "Hangup"]
        assert root.find("Say").text == BUSY  # type: ignore[union-attr]
    # With the place free again (once the server has closed that conversation), the next
    # call is streamed as usual.
    for _ in range(50):
        root = twiml(phone.twilio.post("/twilio/voice", call_params(sid("CA"), "+15550001111")))
        if root.find("Connect") is not None:
            break
        time.sleep(0.1)
    assert root.find("Connect") is not None
