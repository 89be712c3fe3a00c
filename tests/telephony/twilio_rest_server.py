"""A loopback stand-in of Twilio's REST API for creating calls, in Twilio's wire format.

`POST /2010-04-01/Accounts/{AccountSid}/Calls.json` takes the form the twilio SDK sends (To,
From, Url, StatusCallback, StatusCallbackEvent...), checks HTTP basic auth with the account
sid and auth token, and answers 201 with a call resource shaped like Twilio's, with
Twilio's error JSON when told to fail, or with any other answer a proxy in the way could give.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.telephony.simulator import ACCOUNT_SID, AUTH_TOKEN

API_VERSION = "2010-04-01"
CALLS_PATH = f"/{API_VERSION}/Accounts/{{sid}}/Calls.json"


@dataclass(frozen=True)
class TwilioError:
    """What Twilio answers when it refuses: its error code, message and HTTP status."""

    code: int
    message: str  # may name the number as `{To}`, as Twilio's own messages do
    status: int = 400


INVALID_TO = TwilioError(21211, "Invalid 'To' Phone Number")
AUTHENTICATE = TwilioError(20003, "Authenticate", 401)


@dataclass(frozen=True)
class RawAnswer:
    """An answer that is not Twilio's own: a captive portal's or a proxy's page, say."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Seen:
    """One request to the Calls resource: its path, whether it authenticated, its form."""

    path: str
    authorized: bool
    user_agent: str
    form: dict[str, list[str]]

    def field(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass
class FakeTwilio:
    """What the stand-in answers (set by tests) and what it has seen."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    fail: TwilioError | None = None
    raw: RawAnswer | None = None
    requests: list[Seen] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    url: str = ""


def call_resource(account_sid: str, form: dict[str, list[str]]) -> dict[str, Any]:
    """A new call as Twilio's API returns it: queued, outbound-api, nothing billed yet."""
    sid = "CA" + secrets.token_hex(16)
    now = formatdate(usegmt=True).replace("GMT", "+0000")
    base = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    subresources = (
        "user_defined_message_subscriptions",
        "notifications",
        "recordings",
        "streams",
        "payments",
        "user_defined_messages",
        "siprec",
        "events",
        "transcriptions",
    )
    return {
        "date_updated": now,
        "price_unit": "USD",
        "parent_call_sid": None,
        "caller_name": None,
        "duration": None,
        "from": form["From"][0],
        "to": form["To"][0],
        "annotation": None,
        "answered_by": None,
        "sid": sid,
        "queue_time": "0",
        "price": None,
        "api_version": API_VERSION,
        "status": "queued",
        "direction": "outbound-api",
        "start_time": None,
        "date_created": now,
        "from_formatted": form["From"][0],
        "group_sid": None,
        "trunk_sid": None,
        "forwarded_from": None,
        "uri": f"{base}.json",
        "account_sid": account_sid,
        "end_time": None,
        "to_formatted": form["To"][0],
        "phone_number_sid": None,
        "subresource_uris": {
            name: f"{base}/{''.join(w.title() for w in name.split('_'))}.json"
            for name in subresources
        },
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        # One request per connection: a kept-alive socket of the SDK's pool would hold a
        # handler thread, and so the server's close, until the app stops.
        self.close_connection = True
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != CALLS_PATH.format(sid=fake.account_sid):
            self.error(TwilioError(20404, "The requested resource was not found", 404))
            return
        expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
        authorized = self.headers.get("Authorization") == f"Basic {expected}"
        form = parse_qs(body.decode(), keep_blank_values=True)
        agent = self.headers.get("User-Agent", "")
        fake.requests.append(Seen(self.path, authorized, agent, form))
        if not authorized:
            self.error(AUTHENTICATE)
        elif fake.fail is not None:
            self.error(fake.fail, to=form.get("To", [""])[0])
        elif fake.raw is not None:
            self.send_bytes(fake.raw.status, fake.raw.content_type, fake.raw.body)
        else:
            self.send(201, call_resource(fake.account_sid, form))

    def error(self, error: TwilioError, *, to: str = "") -> None:
        self.send(
            error.status,
            {
                "code": error.code,
                "message": error.message.format(To=to),
                "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
                "status": error.status,
            },
        )

    def send(self, status: int, payload: dict[str, Any]) -> None:
        self.send_bytes(status, "application/json; charset=utf-8", json.dumps(payload).encode())

    def send_bytes(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler

    def __init__(self, fake: FakeTwilio) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.fake.errors.append(error)


@pytest.fixture(name="twilio_rest")
def twilio_rest_fixture() -> Iterator[FakeTwilio]:
    """Twilio's REST API on a free loopback port, for TWILIO_API_BASE_URL."""
    fake = FakeTwilio()
    server = Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-twilio")
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not fake.errors, f"the Twilio stand-in failed: {fake.errors!r}"
