"""Sign-in, registration, tokens and who may see what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from core.config import Settings
from tests.conftest import make_settings
from tests.helpers import ADMIN, login


def test_login_returns_a_jwt_that_opens_the_api(client: TestClient) -> None:
    res = client.post("/login", json={"username": "admin", "password": "adminpass123"})
    assert res.status_code == 200
    body = res.json()
    assert body["token"].count(".") == 2 and body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 3600
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/sessions", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("admin", "wrong-password"), ("nobody", "adminpass123")]
)
def test_wrong_credentials_get_the_same_401(
    client: TestClient, username: str, password: str
) -> None:
    res = client.post("/login", json={"username": username, "password": password})
    assert res.status_code == 401
    assert res.json()["detail"] == "Wrong username or password."


def test_register_then_login(client: TestClient) -> None:
    res = client.post("/register", json={"username": "maria", "password": "s3cret-pass"})
    assert res.status_code == 201 and res.json()["username"] == "maria"
    assert (
        client.post("/register", json={"username": "maria", "password": "other-pass"}).status_code
        == 409
    )
    login(client, "maria", "s3cret-pass")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "longenough"},
        {"username": "okname", "password": "short"},
        {"username": "bad name!", "password": "longenough"},
    ],
)
def test_register_rejects_bad_credentials(client: TestClient, body: dict) -> None:
    assert client.post("/register", json=body).status_code == 422


def test_protected_routes_need_a_token(client: TestClient) -> None:
    for method, path in [
        ("post", "/response"),
        ("post", "/upload"),
        ("get", "/sessions"),
        ("get", "/settings"),
    ]:
        res = getattr(client, method)(path)
        assert res.status_code == 401, path
        assert res.headers["www-authenticate"] == "Bearer"


def test_weak_jwt_secret_is_refused(tmp_path) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        make_settings(tmp_path, jwt_secret="short")


def test_generated_secret_is_kept_and_reused(app_factory) -> None:
    with TestClient(app_factory()) as first:
        headers = login(first)
    with TestClient(app_factory()) as second:
        assert second.get("/sessions", headers=headers).status_code == 200


def test_first_start_without_password_prints_a_generated_one(
    app_factory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_factory(admin_password=None, admin_username="root")
    err = capsys.readouterr().err
    assert "created user 'root' with password '" in err
    password = err.split("password '")[1].split("'")[0]
    with TestClient(app) as c:
        login(c, "root", password)
    app_factory(admin_password=None, admin_username="root")
    assert "password" not in capsys.readouterr().err  # only once


def test_settings_reads_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.test,http://b.test")
    monkeypatch.setenv("MAX_UPLOAD_MB", "5")
    s = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert (s.port, s.cors_origins, s.max_upload_bytes) == (
        9001,
        ["http://a.test", "http://b.test"],
        5 * 1024 * 1024,
    )


def test_brute_force_is_throttled_per_account_the_same_whether_it_exists(
    app_factory,
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app_factory(login_max_failures=3, ui_enabled=True)) as client:
        client.post("/register", json={"username": "bob_the_user", "password": "bob-password"})
        for name in ("bob_the_user", "nobody_here"):
            for _ in range(3):
                res = client.post("/login", json={"username": name, "password": "wrong-pass"})
                assert res.status_code == 401
            # Locked: even the right password waits, and a missing account looks the same.
            res = client.post("/login", json={"username": name, "password": "bob-password"})
            assert res.status_code == 429, res.text
            assert 1 <= int(res.headers["Retry-After"]) <= 300
        locked = client.post("/login", json={"username": "BOB_the_user", "password": "x" * 9})
        assert locked.status_code == 429  # names are compared case-insensitively
        # Other accounts are not locked by bob's failures.
        assert client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]}).is_success
        # The browser sign-in shares the same counters.
        page = client.post("/signin", data={"username": "bob_the_user", "password": "bob-password"})
        assert page.status_code == 429 and "Too many failed sign-ins" in page.text


def test_one_client_trying_many_accounts_is_throttled(app_factory) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app_factory(login_max_failures_per_client=4)) as client:
        for n in range(4):
            res = client.post("/login", json={"username": f"user{n}x", "password": "wrong-pass"})
            assert res.status_code == 401
        res = client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert res.status_code == 429 and "Retry-After" in res.headers


def test_a_right_password_clears_the_account_failures(app_factory) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app_factory(login_max_failures=3)) as client:
        for _ in range(2):
            client.post("/login", json={"username": ADMIN[0], "password": "wrong-pass"})
        assert client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]}).is_success
        for _ in range(2):
            client.post("/login", json={"username": ADMIN[0], "password": "wrong-pass"})
        assert client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]}).is_success
