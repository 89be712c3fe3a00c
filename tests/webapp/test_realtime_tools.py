"""Tools in a live conversation over `WS /ws/conversation`: a goodbye ends it after its last
words, a slow tool gets a spoken filler, and silence is asked about, then ended. The model is
the loopback Groq (the real SDK) scripted to call the tools; the voices are the bundled ones."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.groq_server import FakeGroq, groq_providers_fixture, groq_server_fixture  # noqa: F401
from tests.helpers import ADMIN, serve
from tests.webapp.test_realtime_ws import RATE, Live, Received, receive_until


@pytest.fixture
def slow_orders() -> Iterator[str]:
    """An order service that takes 1.5 s to answer."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(1.5)
            reply = b'{"status": "shipped"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    server.shutdown()
    server.server_close()


@pytest.fixture
def live_tools(
    app_factory, groq_providers: Callable, groq_server: FakeGroq, tmp_path: Path, slow_orders: str
) -> Callable[..., Live]:
    """Start a live server on the loopback Groq; keyword arguments override settings."""
    tools = tmp_path / "tools.json"
    tools.write_text(
        json.dumps(
            {
                "tools": [
                    {
                        "name": "order_status",
                        "description": "Where an order is.",
                        "parameters": {"type": "object", "properties": {}},
                        "url": slow_orders,
                    }
                ]
            }
        )
    )
    servers: list[Any] = []

    def start(**overrides: object) -> Live:
        app = app_factory(
            providers=groq_providers(timeout=5.0),
            groq_api_key="x",
            groq_base_url=groq_server.url,
            tools_file=tools,
            **overrides,
        )
        servers.append(serve(app))
        base = servers[-1].__enter__()
        res = httpx.post(f"{base}/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        return Live(base, res.json()["token"])

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def calls(word: str, name: str) -> Callable[..., Any]:
    def choose(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if word in str(messages[-1].get("content", "")).lower():
            return [{"name": name, "arguments": {}}]
        return None

    return choose


def closed(ws: Any, got: Received, timeout: float = 30) -> ConnectionClosed:
    """Collect events until the server closes the socket."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            receive_until(ws, got, "never", timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as exc:
        return exc


@pytest.mark.slow
def test_a_goodbye_is_said_then_the_conversation_ends(live_tools, groq_server: FakeGroq) -> None:
    live = live_tools()
    groq_server.tool_calls = calls("bye", "end_conversation")
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        ws.send(json.dumps({"type": "text", "text": "Thanks, bye!"}))
        end = receive_until(ws, got, "end", timeout=60)
        gone = closed(ws, got)
    assert end == {"type": "end", "reason": "end", "transfer_to": None}
    types = got.types()
    assert types.index("tool") < types.index("audio_end") < types.index("turn") < types.index("end")
    tool = [e for e in got.events if e["type"] == "tool"]
    assert [(e["name"], e["ok"]) for e in tool] == [
        ("end_conversation", None),
        ("end_conversation", True),
    ]
    assert got.audio  # the goodbye was spoken before the end
    assert gone.rcvd is not None and (gone.rcvd.code, gone.rcvd.reason) == (1000, "end")


@pytest.mark.slow
def test_a_slow_tool_gets_a_spoken_filler(live_tools, groq_server: FakeGroq) -> None:
    live = live_tools(tool_filler_s=0.3)
    groq_server.tool_calls = calls("order", "order_status")
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        ws.send(json.dumps({"type": "text", "text": "Where is my order?"}))
        receive_until(ws, got, "turn", timeout=60)
        ws.send('{"type": "end"}')
    types = got.types()
    started = types.index("tool")
    finished = started + 1 + types[started + 1 :].index("tool")
    # The filler's audio began while the tool was still running...
    assert started < types.index("audio_start") < finished
    assert got.audio_at[finished] > 0
    # ...and it is no part of the answer that is stored and shown.
    turn = got.first("turn")
    assert "moment" not in turn["answer"].lower() and "shipped" in turn["answer"]


@pytest.mark.slow
def test_silence_is_asked_about_then_the_conversation_ends(live_tools) -> None:
    live = live_tools(idle_prompt_s=1.0, idle_hangup_s=1.0)
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        start = time.monotonic()
        end = receive_until(ws, got, "end", timeout=30)
        took = time.monotonic() - start
        gone = closed(ws, got)
    assert end["reason"] == "idle"
    # Two things said ("Are you still there?", then the goodbye), and no turn stored.
    assert got.types().count("audio_start") == 2 and "turn" not in got.types()
    assert got.audio and took >= 2.0
    assert gone.rcvd is not None and gone.rcvd.code == 1000
