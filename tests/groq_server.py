"""A loopback server that speaks Groq's OpenAI-compatible wire format, with faults on demand.

It answers the `groq` SDK (base URL `url`) and the `openai` SDK alike (base URL `url` +
"/openai/v1": the SDK adds "/chat/completions"), and calls tools when a test scripts it to
(`FakeGroq.tool_calls`), in the vendors' streamed and whole wire formats."""

from __future__ import annotations

import contextlib
import email.policy
import io
import json
import re
import select
import socket
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import numpy as np
import pytest

API_KEY = "test-key"
TRANSCRIPTIONS = "/openai/v1/audio/transcriptions"
CHAT = "/openai/v1/chat/completions"
STT_MODEL = "whisper-large-v3-turbo"
LLM_MODEL = "llama-3.3-70b-versatile"

# "break": the connection drops mid-answer; "unfinished": the stream ends properly ([DONE])
# mid-answer with no finish reason, as llama.cpp's server ends one another request interrupts.
Fault = Literal["ok", "429", "500", "hang", "break", "unfinished"]
# Given a chat request's messages and tools (as sent), the calls to make: [{"name": ...,
# "arguments": {...}}], or None to answer in text.
ToolScript = Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[dict[str, Any]] | None]


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    model: str
    authorized: bool  # sent `Authorization: Bearer <API_KEY>`
    stream: bool = False
    language: str | None = None
    audio_seconds: float | None = None  # length of the uploaded WAV
    voiced_seconds: float | None = None  # how much of it is voice
    tools: tuple[str, ...] = ()  # the names of the tools a chat request offered
    tool_result: bool = False  # the chat request's last message was a tool's result
    tool_calls: tuple[str, ...] = ()  # the tools the answer called
    asked: str | None = None  # a chat request's last user message, as sent

    @property
    def offered_tools(self) -> bool:
        return bool(self.tools)


