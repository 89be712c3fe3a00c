"""Tools through `/response`: the real `groq` and `openai` SDKs against a loopback server that
calls tools in the vendors' wire format, the calls run, stored with the turn and shown in the
session; and the bundled local model calling the clock itself."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.providers import Providers
from tests.groq_server import (  # noqa: F401  # noqa: F401
    API_KEY,
    CHAT,
    LLM_MODEL,
    TOOL_ANSWER,
    FakeGroq,
    groq_providers_fixture,
    groq_server_fixture,
)
from tests.helpers import login

TRANSFER = "+15550001111"


def script(calls: dict[str, list[dict[str, Any]]]) -> Callable[..., Any]:
    """A `FakeGroq.tool_calls` that calls the tools listed under a word of the user's message."""

    def choose(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        asked = str(messages[-1].get("content", "")).lower()
        for word, chosen in calls.items():
            if word in asked:
                return chosen
        return None

    return choose


@pytest.fixture
def orders() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An order service on loopback: its URL and the bodies it was sent."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            reply = json.dumps({"order": body.get("order_number"), "status": "shipped"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/orders", seen
    server.shutdown()
    server.server_close()


def tools_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(
        json.dumps(
            {
                "tools": [
                    {
                        "name": "order_status",
                        "description": "Where an order is, by its number.",
                        "parameters": {
                            "type": "object",
                            "properties": {"order_number": {"type": "string"}},
                            "required": ["order_number"],
                        },
                        "url": url,
                        "timeout_s": 2,
                    }
                ]
            }
        )
    )
    return path


@pytest.fixture(params=["groq", "openai"])
def cloud_app(
    request: pytest.FixtureRequest,
    app_factory: Callable[..., FastAPI],
    groq_providers: Callable[..., Providers],
    groq_server: FakeGroq,
    local_providers: Providers,
    tmp_path: Path,
    orders: tuple[str, list[dict[str, Any]]],
) -> FastAPI:
    """An app whose model is the loopback vendor: Groq's SDK, or OpenAI's on the same wire."""
    url, _ = orders
    common = {"tools_file": tools_file(tmp_path, url), "transfer_number": TRANSFER}
    if request.param == "groq":
        return app_factory(providers=groq_providers(timeout=5.0), **common)
    from core.llm.openai import OpenAILLM

    llm = OpenAILLM(model=LLM_MODEL, base_url=f"{groq_server.url}/openai/v1", timeout=5.0)
    providers = Providers(
        stt=local_providers.stt, llm=llm, tts=local_providers.tts, llm_fallback=local_providers.llm
    )
    return app_factory(providers=providers, **common)


def test_a_tool_result_reaches_the_answer_and_is_stored_with_the_turn(
    cloud_app: FastAPI, groq_server: FakeGroq, orders: tuple[str, list[dict[str, Any]]]
) -> None:
    groq_server.tool_calls = script(
        {
            "17 times 23": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}],
            "order": [{"name": "order_status", "arguments": {"order_number": "48213"}}],
        }
    )
    with TestClient(cloud_app) as client:
        auth = login(client)
        res = client.post("/response", headers=auth, json={"text": "What is 17 times 23?"})
        assert res.status_code == 200, res.text
        body = res.json()
        (call,) = body["tool_calls"]
        assert call["name"] == "calculate" and call["arguments"] == {"expression": "17 * 23"}
        assert call["result"]["result"] == 391 and call["ok"] is True and call["ms"] >= 0
        # The second request brought the result back, and the answer is built on it.
        assert "391" in body["response"] and body["response"].startswith("Here is what I found")
        assert body["action"] is None
        chats = groq_server.seen(CHAT)
        assert chats[-2].offered_tools and chats[-2].tool_calls == ("calculate",)
        assert chats[-1].tool_result

        # The HTTP tool gets its arguments; a second turn in the same session.
        res = client.post(
            "/response",
            headers=auth,
            json={"text": "Where is my order 48213?", "session_id": body["session_id"]},
        )
        assert res.status_code == 200, res.text
        assert orders[1] == [{"order_number": "48213"}]
        assert "shipped" in res.json()["response"]

        session = client.get(f"/sessions/{body['session_id']}", headers=auth).json()
        first, second = session["turns"]
        assert [c["name"] for c in first["tool_calls"]] == ["calculate"]
        assert first["tool_calls"][0]["result"] == call["result"]
        assert second["tool_calls"][0]["result"] == {"order": "48213", "status": "shipped"}
        # A turn without tools shows none.
        groq_server.tool_calls = None
        res = client.post("/response", headers=auth, json={"text": "Hello there"})
        assert res.json()["tool_calls"] == []


