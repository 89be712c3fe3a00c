"""A loopback Google Translate speaking gTTS 2.2.4's batchexecute wire format, faults on demand."""

from __future__ import annotations

import base64
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs

import pytest

from core.audio import pcm16_wav
from tests.helpers import encode_audio

PATH = "/_/TranslateWebserverUi/data/batchexecute"
RPC = "jQ1olc"
MP3_RATE = 24_000  # what Google's voices send

Fault = Literal["ok", "500", "no-audio", "hang"]


@dataclass(frozen=True)
class Seen:
    """One TTS request: the RPC's parameters, as gTTS packed them."""

    text: str
    lang: str
    slow: bool | None
    form_encoded: bool


@dataclass
class FakeGoogle:
    """What the server answers (set by tests) and what it has seen."""

    voice: Callable[[str], bytes]  # text -> wav, made into the MP3 that is sent back
    fault: Fault = "ok"
    fail_after: int | None = None  # answer this many requests, then fail with `fault`
    requests: list[Seen] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def current_fault(self) -> Fault:
        if self.fail_after is not None and len(self.requests) < self.fail_after:
            return "ok"
        return self.fault


def batchexecute(mp3: bytes) -> bytes:
    """Google's answer: an anti-JSON prefix, then length-prefixed JSON envelopes, the first
    carrying the RPC's result (a JSON string holding a list with the base64 MP3)."""
    payload = json.dumps([base64.b64encode(mp3).decode()])
    envelope = json.dumps(
        [
            ["wrb.fr", RPC, payload, None, None, None, "generic"],
            ["di", 57],
            ["af.httprm", 57, "-4785938173650472716", 11],
        ],
        separators=(",", ":"),
    )
    trailer = json.dumps([["e", 4, None, None, len(envelope) + 40]], separators=(",", ":"))
    parts = [")]}'", "", str(len(envelope) + 1), envelope, str(len(trailer) + 1), trailer]
    return ("\n".join(parts) + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        self.close_connection = True
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.split("?")[0] != PATH:
            self.send(404, b"Not Found", "text/html")
            return
        fault = fake.current_fault()
        seen = self.parse(body)
        fake.requests.append(seen)
        if fault == "500":
            self.send(500, b"<html>Internal Server Error</html>", "text/html")
        elif fault == "hang":
            self.hang()
        elif fault == "no-audio":
            # What Google says to an RPC it will not serve: a null result.
            empty = json.dumps([["wrb.fr", RPC, None, None, None, [3], "generic"]])
            self.send(200, f")]}}'\n\n{len(empty)}\n{empty}\n".encode(), "application/json")
        else:
            mp3 = encode_audio(fake.voice(seen.text), "mp3", MP3_RATE)
            self.send(200, batchexecute(mp3), "application/json; charset=utf-8")

    def parse(self, body: bytes) -> Seen:
        form = parse_qs(body.decode())
        ((rpc_id, parameters, _, kind),) = json.loads(form["f.req"][0])[0]
        assert (rpc_id, kind) == (RPC, "generic")
        text, lang, slow, _ = json.loads(parameters)
        content_type = self.headers.get("Content-Type", "")
        return Seen(text, lang, slow, content_type.startswith("application/x-www-form-urlencoded"))

    def send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def hang(self) -> None:
        """Answer nothing until the client gives up or the server stops."""
        fake = self.server.fake
        start = time.monotonic()
        while not fake.stopping.wait(0.05):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                try:
                    gone = not self.connection.recv(1, socket.MSG_PEEK)
                except ConnectionError:
                    gone = True
                if gone:
                    fake.waits.append(time.monotonic() - start)
                    return


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler

    def __init__(self, fake: FakeGoogle) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.fake.errors.append(error)


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(name="gtts_server")
def gtts_server_fixture(local_tts) -> Iterator[FakeGoogle]:
    """A fake Google Translate on a free loopback port, speaking with the bundled Piper voice."""

    def voice(text: str) -> bytes:
        chunks = list(local_tts.english.synthesize(text))
        return pcm16_wav(b"".join(c.pcm for c in chunks), chunks[0].sample_rate)

    fake = FakeGoogle(voice=voice)
    server = Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-google")
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert not fake.errors, f"the fake Google server failed: {fake.errors!r}"
