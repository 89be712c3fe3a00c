"""Sessions, personalities, user settings and health."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.llm.llama_runtime import read_cpu_flags
from tests.conftest import TEST_LOCAL_LLM
from tests.helpers import ADMIN, login
from webapp.deps import state_of


@pytest.fixture
def headers(client: TestClient) -> dict:
    return login(client)


def test_personalities_are_listed(client: TestClient) -> None:
    names = [p["name"] for p in client.get("/personalities").json()]
    assert names == ["formal", "casual", "humorous", "custom"]


def test_settings_round_trip_and_apply_to_new_turns(client: TestClient, headers: dict) -> None:
    assert client.get("/settings", headers=headers).json() == {
        "personality": "casual",
        "custom_prompt": None,
        "language": "auto",
        "tts_provider": "local",
        "time_zone": "UTC",
    }
    res = client.put("/settings", headers=headers, json={"personality": "formal", "language": "es"})
    assert res.status_code == 200
    assert client.get("/settings", headers=headers).json()["language"] == "es"
    body = client.post(
        "/response", headers=headers, json={"text": "Tell me about the weather today."}
    ).json()
    assert body["personality"] == "formal"
    assert body["language"] == "es"  # pinned, whatever the text's language


@pytest.mark.parametrize(
    "payload",
    [
        {"personality": "pirate"},
        {"personality": "custom"},
        {"personality": "casual", "language": "xx"},
    ],
)
def test_bad_settings_are_422_and_change_nothing(
    client: TestClient, headers: dict, payload: dict
) -> None:
    assert client.put("/settings", headers=headers, json=payload).status_code == 422
    assert client.get("/settings", headers=headers).json()["personality"] == "casual"


def test_custom_personality_uses_the_users_prompt(client: TestClient, headers: dict) -> None:
    prompt = "You are a pirate. Start every answer with the word Arr."
    res = client.put(
        "/settings", headers=headers, json={"personality": "custom", "custom_prompt": prompt}
    )
    assert res.status_code == 200
    body = client.post("/response", headers=headers, json={"text": "Hello, who are you?"}).json()
    assert body["personality"] == "custom"
    assert "arr" in body["response"].lower()


def test_per_turn_and_per_session_personality(client: TestClient, headers: dict) -> None:
    first = client.post(
        "/response", headers=headers, json={"text": "Hello!", "personality": "humorous"}
    ).json()
    assert first["personality"] == "humorous"
    sid = first["session_id"]
    res = client.patch(
        f"/sessions/{sid}",
        headers=headers,
        json={"personality": "formal", "language": "fr", "title": "Test"},
    )
    assert res.status_code == 200
    assert res.json()["personality"] == "formal" and res.json()["title"] == "Test"
    second = client.post(
        "/response", headers=headers, json={"text": "How are you?", "session_id": sid}
    ).json()
    assert (second["personality"], second["language"]) == ("formal", "fr")
    # Clearing the override returns to the user's setting and to detection.
    client.patch(f"/sessions/{sid}", headers=headers, json={"personality": None, "language": None})
    third = client.post(
        "/response", headers=headers, json={"text": "What time is it?", "session_id": sid}
    ).json()
    assert (third["personality"], third["language"]) == ("casual", "en")
    bad = client.patch(f"/sessions/{sid}", headers=headers, json={"personality": "pirate"})
    assert bad.status_code == 422


def test_list_get_and_delete_sessions(client: TestClient, headers: dict) -> None:
    a = client.post("/response", headers=headers, json={"text": "First session."}).json()
    b = client.post("/response", headers=headers, json={"text": "Second session."}).json()
    listed = client.get("/sessions", headers=headers).json()
    assert [s["id"] for s in listed] == [b["session_id"], a["session_id"]]
    assert listed[0]["turn_count"] == 1 and listed[0]["title"] == "Second session."
    assert client.delete(f"/sessions/{a['session_id']}", headers=headers).status_code == 204
    assert client.get(f"/sessions/{a['session_id']}", headers=headers).status_code == 404
    assert [s["id"] for s in client.get("/sessions", headers=headers).json()] == [b["session_id"]]


def test_a_turn_shows_its_stored_figures_under_the_documented_names(
    client: TestClient, headers: dict
) -> None:
    """Each field as stored, grouped as docs/api.md documents it; a first audio alone (the
    page's player may report it first) is not yet a timed turn."""
    store = state_of(client.app).store
    user = store.find_user_by_name(username=ADMIN[0])
    session = store.create_session(user_id=user.id, channel="ws")
    timed, heard_first = (
        store.add_turn(
            user_id=user.id, session_id=session.id, source="voice", user_text=t, language="en"
        )
        for t in ("What time is it?", "And now?")
    )
    call = {"name": "clock", "arguments": {}, "result": {"time": "10:00"}, "ok": True, "ms": 2.0}
    store.complete_turn(
        turn_id=timed.id,
        answer="Ten.",
        language="en",
        personality="casual",
        llm_provider="local",
        fallback=None,
        llm_first_token_ms=150.0,
        total_ms=800.0,
        tool_calls=[{**call, "action": "end"}],
    )
    store.record_realtime(
        turn_id=timed.id, transcript_ms=300.0, first_token_ms=900.0, first_audio_ms=1400.0
    )
    store.record_realtime(
        turn_id=heard_first.id, transcript_ms=None, first_token_ms=None, first_audio_ms=2100.0
    )

    first, second = client.get(f"/sessions/{session.id}", headers=headers).json()["turns"]
    assert first["timings"] == {"stt_ms": None, "llm_first_token_ms": 150.0, "total_ms": 800.0}
    assert first["realtime"] == {
        "transcript_ms": 300.0,
        "first_token_ms": 900.0,
        "first_audio_ms": 1400.0,
    }
    assert first["tool_calls"] == [{**call, "action": "end"}]
    assert (second["realtime"], second["tool_calls"]) == (None, [])


def test_health_names_the_local_providers(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["stt"] == {
        "provider": "local:whisper-base",
        "kind": "local",
        "loaded": True,
        "fallback": None,
    }
    assert body["llm"]["provider"] == f"local:{TEST_LOCAL_LLM}" and body["llm"]["kind"] == "local"
    # The local model's llama.cpp: the portable build, and the extra buffers chosen for this CPU.
    llama = body["llama_cpp"]
    assert llama["version"] == "0.3.36" and llama["backend"] == "CPU"
    # The backend of this CPU's level: never a feature the CPU lacks.
    flags = read_cpu_flags()
    assert "AVX2" in llama["features"]
    assert "AMX_INT8" not in llama["features"] or "amx_int8" in flags
    assert isinstance(llama["extra_buffers"], bool)
    assert llama["extra_buffers_reason"].startswith("auto: ")


def test_openapi_and_cors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/login",
        "/register",
        "/upload",
        "/response",
        "/sessions",
        "/settings",
        "/personalities",
        "/health",
    ):
        assert path in spec["paths"]
    res = client.options(
        "/response",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert res.headers["access-control-allow-origin"] == "http://localhost:3000"
    res = client.options(
        "/response", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in res.headers


def test_api_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "/docs-static/swagger-ui-bundle.js" in page.text
    js = client.get("/docs-static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 500_000
    assert client.get("/redoc").status_code == 200
