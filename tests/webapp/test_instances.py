"""Several app instances behind a load balancer: each has its own DATA_DIR and memory, and they
share only the database and JWT_SECRET. Any instance then serves any request of a user."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import register

SECRET = "a-shared-secret-of-at-least-thirty-two-bytes"


def instance(data_dir: Path, database_url: str, providers: Providers, **overrides: object):
    settings = make_settings(data_dir, database_url=database_url, **overrides)
    return TestClient(create_app(settings, providers=providers))


def test_any_instance_serves_any_request_of_a_user(
    tmp_path: Path, database_url: str, local_providers: Providers
) -> None:
    one = instance(tmp_path / "one", database_url, local_providers, jwt_secret=SECRET)
    two = instance(tmp_path / "two", database_url, local_providers, jwt_secret=SECRET)
    with one, two:
        headers = register(one, "roamer")  # signed up and signed in on the first

        first = two.post("/response", headers=headers, json={"text": "Say hello."})
        assert first.status_code == 200, first.text
        session_id = first.json()["session_id"]
        again = {"text": "Say it again.", "session_id": session_id}
        second = one.post("/response", headers=headers, json=again)
        assert second.status_code == 200, second.text

        for client in (one, two):
            res = client.get(f"/sessions/{session_id}", headers=headers)
            assert res.status_code == 200, res.text
            assert [t["user_text"] for t in res.json()["turns"]] == ["Say hello.", "Say it again."]
        # The answer given by the second instance is spoken by the first.
        turn_id = first.json()["turn_id"]
        audio = one.get(f"/turns/{turn_id}/audio", headers=headers)
        assert audio.status_code == 200, audio.text
        assert audio.content[:4] == b"RIFF"
    assert not (tmp_path / "one" / "jwt_secret").exists()  # JWT_SECRET, not a file per machine


def test_instances_with_their_own_generated_secrets_refuse_each_others_tokens(
    tmp_path: Path, database_url: str, local_providers: Providers
) -> None:
    one = instance(tmp_path / "one", database_url, local_providers)
    two = instance(tmp_path / "two", database_url, local_providers)
    with one, two:
        headers = register(one, "roamer")
        assert one.get("/sessions", headers=headers).status_code == 200
        assert two.get("/sessions", headers=headers).status_code == 401