@dataclass
class FakeGroq:
    """What the server answers (set by tests) and what it has seen."""

    transcript: str = "Hello from the cloud."
    transcript_language: str = "english"
    # How much voice `transcript` takes (`voiced_seconds` of its recording). When set, an upload
    # with less voice (a live engine's guess at a mid-sentence pause) is heard as the words said
    # so far, as a real transcriber would: not the whole question, which would end the turn.
    transcript_seconds: float | None = None
    answer: str = "Groq here: the sky looks blue because air scatters blue light the most."
    # When set and a chat request offers tools, what to call (see `ToolScript`); the request
    # that brings the result back is answered with `TOOL_ANSWER` and the result's content.
    tool_calls: ToolScript | None = None
    # Stream the calls as the answer's text, `{"name": ..., "arguments": ...}` a line each, as
    # a server that does not parse the model's calls (llama.cpp's) passes them on.
    calls_as_text: bool = False
    faults: dict[str, Fault] = field(default_factory=lambda: {TRANSCRIPTIONS: "ok", CHAT: "ok"})
    retry_after: int = 30
    requests: list[Seen] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # seconds a client waited on a `hang`
    errors: list[BaseException] = field(default_factory=list)
    streams_cut_by_client: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def heard(self, voiced_seconds: float) -> str:
        # A little slack: the engine's resampling and μ-law blur a word's edges.
        if not self.transcript_seconds or voiced_seconds >= 0.9 * self.transcript_seconds:
            return self.transcript
        words = self.transcript.split()
        said = round(len(words) * voiced_seconds / self.transcript_seconds)
        return " ".join(words[:said]).rstrip("?.!,")

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def tokens(self) -> list[str]:
        """The answer as the stream sends it: a word (and its trailing space) per chunk."""
        return pieces(self.answer)

    def calls_for(self, request: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The tool calls that answer a chat request, or None for a text answer: only a request
        that offers tools and does not bring a tool's result back calls any."""
        tools = request.get("tools") or []
        if self.tool_calls is None or not tools or last_role(request) == "tool":
            return None
        return self.tool_calls(request["messages"], tools) or None

    def text_for(self, request: dict[str, Any]) -> str:
        """The text answer: `answer`, or after a tool's result, `TOOL_ANSWER` with it."""
        if last_role(request) != "tool":
            return self.answer
        content = request["messages"][-1].get("content")
        return TOOL_ANSWER.format(content if isinstance(content, str) else json.dumps(content))

    def tokens_before_break(self) -> list[str]:
        """What a `break` stream delivers before the connection drops."""
        tokens = self.tokens()
        return tokens[: len(tokens) // 2]


TOOL_ANSWER = "Here is what I found: {}"


def pieces(text: str) -> list[str]:
    """A text as a stream sends it: a word (and its trailing space) per chunk."""
    return re.findall(r"\S+\s*", text)


def last_role(request: dict[str, Any]) -> str | None:
    messages = request.get("messages") or []
    return messages[-1].get("role") if messages else None


def form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body, by field name."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = message_from_bytes(head + body, policy=email.policy.HTTP)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


def voiced_seconds(data: bytes, frame_s: float = 0.02) -> float:
    """Seconds of 16-bit WAV whose 20 ms frames are louder than a quiet room."""
    with wave.open(io.BytesIO(data)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    size = int(rate * frame_s)
    frames = samples[: len(samples) // size * size].astype(np.float32).reshape(-1, size)
    loud = np.sqrt((frames**2).mean(axis=1)) > 300
    return float(loud.sum()) * frame_s


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for chunked streams; each response closes its connection, so no idle
    # keep-alive connection holds a handler thread when the server stops.
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        self.close_connection = True
        start = time.monotonic()
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if len(body) < length:
            return  # the client died mid-request (a killed server): nothing to answer
        if self.path not in fake.faults:
            self.send_json(404, {"error": {"message": f"Unknown path {self.path}"}})
            return
        seen, request = self.parse(body)
        fault = fake.faults[self.path]
        answered = self.path == CHAT and fault in ("ok", "break")
        calls = fake.calls_for(request) if answered else None
        if calls:
            seen = replace(seen, tool_calls=tuple(call["name"] for call in calls))
        fake.requests.append(seen)
        if fault == "429":
            self.send_json(
                429,
                {
                    "error": {
                        "message": "Rate limit reached on tokens per minute (TPM). "
                        f"Please try again in {fake.retry_after}s.",
                        "type": "tokens",
                        "code": "rate_limit_exceeded",
                    }
                },
                {"retry-after": str(fake.retry_after)},
            )
        elif fault == "500":
            self.send_json(
                500,
                {"error": {"message": "Internal Server Error", "type": "internal_server_error"}},
            )
        elif fault == "hang":
            self.hang(start)
        elif self.path == TRANSCRIPTIONS:
            self.send_json(200, transcription(fake, seen))
        elif calls and seen.stream:
            if fake.calls_as_text:
                written = "\n".join(json.dumps(call) for call in calls)
                events = text_chunks(seen.model, pieces(written))
            else:
                events = tool_call_chunks(seen.model, calls)
            cut = fault in ("break", "unfinished")
            events = events[: len(events) // 2] if cut else events
            self.send_stream(events, finished=fault != "break")
        elif calls:
            self.send_json(200, tool_completion(seen.model, calls))
        elif seen.stream:
            text = fake.text_for(request)
            cut = fault in ("break", "unfinished")
            tokens = pieces(text)
            tokens = tokens[: len(tokens) // 2] if cut else tokens
            events = text_chunks(seen.model, tokens, stop=not cut)
            self.send_stream(events, finished=fault != "break")
        else:
            self.send_json(200, completion(seen.model, fake.text_for(request)))

    def parse(self, body: bytes) -> tuple[Seen, dict[str, Any]]:
        """What was asked, and for a chat request its JSON body ({} for a transcription)."""
        authorized = self.headers.get("Authorization") == f"Bearer {API_KEY}"
        if self.path == CHAT:
            request = json.loads(body)
            names = tuple(tool["function"]["name"] for tool in request.get("tools") or [])
            seen = Seen(
                self.path,
                request["model"],
                authorized,
                stream=bool(request.get("stream")),
                tools=names,
                tool_result=last_role(request) == "tool",
                asked=next(
                    (
                        m.get("content")
                        for m in reversed(request["messages"])
                        if m["role"] == "user"
                    ),
                    None,
                ),
            )
            return seen, request
        form = form_fields(self.headers["Content-Type"], body)
        language = form.get("language")
        seen = Seen(
            self.path,
            form["model"].decode(),
            authorized,
            language=language.decode() if language else None,
            audio_seconds=wav_seconds(form["file"]),
            voiced_seconds=voiced_seconds(form["file"]),
        )
        return seen, {}

    def send_json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")  # as it is: no client reuses a closed one
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_stream(self, events: list[str], *, finished: bool) -> None:
        """Server-sent events in HTTP chunks: `events`, then (if `finished`) `[DONE]` and the
        end of the chunked body; otherwise the connection drops right after `events`."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        if finished:
            events = [*events, "[DONE]"]
        try:
            for event in events:
                data = f"data: {event}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if finished:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # A client may stop reading mid-stream (an answer cut because it loops, a user who
            # barges in) and close its end: that is the client's right, not a server failure.
            self.server.fake.streams_cut_by_client += 1

    def hang(self, start: float) -> None:
        """Answer nothing until the client gives up (closes its end) or the server stops."""
        fake = self.server.fake
        while not fake.stopping.wait(0.05):
            if self.client_gone():
                fake.waits.append(time.monotonic() - start)
                return

    def client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return not self.connection.recv(1, socket.MSG_PEEK)
        except ConnectionError:
            return True


def text_chunks(model: str, tokens: list[str], *, stop: bool = True) -> list[str]:
    """A streamed text answer: the role, a chunk per token, then (if `stop`) the chunk with
    `finish_reason: stop`."""
    ident = f"chatcmpl-{time.monotonic_ns()}"
    events = [chunk(ident, model, {"role": "assistant", "content": ""})]
    events += [chunk(ident, model, {"content": token}) for token in tokens]
    if stop:
        events.append(chunk(ident, model, {}, finish_reason="stop"))
    return events


def split_arguments(arguments: str) -> list[str]:
    """A call's JSON arguments in up to three pieces, cut anywhere (inside a key or a
    value), as OpenAI streams them."""
    if len(arguments) < 3:
        return [arguments]
    third = len(arguments) // 3
    return [arguments[:third], arguments[third : 2 * third], arguments[2 * third :]]


def tool_call_chunks(model: str, calls: list[dict[str, Any]]) -> list[str]:
    """A streamed answer that calls tools: per call a chunk with its index, id, type, name
    and empty arguments, then the arguments string in pieces, then `finish_reason:
    tool_calls` (the role and `content: null` come with the first call)."""
    ident = f"chatcmpl-{time.monotonic_ns()}"
    events = []
    for index, call in enumerate(calls):
        opening: dict[str, Any] = {
            "tool_calls": [
                {
                    "index": index,
                    "id": call_id(index),
                    "type": "function",
                    "function": {"name": call["name"], "arguments": ""},
                }
            ]
        }
        if index == 0:
            opening = {"role": "assistant", "content": None, **opening}
        events.append(chunk(ident, model, opening))
        for piece in split_arguments(json.dumps(call.get("arguments") or {})):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            events.append(chunk(ident, model, delta))
    events.append(chunk(ident, model, {}, finish_reason="tool_calls"))
    return events


def call_id(index: int) -> str:
    return f"call_{time.monotonic_ns():x}{index}"


def chunk(ident: str, model: str, delta: dict[str, Any], finish_reason: str | None = None) -> str:
    return json.dumps(
        {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_test",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
            "x_groq": {"id": "req_test"},
        }
    )


def completion(model: str, answer: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        "x_groq": {"id": "req_test"},
    }


def tool_completion(model: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole answer that calls tools: `message.tool_calls`, arguments as a JSON string."""
    body: dict[str, Any] = completion(model, "")
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id(index),
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": json.dumps(call.get("arguments") or {}),
                },
            }
            for index, call in enumerate(calls)
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


def transcription(fake: FakeGroq, seen: Seen) -> dict[str, object]:
    duration = seen.audio_seconds or 0.0
    text = f" {fake.heard(seen.voiced_seconds or 0.0)}"
    return {
        "task": "transcribe",
        "language": fake.transcript_language,
        "duration": duration,
        "text": text,
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": duration,
                "text": text,
                "tokens": [50365, 2425, 50465],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 0.9,
                "no_speech_prob": 0.01,
            }
        ],
        "x_groq": {"id": "req_test"},
    }


class Server(ThreadingHTTPServer):
    # Non-daemon handlers: server_close() joins every one, so nothing outlives a test.
    daemon_threads = False

    def __init__(self, fake: FakeGroq) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.fake.errors.append(error)


@contextlib.contextmanager
def running_fake_groq() -> Iterator[FakeGroq]:
    """A fake Groq on a free loopback port (for tests and benches alike), stopped on exit,
    where it also checks that no request made it fail."""
    fake = FakeGroq()
    server = Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-groq")
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert not fake.errors, f"the fake Groq server failed: {fake.errors!r}"


@pytest.fixture(name="groq_server")
def groq_server_fixture() -> Iterator[FakeGroq]:
    """A fake Groq on a free loopback port, answering `ok` until a test sets a fault."""
    with running_fake_groq() as fake:
        yield fake


@pytest.fixture(name="groq_providers")
def groq_providers_fixture(
    groq_server: FakeGroq, local_stt: Any, local_llm: Any, local_tts: Any
) -> Iterator[Callable[..., Any]]:
    """Build `Providers` with the loopback Groq first and the bundled models behind it, the
    way `build_providers` sets them up with a key: `timeout` is GROQ_TIMEOUT_S, and both Groq
    backends share one breaker with the default GROQ_COOLDOWN_S."""
    from core.config import Settings
    from core.groq_client import GroqBreaker
    from core.llm.groq import GroqLLM
    from core.providers import Providers
    from core.stt.groq import GroqSTT

    made: list[Any] = []
    cooldown = Settings.model_fields["groq_cooldown_s"].default

    def build(timeout: float = 1.0) -> Providers:
        common: dict[str, Any] = {
            "api_key": API_KEY,
            "base_url": groq_server.url,
            "timeout": timeout,
        }
        breaker = GroqBreaker(cooldown_s=cooldown)
        stt = GroqSTT(model=STT_MODEL, breaker=breaker, **common)
        llm = GroqLLM(model=LLM_MODEL, breaker=breaker, **common)
        made.extend((stt, llm))
        return Providers(
            stt=stt, llm=llm, stt_fallback=local_stt, llm_fallback=local_llm, tts=local_tts
        )

    yield build
    for provider in made:
        provider.client.close()
