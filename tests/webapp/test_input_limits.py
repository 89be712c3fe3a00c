"""Over-long credentials and oversized JSON bodies: a quick 4xx, never a slow hash of a
megabyte or a body read whole into memory."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from core.accounts import MAX_PASSWORD
from tests.helpers import ADMIN, login

QUICK_S = 1.0
MB = 1024 * 1024


def timed_post(client: TestClient, path: str, **kwargs: object) -> tuple[int, float, dict]:
    start = time.monotonic()
    res = client.post(path, **kwargs)  # type: ignore[arg-type]
    return res.status_code, time.monotonic() - start, res.json()


@pytest.mark.parametrize("path", ["/login", "/register"])
@pytest.mark.parametrize(
    ("username", "password", "status"),
    [
        ("u" * 65, "long-enough-pass", 422),  # Credentials.username max_length
        ("u" * 100_000, "long-enough-pass", 422),
        ("someone", "p" * 1025, 422),  # Credentials.password max_length
        ("someone", "p" * 900_000, 422),  # under the 1 MB body limit, over max_length
        ("someone", "p" * (2 * MB), 413),  # over the body limit: refused while it streams
    ],
    ids=["username-65", "username-100k", "password-1025", "password-900k", "password-2mb"],
)
def test_over_long_credentials_are_a_quick_4xx(
    client: TestClient, path: str, username: str, password: str, status: int
) -> None:
    code, elapsed, body = timed_post(
        client, path, json={"username": username, "password": password}
    )
    assert code == status, body
    assert elapsed < QUICK_S
    if status == 422:
        assert len(str(body)) < 2000  # the refused value is not echoed back whole
    else:
        assert body["detail"] == "The request body is larger than the limit of 1 MB."


def test_a_password_over_the_argon2_bound_is_never_hashed(client: TestClient) -> None:
    password = "p" * (MAX_PASSWORD + 1)  # accepted by the schema, refused by the core
    code, elapsed, _ = timed_post(
        client, "/register", json={"username": "longpass", "password": password}
    )
    assert code == 422 and elapsed < QUICK_S
    code, elapsed, body = timed_post(
        client, "/login", json={"username": ADMIN[0], "password": password}
    )
    assert code == 401 and elapsed < QUICK_S
    assert body["detail"] == "Wrong username or password."
    login(client)  # the admin can still sign in


@pytest.mark.parametrize("path", ["/response", "/speak", "/settings", "/sessions/abc"])
def test_json_bodies_over_1_mb_are_413_even_without_content_length(
    client: TestClient, path: str
) -> None:
    headers = {**login(client), "Content-Type": "application/json"}

    def chunks():
        yield b'{"text": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    method = {"/settings": "PUT", "/sessions/abc": "PATCH"}.get(path, "POST")
    res = client.request(method, path, headers=headers, content=chunks())
    assert res.status_code == 413
    assert res.json()["detail"] == "The request body is larger than the limit of 1 MB."
