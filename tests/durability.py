"""SIGKILL the real server while clients write turns, and check that what it acknowledged stayed.

Each cycle starts `python app.py` on the same data folder, checks the database against every
acknowledgement so far (the restarted server has just recovered the write-ahead log), lets a
few clients write turns (typed, streamed, uploaded then answered) and kills the server with
SIGKILL at a random moment while requests are in flight. Answers come from the fake Groq, so a
cycle costs about one server start. The test runs a few cycles, `bench/durability.py` fifty.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.audio import pcm16_wav
from tests.groq_server import API_KEY, FakeGroq
from tests.helpers import ADMIN, REPO, app_env, die_with_parent, free_port

WRITERS = 4
KILL_AFTER_S = (0.2, 2.5)  # the kill comes at a random moment in this range of the load
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Ack:
    """A turn the API acknowledged: after `start` or an upload the user's words are stored;
    after a 200 answer or `done` the answer is too (`answer` is then set)."""

    how: str  # response, stream-start, stream-done, upload, upload-answer
    session_id: str
    turn_id: int
    user_text: str
    answer: str | None = None


@dataclass
class Figures:
    """What a run measured."""

    cycles: int = 0
    acks: list[Ack] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # one line per acknowledged turn not stored
    integrity: list[str] = field(default_factory=list)  # PRAGMA integrity_check, per check
    startup_s: list[float] = field(default_factory=list)
    cycle_s: list[float] = field(default_factory=list)
    in_flight_at_kill: list[int] = field(default_factory=list)
    failed_requests: int = 0  # requests cut by a kill (not acknowledged, so nothing to check)

    @property
    def checked_turns(self) -> int:
        return len({a.turn_id for a in self.acks})

    def summary(self) -> dict[str, object]:
        kinds: dict[str, int] = {}
        for ack in self.acks:
            kinds[ack.how] = kinds.get(ack.how, 0) + 1
        return {
            "cycles": self.cycles,
            "acknowledgements": len(self.acks),
            "acknowledgements_by_kind": kinds,
            "acknowledged_turns_checked": self.checked_turns,
            "lost": len(self.lost),
            "integrity_checks": len(self.integrity),
            "integrity_not_ok": [r for r in self.integrity if r != "ok"],
            "requests_cut_by_kills": self.failed_requests,
            "in_flight_at_kill_mean": round(
                sum(self.in_flight_at_kill) / max(1, len(self.in_flight_at_kill)), 2
            ),
            "startup_s_mean": round(sum(self.startup_s) / max(1, len(self.startup_s)), 2),
            "cycle_s_mean": round(sum(self.cycle_s) / max(1, len(self.cycle_s)), 2),
            "total_s": round(sum(self.cycle_s), 1),
        }


def tiny_wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    """A short tone: something to upload (the fake Groq transcribes anything)."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    return pcm16_wav((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes(), rate)


@contextlib.contextmanager
def app_process(
    data_dir: Path, groq: FakeGroq, log: Path
) -> Iterator[tuple[str, float, subprocess.Popen[bytes]]]:
    """`python app.py` with Groq answering; yields its URL, start-up seconds and process once
    healthy. Whatever happens in the block, the process is SIGKILLed (if still alive) on the
    way out."""
    port = free_port()
    env = app_env(
        port=port,
        data_dir=data_dir,
        UI_ENABLED="false",
        GTTS_ENABLED="false",
        GROQ_API_KEY=API_KEY,
        GROQ_BASE_URL=groq.url,
        STT_PROVIDER="groq",
        LLM_PROVIDER="groq",
        LOG_LEVEL="WARNING",
    )
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = started + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"the server exited ({process.returncode}); see {log}"
            assert time.perf_counter() < deadline, f"the server did not start; see {log}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield base, time.perf_counter() - started, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


class Writer(threading.Thread):
    """One client writing turns until the server dies; records every acknowledgement."""

    def __init__(self, base: str, token: str, name: str, rng: random.Random) -> None:
        super().__init__(name=name, daemon=True)
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.rng = rng
        self.acks: list[Ack] = []
        self.in_flight = False
        self.failed = 0
        self.error: Exception | None = None
        self.session_id: str | None = None
        self.wav = tiny_wav()

    def run(self) -> None:
        n = 0
        try:
            while True:
                n += 1
                if n % 5 == 1:
                    self.session_id = None  # a new session now and then
                self.in_flight = True
                choice = self.rng.random()
                if choice < 0.45:
                    self._respond(f"{self.name} says hello, number {n}.")
                elif choice < 0.75:
                    self._stream(f"{self.name} streams question {n}?")
                else:
                    self._upload()
                self.in_flight = False
        except httpx.TransportError:
            self.failed += 1  # the kill: this request was not acknowledged
        except Exception as exc:  # an error status or a wrong answer: the run fails on it
            self.error = exc
        finally:
            self.client.close()

    def _ack(self, how: str, data: dict, user_text: str, answer: str | None = None) -> None:
        self.acks.append(Ack(how, data["session_id"], data["turn_id"], user_text, answer))

    def _body(self, **extra: object) -> dict[str, object]:
        return {"session_id": self.session_id, **extra} if self.session_id else extra

    def _respond(self, text: str) -> None:
        body = self.client.post("/response", json=self._body(text=text)).raise_for_status().json()
        assert body["transcription"] == text, body
        self.session_id = body["session_id"]
        self._ack("response", body, text, body["response"])

    def _stream(self, text: str) -> None:
        event, start = "", None
        request = self._body(text=text, stream=True)
        with self.client.stream("POST", "/response", json=request) as res:
            res.raise_for_status()
            for line in res.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                    continue
                if not line.startswith("data:"):
                    continue
                data = json.loads(line.removeprefix("data:"))
                if event == "start":
                    start = data
                    self.session_id = data["session_id"]
                    self._ack("stream-start", data, text)
                elif event == "done":
                    assert start is not None and data["turn_id"] == start["turn_id"], data
                    self._ack("stream-done", data, text, data["response"])
                elif event == "error":
                    raise AssertionError(f"the server streamed an error: {data}")

    def _upload(self) -> None:
        files = {"file": ("tone.wav", self.wav, "audio/wav")}
        form = {"session_id": self.session_id} if self.session_id else {}
        up = self.client.post("/upload", files=files, data=form).raise_for_status().json()
        self.session_id = up["session_id"]
        self._ack("upload", up, up["transcription"])
        res = self.client.post("/response", json={"session_id": self.session_id, "text": ""})
        body = res.raise_for_status().json()
        assert body["turn_id"] == up["turn_id"], body
        self._ack("upload-answer", body, up["transcription"], body["response"])


