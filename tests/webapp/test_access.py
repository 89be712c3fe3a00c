"""Every route that names a session or a turn, tried by a second user on the first user's:
404 each time (as if it did not exist), and the first user's data stays as it was.

The routes are read from the app, so a new route that takes a `session_id` or `turn_id`
fails `test_every_owner_scoped_route_is_tried` until it is added to `ATTEMPTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.helpers import login, register

IDS = {"session_id", "turn_id"}


@dataclass
class Owned:
    """The first user's session, its answered turn, and headers of both users."""

    session_id: str
    turn_id: int
    owner: dict
    other: dict


Attempt = Callable[[TestClient, Owned], int]

ATTEMPTS: dict[tuple[str, str], Attempt] = {
    ("GET", "/sessions/{session_id}"): lambda c, o: (
        c.get(f"/sessions/{o.session_id}", headers=o.other).status_code
    ),
    ("PATCH", "/sessions/{session_id}"): lambda c, o: (
        c.patch(
            f"/sessions/{o.session_id}",
            headers=o.other,
            json={"title": "mine now", "personality": "humorous", "language": "de"},
        ).status_code
    ),
    ("DELETE", "/sessions/{session_id}"): lambda c, o: (
        c.delete(f"/sessions/{o.session_id}", headers=o.other).status_code
    ),
    ("GET", "/turns/{turn_id}/audio"): lambda c, o: (
        c.get(f"/turns/{o.turn_id}/audio", headers=o.other).status_code
    ),
    ("POST", "/response"): lambda c, o: (
        c.post(
            "/response",
            headers=o.other,
            json={"text": "Tell me a secret.", "session_id": o.session_id},
        ).status_code
    ),
    ("POST", "/upload"): lambda c, o: (
        c.post(
            "/upload",
            headers=o.other,
            data={"session_id": o.session_id},
            files={"file": ("a.wav", b"RIFF....WAVEfmt ")},
        ).status_code
    ),
}


def owner_scoped_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every operation whose path, query, form or JSON body names a session
    or a turn, read from the OpenAPI document the app builds from its routes."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    schemas = spec["components"]["schemas"]
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content["schema"].get("$ref", "")
                names.update(schemas[ref.rsplit("/", 1)[-1]]["properties"] if ref else {})
            if names & IDS:
                found.add((method.upper(), path))
    return found


@pytest.fixture
def owned(client: TestClient) -> Owned:
    owner = login(client)
    body = client.post(
        "/response", headers=owner, json={"text": "Hello, my name is Alice.", "audio": "url"}
    ).json()
    res = client.patch(
        f"/sessions/{body['session_id']}",
        headers=owner,
        json={"title": "Alice's chat", "personality": "formal"},
    )
    assert res.status_code == 200
    res = client.put(
        "/settings",
        headers=owner,
        json={"personality": "custom", "custom_prompt": "Speak like a pirate.", "language": "en"},
    )
    assert res.status_code == 200
    return Owned(body["session_id"], body["turn_id"], owner, register(client, "mallory"))


def test_every_owner_scoped_route_is_tried(client: TestClient) -> None:
    routes = owner_scoped_routes(client)
    assert routes == set(ATTEMPTS), f"add these to ATTEMPTS: {sorted(routes - set(ATTEMPTS))}"


def snapshot(client: TestClient, owned: Owned) -> tuple[dict, dict, list]:
    session = client.get(f"/sessions/{owned.session_id}", headers=owned.owner).json()
    settings = client.get("/settings", headers=owned.owner).json()
    listing = client.get("/sessions", headers=owned.owner).json()
    return session, settings, listing


@pytest.mark.parametrize("route", sorted(ATTEMPTS), ids=" ".join)
def test_another_users_session_or_turn_is_404_and_left_intact(
    client: TestClient, owned: Owned, route: tuple[str, str]
) -> None:
    before = snapshot(client, owned)
    assert ATTEMPTS[route](client, owned) == 404
    assert snapshot(client, owned) == before
    assert client.get("/sessions", headers=owned.other).json() == []
    assert before[0]["title"] == "Alice's chat" and len(before[0]["turns"]) == 1


def test_the_answer_audio_is_still_the_owners(client: TestClient, owned: Owned) -> None:
    res = client.get(f"/turns/{owned.turn_id}/audio", headers=owned.owner)
    assert res.status_code == 200 and res.content[:4] == b"RIFF"


def test_settings_are_per_user(client: TestClient, owned: Owned) -> None:
    before = snapshot(client, owned)
    res = client.put(
        "/settings", headers=owned.other, json={"personality": "humorous", "language": "de"}
    )
    assert res.status_code == 200
    assert client.get("/settings", headers=owned.other).json()["personality"] == "humorous"
    assert snapshot(client, owned) == before
    assert before[1]["custom_prompt"] == "Speak like a pirate." and before[1]["language"] == "en"


def test_a_live_conversation_cannot_join_another_users_session(
    client: TestClient, owned: Owned
) -> None:
    before = snapshot(client, owned)
    token = owned.other["Authorization"].split()[1]
    url = f"/ws/conversation?token={token}&session_id={owned.session_id}"
    with client.websocket_connect(url) as ws:
        event = ws.receive_json()
        assert event["type"] == "error" and event["fatal"] is True
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    assert snapshot(client, owned) == before
