"""Over-long credentials and oversized JSON bodies: a quick 4xx, never a slow hash of a
megabyte or a body read whole into memory."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core import personalities
from core.accounts import MAX_PASSWORD
from core.providers import Providers, measure_prompt_speed
from tests.helpers import ADMIN, login, serve

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


@pytest.fixture(scope="module")
def reading(local_providers: Providers) -> Providers:
    """The shared models with the reading speed measured as at start (the real model reads)."""
    system = personalities.system_prompt("casual", custom_prompt=None, language="en")
    speed = measure_prompt_speed(local_providers.llm, system)
    return dataclasses.replace(local_providers, prompt_tokens_per_s=speed)


@pytest.mark.parametrize(
    "text",
    [
        "Tell me about the sea. " * 360,  # 8,000 characters, the most /response takes
        # Right-to-left words and emoji: more tokens per character (2,500 characters stay within
        # the model's context, where 8,000 get the context's own 422)
        ("مرحبا بالعالم 🌍🎉 " * 150)[:2500],
    ],
    ids=["english-8000", "rtl-emoji"],
)
def test_a_message_longer_than_the_model_reads_in_a_few_seconds_is_a_422(
    app_factory: Callable[..., FastAPI], reading: Providers, text: str
) -> None:
    """An 8,000-character message held the local model for 35 s before. It is refused at once
    with the limit in words, stores nothing, and a message within it is answered."""
    with serve(app_factory(providers=reading, max_prompt_seconds=2.0)) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            auth = login(client)
            res = client.post("/response", headers=auth, json={"text": text[:8000]})
            assert res.status_code == 422, res.text
            detail = res.json()["detail"]
            limit = int(2.0 * (reading.prompt_tokens_per_s or 0))
            assert (
                f"at most {limit} tokens per message" in detail and "MAX_PROMPT_SECONDS" in detail
            )
            assert client.get("/sessions", headers=auth).json() == []
            fine = client.post("/response", headers=auth, json={"text": "What is two plus two?"})
            assert fine.status_code == 200 and fine.json()["response"]
