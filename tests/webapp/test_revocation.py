"""Tokens name an account by an identity that is never reused, and stop working when their
account signs out or changes its password: the API, the live socket and the page alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from tests.conftest import POSTGRES_URL
from tests.helpers import ADMIN, login, register
from webapp.auth import COOKIE

PASSWORD = "password-123"
REVOKED = "This token was revoked (signed out, or the password changed): sign in again."


def token_of(headers: dict) -> str:
    return str(headers["Authorization"]).removeprefix("Bearer ")


def test_a_token_never_opens_an_account_that_reuses_its_number(client: TestClient) -> None:
    store = client.app.state.agent_state.store  # type: ignore[attr-defined]
    old = register(client, "leaving", PASSWORD)
    gone = store.find_user_by_name(username="leaving")
    with store.engine.begin() as db:  # an operator deletes the account
        db.execute(text("DELETE FROM users WHERE id = :id"), {"id": gone.id})
    new = register(client, "arriving", PASSWORD)
    pirate = {"personality": "custom", "custom_prompt": "Speak like a pirate."}
    assert client.put("/settings", headers=new, json=pirate).status_code == 200
    if POSTGRES_URL is None:  # SQLite gives the highest id again; PostgreSQL never does
        assert store.find_user_by_name(username="arriving").id == gone.id

    res = client.get("/settings", headers=old)
    assert res.status_code == 401, res.text
    assert res.json()["detail"] == "The account of this token no longer exists."
    assert client.get("/settings", headers=new).json()["custom_prompt"] == "Speak like a pirate."


def test_signing_out_ends_every_token_of_the_account_and_only_of_it(client: TestClient) -> None:
    phone, laptop = login(client), login(client)
    other = register(client, "bystander", PASSWORD)
    assert client.get("/sessions", headers=laptop).status_code == 200

    assert client.post("/logout", headers=phone).status_code == 204
    for headers in (phone, laptop):
        res = client.get("/sessions", headers=headers)
        assert (res.status_code, res.json()["detail"]) == (401, REVOKED)
        assert res.headers["www-authenticate"] == "Bearer"
    assert client.post("/logout", headers=phone).status_code == 401
    assert client.get("/sessions", headers=other).status_code == 200
    # The live socket refuses it too.
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/ws/conversation?token={token_of(phone)}") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008
    # Signing in again gives a token that works.
    assert client.get("/sessions", headers=login(client)).status_code == 200


def test_a_password_change_needs_the_old_one_and_ends_the_old_tokens(
    app_factory,
) -> None:
    with TestClient(app_factory(login_max_failures=3)) as client:
        before = register(client, "changer", PASSWORD)
        other = login(client)
        change = {"current_password": "wrong-pass", "new_password": "brand-new-pass"}
        res = client.post("/password", headers=before, json=change)
        assert (res.status_code, res.json()["detail"]) == (403, "The current password is wrong.")
        change["current_password"] = PASSWORD
        res = client.post("/password", headers=before, json={**change, "new_password": "short"})
        assert res.status_code == 422
        assert res.json()["detail"] == "Password must be between 8 and 256 characters."
        assert client.post("/password", json=change).status_code == 401

        res = client.post("/password", headers=before, json=change)
        assert res.status_code == 200, res.text
        after = {"Authorization": f"Bearer {res.json()['token']}"}
        assert res.json()["expires_in"] == 24 * 3600
        assert client.get("/sessions", headers=after).status_code == 200
        assert client.get("/sessions", headers=before).json()["detail"] == REVOKED
        assert client.get("/sessions", headers=other).status_code == 200  # another account
        wrong = client.post("/login", json={"username": "changer", "password": PASSWORD})
        assert wrong.status_code == 401
        login(client, "changer", "brand-new-pass")


def test_guessing_the_current_password_with_a_token_is_throttled(app_factory) -> None:
    """A stolen token is no way around the sign-in throttle."""
    with TestClient(app_factory(login_max_failures=3)) as client:
        headers = login(client)
        change = {"current_password": "wrong-pass", "new_password": "brand-new-pass"}
        for _ in range(3):
            assert client.post("/password", headers=headers, json=change).status_code == 403
        change["current_password"] = ADMIN[1]
        res = client.post("/password", headers=headers, json=change)
        assert res.status_code == 429 and "Retry-After" in res.headers
        res = client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert res.status_code == 429  # the same counts as /login


def test_signing_out_through_the_api_signs_the_page_out_too(app_factory) -> None:
    with TestClient(app_factory(ui_enabled=True)) as client:
        signed_in = client.post(
            "/signin", data={"username": ADMIN[0], "password": ADMIN[1]}, follow_redirects=False
        )
        assert signed_in.status_code == 303
        assert client.get("/config").status_code == 200  # the page's cookie opens the UI
        token = client.cookies[COOKIE]
        assert (
            client.post("/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
        )
        assert client.get("/config").status_code == 401
        assert client.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_signing_the_page_out_ends_the_accounts_tokens_too(app_factory) -> None:
    """The page's Sign out revokes as POST /logout does: a copy of its cookie, or a token
    the account got over the API, opens nothing afterwards."""
    with TestClient(app_factory(ui_enabled=True)) as client:
        api = client.post("/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        bearer = {"Authorization": f"Bearer {api.json()['token']}"}
        client.post("/signin", data={"username": ADMIN[0], "password": ADMIN[1]})
        cookie = client.cookies[COOKIE]
        assert client.get("/sessions", headers=bearer).status_code == 200
        assert client.get("/signout", follow_redirects=False).status_code == 303
        assert client.get("/sessions", headers=bearer).status_code == 401
        copied = {"Authorization": f"Bearer {cookie}"}
        assert client.get("/sessions", headers=copied).status_code == 401
