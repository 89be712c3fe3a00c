"""Invalid Unicode in JSON bodies, against a live server: a lone UTF-16 surrogate ("\\ud800" in
JSON, valid JSON but no character) is a 422 that says which field, on every JSON route, before
and after sign-in; never a 500, and the server keeps answering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import login, serve

LONE = ["\\ud800", "\\udfff", "a\\udc00b", "\\ud83d"]  # high, low, between letters, half an emoji


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, local_providers: Providers
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    data_dir: Path = tmp_path_factory.mktemp("unicode") / "data"
    app = create_app(make_settings(data_dir), providers=local_providers)
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client, login(client)


def post_raw(
    client: httpx.Client, method: str, path: str, body: str, headers: dict
) -> httpx.Response:
    return client.request(
        method,
        path,
        content=body.encode("ascii"),
        headers={**headers, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("lone", LONE)
def test_a_lone_surrogate_is_a_422_on_every_json_route(
    live: tuple[httpx.Client, dict[str, str]], lone: str
) -> None:
    client, auth = live
    session = client.post("/response", json={"text": "Hello there."}, headers=auth).json()
    cases = [
        ("POST", "/login", f'{{"username": "a{lone}", "password": "xxxxxxxxx"}}', {}),
        ("POST", "/register", f'{{"username": "b{lone}", "password": "xxxxxxxxx"}}', {}),
        ("POST", "/response", f'{{"text": "Hi {lone}"}}', auth),
        ("PATCH", f"/sessions/{session['session_id']}", f'{{"title": "t{lone}"}}', auth),
        ("PUT", "/settings", f'{{"personality": "casual", "custom_prompt": "{lone}"}}', auth),
        ("POST", "/speak", f'{{"text": "Say {lone}"}}', auth),
    ]
    for method, path, body, headers in cases:
        res = post_raw(client, method, path, body, headers)
        assert res.status_code == 422, (path, res.status_code, res.text)
        detail = res.json()["detail"]
        assert detail and all(isinstance(item["msg"], str) for item in detail), (path, detail)

    # Nothing was stored by the refusals, and the server still answers.
    turns = client.get(f"/sessions/{session['session_id']}", headers=auth).json()["turns"]
    assert len(turns) == 1
    assert client.get("/health").status_code == 200


def test_nul_characters_are_dropped_not_a_server_error(client, speak) -> None:
    """PostgreSQL refuses NUL in text: a NUL in a message, a title or a session id was a 500
    there. They are dropped before the database on every database; an id is then unknown."""
    auth = login(client)
    said = client.post("/response", headers=auth, json={"text": "Hello\u0000 there!"})
    assert said.status_code == 200, said.text
    session = said.json()["session_id"]
    titled = client.patch(f"/sessions/{session}", headers=auth, json={"title": "A\u0000B"})
    assert titled.status_code == 200, titled.text
    stored = client.get(f"/sessions/{session}", headers=auth).json()
    assert stored["title"] == "AB"
    assert stored["turns"][0]["user_text"] == "Hello there!"
    wav = speak("Hello there.").read_bytes()
    for odd in (session[:5] + "\u0000" + session[5:], "\u0000"):
        upload = client.post(
            "/upload", headers=auth, files={"file": ("a.wav", wav)}, data={"session_id": odd}
        )
        assert upload.status_code == 404, upload.text
        answer = client.post("/response", headers=auth, json={"text": "Hi", "session_id": odd})
        assert answer.status_code == 404, answer.text
    assert client.get("/sessions/%00", headers=auth).status_code == 404
