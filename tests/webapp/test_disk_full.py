"""A full disk, for real: the data folder on a small tmpfs filled to its last byte. Every write
route says so (507), sign-in still works, no turn is left `answering`, and everything works
again as soon as space returns. Needs root to mount the tmpfs; skipped otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app import create_app
from core.providers import Providers
from tests.conftest import make_settings, sqlite_only
from tests.helpers import ADMIN, login, register, serve

pytestmark = sqlite_only  # the database has to live in the data folder

SIZE = "16m"
DISK_FULL = (
    "The server's disk is full: nothing could be stored, and nothing was changed. Try again later."
)
PASSWORD = "password-123"


class SmallDisk:
    """A tmpfs mounted on an app's data folder, filled and freed on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Take every free byte. The database's WAL is emptied first, so that the next write
        has to grow it, as a write on a server whose disk filled up while it ran would."""
        with contextlib.closing(sqlite3.connect(self.path / "agent.db")) as db:
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
        with open(self.filler, "ab", buffering=0) as out:
            for size in (1 << 20, 1 << 12, 1):
                with contextlib.suppress(OSError):  # ENOSPC: on to smaller pieces
                    while True:
                        out.write(b"\0" * size)
        assert shutil.disk_usage(self.path).free == 0
        assert (self.path / "agent.db-wal").stat().st_size == 0

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "data"
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(path)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield SmallDisk(path)
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def sse(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """The events of a Server-Sent Events stream, as they arrive."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event is not None:
            yield event, json.loads(line.removeprefix("data: "))


def test_every_write_answers_507_naming_the_full_disk_and_sign_in_still_works(
    disk: SmallDisk, local_providers: Providers, speak
) -> None:
    settings = make_settings(disk.path, login_max_failures=3, llm_max_tokens=16)
    wav = speak("What is the capital of France?").read_bytes()
    with TestClient(create_app(settings, providers=local_providers)) as client:
        headers = login(client)
        register(client, "maria", PASSWORD)
        store = client.app.state.agent_state.store  # type: ignore[attr-defined]
        admin = store.find_user_by_name(username=ADMIN[0])
        session = store.create_session(user_id=admin.id)
        disk.fill()

        full = {"detail": DISK_FULL, "error": "StorageFullError"}
        res = client.post("/register", json={"username": "newcomer", "password": PASSWORD})
        assert (res.status_code, res.json()) == (507, full)
        for body in ({"text": "Hello!"}, {"text": "Hello!", "session_id": session.id}):
            res = client.post("/response", headers=headers, json=body)
            assert (res.status_code, res.json()) == (507, full), body
        for form in ({}, {"session_id": session.id}):
            files = {"file": ("q.wav", wav, "audio/wav")}
            res = client.post("/upload", headers=headers, data=form, files=files)
            assert (res.status_code, res.json()) == (507, full), form

        # Signing in writes nothing that it cannot do without: the right password still works,
        # and the token it gives opens the API.
        fresh = login(client)
        assert client.get("/sessions", headers=fresh).status_code == 200
        # Failures are still counted (in this process, while the database cannot keep them).
        for _ in range(3):
            res = client.post("/login", json={"username": "maria", "password": "wrong-pass"})
            assert res.status_code == 401
        res = client.post("/login", json={"username": "maria", "password": PASSWORD})
        assert res.status_code == 429 and "Retry-After" in res.headers

        disk.free()
        res = client.post("/register", json={"username": "newcomer", "password": PASSWORD})
        assert res.status_code == 201, res.text
        res = client.post("/response", headers=fresh, json={"text": "Hello!"})
        assert res.status_code == 200, res.text
        assert store.list_turns(user_id=admin.id, session_id=session.id) == []


def test_an_answer_the_disk_has_no_room_for_is_an_error_event_and_its_turn_waits_again(
    disk: SmallDisk, local_providers: Providers
) -> None:
    """The disk fills while the answer is being written: the stream ends with an `error`
    event (not a dropped connection), and once there is room the turn is `pending`, so an
    empty /response answers it; never `answering` for the life of the process."""
    app = create_app(make_settings(disk.path, llm_max_tokens=16), providers=local_providers)
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        headers = login(client)  # type: ignore[arg-type]
        body = {"text": "Tell me a long story about a dragon and a knight.", "stream": True}
        with client.stream("POST", "/response", headers=headers, json=body) as res:
            assert res.status_code == 200
            events = sse(res.iter_lines())
            kind, start = next(events)
            assert kind == "start"
            disk.fill()  # the answer is still being written
            rest = list(events)
        assert rest[-1] == ("error", {"detail": DISK_FULL, "status": 507}), rest[-3:]
        assert "done" not in [kind for kind, _ in rest]

        disk.free()
        session = client.get(f"/sessions/{start['session_id']}", headers=headers).json()
        assert [(t["id"], t["status"]) for t in session["turns"]] == [(start["turn_id"], "pending")]
        retry = {"session_id": start["session_id"]}
        res = client.post("/response", headers=headers, json=retry)
        assert res.status_code == 200, res.text
        assert res.json()["turn_id"] == start["turn_id"]
        session = client.get(f"/sessions/{start['session_id']}", headers=headers).json()
        assert [t["status"] for t in session["turns"]] == ["answered"]


def test_a_turns_speech_is_served_on_a_full_disk_without_being_kept(
    disk: SmallDisk, local_providers: Providers
) -> None:
    """Its WAV is cached in the data folder: with no room for the file, the speech is still
    served (it was a 500), and no half-written file is left behind."""
    settings = make_settings(disk.path, llm_max_tokens=16)
    with TestClient(create_app(settings, providers=local_providers)) as client:
        headers = login(client)
        res = client.post("/response", headers=headers, json={"text": "Hello!"})
        assert res.status_code == 200, res.text
        turn_id = res.json()["turn_id"]
        disk.fill()
        res = client.get(f"/turns/{turn_id}/audio", headers=headers)
        assert res.status_code == 200, res.text
        assert res.content[:4] == b"RIFF" and len(res.content) > 10_000
        kept = list((disk.path / "audio").glob("*")) if (disk.path / "audio").exists() else []
        assert kept == [], kept
        disk.free()
        assert client.get(f"/turns/{turn_id}/audio", headers=headers).status_code == 200
        assert (disk.path / "audio" / f"{turn_id}.wav").exists()  # kept once there is room