def missing(db_path: Path, acks: list[Ack]) -> tuple[str, list[str]]:
    """`PRAGMA integrity_check`'s verdict, and a line for each acknowledgement the database
    does not hold (turn absent, in another session, other words, or without its answer)."""
    db = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, timeout=30)
    try:
        verdict = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        rows = {
            row[0]: row[1:]
            for row in db.execute("SELECT id, session_id, user_text, answer, status FROM turns")
        }
    finally:
        db.close()
    lost = []
    for ack in acks:
        row = rows.get(ack.turn_id)
        if row is None:
            lost.append(f"{ack}: no such turn")
            continue
        session_id, user_text, answer, status = row
        if (session_id, user_text) != (ack.session_id, ack.user_text):
            lost.append(f"{ack}: stored as {row}")
        elif ack.answer is not None and (answer, status) != (ack.answer.strip(), "answered"):
            lost.append(f"{ack}: stored as {row}")
    return verdict, lost


def api_missing(base: str, token: str, acks: list[Ack]) -> list[str]:
    """The same check through `GET /sessions/{id}`, as a client would see it after a restart."""
    lost = []
    sessions = sorted({a.session_id for a in acks})
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for session_id in sessions:
            res = client.get(f"/sessions/{session_id}", timeout=30)
            if res.status_code != 200:
                lost.append(f"session {session_id}: {res.status_code}")
                continue
            turns = {t["id"]: t for t in res.json()["turns"]}
            for ack in (a for a in acks if a.session_id == session_id):
                turn = turns.get(ack.turn_id)
                if turn is None or turn["user_text"] != ack.user_text:
                    lost.append(f"{ack}: API shows {turn}")
                elif ack.answer is not None and turn["answer"] != ack.answer.strip():
                    lost.append(f"{ack}: API shows {turn}")
    return lost


def login(base: str) -> str:
    res = httpx.post(f"{base}/login", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=30)
    return str(res.raise_for_status().json()["token"])


def run(cycles: int, workdir: Path, groq: FakeGroq, *, seed: int = 0) -> Figures:
    """Kill the server `cycles` times under load; check every acknowledgement after each
    restart (through SQLite and the API) and once more, cold, after the last kill."""
    rng = random.Random(seed)
    data_dir = workdir / "data"
    db_path = data_dir / "agent.db"
    log = workdir / "server.log"
    figures = Figures()
    last_checked = 0
    for cycle in range(cycles):
        began = time.perf_counter()
        with app_process(data_dir, groq, log) as (base, startup_s, _):
            figures.startup_s.append(startup_s)
            token = login(base)
            if figures.acks:
                verdict, lost = missing(db_path, figures.acks)
                figures.integrity.append(verdict)
                figures.lost += lost
                previous = {a.session_id for a in figures.acks if a.turn_id > last_checked}
                figures.lost += api_missing(
                    base, token, [a for a in figures.acks if a.session_id in previous]
                )
            last_checked = max((a.turn_id for a in figures.acks), default=0)
            writers = [
                Writer(base, token, f"c{cycle}w{i}", random.Random(rng.random()))
                for i in range(WRITERS)
            ]
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(*KILL_AFTER_S))
            figures.in_flight_at_kill.append(sum(w.in_flight for w in writers))
        # Leaving the block SIGKILLed the server; the writers see their connections drop.
        for writer in writers:
            writer.join(timeout=60)
            assert not writer.is_alive(), f"{writer.name} is stuck"
            assert writer.error is None, f"{writer.name}: {writer.error!r}"
            figures.acks += writer.acks
            figures.failed_requests += writer.failed
        figures.cycles += 1
        figures.cycle_s.append(time.perf_counter() - began)
    verdict, lost = missing(db_path, figures.acks)
    figures.integrity.append(verdict)
    figures.lost += lost
    return figures
