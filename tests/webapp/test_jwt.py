"""Forged, malformed and oversized bearer tokens against a live server: each is a quick 401
(or, for headers too large to read, the server's own 400) and the server keeps serving."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import login, serve
from webapp.auth import MAX_TOKEN_LENGTH

QUICK_S = 1.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs(header: dict, claims: dict, secret: bytes, digest: Callable = hashlib.sha256) -> str:
    """A JWT signed by hand, so that any header (alg, typ) can be forged."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, local_providers: Providers
) -> Iterator[tuple[httpx.Client, bytes]]:
    """A live server and its JWT secret (the one a forger would need)."""
    data_dir: Path = tmp_path_factory.mktemp("jwt") / "data"
    app = create_app(make_settings(data_dir), providers=local_providers)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client, (data_dir / "jwt_secret").read_bytes()


def admin_claims(client: httpx.Client) -> dict:
    """`sub` and `ver` of the admin's tokens, read from one (the server's own)."""
    token = login(client)["Authorization"].removeprefix("Bearer ")  # type: ignore[arg-type]
    body = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return {"sub": claims["sub"], "ver": claims["ver"]}


def forged(secret: bytes, admin: dict) -> dict[str, str]:
    """Tokens that name the admin's account (its real `sub` and `ver`), or try to."""
    now = int(time.time())
    good = {**admin, "exp": now + 600}
    sub = admin["sub"]
    rsa = RSAKey.generate_key(2048)
    public_pem = rsa.as_pem(private=False)
    body = b64(json.dumps(good).encode())
    other_body = b64(json.dumps({**good, "sub": "f" * 32}).encode())

    def signed(**claims: object) -> str:
        return hs({"alg": "HS256"}, {**good, **claims}, secret)

    return {
        "alg none": b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + f".{body}.",
        "alg None, signature kept": hs({"alg": "None"}, good, secret),
        "HS512 with the right key": hs({"alg": "HS512"}, good, secret, hashlib.sha512),
        "RS256 signed": jwt.encode({"alg": "RS256"}, good, rsa),
        "HS256 keyed with an RSA public key": hs({"alg": "HS256"}, good, public_pem),
        "wrong key": hs({"alg": "HS256"}, good, b"k" * 48),
        "missing exp": hs({"alg": "HS256"}, admin, secret),
        "expired exp": signed(exp=now - 60),
        "exp not a number": signed(exp="tomorrow"),
        "not yet valid (nbf)": signed(nbf=now + 3600),
        "missing sub": hs({"alg": "HS256"}, {"ver": 0, "exp": now + 600}, secret),
        "missing ver": hs({"alg": "HS256"}, {"sub": sub, "exp": now + 600}, secret),
        "sub not a public id": signed(sub="admin"),
        "sub of no account": signed(sub="0" * 32),
        # Tokens from before public ids named the numeric id (reused by SQLite).
        "sub a numeric id": signed(sub="1"),
        "sub a number": signed(sub=1),
        "sub in capitals": signed(sub=sub.upper()),
        "sub padded": signed(sub=f" {sub}"),
        "ver of no token yet": signed(ver=1),
        "ver negative": signed(ver=-1),
        "ver of 2**63": signed(ver=2**63),
        "ver a string": signed(ver="0"),
        "ver a float": signed(ver=0.0),
        "ver a boolean": signed(ver=False),
        "tampered claims": hs({"alg": "HS256"}, good, secret).replace(body, other_body),
        "two parts": "e30.e30",
        "not base64": "@@@.@@@.@@@",
        "just over MAX_TOKEN_LENGTH": "a" * (MAX_TOKEN_LENGTH + 1),
    }


def test_forged_and_malformed_tokens_are_a_quick_401(
    live: tuple[httpx.Client, bytes],
) -> None:
    client, secret = live
    admin = admin_claims(client)
    for name, token in forged(secret, admin).items():
        start = time.monotonic()
        res = client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 401, (name, res.text)
        assert res.headers["www-authenticate"] == "Bearer", name
        assert time.monotonic() - start < QUICK_S, name
    # The same secret signs a real token that works: the refusals above were the forgeries'.
    valid = hs({"alg": "HS256"}, {**admin, "exp": int(time.time()) + 600}, secret)
    assert client.get("/sessions", headers={"Authorization": f"Bearer {valid}"}).is_success


@pytest.mark.parametrize(
    "value", ["Basic YWRtaW46YWRtaW5wYXNzMTIz", "Bearer", "bearer  x.y.z", "x" * 300]
)
def test_other_authorization_schemes_are_401(live: tuple[httpx.Client, bytes], value: str) -> None:
    client, _ = live
    res = client.get("/settings", headers={"Authorization": value})
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"


def _raw_get(url: str, header_value: bytes) -> tuple[bytes, float]:
    address = urlsplit(url)
    start = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        try:
            sock.sendall(
                b"GET /sessions HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer "
                + header_value
                + b"\r\n\r\n"
            )
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole header was sent; the answer is still waiting
        answer = b""
        try:
            while b"\r\n\r\n" not in answer and (part := sock.recv(65536)):
                answer += part
        except ConnectionResetError:
            pass
    return answer, time.monotonic() - start


def test_a_megabyte_authorization_header_is_refused_quickly(
    live: tuple[httpx.Client, bytes],
) -> None:
    """A megabyte token reaches the app, which refuses it unparsed (401); a header block over
    MAX_HEADER_BYTES (2 MiB) is refused by uvicorn before the app (400, connection closed),
    so no connection holds more than that."""
    client, _ = live
    url = str(client.base_url)
    answer, elapsed = _raw_get(url, b"a" * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"www-authenticate: bearer" in answer.lower()
    assert elapsed < QUICK_S

    answer, elapsed = _raw_get(url, b"a" * 3 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert elapsed < QUICK_S
    assert client.get("/sessions", headers=login(client)).is_success  # type: ignore[arg-type]
