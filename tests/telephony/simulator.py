"""A Twilio simulator: signed webhooks, TwiML read with an XML parser, and a Media Stream
played in real time with marks acknowledged as a phone plays the audio.

It signs with the twilio SDK's `RequestValidator` and a test auth token, and speaks the
Media Streams wire format. Its mu-law is the G.711 reference algorithm in numpy, not the
server's codec, so an encoding mistake on the server cannot cancel itself out.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"  # the test account's auth token
PUBLIC_BASE = "https://agent.example.test"  # where "Twilio" reaches the app: a TLS proxy
PUBLIC_STREAM = "wss://agent.example.test/twilio/media"
ACCOUNT_SID = "AC" + "0" * 32
RATE = 8000
FRAME = 160  # 20 ms of mu-law
_ids = itertools.count(1)


# G.711 mu-law, the reference algorithm ---------------------------------------------------


def ulaw_encode(pcm: bytes) -> bytes:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.clip(np.frexp(magnitude.astype(np.float64))[1] - 8, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ((~(sign | (exponent << 4) | mantissa)) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> bytes:
    u = (~np.frombuffer(data, dtype=np.uint8).astype(np.int32)) & 0xFF
    exponent, mantissa = (u >> 4) & 7, u & 0x0F
    x = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -x, x).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    """PCM16 silence at 8 kHz."""
    return bytes(int(RATE * seconds) * 2)


def sid(prefix: str) -> str:
    return f"{prefix}{next(_ids):032x}"


# Webhooks ---------------------------------------------------------------------------------


def sign(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, dict(params))


def call_params(call_sid: str, number: str, **extra: str) -> dict[str, str]:
    """The fields of Twilio's incoming-call webhook."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": number,
        "To": "+15005550006",
        "Caller": number,
        "Called": "+15005550006",
        **extra,
    }


@dataclass
class Twilio:
    """Twilio's side of a live server reached at `base` (public name `PUBLIC_BASE`)."""

    base: str
    token: str = AUTH_TOKEN

    def post(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        signature: str | None | bool = True,
        query: str = "",
    ) -> httpx.Response:
        """POST a webhook form signed over the public URL (`signature=True`), with the given
        header value, or with none (`None`)."""
        public = f"{PUBLIC_BASE}{path}" + (f"?{query}" if query else "")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is True:
            headers["X-Twilio-Signature"] = sign(public, params, self.token)
        elif isinstance(signature, str):
            headers["X-Twilio-Signature"] = signature
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        return httpx.post(url, content=urlencode(params), headers=headers, timeout=30)

    def stream_socket(
        self, url: str = PUBLIC_STREAM, *, signature: str | None | bool = True
    ) -> Any:
        """The Media Streams socket at the public `url` (open it with `with`), reached through
        the loopback server as a TLS proxy would, the handshake signed over `url` alone."""
        parts = urlsplit(url)
        local = self.base.replace("http://", "ws://", 1) + parts.path
        headers = {}
        if signature is True:
            headers["X-Twilio-Signature"] = sign(url, {}, self.token)
        elif isinstance(signature, str):
            headers["X-Twilio-Signature"] = signature
        return connect(local, additional_headers=headers, open_timeout=10, max_size=None)


def twiml(response: httpx.Response) -> ET.Element:
    """The TwiML document of a webhook's answer, parsed."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def stream_parameters(root: ET.Element) -> tuple[str, dict[str, str]]:
    """The `<Connect><Stream>`'s URL and `<Parameter>`s."""
    stream = root.find("Connect/Stream")
    assert stream is not None, ET.tostring(root)
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


# Media Streams ----------------------------------------------------------------------------


@dataclass
class Received:
    """What the app sent on the stream, in order, with when it arrived."""

    messages: list[tuple[float, dict]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)  # mu-law of every media frame
    acked: list[str] = field(default_factory=list)  # marks "played" back to the app
    closed: ConnectionClosed | None = None
    foreign: list[dict] = field(default_factory=list)  # messages for another stream

    def of(self, event: str) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.messages if m["event"] == event]

    def pcm(self) -> bytes:
        return ulaw_decode(bytes(self.audio))


