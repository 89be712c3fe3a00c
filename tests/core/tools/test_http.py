"""HTTP tools from a tools file: loading and its errors, and calls to a real loopback service."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest

from core.tools import Tool, ToolContext, ToolOutput
from core.tools.http import MAX_REPLY_BYTES, HttpEndpoint, ToolFileError, load_http_tools

EXAMPLE = Path(__file__).resolve().parents[3] / "evals" / "tools.example.json"
TOKEN = "s3cret-token-do-not-log"
CTX = ToolContext(
    user_id=1,
    username="ada",
    session_id="session-42",
    channel="web",
    language="en",
    time_zone="UTC",
)
ORDER = {"order_number": "A-1234", "status": "shipped", "delivery": "2026-12-04"}
ORDER_PARAMETERS = {
    "type": "object",
    "properties": {"order_number": {"type": "string", "description": "e.g. A-1234"}},
    "required": ["order_number"],
}

Behaviour = Literal["answer", "hang", "trickle", "stream"]


@dataclass(frozen=True)
class Seen:
    """One request the service received."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class FakeService:
    """What the service answers (set by tests) and what it has seen."""

    status: int = 200
    body: bytes = json.dumps(ORDER).encode()
    content_type: str = "application/json"
    # answer: at once; hang: never; trickle: a byte every 50 ms; stream: chunked, no length
    behaviour: Behaviour = "answer"
    requests: list[Seen] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # seconds until the client hung up
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    url: str = ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        self.close_connection = True
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.requests.append(Seen(self.path, headers, body))
        start = time.monotonic()
        try:
            if fake.behaviour == "hang":
                self.hang()
                return
            self.send_response(fake.status)
            self.send_header("Content-Type", fake.content_type)
            if fake.status == 302:
                self.send_header("Location", "/elsewhere")
            if fake.behaviour == "stream":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.stream(fake.body)
                return
            self.send_header("Content-Length", str(len(fake.body)))
            self.end_headers()
            if fake.behaviour == "trickle":
                self.trickle(fake.body)
            else:
                self.wfile.write(fake.body)
        except ConnectionError:  # the client hung up mid-reply, as it should on a limit
            fake.waits.append(time.monotonic() - start)

    def stream(self, body: bytes) -> None:
        for i in range(0, len(body), 8192):
            chunk = body[i : i + 8192]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def trickle(self, body: bytes) -> None:
        """Send the reply a byte at a time: each read is quick, the whole reply is not."""
        for byte in body:
            if self.server.fake.stopping.wait(0.05):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def hang(self) -> None:
        """Answer nothing until the client gives up or the server stops."""
        fake = self.server.fake
        start = time.monotonic()
        while not fake.stopping.wait(0.02):
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

    def __init__(self, fake: FakeService) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.fake.errors.append(error)