def test_a_call_the_server_passes_on_as_text_is_read_as_a_call(
    cloud_app: FastAPI, groq_server: FakeGroq
) -> None:
    """llama.cpp's server (and vLLM without a tool parser) streams the model's call as the
    answer's text: it is run as a call, never spoken as JSON; JSON that is no call stays text."""
    groq_server.calls_as_text = True
    groq_server.tool_calls = script(
        {"17 times 23": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]}
    )
    with TestClient(cloud_app) as client:
        auth = login(client)
        res = client.post("/response", headers=auth, json={"text": "What is 17 times 23?"})
        assert res.status_code == 200, res.text
        body = res.json()
        assert [c["name"] for c in body["tool_calls"]] == ["calculate"]
        assert body["tool_calls"][0]["result"]["result"] == 391
        assert body["response"].startswith("Here is what I found") and "391" in body["response"]

        groq_server.tool_calls = None
        groq_server.answer = '{"braces": "but no call"}'
        res = client.post("/response", headers=auth, json={"text": "Some JSON, please"})
        assert res.json()["response"] == groq_server.answer and res.json()["tool_calls"] == []


def test_openai_tools_false_offers_the_server_no_tools(
    groq_server: FakeGroq, local_providers: Providers, tmp_path: Path
) -> None:
    from app import create_app
    from core.providers import build_openai_llm
    from tests.conftest import make_settings

    groq_server.tool_calls = script(
        {"17 times 23": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]}
    )
    settings = make_settings(
        tmp_path / "data",
        llm_provider="openai",
        openai_base_url=f"{groq_server.url}/openai/v1",
        openai_model=LLM_MODEL,
        openai_tools=False,
    )
    llm = build_openai_llm(settings)
    providers = Providers(
        stt=local_providers.stt, llm=llm, tts=local_providers.tts, llm_fallback=local_providers.llm
    )
    with TestClient(create_app(settings, providers=providers)) as client:
        res = client.post("/response", headers=login(client), json={"text": "What is 17 times 23?"})
        assert res.status_code == 200 and res.json()["tool_calls"] == []
        # Without the tool the answer still gets the result: computed (core/facts), and said
        # after the scripted answer, which lacks it.
        said = "The calculator says: 17 times 23 is 391."
        assert res.json()["response"] == f"{groq_server.answer} {said}"
    assert [seen.offered_tools for seen in groq_server.seen(CHAT)] == [False]


def test_tool_events_stream_and_a_goodbye_ends_the_conversation(
    cloud_app: FastAPI, groq_server: FakeGroq
) -> None:
    groq_server.tool_calls = script({"bye": [{"name": "end_conversation", "arguments": {}}]})
    with TestClient(cloud_app) as client:
        auth = login(client)
        with client.stream(
            "POST", "/response", headers=auth, json={"text": "Thanks, bye!", "stream": True}
        ) as res:
            assert res.status_code == 200
            events = re.findall(r"event: (\w+)\ndata: (.*)\n", res.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert names.index("tool") < names.index("tool_result") < names.index("delta")
    tool = json.loads(dict(events)["tool"])
    assert tool == {"name": "end_conversation", "arguments": {}}
    done = json.loads(events[-1][1])
    assert done["action"] == "end" and done["tool_calls"][0]["action"] == "end"


def test_a_failing_tool_is_apologised_for_and_the_conversation_goes_on(
    app_factory: Callable[..., FastAPI],
    groq_providers: Callable[..., Providers],
    groq_server: FakeGroq,
    tmp_path: Path,
) -> None:
    # Nothing listens on this port: the call fails at once.
    app = app_factory(
        providers=groq_providers(timeout=5.0),
        tools_file=tools_file(tmp_path, "http://127.0.0.1:9/orders"),
    )
    groq_server.tool_calls = script(
        {"order": [{"name": "order_status", "arguments": {"order_number": "1"}}]}
    )
    with TestClient(app) as client:
        auth = login(client)
        res = client.post("/response", headers=auth, json={"text": "Where is order 1?"})
        assert res.status_code == 200, res.text
        (call,) = res.json()["tool_calls"]
        assert call["ok"] is False and "error" in call["result"]
        # The model read the failure and answered; the next turn works as ever.
        assert "error" in res.json()["response"]
        session = res.json()["session_id"]
        groq_server.tool_calls = None
        res = client.post("/response", headers=auth, json={"text": "OK.", "session_id": session})
        assert res.status_code == 200 and res.json()["response"] == groq_server.answer


def test_the_time_zone_is_a_setting_of_each_user(client: TestClient) -> None:
    auth = login(client)
    assert client.get("/settings", headers=auth).json()["time_zone"] == "UTC"
    current = client.get("/settings", headers=auth).json()
    res = client.put("/settings", headers=auth, json={**current, "time_zone": "Asia/Tokyo"})
    assert res.status_code == 200 and res.json()["time_zone"] == "Asia/Tokyo"
    res = client.put("/settings", headers=auth, json={**current, "time_zone": "Mars/Olympus"})
    assert res.status_code == 422 and "TIME_ZONE" in res.text
    assert client.get("/settings", headers=auth).json()["time_zone"] == "Asia/Tokyo"