class MediaCall:
    """Twilio's end of one Media Stream.

    A sender thread keeps sending 20 ms media frames on a real-time clock, the caller's queued
    speech or else silence, as a phone line does. A receiver thread plays the app's frames on
    a playout clock and hands each mark back once the audio before it has played; `clear`
    drops the audio not yet played and hands back every pending mark at once.
    """

    def __init__(self, ws: ClientConnection, *, call_sid: str) -> None:
        self.ws = ws
        self.call_sid = call_sid
        self.stream_sid = sid("MZ")
        self.got = Received()
        self._speech = bytearray()  # mu-law still to say
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._chunk = 0
        self._play_end = 0.0  # when the audio received so far will have played
        self._pending: list[tuple[float, str]] = []  # (due, mark name)
        self.last_voiced_at: float | None = None
        self._threads: list[threading.Thread] = []

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def start(self, params: Mapping[str, str], *, call_sid: str | None = None) -> None:
        """`connected` and `start`, then real-time media until `stop`."""
        self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self.send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": self.stream_sid,
                "start": {
                    "accountSid": ACCOUNT_SID,
                    "streamSid": self.stream_sid,
                    "callSid": call_sid or self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": dict(params),
                },
            }
        )
        self._threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._send_media, self._receive, self._ack_marks)
        ]
        for thread in self._threads:
            thread.start()

    def say(self, pcm: bytes) -> None:
        """Queue 8 kHz PCM16 speech; it goes out frame by frame in real time."""
        with self._lock:
            self._speech += ulaw_encode(pcm)

    def said(self, timeout: float = 60) -> None:
        """Wait until everything queued has been sent."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._speech:
                    return
            assert time.monotonic() < deadline, "speech not sent in time"
            time.sleep(0.01)

    def dtmf(self, digit: str) -> None:
        self.send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": "9",
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    def stop(self) -> None:
        """`stop`, as when the caller hangs up, then wait for the app to close the socket."""
        self._stop.set()
        sender, *others = self._threads or [None]
        if sender is not None:
            sender.join(timeout=5)  # no media after `stop`
        try:
            self.send(
                {
                    "event": "stop",
                    "sequenceNumber": "999",
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid},
                }
            )
        except ConnectionClosed:
            pass
        for thread in others:
            thread.join(timeout=10)  # until the app closes the socket

    def hang_up_abruptly(self) -> None:
        """The socket just dies: no `stop`."""
        self.end()

    def end(self) -> None:
        """Close the socket (if still open) and wait for the threads."""
        self._stop.set()
        self.ws.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def playing(self) -> bool:
        with self._lock:
            return time.perf_counter() < self._play_end or bool(self._pending)

    def wait_for(self, event: str, timeout: float = 60, after: int = 0) -> tuple[float, dict]:
        """The first message of `event` among those received after the first `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(t, m) for t, m in self.got.messages[after:] if m["event"] == event]
            if found:
                return found[0]
            assert self.got.closed is None, f"closed: {self.got.closed}"
            time.sleep(0.01)
        raise AssertionError(f"no {event!r} from the app; got {self.events()}")

    def events(self) -> list[str]:
        return [m["event"] for _, m in self.got.messages]

    # threads --------------------------------------------------------------------------

    def _send_media(self) -> None:
        start = time.perf_counter()
        while not self._stop.is_set():
            with self._lock:
                frame = bytes(self._speech[:FRAME])
                del self._speech[:FRAME]
            voiced = bool(frame) and max(np.frombuffer(ulaw_decode(frame), "<i2"), default=0) > 300
            frame += b"\xff" * (FRAME - len(frame))
            self._chunk += 1
            payload = base64.b64encode(frame).decode()
            message = {
                "event": "media",
                "sequenceNumber": str(self._chunk + 1),
                "streamSid": self.stream_sid,
                "media": {
                    "track": "inbound",
                    "chunk": str(self._chunk),
                    "timestamp": str(self._chunk * 20),
                    "payload": payload,
                },
            }
            try:
                self.send(message)
            except ConnectionClosed:
                return
            if voiced:
                self.last_voiced_at = time.perf_counter()
            delay = start + self._chunk * 0.02 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def _receive(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except ConnectionClosed as exc:
                self.got.closed = exc
                return
            now = time.perf_counter()
            self.got.messages.append((now, message))
            if message.get("streamSid") != self.stream_sid:
                self.got.foreign.append(message)
            with self._lock:
                if message["event"] == "media":
                    frame = base64.b64decode(message["media"]["payload"])
                    self.got.audio += frame
                    self._play_end = max(self._play_end, now) + len(frame) / RATE
                elif message["event"] == "mark":
                    self._pending.append((self._play_end, message["mark"]["name"]))
                elif message["event"] == "clear":
                    self._play_end = now
                    self._pending = [(now, name) for _, name in self._pending]

    def _ack_marks(self) -> None:
        while self.got.closed is None:
            now = time.perf_counter()
            with self._lock:
                due = [name for at, name in self._pending if at <= now]
                self._pending = [(at, name) for at, name in self._pending if at > now]
            for name in due:
                try:
                    self.send(
                        {
                            "event": "mark",
                            "sequenceNumber": "0",
                            "streamSid": self.stream_sid,
                            "mark": {"name": name},
                        }
                    )
                except ConnectionClosed:
                    return
                self.got.acked.append(name)
            time.sleep(0.005)


@contextmanager
def media_call(twilio: Twilio, url: str, *, call_sid: str) -> Iterator[MediaCall]:
    """A stream socket for the call, closed at the end whatever happened."""
    with twilio.stream_socket(url) as ws:
        call = MediaCall(ws, call_sid=call_sid)
        try:
            yield call
        finally:
            call.end()