@pytest.fixture(name="service")
def service_fixture() -> Iterator[FakeService]:
    """An order service on a free loopback port."""
    fake = FakeService()
    server = Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-orders")
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert not fake.errors, f"the fake order service failed: {fake.errors!r}"


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def order_entry(**changes: object) -> dict[str, object]:
    """The order-status tool's entry in a tools file; a change to None drops the key."""
    entry: dict[str, object] = {
        "name": "order_status",
        "description": "Where an order is and when it arrives.",
        "parameters": ORDER_PARAMETERS,
        "url": "http://127.0.0.1:9/orders/status",
        "timeout_s": 2,
        "bearer_token": TOKEN,
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


def write_tools(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def order_tool(tmp_path: Path, url: str, **changes: object) -> Tool:
    path = write_tools(tmp_path, {"tools": [order_entry(url=url, **changes)]})
    (tool,) = load_http_tools(path, default_timeout_s=10)
    return tool


def call(tool: Tool, arguments: Any) -> ToolOutput:
    return asyncio.run(tool.run(arguments, CTX))


def wait_for_hang_up(fake: FakeService) -> None:
    deadline = time.monotonic() + 2
    while not fake.waits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.waits, "the tool left the connection open"


# Loading


def test_the_example_file_loads() -> None:
    tools = load_http_tools(EXAMPLE, default_timeout_s=10)

    assert [tool.name for tool in tools] == ["order_status", "weather"]
    orders, weather = tools
    assert orders.parameters["required"] == ["order_number"]
    assert orders.parameters["properties"]["order_number"]["type"] == "string"
    assert weather.parameters["required"] == ["city"]
    assert all(not tool.asks_user and tool.channels is None for tool in tools)
    assert orders.spec()["function"]["name"] == "order_status"


def test_defaults_fill_what_an_entry_leaves_out(tmp_path: Path) -> None:
    entry = {"name": "ping", "description": "  Is the shop open?  ", "url": "https://shop.test/"}
    (tool,) = load_http_tools(write_tools(tmp_path, {"tools": [entry]}), default_timeout_s=7)

    assert tool.description == "Is the shop open?"
    assert tool.parameters == {"type": "object", "properties": {}}
    assert not tool.asks_user  # a long call gets a filler
    assert isinstance(tool.run, HttpEndpoint)
    assert tool.run.timeout_s == 7.0
    assert load_http_tools(write_tools(tmp_path, {"tools": []}), default_timeout_s=7) == []


def test_the_token_stays_out_of_the_tools_repr(tmp_path: Path) -> None:
    tool = order_tool(tmp_path, "http://127.0.0.1:9/orders")

    assert TOKEN not in repr(tool)


@pytest.mark.parametrize(
    ("document", "fragments"),
    [
        ('{"tools": [{"name": "order_status",', ["not valid JSON", "line 1"]),
        ({"tools": [order_entry(urll="http://x.test/")]}, ["tools[0]", "'urll'", "unknown key"]),
        ({"tools": [order_entry(name="order status")]}, ["tools[0]", "'name'"]),
        ({"tools": [order_entry(name="9lives")]}, ["'name'"]),
        ({"tools": [order_entry(name="x" * 65)]}, ["'name'"]),
        ({"tools": [order_entry(url="ftp://orders.test/x")]}, ["'url'", "ftp://"]),
        ({"tools": [order_entry(url="orders.test/x")]}, ["'url'", "no scheme"]),
        ({"tools": [order_entry(url="http:///status")]}, ["'url'", "no host"]),
        ({"tools": [order_entry(url=None)]}, ["'url'", "missing"]),
        ({"tools": [order_entry(), order_entry()]}, ["tools[1]", "'name'", "duplicate"]),
        ({"tools": [order_entry(description=" ")]}, ["'description'"]),
        ({"tools": [order_entry(timeout_s=0)]}, ["'timeout_s'"]),
        ({"tools": [order_entry(timeout_s=61)]}, ["'timeout_s'", "60"]),
        ({"tools": [order_entry(timeout_s="5")]}, ["'timeout_s'"]),
        ({"tools": [order_entry(parameters={"type": "array"})]}, ["'parameters'"]),
        (
            {"tools": [order_entry(parameters={**ORDER_PARAMETERS, "required": ["order_nr"]})]},
            ["'parameters'", "order_nr"],
        ),
        ({"tools": [order_entry(headers={"X-Shop": 7})]}, ["'headers'", "X-Shop"]),
        ({"tools": [order_entry(headers={"X-Voice-Agent-Session": "x"})]}, ["'headers'"]),
        ({"tools": [order_entry(headers={"Authorization": "Basic x"})]}, ["'headers'"]),
        ({"tools": [order_entry(bearer_token="")]}, ["'bearer_token'"]),
        ({"tools": [order_entry()], "tool": []}, ['"tools"']),
        ({"tools": {"order_status": order_entry()}}, ['"tools"', "list"]),
        ('{"tools": [{"url": "http://a.test/", "url": "http://b.test/"}]}', ["'url'", "twice"]),
    ],
)
def test_a_wrong_file_is_refused_with_what_is_wrong(
    tmp_path: Path, document: object, fragments: list[str]
) -> None:
    path = write_tools(tmp_path, document)

    with pytest.raises(ToolFileError) as caught:
        load_http_tools(path, default_timeout_s=10)

    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert TOKEN not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    with pytest.raises(ToolFileError, match="cannot read the tools file") as caught:
        load_http_tools(path, default_timeout_s=10)

    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_secret_in_a_wrong_header_is_not_quoted(tmp_path: Path) -> None:
    path = write_tools(tmp_path, {"tools": [order_entry(headers={"X-Key": "k3y-\r\nV4LUE"})]})

    with pytest.raises(ToolFileError, match="'headers'") as caught:
        load_http_tools(path, default_timeout_s=10)

    assert "V4LUE" not in str(caught.value)


# Calling


def test_the_arguments_arrive_as_json_with_the_token(
    tmp_path: Path, service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tool = order_tool(tmp_path, f"{service.url}/orders/status", headers={"X-Shop": "eu"})

    output = call(tool, {"order_number": "Zoë-981", "urgent": True})

    assert output == ToolOutput(content=ORDER)
    (seen,) = service.requests
    assert seen.path == "/orders/status"
    assert json.loads(seen.body) == {"order_number": "Zoë-981", "urgent": True}
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["x-voice-agent-session"] == "session-42"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["x-shop"] == "eu"
    assert "order_status" in caplog.text
    assert TOKEN not in caplog.text
    assert "981" not in caplog.text


def test_any_json_reply_comes_back_as_it_is(tmp_path: Path, service: FakeService) -> None:
    service.body = b'[1, "two", null, {"three": 3.5}]'
    tool = order_tool(tmp_path, service.url, bearer_token=None)

    output = call(tool, {"order_number": "A-1"})

    assert output.ok
    assert output.content == [1, "two", None, {"three": 3.5}]
    assert "authorization" not in service.requests[0].headers


@pytest.mark.parametrize("status", [500, 404, 302])
def test_a_status_other_than_2xx_is_a_failure(
    tmp_path: Path, service: FakeService, status: int
) -> None:
    service.status = status
    service.body = json.dumps({"trace": ["frame"] * 20_000}).encode()  # over 64 KB: not read
    tool = order_tool(tmp_path, service.url)

    output = call(tool, {"order_number": "A-1"})

    assert output == ToolOutput(
        content={"error": f"the order_status service answered with HTTP {status}"}, ok=False
    )
    assert len(service.requests) == 1  # a redirect is not followed


@pytest.mark.parametrize("body", [b"<html>Orders are down</html>", b"", b'{"n": NaN}'])
def test_a_reply_that_is_not_json_is_a_failure(
    tmp_path: Path, service: FakeService, body: bytes
) -> None:
    service.body = body
    service.content_type = "text/html"
    tool = order_tool(tmp_path, service.url)

    output = call(tool, {"order_number": "A-1"})

    assert output == ToolOutput(
        content={"error": "the order_status service did not reply with JSON"}, ok=False
    )


@pytest.mark.parametrize("behaviour", ["hang", "trickle"])
def test_a_slow_service_is_given_up_on_at_the_timeout(
    tmp_path: Path, service: FakeService, behaviour: Behaviour
) -> None:
    # trickle: every read is quick, so only a deadline on the whole call stops it
    service.behaviour = behaviour
    tool = order_tool(tmp_path, service.url, timeout_s=0.3)

    start = time.monotonic()
    output = call(tool, {"order_number": "A-1"})
    elapsed = time.monotonic() - start

    assert output == ToolOutput(
        content={"error": "the order_status service did not answer within 0.3 s"}, ok=False
    )
    assert 0.29 <= elapsed < 0.8
    wait_for_hang_up(service)


def test_a_refused_connection_is_a_failure(tmp_path: Path) -> None:
    tool = order_tool(tmp_path, closed_port_url())

    output = call(tool, {"order_number": "A-1"})

    assert output == ToolOutput(
        content={"error": "the order_status service could not be reached"}, ok=False
    )


@pytest.mark.parametrize("behaviour", ["answer", "stream"])
def test_a_reply_over_64_kb_is_a_failure(
    tmp_path: Path, service: FakeService, behaviour: Behaviour
) -> None:
    # answer: Content-Length says it up front; stream: chunked, only counting finds it
    service.body = json.dumps({"history": ["shipped"] * 20_000}).encode()
    service.behaviour = behaviour
    tool = order_tool(tmp_path, service.url)

    output = call(tool, {"order_number": "A-1"})

    assert output == ToolOutput(
        content={"error": "the order_status service's reply was larger than 64 KB"}, ok=False
    )


def test_a_reply_of_exactly_64_kb_is_read(tmp_path: Path, service: FakeService) -> None:
    padding = MAX_REPLY_BYTES - len(json.dumps({"pad": ""}))
    service.body = json.dumps({"pad": "x" * padding}).encode()
    service.behaviour = "stream"
    tool = order_tool(tmp_path, service.url)

    output = call(tool, {"order_number": "A-1"})

    assert len(service.body) == MAX_REPLY_BYTES
    assert output.ok
    assert len(output.content["pad"]) == padding


def test_a_missing_required_argument_is_not_sent(tmp_path: Path, service: FakeService) -> None:
    tool = order_tool(tmp_path, service.url)

    output = call(tool, {"order": "A-1"})

    assert output == ToolOutput(
        content={"error": "missing required argument: order_number"}, ok=False
    )
    assert call(tool, ["A-1"]).content == {"error": "the arguments must be a JSON object"}
    assert service.requests == []
